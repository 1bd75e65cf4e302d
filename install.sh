#!/usr/bin/env bash
# Install arbiter: ./install.sh [PREFIX]   (default PREFIX: /usr/local; ~/.local works too)
#
# Builds the release binaries (unless ARBITER_BUILD_DIR names a directory that already holds
# `arbiter` and `libarbiter_shim.so`), then installs
#   PREFIX/bin/arbiter
#   PREFIX/lib/arbiter/libarbiter_shim.so      (where arbiter looks for its shim)
#   PREFIX/share/man/man1/arbiter*.1           (man pages)
#   PREFIX/share/bash-completion/completions/arbiter, zsh and fish completions
# and runs `arbiter doctor` to check the result.
set -euo pipefail
prefix="${1:-/usr/local}"
here="$(cd "$(dirname "$0")" && pwd)"
build="${ARBITER_BUILD_DIR:-}"
if [ -z "$build" ]; then
  (cd "$here" && cargo build --release --workspace)
  build="$here/target/release"
fi
for f in arbiter libarbiter_shim.so; do
  [ -f "$build/$f" ] || { echo "install.sh: $build/$f is missing" >&2; exit 1; }
done
install -D -m 0755 "$build/arbiter" "$prefix/bin/arbiter"
install -D -m 0644 "$build/libarbiter_shim.so" "$prefix/lib/arbiter/libarbiter_shim.so"
bin="$prefix/bin/arbiter"
mkdir -p "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
  "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
"$bin" man --dir "$prefix/share/man/man1"
"$bin" completions bash > "$prefix/share/bash-completion/completions/arbiter"
"$bin" completions zsh > "$prefix/share/zsh/site-functions/_arbiter"
"$bin" completions fish > "$prefix/share/fish/vendor_completions.d/arbiter.fish"
echo "installed arbiter into $prefix"
env -u ARBITER_SHIM_PATH "$bin" doctor | sed -n 1,4p   # sed reads it all: no SIGPIPE under pipefail
