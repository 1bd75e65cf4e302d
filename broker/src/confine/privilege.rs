//! No privilege inside the sandbox: every capability set cleared before exec.
//!
//! `no_new_privs` stops set-uid and file-capability gains, but a program started by root
//! keeps root's capabilities through exec (CAP_NET_RAW, CAP_SYS_ADMIN, CAP_DAC_OVERRIDE,
//! CAP_SETUID, …) unless they are dropped. The step built here, first of the child's
//! steps, clears them all:
//!
//! 1. `SECBIT_NOROOT | SECBIT_NO_SETUID_FIXUP` and their locks, so uid 0 gains nothing at a
//!    later exec (needs CAP_SETPCAP; skipped without it, when there is nothing to keep
//!    anyway),
//! 2. the bounding set, one `PR_CAPBSET_DROP` per capability up to the kernel's
//!    `/proc/sys/kernel/cap_last_cap` (read in the parent),
//! 3. the ambient set (`PR_CAP_AMBIENT_CLEAR_ALL`),
//! 4. the effective, permitted and inheritable sets (`capset` to zero), last, since the
//!    steps above need CAP_SETPCAP.
//!
//! The program keeps its uid (root stays uid 0, owning what root owns): what it may change
//! is then decided by Landlock, the syscall table and the broker, never by a capability.

use crate::sandbox::spawn::PreExec;

/// `SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
/// SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
/// SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED`.
const SECUREBITS: libc::c_ulong = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80;
/// `_LINUX_CAPABILITY_VERSION_3`.
const CAP_V3: u32 = 0x2008_0522;
/// `CAP_SETPCAP`.
const CAP_SETPCAP: u32 = 8;
/// `CAP_SYS_PTRACE`.
const CAP_SYS_PTRACE: u32 = 19;

/// The highest capability number the kernel knows (`/proc/sys/kernel/cap_last_cap`), or
/// 63 when it cannot be read (dropping an unknown capability answers `EINVAL`, ignored).
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`: one word of a thread's capability sets (version 3 has
/// two: capabilities 0–31 and 32–63).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CapData {
    /// The effective set's word.
    pub effective: u32,
    /// The permitted set's word.
    pub permitted: u32,
    /// The inheritable set's word.
    pub inheritable: u32,
}

/// The calling thread's capability sets (`capget`, version 3). Async-signal-safe.
pub fn capget() -> std::io::Result<[CapData; 2]> {
    let mut header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget fills two CapData from a valid header; both point into this frame.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(data)
}

/// Sets the calling thread's capability sets to `data` (`capset`, version 3; pid 0 is this
/// thread). Async-signal-safe.
pub fn capset(data: &[CapData; 2]) -> std::io::Result<()> {
    let header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    // SAFETY: capset reads a valid header and two CapData, both valid for the call.
    if unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the calling thread has `CAP_SETPCAP` in its effective set. Async-signal-safe.
fn has_setpcap() -> std::io::Result<bool> {
    has_effective(CAP_SETPCAP)
}

/// `CAP_SYS_ADMIN`'s number.
pub const CAP_SYS_ADMIN: u32 = 21;

/// Whether this process (the broker) reaches the memory and fds of a sandboxed process that
/// made itself non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`, as gpg-agent and ssh-agent do):
/// only with `CAP_SYS_PTRACE` (root), since `/proc/PID/mem`, `process_vm_readv` and
/// `pidfd_getfd` check ptrace access, which a non-dumpable process refuses to its own uid.
pub fn reaches_non_dumpable() -> bool {
    has_effective(CAP_SYS_PTRACE).unwrap_or(false)
}

/// Whether the calling thread has capability `cap` in its effective set.
/// Async-signal-safe.
pub fn has_effective(cap: u32) -> std::io::Result<bool> {
    let data = capget()?;
    let effective = u64::from(data[0].effective) | (u64::from(data[1].effective) << 32);
    Ok(effective & (1 << cap) != 0)
}

/// The step that clears every capability set in the child (see the module doc). Makes
/// system calls only.
pub fn drop_all(last_cap: u32) -> PreExec {
    Box::new(move || {
        if has_setpcap()? {
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for cap in 0..=last_cap {
                // SAFETY: prctl with integer arguments only.
                let rc =
                    unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
                if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        // SAFETY: prctl with integer arguments only. EINVAL: a kernel without ambient
        // capabilities (< 4.3) has none to clear.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return Err(std::io::Error::last_os_error());
        }
        capset(&[CapData::default(); 2])
    })
}
