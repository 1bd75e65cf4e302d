//! Reach outside the sandbox through calls the table used to leave native (issue 15's red
//! team): the `which` forms of priority and I/O priority (a process group or a user, not
//! the caller), clearing the death signal, file leases and dnotify, and System V IPC. Each
//! attempt succeeds natively (the control) and is refused under arbiter, from a dynamic and
//! a static helper making raw calls (and libc where the mode says so), as the invoking user
//! and as uid 65534; the caller's own forms keep working.

mod floor_common;

use floor_common::{users, Floor};
use libc::{EACCES, EINVAL, ENOSYS, EPERM};

/// `setpriority(PRIO_PGRP|PRIO_USER, 0, …)` passed the "who == 0 is the caller" arm and
/// reniced arbiter (same process group) or every process of the uid on the host.
#[test]
fn priority_of_a_group_or_user_is_refused() {
    let f = Floor::new();
    for who in users() {
        for attempt in [
            "setpriority-pgrp",
            "getpriority-user",
            "ioprio-pgrp",
            "ioprio-get-user",
        ] {
            f.refused(who, &[], &[attempt], EPERM);
        }
        f.allowed(who, &[], &["priority-self"]);
    }
}

/// The command could clear its `PR_SET_PDEATHSIG` (or make it a signal it ignores) and
/// outlive a SIGKILLed arbiter, unbrokered.
#[test]
fn the_death_signal_cannot_be_changed() {
    let f = Floor::new();
    for who in users() {
        for attempt in ["pdeathsig-clear", "pdeathsig-clear-libc", "pdeathsig-other"] {
            f.refused(who, &[], &[attempt], EPERM);
        }
        // Setting SIGKILL again changes nothing; other options stay native.
        f.allowed(who, &[], &["pdeathsig-kill"]);
    }
}

/// A read lease on a file the program may only read stalled every writer on the host;
/// dnotify watched a directory as the refused `inotify_add_watch` would.
#[test]
fn leases_and_dnotify_are_refused() {
    let f = Floor::new();
    for who in users() {
        let file = f.file(&format!("leased-{who:?}"), who, 0o644);
        let file = file.to_str().unwrap();
        f.refused(who, &["--ro", file], &["lease", file], EACCES);
        f.refused(who, &["--ro", file], &["lease-libc", file], EACCES);
        let dir = f.path("work");
        let dir = dir.to_str().unwrap();
        f.refused(who, &["--ro", dir], &["dnotify", dir], EINVAL);
        f.allowed(who, &["--ro", file], &["fcntl-kept", file]);
    }
}

/// A System V segment made outside the sandbox (mode 0666): natively any process attaches
/// and reads it by id, and lists every segment with `SHM_INFO`/`SHM_STAT`; under arbiter
/// System V IPC does not exist (`ENOSYS`), private objects included.
#[test]
fn system_v_ipc_is_refused() {
    let f = Floor::new();
    let segment = Segment::new();
    let id = segment.0.to_string();
    for who in users() {
        f.refused(who, &[], &["shm-attach", &id], ENOSYS);
        for attempt in [
            "shm-stat",
            "shm-private",
            "sem-private",
            "msg-private",
            "shm-libc",
        ] {
            f.refused(who, &[], &[attempt], ENOSYS);
        }
    }
}

/// A world-readable System V shared memory segment holding a secret, removed on drop.
struct Segment(i32);

impl Segment {
    fn new() -> Segment {
        // SAFETY: plain system calls; the attached address is written within its 4096 bytes
        // and detached before return.
        unsafe {
            let id = libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o666);
            assert!(id >= 0, "shmget: {}", std::io::Error::last_os_error());
            let addr = libc::shmat(id, std::ptr::null(), 0);
            assert_ne!(addr as isize, -1, "shmat");
            let secret = b"host secret\0";
            std::ptr::copy_nonoverlapping(secret.as_ptr(), addr.cast::<u8>(), secret.len());
            libc::shmdt(addr);
            Segment(id)
        }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: removes the segment this test made.
        unsafe {
            libc::shmctl(self.0, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}
