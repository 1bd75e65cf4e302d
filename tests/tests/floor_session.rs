//! No reach into the caller's terminal: input injection (TIOCSTI) is refused while the
//! terminal stays usable.

mod floor_common;

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

use floor_common::{users, verdict, Floor, Who};

/// A pseudo-terminal's secondary side, opened without becoming anyone's controlling
/// terminal; `None` (with a printed reason) when there is none.
fn pty() -> Option<(OwnedFd, OwnedFd)> {
    // SAFETY: plain libc calls on integers and a local buffer; fds are owned once.
    unsafe {
        let main = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if main < 0 {
            eprintln!("SKIP: no pseudo-terminals here");
            return None;
        }
        let main = OwnedFd::from_raw_fd(main);
        use std::os::fd::AsRawFd;
        assert_eq!(libc::grantpt(main.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(main.as_raw_fd()), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(main.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
        let sub = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(sub >= 0, "cannot open the pty's secondary side");
        // World-usable, so uid 65534 can use the inherited fd as a controlling terminal.
        libc::fchmod(sub, 0o666);
        Some((main, OwnedFd::from_raw_fd(sub)))
    }
}

#[test]
fn input_cannot_be_pushed_into_the_terminal() {
    let legacy = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti")
        .map_or(true, |s| s.trim() == "1");
    let f = Floor::new();
    for who in users() {
        if !legacy && who == Who::Nobody {
            eprintln!("SKIP: dev.tty.legacy_tiocsti is 0, no native control as uid 65534");
            continue;
        }
        for h in &f.helpers {
            let h = h.to_str().unwrap();
            let Some((_main, sub)) = pty() else { return };
            let native = f.native_in(who, &[h, "tiocsti"], Stdio::from(sub));
            assert_eq!(verdict(&native), Ok(()), "control as {who:?}: {native:?}");
            let Some((_main, sub)) = pty() else { return };
            let confined = f.confined_in(who, &[], &[h, "tiocsti"], Stdio::from(sub));
            assert_eq!(
                verdict(&confined),
                Err(libc::EPERM),
                "as {who:?}: {confined:?}"
            );
            // The terminal itself stays usable.
            let Some((_main, sub)) = pty() else { return };
            let tcgets = f.confined_in(who, &[], &[h, "tcgets"], Stdio::from(sub));
            assert_eq!(verdict(&tcgets), Ok(()), "as {who:?}: {tcgets:?}");
        }
    }
}
