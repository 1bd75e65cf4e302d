//! The same sandbox either way: one attack list, made with raw system calls from a dynamic
//! and a static helper (`tests/helpers/escape.c`) and through libc, gets the same answers
//! under `arbiter run -- CMD` and `arbiter run --daemon PATH -- CMD`, as root and as uid
//! 65534. Each attempt first succeeds natively (the control), so a denial means the
//! sandbox refused it. Raw calls that `arbiter run` brokers through the seccomp transport
//! (a read or a creation in the working directory) only work under the daemon when it
//! serves that transport too; creations belong to the client's uid even when the daemon is
//! root.

mod serve_common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arbiter_tests::{
    arbiter, assert_code, compile_helper, invoker_and_nobody, is_root, stderr, stdout,
};
use serve_common::{output_within, scratch, Daemon};

const EACCES: i32 = libc::EACCES;

/// Where the attacks happen: `helpers/` (the helpers' prefix), `outside/` (no rule grants
/// it; writable by everyone so the native controls succeed for uid 65534 too), `work/`
/// (the working directory).
struct Scene {
    dir: tempfile::TempDir,
    helpers: Vec<PathBuf>,
    tcp: std::net::TcpListener,
    _unix: std::os::unix::net::UnixListener,
}

impl Scene {
    fn new() -> Scene {
        let dir = scratch();
        for d in ["helpers", "outside", "work"] {
            let p = dir.path().join(d);
            std::fs::create_dir(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let h = dir.path().join("helpers");
        let mut helpers = vec![compile_helper("escape", &h, &[])];
        let st = Command::new("cc")
            .arg("-static")
            .arg("-o")
            .arg(h.join("escape-static"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/escape.c"))
            .status()
            .expect("cc");
        if st.success() {
            helpers.push(h.join("escape-static"));
        } else {
            eprintln!("note: static libc unavailable, only the dynamic helper runs");
        }
        let secret = dir.path().join("outside/secret");
        std::fs::write(&secret, "secret\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o666)).unwrap();
        std::fs::write(dir.path().join("work/allowed.txt"), "allowed\n").unwrap();
        let sock = dir.path().join("outside/sock");
        let unix = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Scene {
            dir,
            helpers,
            tcp,
            _unix: unix,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn work(&self) -> PathBuf {
        self.path("work")
    }
}

/// How a command is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Native,
    Run,
    Daemon,
}

/// `argv`, run `way`, as uid 65534 when `nobody`, in the scene's `work/`.
fn run(scene: &Scene, sock: &str, way: Way, nobody: bool, argv: &[&str]) -> Output {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c
    } else {
        Command::new("env")
    };
    match way {
        Way::Native => {}
        Way::Run => {
            c.arg(arbiter()).args(["run", "--strict", "--"]);
        }
        Way::Daemon => {
            c.arg(arbiter())
                .args(["run", "--strict", "--daemon", sock, "--"]);
        }
    }
    c.args(argv)
        .current_dir(scene.work())
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    output_within(c.spawn().expect("spawn"), 60)
}

/// The helper's verdict: `Ok(())` or `Err(errno)`.
fn verdict(o: &Output) -> Result<(), i32> {
    let text = stdout(o);
    match text.lines().last().unwrap_or("") {
        "ok" => Ok(()),
        line => match line.strip_prefix("errno ") {
            Some(n) => Err(n.parse().unwrap()),
            None => panic!(
                "unexpected helper output {text:?}, stderr {:?}, status {:?}",
                stderr(o),
                o.status
            ),
        },
    }
}

/// One attack: the helper's arguments (a `{}` in them is replaced by a fresh tag per
/// attempt), the answer expected under both sandboxes, and what must exist first.
struct Attack {
    what: &'static str,
    args: Vec<String>,
    expect: Result<(), i32>,
    /// Files (relative to the scene) created before each attempt, owned by the runner.
    before: Vec<String>,
    /// Only root's native control can succeed.
    root_only: bool,
}

fn attacks(scene: &Scene) -> Vec<Attack> {
    let out = |rel: &str| scene.path(rel).to_str().unwrap().to_owned();
    let a = |what, args: &[&str], expect, before: &[&str]| Attack {
        what,
        args: args.iter().map(|s| s.to_string()).collect(),
        expect,
        before: before.iter().map(|s| s.to_string()).collect(),
        root_only: false,
    };
    let port = scene.tcp.local_addr().unwrap().port().to_string();
    let mut list = vec![
        a(
            "read a file in the working directory",
            &["read", "allowed.txt"],
            Ok(()),
            &[],
        ),
        a(
            "read a system file",
            &["read", "/etc/hostname"],
            Ok(()),
            &[],
        ),
        a(
            "create a file in the working directory",
            &["create", "made-{}"],
            Ok(()),
            &[],
        ),
        a(
            "rename in the working directory",
            &["rename", "from-{}", "to-{}"],
            Ok(()),
            &["work/from-{}"],
        ),
        a(
            "unlink in the working directory",
            &["unlink", "gone-{}"],
            Ok(()),
            &["work/gone-{}"],
        ),
        a(
            "read a file outside",
            &["read", &out("outside/secret")],
            Err(EACCES),
            &[],
        ),
        a(
            "write a file outside",
            &["write", &out("outside/secret")],
            Err(EACCES),
            &[],
        ),
        a(
            "create a file outside",
            &["create", &out("outside/new-{}")],
            Err(EACCES),
            &[],
        ),
        a(
            "unlink a file outside",
            &["unlink", &out("outside/victim-{}")],
            Err(EACCES),
            &["outside/victim-{}"],
        ),
        a(
            "chmod a file outside",
            &["chmod", &out("outside/mode-{}")],
            Err(EACCES),
            &["outside/mode-{}"],
        ),
        a(
            "connect to a unix socket outside",
            &["unix", &out("outside/sock")],
            Err(EACCES),
            &[],
        ),
        a("connect to a TCP port", &["tcp", &port], Err(EACCES), &[]),
    ];
    list.push(Attack {
        root_only: true,
        ..a(
            "read /etc/shadow",
            &["read", "/etc/shadow"],
            Err(EACCES),
            &[],
        )
    });
    list
}

fn tagged(s: &str, tag: &str) -> String {
    s.replace("{}", tag)
}

fn start_daemon(scene: &Scene) -> (Daemon, String) {
    let sock = scene.path("s").to_str().unwrap().to_owned();
    let cfg = scene.path("serve.toml");
    // SAFETY: geteuid has no preconditions.
    let own = unsafe { libc::geteuid() };
    std::fs::write(
        &cfg,
        format!("[[user]]\nuid = {own}\nallow = [\"default\"]\n\n[[user]]\nuid = 65534\nallow = [\"default\"]\n"),
    )
    .unwrap();
    let mut d = Daemon::start(
        scene.dir.path(),
        &[
            "--listen",
            &sock,
            "--mode",
            "0666",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    d.wait_listening();
    (d, sock)
}

#[test]
fn raw_syscall_attacks_get_the_same_answers_under_run_and_under_the_daemon() {
    let scene = Scene::new();
    let (_d, sock) = start_daemon(&scene);
    compare(&scene, &sock, &invoker_and_nobody());
}

/// A daemon that is not root, serving its own uid (65534): the seccomp transport works
/// with the ptrace access a process has to its own uid's processes.
#[test]
fn an_unprivileged_daemon_gives_its_own_uid_the_same_sandbox() {
    if !is_root() {
        println!("SKIP: starting a daemon as uid 65534 needs root (setpriv)");
        return;
    }
    let scene = Scene::new();
    let run_dir = scene.path("daemon");
    std::fs::create_dir(&run_dir).unwrap();
    std::os::unix::fs::chown(&run_dir, Some(65534), Some(65534)).unwrap();
    let sock = run_dir.join("s").to_str().unwrap().to_owned();
    let stderr = scene.path("daemon.err");
    let child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(arbiter())
        .args(["serve", "--listen", &sock])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut d = Daemon { child, stderr };
    d.wait_listening();
    compare(&scene, &sock, &[true]);
}

/// Runs every attack through every helper natively, under `arbiter run` and under the
/// daemon at `sock`, as each of `users` (true: uid 65534), and compares the answers.
fn compare(scene: &Scene, sock: &str, users: &[bool]) {
    let mut n = 0;
    for &nobody in users {
        let uid = if nobody { 65534 } else { unsafe_geteuid() };
        for helper in &scene.helpers {
            for attack in attacks(scene) {
                if attack.root_only && nobody {
                    continue;
                }
                let mut answers = Vec::new();
                for way in [Way::Native, Way::Run, Way::Daemon] {
                    n += 1;
                    let tag = format!("{n}");
                    for f in &attack.before {
                        let p = scene.path(&tagged(f, &tag));
                        std::fs::write(&p, "x").unwrap();
                        std::os::unix::fs::chown(&p, Some(uid), Some(uid)).unwrap();
                    }
                    let mut argv = vec![helper.to_str().unwrap().to_owned()];
                    argv.extend(attack.args.iter().map(|a| tagged(a, &tag)));
                    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                    let o = run(scene, sock, way, nobody, &argv);
                    let v = verdict(&o);
                    if way == Way::Native {
                        assert_eq!(
                            v,
                            Ok(()),
                            "native control of {:?} ({argv:?}, uid {uid}) must succeed: {}",
                            attack.what,
                            stderr(&o)
                        );
                    } else {
                        assert_eq!(
                            v,
                            attack.expect,
                            "{:?} ({argv:?}) {way:?} as uid {uid}: {}",
                            attack.what,
                            stderr(&o)
                        );
                        if attack.args[0] == "create" && v.is_ok() {
                            let made = scene.work().join(tagged(&attack.args[1], &tag));
                            let m = std::fs::metadata(&made).unwrap();
                            assert_eq!(
                                (m.uid(), m.gid()),
                                (uid, uid),
                                "{way:?}: {} belongs to the client",
                                made.display()
                            );
                        }
                    }
                    answers.push(v);
                }
                assert_eq!(
                    answers[1],
                    answers[2],
                    "{:?} through {}: run and run --daemon disagree",
                    attack.what,
                    helper.display()
                );
            }
        }
    }
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

#[test]
fn libc_calls_get_the_same_answers_under_run_and_under_the_daemon() {
    let scene = Scene::new();
    let (_d, sock) = start_daemon(&scene);
    let secret = scene.path("outside/secret");
    for nobody in invoker_and_nobody() {
        let uid = if nobody { 65534 } else { unsafe_geteuid() };
        for way in [Way::Run, Way::Daemon] {
            let o = run(&scene, &sock, way, nobody, &["cat", "allowed.txt"]);
            assert_code(&o, 0);
            assert_eq!(stdout(&o), "allowed\n");
            let o = run(
                &scene,
                &sock,
                way,
                nobody,
                &["cat", secret.to_str().unwrap()],
            );
            assert_code(&o, 1);
            assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
            let name = format!("libc-{way:?}-{uid}");
            let o = run(
                &scene,
                &sock,
                way,
                nobody,
                &["sh", "-c", &format!("echo made > {name} && cat {name}")],
            );
            assert_code(&o, 0);
            assert_eq!(stdout(&o), "made\n");
            let m = std::fs::metadata(scene.work().join(&name)).unwrap();
            assert_eq!(
                (m.uid(), m.gid()),
                (uid, uid),
                "{way:?}: owned by the client"
            );
        }
        // The native controls.
        let o = run(
            &scene,
            &sock,
            Way::Native,
            nobody,
            &["cat", secret.to_str().unwrap()],
        );
        assert_code(&o, 0);
    }
}
