//! Reaching other processes: signals to the broker and to an unrelated process (Landlock
//! signal scoping: EPERM), ptrace of the broker (seccomp: EACCES).

mod common;

use std::process::Command;

use common::{verdict, Scene};

#[test]
fn kill_the_broker() {
    let s = Scene::new();
    for h in s.helpers() {
        let h = h.to_str().unwrap();
        // Natively the parent is this test process.
        assert_eq!(verdict(&s.native(&[h, "kill", "parent"])), Ok(()));
        // EPERM: Landlock's signal scoping; ESRCH: as root the sandbox is a pid namespace
        // of its own, in which the broker has no pid at all.
        let v = verdict(&s.confined(&[h, "kill", "parent"]));
        assert!(matches!(v, Err(libc::EPERM | libc::ESRCH)), "{v:?}");
    }
}

#[test]
fn kill_an_unrelated_process() {
    let s = Scene::new();
    let mut victim = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = victim.id().to_string();
    for h in s.helpers() {
        let h = h.to_str().unwrap();
        assert_eq!(verdict(&s.native(&[h, "kill", &pid])), Ok(()));
        // EPERM: Landlock's signal scoping; ESRCH: as root, outside the sandbox's pid
        // namespace.
        let v = verdict(&s.confined(&[h, "kill", &pid]));
        assert!(matches!(v, Err(libc::EPERM | libc::ESRCH)), "{v:?}");
    }
    assert!(
        victim.try_wait().unwrap().is_none(),
        "the victim must still run"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();
}

#[test]
fn ptrace_the_broker() {
    let s = Scene::new();
    let mut victim = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = victim.id().to_string();
    for h in s.helpers() {
        let h = h.to_str().unwrap();
        // Negative control on a sleeping process (seizing this test process would work too).
        assert_eq!(verdict(&s.native(&[h, "ptrace", &pid])), Ok(()));
        assert_eq!(
            verdict(&s.confined(&[h, "ptrace", "parent"])),
            Err(libc::EACCES)
        );
    }
    victim.kill().unwrap();
    victim.wait().unwrap();
}

/// As an unprivileged uid (no CAP_DAC_OVERRIDE to hide behind) the layers still apply.
#[test]
fn unprivileged_uid_cannot_read_outside() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to switch to uid 65534 with setpriv");
        return;
    }
    let s = Scene::new();
    for d in ["", "helpers", "outside", "work"] {
        std::fs::set_permissions(
            s.path(d),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
    }
    std::fs::set_permissions(
        s.path("outside/secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let secret = s.path("outside/secret");
    let setpriv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let native = Command::new(setpriv[0])
        .args(&setpriv[1..])
        .arg(&s.dynamic)
        .arg("read")
        .arg(&secret)
        .current_dir(s.path("work"))
        .output()
        .unwrap();
    assert_eq!(verdict(&native), Ok(()), "negative control as uid 65534");
    let confined = Command::new(setpriv[0])
        .args(&setpriv[1..])
        .arg(common::arbiter())
        .args(["run", "--strict", "--"])
        .arg(&s.dynamic)
        .arg("read")
        .arg(&secret)
        .current_dir(s.path("work"))
        .output()
        .unwrap();
    assert_eq!(
        verdict(&confined),
        Err(libc::EACCES),
        "stderr: {}",
        String::from_utf8_lossy(&confined.stderr)
    );
}
