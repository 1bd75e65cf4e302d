//! The seccomp layer: what Landlock does not govern, denied with `EACCES`.
//!
//! The BPF program is compiled in the parent ([`super::bpf`]); the child installs it with
//! a raw `seccomp(SECCOMP_SET_MODE_FILTER)` call. With the seccomp transport, the errno
//! rules and the notify rules ([`NotifyFilter`]) form one program (errno first: the
//! precedence two filters would have), installed once. seccomp sees integer arguments only,
//! never the memory behind pointers, which sets the limits of this layer:
//!
//! * `connect` and `bind` are denied on every socket: the broker performs them on the
//!   program's own socket (Landlock checks the caller, and the broker is outside the domain).
//!   With the notify filter they go to the broker instead (`transport::seccomp`), which
//!   answers `EACCES` itself for families other than unix, IPv4 and IPv6: seccomp cannot
//!   read the address or the socket's family, so the split cannot be made here.
//! * `sendto` is denied when it names a destination (argument 4 non-NULL). With the notify
//!   filter it goes to the broker instead, with `listen`, `sendmsg` and `sendmmsg` (their
//!   destination is inside `struct msghdr`, which seccomp cannot read, so every one is
//!   trapped); without it, `listen` is denied (the shim forwards it) and
//!   `sendmsg`/`sendmmsg` stay native (a known gap).
//! * chmod/chown/utimes/xattr by path are denied (their fd forms stay allowed; the shim
//!   forwards the path forms to the broker). `utimensat` is allowed with a NULL path, the
//!   `futimens` form.
//! * device nodes (`mknod` of S_IFCHR/S_IFBLK), ptrace, cross-process memory, io_uring
//!   (its operations bypass seccomp), kexec, modules, bpf, mount/umount/pivot_root/chroot,
//!   `unshare`/`clone` with `CLONE_NEWUSER`, `open_by_handle_at`, raw and packet sockets.
//!
//! Path syscalls that Landlock governs (open, stat, …) are left alone: the x86_64 `open`
//! and `stat` calls must keep working, including the `AT_EMPTY_PATH` forms.

use super::bpf::{self, Cond, Insn, Op, Rules};
use crate::sandbox::spawn::PreExec;

/// `fchmodat2` (Linux 6.6); not yet in every libc crate version.
pub(crate) const SYS_FCHMODAT2: i64 = 452;
/// `SECCOMP_SET_MODE_FILTER`.
const SET_MODE_FILTER: libc::c_uint = 1;
/// `SECCOMP_GET_ACTION_AVAIL`, used to probe for the seccomp() syscall.
const GET_ACTION_AVAIL: libc::c_uint = 2;
/// The errno layer's action.
const RET_EACCES: u32 = bpf::RET_ERRNO | libc::EACCES as u32;

/// A compiled filter, ready to install in the child.
pub struct Filter {
    program: Vec<Insn>,
}

/// Whether the kernel supports seccomp filters (the `seccomp()` syscall answers).
pub fn available() -> bool {
    let action: u32 = bpf::RET_ERRNO;
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

fn cond(arg: u8, op: Op, value: u64) -> Cond {
    Cond::qword(arg, op, value)
}

/// The rules: syscall number → alternatives (an empty list matches unconditionally).
/// `notify`: the notify filter is installed too, so the path forms of chmod/chown/utimes,
/// `connect` and `bind` are left to it.
fn rules(notify: bool) -> Rules {
    let mut m = Rules::new();
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
            libc::SYS_listen,
        ] {
            m.insert(nr, Vec::new());
        }
        // utimensat(dirfd, path, times, flags): only the futimens form (NULL path) is allowed.
        m.insert(libc::SYS_utimensat, vec![vec![cond(1, Op::Ne, 0)]]);
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
    // sendto(fd, buf, len, flags, dest, addrlen): a destination means a datagram elsewhere
    // (with the notify filter the broker decides it instead).
    if !notify {
        m.insert(libc::SYS_sendto, vec![vec![cond(4, Op::Ne, 0)]]);
    }
    let ifmt = u64::from(libc::S_IFMT);
    let devices = |arg: u8| {
        vec![
            vec![cond(arg, Op::MaskedEq(ifmt), u64::from(libc::S_IFCHR))],
            vec![cond(arg, Op::MaskedEq(ifmt), u64::from(libc::S_IFBLK))],
        ]
    };
    m.insert(libc::SYS_mknod, devices(1));
    m.insert(libc::SYS_mknodat, devices(2));
    let newuser = libc::CLONE_NEWUSER as u64;
    m.insert(
        libc::SYS_unshare,
        vec![vec![cond(0, Op::MaskedEq(newuser), newuser)]],
    );
    m.insert(
        libc::SYS_clone,
        vec![vec![cond(0, Op::MaskedEq(newuser), newuser)]],
    );
    // socket(domain, type, protocol): no packet sockets, no raw IP sockets.
    let raw = libc::SOCK_RAW as u64;
    m.insert(
        libc::SYS_socket,
        vec![
            vec![cond(0, Op::Eq, libc::AF_PACKET as u64)],
            vec![
                cond(0, Op::Eq, libc::AF_INET as u64),
                cond(1, Op::MaskedEq(0xf), raw),
            ],
            vec![
                cond(0, Op::Eq, libc::AF_INET6 as u64),
                cond(1, Op::MaskedEq(0xf), raw),
            ],
        ],
    );
    m
}

impl Filter {
    /// Compiles the errno filter for the running architecture. `notify`: the notify filter
    /// ([`NotifyFilter`]) is installed too (the rules it takes over are left out here).
    pub fn compile(notify: bool) -> anyhow::Result<Self> {
        let arch = arch()?;
        let program = bpf::compile(arch, &[(&rules(notify), RET_EACCES)])?;
        Ok(Filter { program })
    }

    /// The step that installs the filter in the child. Makes system calls only.
    pub fn into_pre_exec(self) -> PreExec {
        let program = self.program;
        Box::new(move || {
            super::no_new_privs()?;
            install(&program, 0).map(drop)
        })
    }
}

/// The architecture the filters are built for.
fn arch() -> anyhow::Result<u32> {
    bpf::audit_arch().ok_or_else(|| {
        anyhow::anyhow!(
            "seccomp filters are not supported on {}",
            std::env::consts::ARCH
        )
    })
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, program)`: the new fd with `FLAG_NEW_LISTENER`,
/// else 0. Async-signal-safe.
fn install(program: &[Insn], flags: libc::c_uint) -> std::io::Result<i64> {
    let prog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: prog points into `program`, borrowed for the whole call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(rc)
}

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
const FLAG_NEW_LISTENER: libc::c_uint = 1 << 3;

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
    libc::SYS_listen,
    libc::SYS_sendmsg,
    libc::SYS_sendmmsg,
];

/// The notify filter's rules. The `AT_EMPTY_PATH` forms of newfstatat, statx, fchownat and
/// fchmodat2 act on an fd the program already holds and stay native (a non-empty path with
/// `AT_EMPTY_PATH` is then a native stat too: Landlock does not restrict stat anyway).
/// With `native_reads`, an `openat` for reading only that carries
/// [`arbiter_protocol::NATIVE_OPEN_MARK`] stays native too (Landlock decides it; see
/// [`crate::confine::floor::native_reads`]).
fn notify_rules(native_reads: bool) -> Rules {
    let mut m = Rules::new();
    for &nr in NOTIFIED {
        m.insert(nr, Vec::new());
    }
    if native_reads {
        m.insert(libc::SYS_openat, openat_unless_native_read());
    }
    let empty = libc::AT_EMPTY_PATH as u64;
    let no_empty_path = |arg: u8| vec![vec![Cond::dword(arg, Op::MaskedEq(empty), 0)]];
    m.insert(libc::SYS_newfstatat, no_empty_path(3));
    m.insert(libc::SYS_statx, no_empty_path(2));
    m.insert(libc::SYS_fchownat, no_empty_path(4));
    m.insert(SYS_FCHMODAT2, no_empty_path(3));
    // utimensat with a NULL path is futimens: native.
    m.insert(libc::SYS_utimensat, vec![vec![cond(1, Op::Ne, 0)]]);
    // sendto with a destination: the broker decides and sends (transport::seccomp_net).
    m.insert(libc::SYS_sendto, vec![vec![cond(4, Op::Ne, 0)]]);
    m
}

/// When an `openat` goes to the broker although native reads are on: any rule matching
/// notifies. Native is only the marked, read-only, non-creating, non-`O_PATH` open.
fn openat_unless_native_read() -> Vec<bpf::Rule> {
    let flags = 2; // openat(dirfd, path, flags, mode)
    let bit_set = |bit: i32| {
        let bit = u64::from(bit as u32);
        vec![Cond::dword(flags, Op::MaskedEq(bit), bit)]
    };
    /// `__O_TMPFILE` without `O_DIRECTORY`: set in every `O_TMPFILE` open.
    const O_TMPFILE_BIT: i32 = libc::O_TMPFILE & !libc::O_DIRECTORY;
    let mark = u64::from(arbiter_protocol::NATIVE_OPEN_MARK as u32);
    vec![
        vec![Cond::dword(flags, Op::MaskedEq(mark), 0)],
        bit_set(libc::O_WRONLY),
        bit_set(libc::O_RDWR),
        bit_set(libc::O_CREAT),
        bit_set(libc::O_TRUNC),
        bit_set(O_TMPFILE_BIT),
        bit_set(libc::O_PATH),
    ]
}

/// The notify filter: path syscalls answered by the broker through seccomp user
/// notification (`transport::seccomp`), so static binaries, raw `syscall()` and glibc's
/// internal opens are brokered like the shim's calls. It is one program with the errno
/// filter's rules, which take precedence (as `SECCOMP_RET_ERRNO` beats
/// `SECCOMP_RET_USER_NOTIF` across filters).
pub struct NotifyFilter {
    program: Vec<Insn>,
}

/// Whether the kernel can deliver user notifications (Linux ≥ 5.0).
pub fn notify_available() -> bool {
    let action: u32 = bpf::RET_USER_NOTIF;
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
    /// Compiles the errno rules (as [`Filter::compile`] with `notify`) and the notify rules
    /// into one program. With `native_reads`, marked read-only `openat`s stay native (see
    /// [`notify_rules`]).
    pub fn compile(native_reads: bool) -> anyhow::Result<Self> {
        let program = bpf::compile(
            arch()?,
            &[
                (&rules(true), RET_EACCES),
                (&notify_rules(native_reads), bpf::RET_USER_NOTIF),
            ],
        )?;
        Ok(NotifyFilter { program })
    }

    /// The step that installs the filter in the child, hands the listener to the broker on
    /// the bootstrap socket at `bootstrap` (a [`arbiter_protocol::SeccompListener`] naming
    /// its fd number; the broker takes it with `pidfd_getfd` and answers one byte: the
    /// filter traps `sendmsg`, so it cannot travel as `SCM_RIGHTS`), and closes it. It
    /// replaces [`Filter::into_pre_exec`]. Makes system calls only.
    pub fn into_pre_exec(self, bootstrap: i32) -> anyhow::Result<PreExec> {
        let program = self.program;
        Ok(Box::new(move || {
            super::no_new_privs()?;
            let listener = install(&program, FLAG_NEW_LISTENER)? as i32;
            let mut msg = [0u8; 32];
            let sent = arbiter_protocol::encode(
                &arbiter_protocol::SeccompListener {
                    tag: arbiter_protocol::SECCOMP_LISTENER_TAG,
                    version: arbiter_protocol::PROTOCOL_VERSION,
                    fd: listener,
                },
                &mut msg,
            )
            .map_err(|_| libc::EINVAL)
            .and_then(|m| arbiter_protocol::fdpass::send_with_fds(bootstrap, m, &[]));
            let mut ack = [0u8; 1];
            let got = match sent {
                Ok(()) => loop {
                    // SAFETY: ack is a writable byte; the broker answers once it holds a copy.
                    let n = unsafe { libc::read(bootstrap, ack.as_mut_ptr().cast(), 1) };
                    if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR)
                    {
                        break if n == 1 { Ok(()) } else { Err(libc::EPIPE) };
                    }
                },
                Err(e) => Err(e),
            };
            // SAFETY: listener is our own fd, closed once; the broker holds its copy.
            unsafe { libc::close(listener) };
            got.map_err(std::io::Error::from_raw_os_error)
        }))
    }
}

#[cfg(test)]
mod tests {
    //! The programs decide exactly what seccompiler's did for the same rules, as two filters
    //! (errno, then notify with `Trace` patched into `SECCOMP_RET_USER_NOTIF`).

    use super::bpf::interp::{run, run_all, Data};
    use super::bpf::Width;
    use super::*;
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    };

    fn reference(rules: Rules, action: SeccompAction) -> Vec<Insn> {
        let rules = rules
            .into_iter()
            .map(|(nr, alternatives)| {
                let alternatives = alternatives
                    .into_iter()
                    .map(|conds| {
                        let conds = conds
                            .into_iter()
                            .map(|c| {
                                let len = match c.width {
                                    Width::Dword => SeccompCmpArgLen::Dword,
                                    Width::Qword => SeccompCmpArgLen::Qword,
                                };
                                let op = match c.op {
                                    Op::Eq => SeccompCmpOp::Eq,
                                    Op::Ne => SeccompCmpOp::Ne,
                                    Op::MaskedEq(m) => SeccompCmpOp::MaskedEq(m),
                                };
                                SeccompCondition::new(c.arg, len, op, c.value).unwrap()
                            })
                            .collect();
                        SeccompRule::new(conds).unwrap()
                    })
                    .collect();
                (nr, alternatives)
            })
            .collect();
        let arch = std::env::consts::ARCH.try_into().unwrap();
        let filter = SeccompFilter::new(rules, SeccompAction::Allow, action, arch).unwrap();
        let program: seccompiler::BpfProgram = filter.try_into().unwrap();
        program
            .into_iter()
            .map(|i| Insn {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect()
    }

    fn old_notify(native_reads: bool) -> Vec<Insn> {
        let mut p = reference(notify_rules(native_reads), SeccompAction::Trace(0x0a7b));
        for i in p.iter_mut() {
            if i.code == 0x06 && i.k == 0x7ff0_0a7b {
                i.k = bpf::RET_USER_NOTIF;
            }
        }
        p
    }

    /// Argument values around every constant the rules compare with.
    fn interesting() -> Vec<u64> {
        let mut v = vec![
            0,
            1,
            2,
            3,
            0xf,
            0xff,
            0xffff_ffff,
            u64::MAX,
            1 << 32,
            1 << 63,
        ];
        for base in [
            u64::from(libc::S_IFCHR),
            u64::from(libc::S_IFBLK),
            u64::from(libc::S_IFREG),
            u64::from(libc::S_IFIFO),
            libc::AT_EMPTY_PATH as u64,
            libc::CLONE_NEWUSER as u64,
            libc::AF_PACKET as u64,
            libc::AF_INET as u64,
            libc::AF_INET6 as u64,
            libc::AF_UNIX as u64,
            libc::SOCK_RAW as u64,
            libc::SOCK_STREAM as u64,
            libc::SOCK_DGRAM as u64,
            u64::from(arbiter_protocol::NATIVE_OPEN_MARK as u32),
            u64::from((arbiter_protocol::NATIVE_OPEN_MARK | libc::O_CLOEXEC) as u32),
            u64::from((arbiter_protocol::NATIVE_OPEN_MARK | libc::O_DIRECTORY) as u32),
        ] {
            for extra in [
                0,
                0o644,
                0o7777,
                libc::SOCK_CLOEXEC as u64,
                0x100,
                1 << 32,
                libc::O_WRONLY as u64,
                libc::O_RDWR as u64,
                libc::O_CREAT as u64,
                libc::O_TRUNC as u64,
                libc::O_PATH as u64,
                libc::O_TMPFILE as u64,
            ] {
                v.push(base | extra);
            }
            v.push(!base);
        }
        v
    }

    fn inputs(mut check: impl FnMut(&Data)) {
        let values = interesting();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let arch = bpf::audit_arch().unwrap();
        for nr in (0..600).chain([0x4000_0000, 0x4000_0002, u32::MAX, 1 << 31]) {
            for a in [arch, 0x4000_0003, 0] {
                check(&Data {
                    nr,
                    arch: a,
                    args: [0; 6],
                });
            }
            // Each interesting value in each position, then random mixes of them.
            for pos in 0..6 {
                for &v in &values {
                    let mut args = [0; 6];
                    args[pos] = v;
                    check(&Data { nr, arch, args });
                }
            }
            for _ in 0..40 {
                let mut args = [0; 6];
                for a in args.iter_mut() {
                    *a = values[(next() % values.len() as u64) as usize];
                }
                check(&Data { nr, arch, args });
            }
        }
    }

    #[test]
    fn the_errno_filter_decides_as_seccompiler_did() {
        let old = reference(rules(false), SeccompAction::Errno(libc::EACCES as u32));
        let new = Filter::compile(false).unwrap().program;
        assert!(new.len() < old.len(), "{} vs {}", new.len(), old.len());
        inputs(|d| assert_eq!(run(&new, d), run(&old, d), "{d:?}"));
    }

    #[test]
    fn the_merged_filter_decides_as_the_two_filters_did() {
        for native_reads in [false, true] {
            let errno = reference(rules(true), SeccompAction::Errno(libc::EACCES as u32));
            let notify = old_notify(native_reads);
            let merged = NotifyFilter::compile(native_reads).unwrap().program;
            assert!(merged.len() < errno.len() + notify.len());
            let mut notified = 0;
            inputs(|d| {
                let got = run(&merged, d);
                notified += usize::from(got == bpf::RET_USER_NOTIF);
                assert_eq!(got, run_all(&[&errno, &notify], d), "{d:?}");
            });
            assert!(notified > 0);
        }
    }

    #[test]
    fn only_a_marked_read_only_openat_stays_native() {
        let filter = NotifyFilter::compile(true).unwrap().program;
        let arch = bpf::audit_arch().unwrap();
        let mark = arbiter_protocol::NATIVE_OPEN_MARK;
        let openat = |flags: i32| Data {
            nr: libc::SYS_openat as u32,
            arch,
            args: [
                libc::AT_FDCWD as u64,
                0x1000,
                u64::from(flags as u32),
                0,
                0,
                0,
            ],
        };
        let allow = bpf::RET_ALLOW;
        assert_eq!(run(&filter, &openat(mark)), allow);
        assert_eq!(
            run(&filter, &openat(mark | libc::O_CLOEXEC | libc::O_DIRECTORY)),
            allow
        );
        for bad in [
            0,
            libc::O_CLOEXEC,
            mark | libc::O_WRONLY,
            mark | libc::O_RDWR,
            mark | libc::O_CREAT,
            mark | libc::O_TRUNC,
            mark | libc::O_PATH,
            mark | libc::O_TMPFILE,
        ] {
            assert_eq!(run(&filter, &openat(bad)), bpf::RET_USER_NOTIF, "{bad:#x}");
        }
        // Without native reads, even a marked read is the broker's.
        let plain = NotifyFilter::compile(false).unwrap().program;
        assert_eq!(run(&plain, &openat(mark)), bpf::RET_USER_NOTIF);
    }
}
