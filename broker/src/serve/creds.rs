//! Acting with a client's identity.
//!
//! Linux keeps credentials per thread; glibc's `setgroups`/`setresuid` wrappers and `nix`'s
//! broadcast them to every thread of the process (the "setxid" signal dance). The daemon
//! must change only the thread serving one sandbox, so these are raw system calls
//! (`SYS_setgroups`, `SYS_setresgid`, `SYS_setresuid`), which affect the calling thread
//! alone.
//!
//! A thread acting for a client takes the client's *whole* identity: real, effective,
//! saved and filesystem ids and the supplementary groups. Setting every uid to a non-zero
//! one clears the thread's permitted, effective and ambient capabilities (the kernel's
//! `setuid` fix-up; `keep_caps` is off), and [`FsCreds::apply_to_this_thread`] then checks
//! with `capget` that none is left. Changing only the filesystem uid (what the daemon did
//! before) dropped only the filesystem capabilities: opens that check others
//! (`CAP_SYSLOG` for `/proc/kallsyms` and `/dev/kmsg`, `CAP_SYS_PTRACE` for another user's
//! `/proc/PID/maps` or `cwd` link) were decided with root's. The thread cannot switch back:
//! it serves one sandbox and ends with it.
//!
//! Without Yama (or with `kernel.yama.ptrace_scope = 0`) the thread needs no capability to
//! read the client's memory or take its fds (`process_vm_readv`, `pidfd_getfd`): it has the
//! client's real uid and no more capabilities than the client. With Yama's scope 1 or more
//! those calls would need `CAP_SYS_PTRACE` (the daemon is not the client's ancestor), so
//! calls trapped by the seccomp transport then fail closed.

use std::io;

/// The identity a thread acting for a client takes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsCreds {
    /// The uid (real, effective, saved, filesystem).
    pub uid: u32,
    /// The gid (real, effective, saved, filesystem).
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

fn raw3(nr: libc::c_long, a: libc::c_long, b: libc::c_long, c: libc::c_long) -> libc::c_long {
    // SAFETY: called only with credential syscalls whose pointer argument (setgroups,
    // getgroups) points at a live array of the given length; the others take integers.
    unsafe { libc::syscall(nr, a, b, c) }
}

/// The calling thread's capability sets (effective, permitted), read with raw `capget`.
fn this_thread_caps() -> io::Result<(u64, u64)> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget with a version-3 header and room for its two data structs; pid 0 is
    // the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut Header, data.as_mut_ptr()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let eff = u64::from(data[0].effective) | (u64::from(data[1].effective) << 32);
    let perm = u64::from(data[0].permitted) | (u64::from(data[1].permitted) << 32);
    Ok((eff, perm))
}

/// The calling thread's (real, effective, saved) ids read with `nr` (`getresuid`/`getresgid`).
fn this_thread_ids(nr: libc::c_long) -> io::Result<[u32; 3]> {
    let mut ids = [u32::MAX; 3];
    // SAFETY: the three pointers point at live u32s of this frame.
    let rc = unsafe {
        libc::syscall(
            nr,
            &mut ids[0] as *mut u32,
            &mut ids[1] as *mut u32,
            &mut ids[2] as *mut u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ids)
}

fn refused(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, what)
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

    /// Whether the calling thread already has exactly this identity (ids, groups) and, for a
    /// non-root uid, no capabilities.
    fn is_this_threads(&self) -> io::Result<bool> {
        if this_thread_ids(libc::SYS_getresuid)? != [self.uid; 3]
            || this_thread_ids(libc::SYS_getresgid)? != [self.gid; 3]
        {
            return Ok(false);
        }
        let mut have = vec![0 as libc::gid_t; 65536];
        let n = raw3(
            libc::SYS_getgroups,
            have.len() as libc::c_long,
            have.as_mut_ptr() as libc::c_long,
            0,
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        have.truncate(n as usize);
        let mut want = self.groups.clone();
        have.sort_unstable();
        want.sort_unstable();
        if have != want {
            return Ok(false);
        }
        Ok(self.uid == 0 || this_thread_caps()? == (0, 0))
    }

    /// Switches the calling thread (only) to the client's whole identity (groups, then
    /// real/effective/saved gid, then uid; the filesystem ids follow the effective ones)
    /// and checks that the kernel took it: the ids read back, and no capability left in
    /// the thread's effective or permitted set unless the client is root.
    /// A thread started by one that already acts for the client inherits its identity (and
    /// could not set it again without capabilities): then nothing is changed.
    pub fn apply_to_this_thread(&self) -> io::Result<()> {
        if self.is_this_threads()? {
            return Ok(());
        }
        let groups: Vec<libc::gid_t> = self.groups.clone();
        if raw3(
            libc::SYS_setgroups,
            groups.len() as libc::c_long,
            groups.as_ptr() as libc::c_long,
            0,
        ) < 0
        {
            return Err(io::Error::last_os_error());
        }
        let (g, u) = (self.gid as libc::c_long, self.uid as libc::c_long);
        if raw3(libc::SYS_setresgid, g, g, g) < 0 {
            let e = io::Error::last_os_error();
            return Err(refused(format!("setresgid({}): {e}", self.gid)));
        }
        if raw3(libc::SYS_setresuid, u, u, u) < 0 {
            let e = io::Error::last_os_error();
            return Err(refused(format!("setresuid({}): {e}", self.uid)));
        }
        if this_thread_ids(libc::SYS_getresgid)? != [self.gid; 3]
            || raw3(libc::SYS_setfsgid, -1, 0, 0) as u32 != self.gid
        {
            return Err(refused(format!("the gids did not become {}", self.gid)));
        }
        if this_thread_ids(libc::SYS_getresuid)? != [self.uid; 3]
            || raw3(libc::SYS_setfsuid, -1, 0, 0) as u32 != self.uid
        {
            return Err(refused(format!("the uids did not become {}", self.uid)));
        }
        if self.uid != 0 {
            let (eff, perm) = this_thread_caps()?;
            if eff != 0 || perm != 0 {
                return Err(refused(format!(
                    "capabilities left after setresuid({}): effective {eff:#x}, permitted {perm:#x}",
                    self.uid
                )));
            }
        }
        Ok(())
    }
}
