//! Set-id modes (issue 15's red team, finding 07): the broker performs `chmod`, `fchmod`,
//! creating opens, `mknod` and `mkdir` with its own credentials — as root, a `chmod 4755`
//! made a set-uid-root program any local user could run after the sandbox. The broker now
//! never applies `S_ISUID`, nor `S_ISGID` to anything but a directory. Each attempt sets the
//! bits natively (the control) and ends without them under arbiter, while the call itself
//! succeeds, from a dynamic and a static helper (raw calls, and libc where the mode says
//! so), as the invoking user and as uid 65534.

mod floor_common;

use floor_common::{users, verdict, Floor, Who};

/// The mode the helper printed (`mode NNNN`), after checking the call succeeded.
fn mode_of(out: &std::process::Output, what: &str) -> u32 {
    assert_eq!(verdict(out), Ok(()), "{what}: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("mode "))
        .unwrap_or_else(|| panic!("{what}: no mode in {text:?}"));
    u32::from_str_radix(line, 8).unwrap()
}

/// Runs `attempt` on a fresh path natively and confined, returning both modes.
fn both(f: &Floor, who: Who, helper: &str, attempt: &str, existing: bool) -> (u32, u32) {
    let mut modes = [0; 2];
    for (i, confined) in [false, true].into_iter().enumerate() {
        let name = format!(
            "sid/{attempt}-{who:?}-{}-{confined}",
            helper.rsplit('/').next().unwrap()
        );
        let path = f.path(&name);
        if existing {
            f.file(&name, who, 0o755);
        }
        let path = path.to_str().unwrap();
        let dir = f.path("sid");
        let argv = [helper, attempt, path];
        let out = if confined {
            f.confined(who, &["--rw", dir.to_str().unwrap()], &argv)
        } else {
            f.native(who, &argv)
        };
        modes[i] = mode_of(&out, &format!("{argv:?} as {who:?}, confined {confined}"));
    }
    (modes[0], modes[1])
}

#[test]
fn the_broker_applies_no_set_id_bits() {
    let f = Floor::new();
    let sid = f.path("sid");
    std::fs::create_dir(&sid).unwrap();
    std::fs::set_permissions(&sid, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    for who in users() {
        for h in &f.helpers {
            let h = h.to_str().unwrap();
            for (attempt, existing) in [
                ("setid-chmod", true),
                ("setid-chmod-libc", true),
                ("setid-fchmod", true),
                ("setid-fchmodat2", true),
                ("setid-creat", false),
                ("setid-creat-libc", false),
                ("setid-mknod", false),
            ] {
                let (native, confined) = both(&f, who, h, attempt, existing);
                assert_ne!(
                    native & libc::S_ISUID,
                    0,
                    "control: {attempt} sets S_ISUID natively as {who:?} ({native:o})"
                );
                assert_eq!(
                    confined,
                    native & !(libc::S_ISUID | libc::S_ISGID),
                    "{h} {attempt} as {who:?}: the broker applied set-id bits ({confined:o})"
                );
            }
            // A directory keeps S_ISGID (it only hands its group down), never S_ISUID.
            let (native, confined) = both(&f, who, h, "setid-mkdir", false);
            assert_eq!(native, 0o6775, "control: mkdir + chmod 6775 as {who:?}");
            assert_eq!(confined, 0o2775, "{h} setid-mkdir as {who:?}");
        }
    }
}
