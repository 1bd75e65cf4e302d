//! Shared harness for the `arbiter serve` tests: a daemon killed when the test ends, and
//! bounded waits so no test can hang.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::arbiter;

/// A running `arbiter serve`, SIGKILLed and reaped when dropped.
pub struct Daemon {
    pub child: Child,
    pub stderr: PathBuf,
}

impl Daemon {
    /// Starts `arbiter serve ARGS…` with stderr going to `dir/daemon.err`.
    pub fn start(dir: &Path, args: &[&str]) -> Daemon {
        Daemon::start_with(dir, args, Stdio::null())
    }

    /// Like [`Daemon::start`], with `stdin` given (an inherited listening socket).
    pub fn start_with(dir: &Path, args: &[&str], stdin: Stdio) -> Daemon {
        let stderr = dir.join(format!("daemon-{}.err", unique()));
        let child = Command::new(arbiter())
            .arg("serve")
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start arbiter serve");
        Daemon { child, stderr }
    }

    /// Waits until the daemon says it listens (or fails the test).
    pub fn wait_listening(&mut self) {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if self.err().contains("listening on") {
                return;
            }
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("daemon exited early ({st}): {}", self.err());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("daemon did not start listening: {}", self.err());
    }

    /// The daemon's stderr so far.
    pub fn err(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `sig` to the daemon.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill with integer arguments.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the daemon to exit within `secs`; returns its exit code.
    pub fn wait_exit(&mut self, secs: u64) -> Option<i32> {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("daemon did not exit within {secs}s: {}", self.err());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A scratch directory every uid may traverse (the socket lives here).
pub fn scratch() -> tempfile::TempDir {
    let t = tempfile::Builder::new()
        .prefix("arbiter-serve-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t
}

/// Waits for `child` at most `secs`, killing it on timeout (the test then fails).
pub fn output_within(mut child: Child, secs: u64) -> Output {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > until {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "client did not finish within {secs}s: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `arbiter run --daemon SOCK [extra…] -- cmd…` in `cwd`, optionally as uid 65534.
pub fn client(sock: &str, cwd: &Path, nobody: bool, extra: &[&str], cmd: &[&str]) -> Child {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(arbiter());
        c
    } else {
        Command::new(arbiter())
    };
    c.arg("run")
        .arg("--daemon")
        .arg(sock)
        .args(extra)
        .arg("--")
        .args(cmd)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().expect("start client")
}

/// Runs a client to its end (at most 30 s).
pub fn run_client(sock: &str, cwd: &Path, nobody: bool, extra: &[&str], cmd: &[&str]) -> Output {
    output_within(client(sock, cwd, nobody, extra, cmd), 30)
}
