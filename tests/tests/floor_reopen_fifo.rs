//! A named FIFO is a file the policy decides: re-opening the caller's own fd of it through
//! `/proc/self/fd/N` asks the policy about its real path for the access wanted, so a FIFO
//! granted read-only (`--ro DIR`) cannot be re-opened for writing (red-team finding 03 of
//! issue 18). Anonymous pipes keep being re-opened as natively (`compat_fd.rs`).

mod floor_common;

use floor_common::{users, Floor};
use std::os::unix::fs::PermissionsExt;

#[test]
fn a_read_only_named_fifo_cannot_be_reopened_for_writing() {
    let f = Floor::new();
    let dir = f.path("fifos");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, PermissionsExt::from_mode(0o755)).unwrap();
    let fifo = dir.join("ctl");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
    // mkfifo applies the umask: DAC lets everyone write, so only the policy decides.
    std::fs::set_permissions(&fifo, PermissionsExt::from_mode(0o666)).unwrap();
    let fifo = fifo.to_str().unwrap();
    let ro = ["--ro", dir.to_str().unwrap()];
    let rw = ["--rw", dir.to_str().unwrap()];
    for who in users() {
        for mode in ["reopen-write", "reopen-write-libc"] {
            // Native control (the helper holds the read end, so a non-blocking write open
            // succeeds), and under arbiter where the policy grants writing.
            f.allowed(who, &rw, &[mode, fifo]);
            f.refused(who, &ro, &[mode, fifo], libc::EACCES);
        }
    }
}
