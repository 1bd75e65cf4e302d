//! Acting with a client's filesystem credentials.
//!
//! Linux keeps credentials per thread; glibc's `setgroups`/`setfsuid` wrappers and `nix`'s
//! broadcast some of them to every thread of the process (the "setxid" signal dance). The
//! daemon must change only the thread serving one sandbox's call channel, so these are raw
//! system calls. `setfsuid` to a non-zero uid also drops the filesystem capabilities
//! (`CAP_DAC_OVERRIDE`, `CAP_FOWNER`, …) from that thread's effective set: a root daemon
//! then opens, creates and removes files exactly as the client could.

use std::io;

/// The ids a channel thread takes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsCreds {
    /// Filesystem uid.
    pub uid: u32,
    /// Filesystem gid.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

fn raw(nr: libc::c_long, a: libc::c_long, b: libc::c_long) -> libc::c_long {
    // SAFETY: called only with credential syscalls whose pointer argument (setgroups) points
    // at a live array of the given length; the others take integers.
    unsafe { libc::syscall(nr, a, b) }
}

impl FsCreds {
    /// Whether these are the calling process's own effective ids and groups (nothing to do).
    pub fn are_own(&self) -> bool {
        let own_groups = nix::unistd::getgroups()
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut a = own_groups;
        let mut b = self.groups.clone();
        a.sort_unstable();
        b.sort_unstable();
        nix::unistd::geteuid().as_raw() == self.uid
            && nix::unistd::getegid().as_raw() == self.gid
            && a == b
    }

    /// Switches the calling thread (only) to these filesystem credentials, and checks that
    /// the kernel took them: `setfsuid`/`setfsgid` report no error of their own.
    pub fn apply_to_this_thread(&self) -> io::Result<()> {
        let groups: Vec<libc::gid_t> = self.groups.clone();
        if raw(
            libc::SYS_setgroups,
            groups.len() as libc::c_long,
            groups.as_ptr() as libc::c_long,
        ) < 0
        {
            return Err(io::Error::last_os_error());
        }
        raw(libc::SYS_setfsgid, self.gid as libc::c_long, 0);
        // Asking for an invalid id changes nothing and returns the current one.
        if raw(libc::SYS_setfsgid, -1, 0) as u32 != self.gid {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("setfsgid({}) was refused", self.gid),
            ));
        }
        raw(libc::SYS_setfsuid, self.uid as libc::c_long, 0);
        if raw(libc::SYS_setfsuid, -1, 0) as u32 != self.uid {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("setfsuid({}) was refused", self.uid),
            ));
        }
        Ok(())
    }
}
