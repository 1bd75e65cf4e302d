//! No privilege inside the sandbox: started by root, the program has no capability left in
//! any set (effective, permitted, inheritable, bounding, ambient). Each attempt needs a
//! capability root has natively (the control).

mod floor_common;

use floor_common::{is_root, verdict, Floor, Who};

#[test]
fn every_capability_set_is_empty() {
    if !is_root() {
        eprintln!("SKIP: needs root (an unprivileged user has no capabilities to drop)");
        return;
    }
    let f = Floor::new();
    for h in &f.helpers {
        let h = h.to_str().unwrap();
        let native = f.native(Who::Invoker, &[h, "caps"]);
        let text = String::from_utf8_lossy(&native.stdout);
        assert!(
            !text.starts_with("eff 000000000"),
            "control: root has capabilities: {text}"
        );
        let confined = f.confined(Who::Invoker, &[], &[h, "caps"]);
        let text = String::from_utf8_lossy(&confined.stdout);
        assert_eq!(
            text.lines().next(),
            Some("eff 000000000 prm 000000000 inh 000000000 bnd 0 amb 0"),
            "stderr: {}",
            String::from_utf8_lossy(&confined.stderr)
        );
    }
}

/// CAP_SETUID: setuid is native in the table, so only the dropped capability refuses it.
#[test]
fn root_cannot_change_its_uid() {
    if !is_root() {
        eprintln!("SKIP: needs root");
        return;
    }
    let f = Floor::new();
    f.refused(Who::Invoker, &[], &["setuid-other"], libc::EPERM);
}

/// CAP_DAC_OVERRIDE: a file of another user, mode 0600, inside the kernel floor (the
/// program's own prefix), read natively under Landlock (without the seccomp transport,
/// which would send the open to the broker).
#[test]
fn root_cannot_override_file_permissions() {
    if !is_root() {
        eprintln!("SKIP: needs root");
        return;
    }
    let f = Floor::new();
    let secret = f.path("helpers/secret");
    std::fs::write(&secret, "secret\n").unwrap();
    std::os::unix::fs::chown(&secret, Some(12345), Some(12345)).unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let secret = secret.to_str().unwrap();
    f.refused(
        Who::Invoker,
        &["--no-seccomp-transport"],
        &["read", secret],
        libc::EACCES,
    );
    // The control above ran as root; uid 65534 is refused natively too.
    let h = f.helpers[0].to_str().unwrap();
    assert_eq!(
        verdict(&f.native(Who::Nobody, &[h, "read", secret])),
        Err(libc::EACCES)
    );
}
