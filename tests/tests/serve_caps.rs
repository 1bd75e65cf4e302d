//! A root daemon acts for a client with the client's whole identity and no capabilities
//! (red-team finding 03): opens that the kernel decides with capabilities other than the
//! filesystem ones get the client's answer, not root's. The sandbox's working directory
//! (`$PWD`, read-write under the default profile) is set to `/proc`, `/dev` and a root
//! process's `/proc/PID`, so the policy allows the open and only the kernel's check on the
//! opener's credentials stands between uid 65534 and
//! * kernel symbol addresses in `/proc/kallsyms` (`CAP_SYSLOG`: zeros for others),
//! * the kernel log `/dev/kmsg` under `dmesg_restrict = 1` (`CAP_SYSLOG`),
//! * a root process's `maps` (`CAP_SYS_PTRACE`).
//!
//! Each read is made with raw system calls from a static helper (`escape cat`, brokered
//! by the seccomp transport) and through libc (`dd`, brokered by the shim). Controls:
//! root natively gets what it asks for, uid 65534 natively does not, and a root client of
//! the same daemon gets root's answer (the daemon serves the read).

mod serve_common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, compile_helper, is_root, stdout};
use serve_common::{output_within, scratch, Daemon};

const CONFIG: &str = "[[user]]\nname = \"nobody\"\nallow = [\"default\"]\n\n\
                      [[user]]\nname = \"root\"\nallow = [\"default\"]\n";

struct Scene {
    _dir: tempfile::TempDir,
    sock: String,
    _daemon: Daemon,
    helper: PathBuf,
}

fn scene() -> Option<Scene> {
    if !is_root() {
        println!("SKIP: needs root (a root daemon serving uid 65534)");
        return None;
    }
    let dir = scratch();
    let helpers = dir.path().join("helpers");
    std::fs::create_dir(&helpers).unwrap();
    std::fs::set_permissions(&helpers, std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper = compile_helper("escape", &helpers, &["-static"]);
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let sock = dir.path().join("s").to_str().unwrap().to_owned();
    let mut daemon = Daemon::start(
        dir.path(),
        &[
            "--listen",
            &sock,
            "--mode",
            "0666",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    daemon.wait_listening();
    Some(Scene {
        _dir: dir,
        sock,
        _daemon: daemon,
        helper,
    })
}

/// `argv` in `cwd`, natively or under the daemon, as uid 65534 when `nobody`.
fn run(s: &Scene, cwd: &Path, daemon: bool, nobody: bool, argv: &[&str]) -> Output {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c
    } else {
        Command::new("env")
    };
    if daemon {
        c.arg(arbiter())
            .args(["run", "--daemon", s.sock.as_str(), "--"]);
    }
    c.args(argv)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    output_within(c.spawn().expect("spawn"), 60)
}

/// The two ways to read `file` (relative to the working directory): the static helper's
/// raw `openat`+`read`, and libc's `dd` (one 4 KiB read: `/dev/kmsg` hands out whole records). Each yields what was read, or None when the
/// open was refused.
fn reads(s: &Scene, cwd: &Path, daemon: bool, nobody: bool, file: &str) -> Vec<Option<String>> {
    let helper = s.helper.to_str().unwrap();
    let raw = run(s, cwd, daemon, nobody, &[helper, "cat", file]);
    let text = stdout(&raw);
    let raw = match text.lines().last() {
        Some("ok") => Some(text),
        Some(l) if l.starts_with("errno ") => None,
        _ => panic!(
            "helper: {text:?} {:?}",
            String::from_utf8_lossy(&raw.stderr)
        ),
    };
    let input = format!("if={file}");
    let dd = ["dd", input.as_str(), "bs=4096", "count=1", "status=none"];
    let libc = run(s, cwd, daemon, nobody, &dd);
    let libc = libc.status.success().then(|| stdout(&libc));
    vec![raw, libc]
}

/// Whether a `/proc/kallsyms` excerpt shows a non-zero address.
fn shows_addresses(text: &str) -> bool {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .any(|a| {
            a.len() >= 8
                && a.chars().all(|c| c.is_ascii_hexdigit())
                && !a.trim_start_matches('0').is_empty()
        })
}

#[test]
fn kallsyms_addresses_stay_hidden_from_a_uid_65534_sandbox() {
    let Some(s) = scene() else { return };
    let proc = Path::new("/proc");
    let root = reads(&s, proc, false, false, "kallsyms");
    if !root
        .iter()
        .all(|r| r.as_deref().is_some_and(shows_addresses))
    {
        println!("SKIP: kptr_restrict hides kallsyms addresses from root too");
        return;
    }
    for r in reads(&s, proc, false, true, "kallsyms") {
        let r = r.expect("uid 65534 may open kallsyms natively");
        assert!(!shows_addresses(&r), "native uid 65534 sees zeros: {r}");
    }
    for r in reads(&s, proc, true, false, "kallsyms") {
        let r = r.expect("a root client reads kallsyms through the daemon");
        assert!(shows_addresses(&r), "a root client sees root's answer: {r}");
    }
    for r in reads(&s, proc, true, true, "kallsyms") {
        let r = r.expect("the default profile grants $PWD");
        assert!(
            !shows_addresses(&r),
            "uid 65534 sandbox must see zeros: {r}"
        );
    }
}

#[test]
fn dev_kmsg_stays_closed_to_a_uid_65534_sandbox() {
    let Some(s) = scene() else { return };
    let restrict = std::fs::read_to_string("/proc/sys/kernel/dmesg_restrict").unwrap_or_default();
    if restrict.trim() != "1" {
        println!("SKIP: kernel.dmesg_restrict is not 1");
        return;
    }
    let dev = Path::new("/dev");
    for r in reads(&s, dev, false, false, "kmsg") {
        assert!(r.is_some(), "root reads /dev/kmsg natively");
    }
    for r in reads(&s, dev, false, true, "kmsg") {
        assert!(r.is_none(), "native uid 65534 is refused /dev/kmsg");
    }
    for r in reads(&s, dev, true, false, "kmsg") {
        assert!(
            r.is_some(),
            "a root client reads /dev/kmsg through the daemon"
        );
    }
    for r in reads(&s, dev, true, true, "kmsg") {
        assert!(r.is_none(), "uid 65534 sandbox read the kernel log: {r:?}");
    }
}

#[test]
fn a_root_process_maps_stay_closed_to_a_uid_65534_sandbox() {
    let Some(s) = scene() else { return };
    let mut victim = Command::new("sleep").arg("300").spawn().unwrap();
    let cwd = PathBuf::from(format!("/proc/{}", victim.id()));
    let check = || {
        for r in reads(&s, &cwd, false, false, "maps") {
            assert!(r.is_some(), "root reads the maps natively");
        }
        for r in reads(&s, &cwd, false, true, "maps") {
            assert!(
                r.is_none(),
                "native uid 65534 is refused a root process's maps"
            );
        }
        // Another process's ptrace-protected entries are refused to every sandbox, a root
        // one included: the broker never opens them for a program (docs/security.md).
        for r in reads(&s, &cwd, true, false, "maps") {
            assert!(
                r.is_none(),
                "a root client read another process's maps: {r:?}"
            );
        }
        for r in reads(&s, &cwd, true, true, "maps") {
            assert!(
                r.is_none(),
                "uid 65534 sandbox read a root process's maps: {r:?}"
            );
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check));
    let _ = victim.kill();
    let _ = victim.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
