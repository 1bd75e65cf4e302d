//! The built-in profiles, embedded in the binary. Each is an ordinary policy file under
//! `policies/profiles/`; `docs/policy.md` describes what each allows.

const PROFILES: &[(&str, &str, &str)] = &[
    (
        "runtime",
        "what any dynamically linked program needs: loader, libraries, /usr, locale, \
         ld.so config, nsswitch, passwd/group, time zone, /dev/null and friends, /proc/self",
        include_str!("../profiles/runtime.toml"),
    ),
    (
        "default",
        "runtime + read-only /usr and /etc (secrets denied), read-write $PWD and $TMPDIR; \
         home denied, its secrets explicitly",
        include_str!("../profiles/default.toml"),
    ),
    (
        "network-client",
        "name lookups and outgoing TCP/UDP to any port, TLS certificates; no listening",
        include_str!("../profiles/network-client.toml"),
    ),
    (
        "python",
        "default + Python installations (/usr/local, /opt, pyenv), user site-packages, pip cache",
        include_str!("../profiles/python.toml"),
    ),
    (
        "git",
        "default + git configuration and the ssh client's configuration for remotes",
        include_str!("../profiles/git.toml"),
    ),
    (
        "cargo",
        "default + rustup's ~/.cargo/bin and ~/.rustup (read, exec), cargo's registry and caches",
        include_str!("../profiles/cargo.toml"),
    ),
    (
        "go",
        "default + GOROOT (/usr/local/go, ~/sdk), GOPATH (~/go), the build cache (~/.cache/go-build)",
        include_str!("../profiles/go.toml"),
    ),
    (
        "node",
        "default + nvm/fnm installations (read, exec), npm's cache (~/.npm), node-gyp and corepack caches",
        include_str!("../profiles/node.toml"),
    ),
    (
        "java",
        "default + JDKs (/opt, ~/.sdkman, ~/.jdks), Maven's ~/.m2/repository and Gradle's ~/.gradle",
        include_str!("../profiles/java.toml"),
    ),
];

/// The built-in profiles: `(name, one-line description)`, in a sensible reading order.
pub fn list() -> &'static [(&'static str, &'static str)] {
    const LIST: &[(&str, &str)] = &{
        let mut out = [("", ""); PROFILES.len()];
        let mut i = 0;
        while i < PROFILES.len() {
            out[i] = (PROFILES[i].0, PROFILES[i].1);
            i += 1;
        }
        out
    };
    LIST
}

/// The TOML text of a built-in profile.
pub fn text(name: &str) -> Option<&'static str> {
    PROFILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, t)| *t)
}
