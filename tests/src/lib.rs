//! Helpers for arbiter's end-to-end tests: find the built `arbiter` binary and run real
//! programs under it in a scratch working directory.
//!
//! The tests use the binaries `cargo build --workspace` produced (the README's test command
//! builds first), found under `$CARGO_TARGET_DIR` or the workspace's `target/`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The directory holding the built binaries (`target/debug` or `target/release`).
pub fn bin_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    // The tests are built in the same profile as the binaries next to them.
    let exe = std::env::current_exe().expect("test binary path");
    let profile = exe
        .ancestors()
        .find_map(|a| match a.file_name().and_then(|n| n.to_str()) {
            Some(p @ ("debug" | "release")) => Some(p.to_owned()),
            _ => None,
        })
        .unwrap_or_else(|| "debug".into());
    target.join(profile)
}

/// The `arbiter` binary.
pub fn arbiter() -> PathBuf {
    let p = bin_dir().join("arbiter");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --workspace` first",
        p.display()
    );
    p
}

/// The shim library.
pub fn shim() -> PathBuf {
    bin_dir().join("libarbiter_shim.so")
}

/// A scratch directory that is the sandbox's working directory.
pub struct Sandbox {
    /// The working directory (real path).
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
    /// A directory outside the working directory for audit logs (arbiter refuses a log the
    /// program could change), created on first use.
    logs: std::sync::OnceLock<tempfile::TempDir>,
}

impl Sandbox {
    /// A fresh, world-accessible working directory.
    pub fn new() -> Sandbox {
        let tmp = tempfile::Builder::new()
            .prefix("arbiter-test-")
            .tempdir()
            .expect("tempdir");
        let dir = tmp.path().canonicalize().expect("canonical tempdir");
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod");
        Sandbox {
            dir,
            _tmp: tmp,
            logs: std::sync::OnceLock::new(),
        }
    }

    /// `arbiter run [extra…] -- cmd…` in this directory, stdin closed.
    pub fn run<S: AsRef<OsStr>>(&self, extra: &[&str], cmd: &[S]) -> Output {
        let mut c = Command::new(arbiter());
        c.arg("run")
            .args(extra)
            .arg("--")
            .args(cmd)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        // cargo's LD_LIBRARY_PATH (its toolchain) is not the environment a user runs in.
        c.env_remove("LD_LIBRARY_PATH");
        c.output().expect("run arbiter")
    }

    /// A path inside the working directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// A path for an audit log, outside the working directory (where the default policy
    /// lets the program write, so arbiter would refuse the log).
    pub fn log(&self, rel: &str) -> PathBuf {
        self.logs.get_or_init(outside_dir).path().join(rel)
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

/// A file named `name` holding `content`, mode 0644, in a fresh [`outside_dir`] (which the
/// returned guard keeps): what a denied read aims at, readable natively by any uid (the
/// control). The path is the directory's real one.
pub fn outside_file(name: &str, content: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = outside_dir();
    let file = dir.path().canonicalize().unwrap().join(name);
    std::fs::write(&file, content).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    (dir, file)
}

/// A directory outside any sandbox's working directory (so the default policy denies it).
pub fn outside_dir() -> tempfile::TempDir {
    let base = Path::new("/var/tmp");
    let tmp = tempfile::Builder::new()
        .prefix("arbiter-outside-")
        .tempdir_in(base)
        .expect("tempdir");
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    tmp
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the run exited with `code`, showing its output otherwise.
#[track_caller]
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

/// Whether the tests run as root (some tests also re-run as an unprivileged uid).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whom a test runs as: the invoker (`false`) and, when that is root, uid 65534 too
/// (`true`); a non-root invoker gets a printed SKIP for the second pass.
pub fn invoker_and_nobody() -> Vec<bool> {
    if is_root() {
        vec![false, true]
    } else {
        eprintln!("SKIP: as uid 65534: needs root to switch users (the caller's own uid only)");
        vec![false]
    }
}

/// A command running `arbiter`: as the invoker, or with `nobody` as uid 65534 (no groups)
/// through `setpriv`.
pub fn arbiter_as(nobody: bool) -> Command {
    native_as(nobody, arbiter())
}

/// A command running `program` natively (the control of an attack or compatibility test):
/// as the invoker, or with `nobody` as uid 65534 (no groups) through `setpriv`.
pub fn native_as(nobody: bool, program: impl AsRef<OsStr>) -> Command {
    if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// `program args…` in `sb`'s directory with stdin closed and cargo's `LD_LIBRARY_PATH`
/// removed: natively ([`native_as`]) or under `arbiter run -q` ([`arbiter_as`]), as uid
/// 65534 when `nobody`.
pub fn run_either_way(
    sb: &Sandbox,
    nobody: bool,
    under_arbiter: bool,
    program: &str,
    args: &[&str],
) -> Output {
    let mut c = if under_arbiter {
        let mut c = arbiter_as(nobody);
        c.args(["run", "-q", "--", program]);
        c
    } else {
        native_as(nobody, program)
    };
    c.args(args)
        .current_dir(&sb.dir)
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .output()
        .expect("run the program")
}

/// Whether a program is installed.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Compiles the C helper `tests/helpers/NAME.c` twice (for helpers with a `-DRAW` switch;
/// [`compile_dynamic_and_static`] builds one source both ways without it): through libc into `sb`'s working
/// directory, and static with `-DRAW` (raw system calls, which only the seccomp transport
/// sees) into `sb/raw` (mode 0755, so uid 65534 can run it too). Returns both binaries.
pub fn compile_libc_and_raw(name: &str, sb: &Sandbox) -> (PathBuf, PathBuf) {
    let libc_build = compile_helper(name, &sb.dir, &[]);
    let raw_dir = sb.path("raw");
    std::fs::create_dir_all(&raw_dir).unwrap();
    let raw_build = compile_helper(name, &raw_dir, &["-static", "-DRAW"]);
    std::fs::set_permissions(
        &raw_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    (libc_build, raw_build)
}

/// Compiles a C helper from `tests/helpers/NAME.c` into `dir` and returns the binary.
pub fn compile_helper(name: &str, dir: &Path, extra: &[&str]) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("helpers")
        .join(format!("{name}.c"));
    let out = dir.join(name);
    let status = Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .args(extra)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed for {}", src.display());
    out
}

/// Compiles `tests/helpers/NAME.c` into `dir` twice, as `NAME` (dynamic, through the
/// shim) and `NAME-static` (static, raw syscalls only the seccomp transport sees), with
/// `flags` after the source; returns the binaries built. The dynamic one must build; a
/// machine without a static libc only loses the static one, with a note on stderr.
pub fn compile_dynamic_and_static(name: &str, dir: &Path, flags: &[&str]) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("helpers")
        .join(format!("{name}.c"));
    let mut built = Vec::new();
    for (out, linkage) in [
        (name.to_string(), None),
        (format!("{name}-static"), Some("-static")),
    ] {
        let out = dir.join(out);
        let ok = Command::new("cc")
            .args(linkage)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .args(flags)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run cc")
            .success();
        if ok {
            built.push(out);
        } else if linkage.is_some() {
            eprintln!("note: static libc unavailable, skipping the -static {name} helper");
        } else {
            panic!("cannot compile {}", src.display());
        }
    }
    built
}

/// The broker of an `arbiter run` whose pid (the one the caller started, the guardian;
/// docs/process-model.md) is `arbiter`: the guardian's only child, once it has forked it.
/// Panics when the run ended first (see [`running_broker_of`] for runs that may be short).
pub fn broker_of(arbiter: u32) -> u32 {
    running_broker_of(arbiter).expect("the run ended before its broker was seen")
}

/// [`broker_of`], or `None` when the guardian has already exited (a zombie, or reaped): a
/// short run can end before a loaded machine lets the caller look, and a finished
/// guardian lists no children.
pub fn running_broker_of(arbiter: u32) -> Option<u32> {
    let start = std::time::Instant::now();
    loop {
        let children = std::fs::read_to_string(format!("/proc/{arbiter}/task/{arbiter}/children"))
            .unwrap_or_default();
        let pids: Vec<&str> = children.split_whitespace().collect();
        match pids.as_slice() {
            [broker] => return Some(broker.parse().expect("a pid")),
            [] => {
                let stat =
                    std::fs::read_to_string(format!("/proc/{arbiter}/stat")).unwrap_or_default();
                // The state follows the command name's closing parenthesis.
                let state = stat
                    .rsplit_once(") ")
                    .and_then(|(_, rest)| rest.chars().next());
                if matches!(state, None | Some('Z' | 'X')) {
                    return None;
                }
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(60),
                    "the guardian never started its broker"
                );
            }
            _ => panic!("the guardian has one child, not {children}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
