//! A session of its own for a program that is not interactive.
//!
//! A sandboxed program in the caller's session can reach the caller's terminal even when
//! its own stdin is a pipe: `open("/dev/tty")` (in the floor) names the session's
//! controlling terminal, and input pushed into it (`TIOCSTI`, CVE-2017-5226) would run in the
//! caller's shell after arbiter exits. When stdin is not a terminal, the program starts a
//! new session (`setsid`) with no controlling terminal; when it is one, the program is
//! interactive and keeps the session (job control needs it), and the syscall table refuses
//! the terminal ioctls that reach outside (`TIOCSTI`, `TIOCLINUX`, `TIOCCONS`, `TIOCSETD`).

use crate::sandbox::spawn::PreExec;

/// The step: `setsid()` unless fd 0 is a terminal. A process that already leads a process
/// group (`arbiter run --daemon`'s client, run as a shell job, execs the command itself)
/// cannot start a session (`EPERM`): it keeps its own, and the table still refuses the
/// terminal ioctls. Makes system calls only.
pub fn new_unless_interactive() -> PreExec {
    Box::new(|| {
        // SAFETY: termios is plain old data, filled by the ioctl.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: TCGETS writes one termios into t; fd 0 may be anything or closed.
        let tty = unsafe { libc::ioctl(0, libc::TCGETS, &mut t) } == 0;
        // SAFETY: setsid takes no arguments.
        if !tty && unsafe { libc::setsid() } < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EPERM) {
                return Err(e);
            }
        }
        Ok(())
    })
}
