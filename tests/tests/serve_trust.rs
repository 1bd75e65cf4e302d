//! The launcher checks whom it talks to (red-team finding 04): `arbiter run --daemon`
//! refuses (exit 125) a daemon that runs as neither root nor the launcher's uid, and a
//! shim the daemon names that others could have put there or changed. The impostor is
//! `tests/helpers/fake_daemon.py`, which accepts every hello, names
//! `tests/helpers/evil_shim.c` (its constructor prints `EVIL-SHIM-RAN`) as the shim and
//! answers every trapped call with CONTINUE. Controls: the same impostor is accepted where
//! it gains nothing (a daemon of the launcher's own uid; a root daemon naming a file only
//! root could have written), and its library then runs, so a refusal means the check.

mod serve_common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::{arbiter, compile_helper, is_root, stderr};
use serve_common::{output_within, scratch};

const NOBODY: [&str; 4] = ["--reuid=65534", "--regid=65534", "--clear-groups", "--"];

/// A fake daemon, killed when dropped.
struct Fake {
    child: Child,
    sock: String,
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the impostor on `dir/NAME.sock`, as uid 65534 when `nobody`, naming `shim`.
fn fake(dir: &Path, name: &str, nobody: bool, shim: &Path) -> Fake {
    // In a directory of its own that its uid may write (its socket, its ready file).
    let dir = dir.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let script = dir.join("fake_daemon.py");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/fake_daemon.py"),
        &script,
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sock = dir.join("sock");
    let ready = dir.join("ready");
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(NOBODY).arg("/usr/bin/python3");
        c
    } else {
        Command::new("/usr/bin/python3")
    };
    let child = c
        .arg(&script)
        .arg(&sock)
        .arg(shim)
        .arg(&ready)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut f = Fake {
        child,
        sock: sock.to_str().unwrap().to_owned(),
    };
    let until = Instant::now() + Duration::from_secs(20);
    while !ready.exists() {
        if let Some(st) = f.child.try_wait().unwrap() {
            panic!("fake daemon exited: {st}");
        }
        assert!(Instant::now() < until, "fake daemon did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    f
}

/// `arbiter run --daemon SOCK -- /bin/true`, as uid 65534 when `nobody`.
fn launch(sock: &str, cwd: &Path, nobody: bool) -> Output {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(NOBODY).arg(arbiter());
        c
    } else {
        Command::new(arbiter())
    };
    c.args(["run", "--daemon", sock, "--", "/bin/true"])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    output_within(c.spawn().expect("launcher"), 60)
}

struct Scene {
    dir: tempfile::TempDir,
    /// The evil library in a root-owned 0755 directory.
    root_shim: PathBuf,
    /// The same library in a directory owned by uid 65534.
    nobody_shim: PathBuf,
    /// The same library in a root-owned 0777 directory.
    open_shim: PathBuf,
}

fn scene() -> Option<Scene> {
    if !is_root() {
        println!("SKIP: needs root (impostors of root and of uid 65534)");
        return None;
    }
    if Command::new("/usr/bin/python3")
        .arg("-c")
        .arg("1")
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        println!("SKIP: /usr/bin/python3 is missing (the fake daemon)");
        return None;
    }
    let dir = scratch();
    let mk = |name: &str, mode: u32, owner: Option<u32>| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
        let lib = compile_helper("evil_shim", &d, &["-shared", "-fPIC"]);
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o755)).unwrap();
        if let Some(uid) = owner {
            std::os::unix::fs::chown(&d, Some(uid), Some(uid)).unwrap();
            std::os::unix::fs::chown(&lib, Some(uid), Some(uid)).unwrap();
        }
        lib
    };
    let root_shim = mk("root", 0o755, None);
    let nobody_shim = mk("nobody", 0o755, Some(65534));
    let open_shim = mk("open", 0o777, None);
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o777)).unwrap();
    Some(Scene {
        dir,
        root_shim,
        nobody_shim,
        open_shim,
    })
}

fn ran_evil(o: &Output) -> bool {
    stderr(o).contains("EVIL-SHIM-RAN")
}

fn refused(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(125), "{what}: {}", stderr(o));
    assert!(
        !ran_evil(o),
        "{what}: the impostor's library ran: {}",
        stderr(o)
    );
}

fn accepted(o: &Output, what: &str) {
    assert!(
        ran_evil(o),
        "{what} (control): the library should run: {}",
        stderr(o)
    );
}

#[test]
fn a_daemon_of_another_uid_is_refused() {
    let Some(s) = scene() else { return };
    let work = s.dir.path().join("work");
    let f = fake(s.dir.path(), "nobody-daemon", true, &s.nobody_shim);
    // Control: uid 65534 talking to its own uid's daemon gains nothing and is let through.
    accepted(
        &launch(&f.sock, &work, true),
        "uid 65534 launcher, uid 65534 daemon",
    );
    // Root talking to a uid-65534 daemon: refused before the hello.
    let o = launch(&f.sock, &work, false);
    refused(&o, "root launcher, uid 65534 daemon");
    assert!(stderr(&o).contains("uid 65534"), "{}", stderr(&o));
}

#[test]
fn a_shim_others_could_write_is_refused() {
    let Some(s) = scene() else { return };
    let work = s.dir.path().join("work");
    let good = fake(s.dir.path(), "root-good", false, &s.root_shim);
    let open = fake(s.dir.path(), "root-open", false, &s.open_shim);
    let foreign = fake(s.dir.path(), "root-foreign", false, &s.nobody_shim);
    for nobody in [false, true] {
        let who = if nobody { "uid 65534" } else { "root" };
        // Control: a root daemon naming a root-owned file in root-owned directories.
        accepted(&launch(&good.sock, &work, nobody), who);
        let o = launch(&open.sock, &work, nobody);
        refused(&o, &format!("{who}: shim in a world-writable directory"));
        assert!(stderr(&o).contains("writable by others"), "{}", stderr(&o));
    }
    // A file owned by uid 65534 is refused to root (and is uid 65534's own to load).
    let o = launch(&foreign.sock, &work, false);
    refused(&o, "root: shim owned by uid 65534");
    assert!(stderr(&o).contains("owned by uid 65534"), "{}", stderr(&o));
    accepted(
        &launch(&foreign.sock, &work, true),
        "uid 65534: its own shim",
    );
}
