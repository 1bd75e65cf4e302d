//! The seccomp layer: what Landlock does not govern, denied with `EACCES`.
//!
//! The BPF program is compiled in the parent with `seccompiler`; the child installs it with
//! a raw `seccomp(SECCOMP_SET_MODE_FILTER)` call. seccomp sees integer arguments only,
//! never the memory behind pointers, which sets the limits of this layer:
//!
//! * `connect` and `bind` are denied on every socket: the broker performs them on the
//!   program's own socket (Landlock checks the caller, and the broker is outside the domain).
//! * `sendto` is denied when it names a destination (argument 4 non-NULL).
//!   `sendmsg`/`sendmmsg` carry their destination inside `struct msghdr`, which seccomp
//!   cannot read: a datagram sent with `msg_name` on an unconnected socket is a known gap
//!   until the seccomp user-notification transport.
//! * chmod/chown/utimes/xattr by path are denied (their fd forms stay allowed; the shim
//!   forwards the path forms to the broker). `utimensat` is allowed with a NULL path, the
//!   `futimens` form.
//! * device nodes (`mknod` of S_IFCHR/S_IFBLK), ptrace, cross-process memory, io_uring
//!   (its operations bypass seccomp), kexec, modules, bpf, mount/umount/pivot_root/chroot,
//!   `unshare`/`clone` with `CLONE_NEWUSER`, `open_by_handle_at`, raw and packet sockets.
//!
//! Path syscalls that Landlock governs (open, stat, …) are left alone: the x86_64 `open`
//! and `stat` calls must keep working, including the `AT_EMPTY_PATH` forms.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op,
    SeccompCondition as Cond, SeccompFilter, SeccompRule, TargetArch,
};

use crate::sandbox::spawn::PreExec;

/// `fchmodat2` (Linux 6.6); not yet in every libc crate version.
const SYS_FCHMODAT2: i64 = 452;
/// `SECCOMP_SET_MODE_FILTER`.
const SET_MODE_FILTER: libc::c_uint = 1;
/// `SECCOMP_GET_ACTION_AVAIL`, used to probe for the seccomp() syscall.
const GET_ACTION_AVAIL: libc::c_uint = 2;
/// `SECCOMP_RET_ERRNO`.
const RET_ERRNO: u32 = 0x0005_0000;

/// A compiled filter, ready to install in the child.
pub struct Filter {
    program: BpfProgram,
}

/// Whether the kernel supports seccomp filters (the `seccomp()` syscall answers).
pub fn available() -> bool {
    let action: u32 = RET_ERRNO;
    // SAFETY: GET_ACTION_AVAIL reads a u32 from a valid pointer and changes nothing.
    unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            GET_ACTION_AVAIL,
            0u32,
            &action as *const u32,
        ) == 0
    }
}

fn cond(arg: u8, op: Op, value: u64) -> Result<Cond, seccompiler::BackendError> {
    Cond::new(arg, Len::Qword, op, value)
}

/// The rules: syscall number → alternatives (an empty list matches unconditionally).
fn rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::BackendError> {
    let mut m: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let always = [
        libc::SYS_connect,
        libc::SYS_bind,
        libc::SYS_chmod,
        libc::SYS_fchmodat,
        SYS_FCHMODAT2,
        libc::SYS_chown,
        libc::SYS_lchown,
        libc::SYS_fchownat,
        libc::SYS_utime,
        libc::SYS_utimes,
        libc::SYS_futimesat,
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_removexattr,
        libc::SYS_lremovexattr,
        libc::SYS_ptrace,
        libc::SYS_process_vm_writev,
        libc::SYS_process_vm_readv,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_bpf,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_open_by_handle_at,
        libc::SYS_io_uring_setup,
        libc::SYS_fsopen,
        libc::SYS_fsmount,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_mount_setattr,
    ];
    for nr in always {
        m.insert(nr, Vec::new());
    }
    // sendto(fd, buf, len, flags, dest, addrlen): a destination means a datagram elsewhere.
    m.insert(
        libc::SYS_sendto,
        vec![SeccompRule::new(vec![cond(4, Op::Ne, 0)?])?],
    );
    // utimensat(dirfd, path, times, flags): only the futimens form (NULL path) is allowed.
    m.insert(
        libc::SYS_utimensat,
        vec![SeccompRule::new(vec![cond(1, Op::Ne, 0)?])?],
    );
    let ifmt = u64::from(libc::S_IFMT);
    let devices = |arg: u8| -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
        Ok(vec![
            SeccompRule::new(vec![cond(
                arg,
                Op::MaskedEq(ifmt),
                u64::from(libc::S_IFCHR),
            )?])?,
            SeccompRule::new(vec![cond(
                arg,
                Op::MaskedEq(ifmt),
                u64::from(libc::S_IFBLK),
            )?])?,
        ])
    };
    m.insert(libc::SYS_mknod, devices(1)?);
    m.insert(libc::SYS_mknodat, devices(2)?);
    let newuser = libc::CLONE_NEWUSER as u64;
    m.insert(
        libc::SYS_unshare,
        vec![SeccompRule::new(vec![cond(
            0,
            Op::MaskedEq(newuser),
            newuser,
        )?])?],
    );
    m.insert(
        libc::SYS_clone,
        vec![SeccompRule::new(vec![cond(
            0,
            Op::MaskedEq(newuser),
            newuser,
        )?])?],
    );
    // socket(domain, type, protocol): no packet sockets, no raw IP sockets.
    let raw = libc::SOCK_RAW as u64;
    m.insert(
        libc::SYS_socket,
        vec![
            SeccompRule::new(vec![cond(0, Op::Eq, libc::AF_PACKET as u64)?])?,
            SeccompRule::new(vec![
                cond(0, Op::Eq, libc::AF_INET as u64)?,
                cond(1, Op::MaskedEq(0xf), raw)?,
            ])?,
            SeccompRule::new(vec![
                cond(0, Op::Eq, libc::AF_INET6 as u64)?,
                cond(1, Op::MaskedEq(0xf), raw)?,
            ])?,
        ],
    );
    Ok(m)
}

impl Filter {
    /// Compiles the filter for the running architecture.
    pub fn compile() -> anyhow::Result<Self> {
        let arch: TargetArch = std::env::consts::ARCH.try_into()?;
        let filter = SeccompFilter::new(
            rules()?,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EACCES as u32),
            arch,
        )?;
        let program: BpfProgram = filter.try_into()?;
        Ok(Filter { program })
    }

    /// The step that installs the filter in the child. Makes system calls only.
    pub fn into_pre_exec(self) -> PreExec {
        let program = self.program;
        Box::new(move || {
            super::no_new_privs()?;
            let prog = libc::sock_fprog {
                len: program.len() as libc::c_ushort,
                filter: program.as_ptr().cast_mut().cast(),
            };
            // SAFETY: prog points into `program`, owned by this closure for the whole call.
            if unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    SET_MODE_FILTER,
                    0u32,
                    &prog as *const libc::sock_fprog,
                )
            } < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}
