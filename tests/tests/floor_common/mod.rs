//! Shared harness of the floor tests: `tests/helpers/floor_attack.c` built dynamic and
//! static into a world-readable scratch directory, run natively (the control) and under
//! `arbiter run --strict`, as the invoking user and, when that is root, as uid 65534.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub use arbiter_tests::{arbiter, is_root};

/// Who runs the helper (and arbiter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The user running the tests (root in CI).
    Invoker,
    /// uid/gid 65534 with no groups, switched to with `setpriv` (only when root).
    Nobody,
}

/// The users to test as: the invoker, and uid 65534 when the invoker is root.
pub fn users() -> Vec<Who> {
    if is_root() {
        vec![Who::Invoker, Who::Nobody]
    } else {
        eprintln!("note: not root, the uid-65534 runs are skipped");
        vec![Who::Invoker]
    }
}

/// A command line run as `who`.
pub fn command(who: Who, argv: &[&str]) -> Command {
    let mut c = match who {
        Who::Invoker => Command::new(argv[0]),
        Who::Nobody => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c.arg(argv[0]);
            c
        }
    };
    c.args(&argv[1..]).env("HOME", "/nonexistent");
    c
}

/// The scratch directory: `helpers/` (the helpers' prefix), `work/` (the cwd), and files the
/// tests create.
pub struct Floor {
    pub dir: tempfile::TempDir,
    pub helpers: Vec<PathBuf>,
}

impl Floor {
    pub fn new() -> Floor {
        let dir = tempfile::Builder::new()
            .prefix("arbiter-floor-")
            .tempdir()
            .unwrap();
        for d in ["", "helpers", "work"] {
            let p = dir.path().join(d);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::set_permissions(&p, PermissionsExt::from_mode(0o777)).unwrap();
        }
        let helpers = arbiter_tests::compile_dynamic_and_static(
            "floor_attack",
            &dir.path().join("helpers"),
            &[],
        );
        Floor { dir, helpers }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A file `rel` holding `text`, owned by `who`, with `mode`.
    pub fn file(&self, rel: &str, who: Who, mode: u32) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, "text\n").unwrap();
        if who == Who::Nobody {
            std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
        }
        std::fs::set_permissions(&p, PermissionsExt::from_mode(mode)).unwrap();
        p
    }

    /// Runs `argv` natively as `who` in `work/`.
    pub fn native(&self, who: Who, argv: &[&str]) -> Output {
        self.native_in(who, argv, Stdio::null())
    }

    /// Runs `argv` natively as `who` in `work/`, with `stdin`.
    pub fn native_in(&self, who: Who, argv: &[&str], stdin: Stdio) -> Output {
        command(who, argv)
            .current_dir(self.path("work"))
            .stdin(stdin)
            .output()
            .unwrap()
    }

    /// Runs `argv` as `who` under `arbiter run --strict ARBITER_ARGS -- argv` in `work/`.
    pub fn confined(&self, who: Who, arbiter_args: &[&str], argv: &[&str]) -> Output {
        self.confined_in(who, arbiter_args, argv, Stdio::null())
    }

    /// [`Floor::confined`] with `stdin`.
    pub fn confined_in(
        &self,
        who: Who,
        arbiter_args: &[&str],
        argv: &[&str],
        stdin: Stdio,
    ) -> Output {
        let bin = arbiter();
        let mut full = vec![bin.to_str().unwrap(), "run", "--strict"];
        full.extend_from_slice(arbiter_args);
        full.push("--");
        full.extend_from_slice(argv);
        command(who, &full)
            .current_dir(self.path("work"))
            .stdin(stdin)
            .output()
            .unwrap()
    }

    /// For every helper: `args` succeeds natively as `who` and fails with `errno` under
    /// arbiter (with `arbiter_args`).
    pub fn refused(&self, who: Who, arbiter_args: &[&str], args: &[&str], errno: i32) {
        for h in &self.helpers {
            let mut argv = vec![h.to_str().unwrap()];
            argv.extend_from_slice(args);
            assert_eq!(
                verdict(&self.native(who, &argv)),
                Ok(()),
                "control: {argv:?} must succeed natively as {who:?}"
            );
            assert_eq!(
                verdict(&self.confined(who, arbiter_args, &argv)),
                Err(errno),
                "{argv:?} under arbiter as {who:?}"
            );
        }
    }

    /// For every helper: `args` succeeds under arbiter as `who` (a form the floor keeps).
    pub fn allowed(&self, who: Who, arbiter_args: &[&str], args: &[&str]) {
        for h in &self.helpers {
            let mut argv = vec![h.to_str().unwrap()];
            argv.extend_from_slice(args);
            assert_eq!(
                verdict(&self.confined(who, arbiter_args, &argv)),
                Ok(()),
                "{argv:?} under arbiter as {who:?}"
            );
        }
    }
}

/// The helper's verdict: `Ok(())` or `Err(errno)`; panics on anything else.
pub fn verdict(out: &Output) -> Result<(), i32> {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    if line == "ok" {
        return Ok(());
    }
    match line.strip_prefix("errno ") {
        Some(n) => Err(n.parse().unwrap()),
        None => panic!(
            "unexpected helper output {text:?}, stderr {:?}, status {:?}",
            String::from_utf8_lossy(&out.stderr),
            out.status
        ),
    }
}

/// A `sleep 60` outside the sandbox, run as `who`, killed on drop.
pub struct Victim(pub std::process::Child);

impl Victim {
    pub fn new(who: Who) -> Victim {
        let child = command(who, &["sleep", "60"]).spawn().unwrap();
        // setpriv switches the uid and then execs: wait for the exec, so the victim runs
        // as `who` by the time an attempt is aimed at it.
        let comm = format!("/proc/{}/comm", child.id());
        while std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() != "sleep") {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Victim(child)
    }

    pub fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A world-writable scratch directory (so uid 65534 can use it) with one helper of
/// `tests/helpers/` built dynamic and static in its `helpers/` subdirectory.
pub struct Scratch {
    dir: tempfile::TempDir,
    /// The helper's builds: dynamic (through the shim), then static (raw system calls).
    pub helpers: Vec<PathBuf>,
}

impl Scratch {
    /// Builds `tests/helpers/HELPER.c` with `flags` into a fresh scratch directory.
    pub fn new(helper: &str, flags: &[&str]) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("arbiter-{helper}-"))
            .tempdir()
            .unwrap();
        let helpers_dir = dir.path().join("helpers");
        std::fs::create_dir(&helpers_dir).unwrap();
        for d in [dir.path(), helpers_dir.as_path()] {
            std::fs::set_permissions(d, PermissionsExt::from_mode(0o777)).unwrap();
        }
        let helpers = arbiter_tests::compile_dynamic_and_static(helper, &helpers_dir, flags);
        Scratch { dir, helpers }
    }

    /// A fresh, world-writable working directory.
    pub fn work(&self, name: &str) -> PathBuf {
        let w = self.dir.path().join(name);
        std::fs::create_dir(&w).unwrap();
        std::fs::set_permissions(&w, PermissionsExt::from_mode(0o777)).unwrap();
        w
    }
}

/// The host pid of the descendant of `broker` whose pid in its innermost pid namespace is
/// `inner` (the last field of its `NSpid:` line; `inner` itself without a namespace).
/// As root the sandbox is a pid namespace, so the pids a sandboxed helper prints are
/// namespace pids; tests that kill or inspect them need the host pids.
pub fn host_pid_of(broker: u32, inner: i32) -> i32 {
    let mut todo = vec![broker];
    while let Some(p) = todo.pop() {
        if p != broker {
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
            let nspid: Vec<&str> = status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .unwrap_or("")
                .split_whitespace()
                .collect();
            if nspid.last() == Some(&inner.to_string().as_str()) {
                return p as i32;
            }
        }
        for task in std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten()
        {
            let children = task
                .ok()
                .and_then(|t| std::fs::read_to_string(t.path().join("children")).ok())
                .unwrap_or_default();
            todo.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    panic!("no descendant of the broker {broker} is pid {inner} of its namespace")
}

/// Starts `argv` as `who` in `work`, stdout piped, and waits for the helper's first line,
/// which must be "ok" (else fails with `what`, after the command line and user).
pub fn start_until_ok(
    who: Who,
    argv: &[&str],
    work: &std::path::Path,
    what: &str,
) -> std::process::Child {
    use std::io::BufRead;
    let mut child = command(who, argv)
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ok\n", "{argv:?} as {who:?}{what}");
    child
}
