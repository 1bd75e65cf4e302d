//! The seccomp layer: what Landlock does not govern, denied with `EACCES`.
//!
//! The BPF program is compiled in the parent with `seccompiler`; the child installs it with
//! a raw `seccomp(SECCOMP_SET_MODE_FILTER)` call. seccomp sees integer arguments only,
//! never the memory behind pointers, which sets the limits of this layer:
//!
//! * `connect` and `bind` are denied on every socket: the broker performs them on the
//!   program's own socket (Landlock checks the caller, and the broker is outside the domain).
//!   With the notify filter they go to the broker instead (`transport::seccomp`), which
//!   answers `EACCES` itself for families other than unix, IPv4 and IPv6: seccomp cannot
//!   read the address or the socket's family, so the split cannot be made here.
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
pub(crate) const SYS_FCHMODAT2: i64 = 452;
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
/// `notify`: the notify filter is installed too, so the path forms of chmod/chown/utimes,
/// `connect` and `bind` are left to it.
fn rules(notify: bool) -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::BackendError> {
    let mut m: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    if !notify {
        // With the notify filter these reach the broker instead (ERRNO beats USER_NOTIF,
        // so they must not be here then).
        for nr in [
            libc::SYS_chmod,
            libc::SYS_fchmodat,
            SYS_FCHMODAT2,
            libc::SYS_chown,
            libc::SYS_lchown,
            libc::SYS_fchownat,
            libc::SYS_utime,
            libc::SYS_utimes,
            libc::SYS_futimesat,
            libc::SYS_connect,
            libc::SYS_bind,
        ] {
            m.insert(nr, Vec::new());
        }
        // utimensat(dirfd, path, times, flags): only the futimens form (NULL path) is allowed.
        m.insert(
            libc::SYS_utimensat,
            vec![SeccompRule::new(vec![cond(1, Op::Ne, 0)?])?],
        );
    }
    let always = [
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
    /// Compiles the filter for the running architecture. `notify`: the notify filter
    /// ([`NotifyFilter`]) is installed after this one.
    pub fn compile(notify: bool) -> anyhow::Result<Self> {
        let arch: TargetArch = std::env::consts::ARCH.try_into()?;
        let filter = SeccompFilter::new(
            rules(notify)?,
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

/// `SECCOMP_RET_TRACE`: seccompiler's `Trace(data)` action, patched after compilation.
const RET_TRACE: u32 = 0x7ff0_0000;
/// `SECCOMP_RET_USER_NOTIF`, which seccompiler cannot express.
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// The `Trace` data that marks the instructions to patch.
const NOTIFY_MARKER: u16 = 0x0a7b;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
const FLAG_NEW_LISTENER: libc::c_uint = 1 << 3;
/// `BPF_RET | BPF_K`.
const BPF_RET_K: u16 = 0x06;

/// The path syscalls (and `connect`/`bind`) the notify filter sends to the broker (x86_64 names; the numbers come
/// from `libc` for the running architecture). Conditional ones are in [`notify_rules`].
const NOTIFIED: &[i64] = &[
    libc::SYS_open,
    libc::SYS_openat,
    libc::SYS_openat2,
    libc::SYS_creat,
    libc::SYS_stat,
    libc::SYS_lstat,
    libc::SYS_access,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_mkdir,
    libc::SYS_mkdirat,
    libc::SYS_mknod,
    libc::SYS_mknodat,
    libc::SYS_unlink,
    libc::SYS_unlinkat,
    libc::SYS_rmdir,
    libc::SYS_rename,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_link,
    libc::SYS_linkat,
    libc::SYS_symlink,
    libc::SYS_symlinkat,
    libc::SYS_readlink,
    libc::SYS_readlinkat,
    libc::SYS_truncate,
    libc::SYS_chmod,
    libc::SYS_fchmodat,
    libc::SYS_chown,
    libc::SYS_lchown,
    libc::SYS_utime,
    libc::SYS_utimes,
    libc::SYS_futimesat,
    libc::SYS_connect,
    libc::SYS_bind,
];

/// The notify filter's rules. The `AT_EMPTY_PATH` forms of newfstatat, statx, fchownat and
/// fchmodat2 act on an fd the program already holds and stay native (a non-empty path with
/// `AT_EMPTY_PATH` is then a native stat too: Landlock does not restrict stat anyway).
/// With `native_reads`, an `openat` for reading only that carries
/// [`arbiter_protocol::NATIVE_OPEN_MARK`] stays native too (Landlock decides it; see
/// [`crate::confine::floor::native_reads`]).
fn notify_rules(
    native_reads: bool,
) -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::BackendError> {
    let mut m: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &nr in NOTIFIED {
        m.insert(nr, Vec::new());
    }
    if native_reads {
        m.insert(libc::SYS_openat, openat_unless_native_read()?);
    }
    let empty = libc::AT_EMPTY_PATH as u64;
    let no_empty_path = |arg: u8| -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
        Ok(vec![SeccompRule::new(vec![Cond::new(
            arg,
            Len::Dword,
            Op::MaskedEq(empty),
            0,
        )?])?])
    };
    m.insert(libc::SYS_newfstatat, no_empty_path(3)?);
    m.insert(libc::SYS_statx, no_empty_path(2)?);
    m.insert(libc::SYS_fchownat, no_empty_path(4)?);
    m.insert(SYS_FCHMODAT2, no_empty_path(3)?);
    // utimensat with a NULL path is futimens: native.
    m.insert(
        libc::SYS_utimensat,
        vec![SeccompRule::new(vec![cond(1, Op::Ne, 0)?])?],
    );
    Ok(m)
}

/// When an `openat` goes to the broker although native reads are on: any rule matching
/// notifies. Native is only the marked, read-only, non-creating, non-`O_PATH` open.
fn openat_unless_native_read() -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    let flags = 2; // openat(dirfd, path, flags, mode)
    let bit_set = |bit: i32| -> Result<SeccompRule, seccompiler::BackendError> {
        let bit = bit as u32 as u64;
        SeccompRule::new(vec![Cond::new(flags, Len::Dword, Op::MaskedEq(bit), bit)?])
    };
    /// `__O_TMPFILE` without `O_DIRECTORY`: set in every `O_TMPFILE` open.
    const O_TMPFILE_BIT: i32 = libc::O_TMPFILE & !libc::O_DIRECTORY;
    let mark = arbiter_protocol::NATIVE_OPEN_MARK as u32 as u64;
    Ok(vec![
        SeccompRule::new(vec![Cond::new(flags, Len::Dword, Op::MaskedEq(mark), 0)?])?,
        bit_set(libc::O_WRONLY)?,
        bit_set(libc::O_RDWR)?,
        bit_set(libc::O_CREAT)?,
        bit_set(libc::O_TRUNC)?,
        bit_set(O_TMPFILE_BIT)?,
        bit_set(libc::O_PATH)?,
    ])
}

/// The notify filter: path syscalls answered by the broker through seccomp user
/// notification (`transport::seccomp`), so static binaries, raw `syscall()` and glibc's
/// internal opens are brokered like the shim's calls.
pub struct NotifyFilter {
    program: BpfProgram,
}

/// Whether the kernel can deliver user notifications (Linux ≥ 5.0).
pub fn notify_available() -> bool {
    let action: u32 = RET_USER_NOTIF;
    // SAFETY: GET_ACTION_AVAIL reads a u32 from a valid pointer and changes nothing.
    available()
        && unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                GET_ACTION_AVAIL,
                0u32,
                &action as *const u32,
            ) == 0
        }
}

impl NotifyFilter {
    /// Compiles the filter: seccompiler with `Trace(marker)` as the match action, then every
    /// `ret` of that value patched into `SECCOMP_RET_USER_NOTIF`.
    /// With `native_reads`, marked read-only `openat`s stay native (see [`notify_rules`]).
    pub fn compile(native_reads: bool) -> anyhow::Result<Self> {
        let arch: TargetArch = std::env::consts::ARCH.try_into()?;
        let filter = SeccompFilter::new(
            notify_rules(native_reads)?,
            SeccompAction::Allow,
            SeccompAction::Trace(u32::from(NOTIFY_MARKER)),
            arch,
        )?;
        let mut program: BpfProgram = filter.try_into()?;
        let marked = RET_TRACE | u32::from(NOTIFY_MARKER);
        let mut patched = 0;
        for insn in program.iter_mut() {
            if insn.code == BPF_RET_K && insn.k == marked {
                insn.k = RET_USER_NOTIF;
                patched += 1;
            }
        }
        anyhow::ensure!(patched > 0, "no notify action found in the compiled filter");
        Ok(NotifyFilter { program })
    }

    /// The step that installs the filter in the child, sends the listener to the broker on
    /// the bootstrap socket at `bootstrap` as a [`arbiter_protocol::SeccompListener`]
    /// and closes it. Must run after the errno filter (it needs `no_new_privs`, which that
    /// step set; it sets it again to stand alone). Makes system calls only.
    pub fn into_pre_exec(self, bootstrap: i32) -> anyhow::Result<PreExec> {
        let program = self.program;
        let mut msg = [0u8; 16];
        let len = arbiter_protocol::encode(
            &arbiter_protocol::SeccompListener {
                tag: arbiter_protocol::SECCOMP_LISTENER_TAG,
                version: arbiter_protocol::PROTOCOL_VERSION,
            },
            &mut msg,
        )
        .map_err(|e| anyhow::anyhow!("cannot encode the listener message: {e:?}"))?
        .len();
        Ok(Box::new(move || {
            super::no_new_privs()?;
            let prog = libc::sock_fprog {
                len: program.len() as libc::c_ushort,
                filter: program.as_ptr().cast_mut().cast(),
            };
            // SAFETY: prog points into `program`, owned by this closure for the whole call.
            let listener = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    SET_MODE_FILTER,
                    FLAG_NEW_LISTENER,
                    &prog as *const libc::sock_fprog,
                )
            };
            if listener < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let listener = listener as i32;
            let sent = arbiter_protocol::fdpass::send_with_fds(bootstrap, &msg[..len], &[listener]);
            // SAFETY: listener is our own fd, closed once; the broker holds its copy.
            unsafe { libc::close(listener) };
            sent.map_err(std::io::Error::from_raw_os_error)
        }))
    }
}
