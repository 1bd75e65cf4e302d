//! The one syscall table: what the sandboxed program may do with each system call.
//!
//! Every system call of every supported architecture ([`super::syscall_numbers`]) has a row
//! here, keyed by name, that says what happens to it: [`Action::Native`] (the kernel runs
//! it, under Landlock), [`Action::Broker`] (a seccomp user notification the broker answers,
//! `transport::seccomp`, which dispatches on the row's [`Kind`]), or [`Action::Refuse`] with
//! an errno. A row may look at integer arguments first ([`Arm`]s: the first whose conditions
//! all hold decides). seccomp sees integers only, never the memory behind a pointer.
//!
//! The seccomp program is generated from this table ([`super::seccomp`]), and so is the
//! transport's dispatch: the two cannot disagree. A number no row names — a call added by
//! a later kernel, another ABI's numbers (x32's `__X32_SYSCALL_BIT`) — is refused with
//! `ENOSYS`, as a kernel without that call would answer, so libc falls back. A foreign
//! architecture is killed.
//!
//! docs/security.md ("The syscall table") says in prose what is native, brokered and refused,
//! and why.

use std::sync::OnceLock;

use super::bpf::{Cond, Op};

/// The errno of a number no row names.
pub const UNKNOWN_ERRNO: i32 = libc::ENOSYS;

/// What a brokered call is, for the transport's dispatch (one variant per system call and
/// argument form the broker serves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `open`.
    Open,
    /// `openat`.
    Openat,
    /// `openat2`.
    Openat2,
    /// `creat`.
    Creat,
    /// `stat`.
    Stat,
    /// `lstat`.
    Lstat,
    /// `newfstatat`.
    Newfstatat,
    /// `statx`.
    Statx,
    /// `access`.
    Access,
    /// `faccessat`.
    Faccessat,
    /// `faccessat2`.
    Faccessat2,
    /// `mkdir`.
    Mkdir,
    /// `mkdirat`.
    Mkdirat,
    /// `mknod`.
    Mknod,
    /// `mknodat`.
    Mknodat,
    /// `unlink`.
    Unlink,
    /// `rmdir`.
    Rmdir,
    /// `unlinkat`.
    Unlinkat,
    /// `rename`.
    Rename,
    /// `renameat`.
    Renameat,
    /// `renameat2`.
    Renameat2,
    /// `link`.
    Link,
    /// `linkat`.
    Linkat,
    /// `symlink`.
    Symlink,
    /// `symlinkat`.
    Symlinkat,
    /// `readlink`.
    Readlink,
    /// `readlinkat`.
    Readlinkat,
    /// `truncate`.
    Truncate,
    /// `chmod`.
    Chmod,
    /// `fchmodat`.
    Fchmodat,
    /// `fchmodat2`.
    Fchmodat2,
    /// `fchmod(fd, mode)`: decided on the real path of the file `fd` names.
    Fchmod,
    /// `chown`.
    Chown,
    /// `lchown`.
    Lchown,
    /// `fchownat`.
    Fchownat,
    /// `fchown(fd, uid, gid)`: decided on the real path of the file `fd` names.
    Fchown,
    /// `utime`.
    Utime,
    /// `utimes`.
    Utimes,
    /// `futimesat`.
    Futimesat,
    /// `utimensat` with a path.
    Utimensat,
    /// `utimensat(fd, NULL, times, flags)`, glibc's `futimens`: decided on the real path of
    /// the file `fd` names.
    Futimens,
    /// `connect`.
    Connect,
    /// `bind`.
    Bind,
    /// `sendto` with a destination.
    Sendto,
    /// `sendmsg`.
    Sendmsg,
    /// `sendmsg` with `MSG_FASTOPEN`: a TCP connect (to the message's `msg_name`) the kernel
    /// makes without `security_socket_connect`, so Landlock never sees it.
    SendmsgFastOpen,
    /// `sendmmsg`.
    Sendmmsg,
    /// `sendmmsg` with `MSG_FASTOPEN` (see [`Kind::SendmsgFastOpen`]).
    SendmmsgFastOpen,
    /// `listen`.
    Listen,
    /// `memfd_create(name, flags)`: created by the broker with `MFD_NOEXEC_SEAL`, so the
    /// program's memory files can never be executed.
    MemfdCreate,
}

impl Kind {
    /// What the call does when the notify filter is not installed (`--no-seccomp-transport`,
    /// `arbiter serve`, a kernel without user notification): the path calls Landlock governs
    /// (or never governed, like `stat`) run natively under it, as they always did; the ones
    /// that change what Landlock cannot see are refused.
    pub const fn without_transport(self) -> Action {
        use Kind::*;
        match self {
            Open | Openat | Openat2 | Creat | Stat | Lstat | Newfstatat | Statx | Access
            | Faccessat | Faccessat2 | Mkdir | Mkdirat | Mknod | Mknodat | Unlink | Rmdir
            | Unlinkat | Rename | Renameat | Renameat2 | Link | Linkat | Symlink | Symlinkat
            | Readlink | Readlinkat | Truncate => Action::Native,
            // seccomp cannot read a msghdr, and refusing every sendmsg would stop the shim's
            // own channel: without the transport a datagram's msg_name stays the known gap
            // it was (docs/network.md). A TCP Fast Open send is a connect: refused.
            Sendmsg | Sendmmsg => Action::Native,
            // The executable form is refused by its own arm; the gap (an executable memfd
            // run through /proc/self/fd) is documented.
            MemfdCreate => Action::Native,
            Chmod | Fchmodat | Fchmodat2 | Fchmod | Chown | Lchown | Fchownat | Fchown | Utime
            | Utimes | Futimesat | Utimensat | Futimens | Connect | Bind | Sendto
            | SendmsgFastOpen | SendmmsgFastOpen => Action::Refuse(libc::EACCES),
            // The shim forwards a dynamic program's listen (`Call::Listen`) to the broker.
            Listen => Action::Refuse(libc::EACCES),
        }
    }
}

/// What happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The kernel runs it (Landlock still applies).
    Native,
    /// The broker answers it (seccomp user notification).
    Broker(Kind),
    /// Refused with this errno; the kernel never sees it.
    Refuse(i32),
    /// `openat` carrying [`arbiter_protocol::NATIVE_OPEN_MARK`] for reading only: native when
    /// the shim's native reads are on (`confine::floor::native_reads`), else brokered.
    MarkedRead,
    /// `prctl(PR_SET_DUMPABLE, 0)`: native when the broker can still serve a non-dumpable
    /// process (it has `CAP_SYS_PTRACE`) or no notify filter is installed; else answered 0
    /// without running, so the process stays dumpable and its brokered calls keep working
    /// (an unprivileged broker cannot read a non-dumpable process's memory or take its
    /// fds). See docs/security.md.
    KeepDumpable,
    /// `unlinkat` carrying [`arbiter_protocol::NATIVE_REMOVE_MARK`]: native when native
    /// removals are on (`confine::floor::native_removes`: Landlock grants removing only
    /// where the policy does throughout), else brokered.
    MarkedRemove,
}

/// One argument form: when every condition holds, `then`.
#[derive(Debug, Clone, Copy)]
pub struct Arm {
    /// The conditions, all of which must hold (none: always).
    pub when: &'static [Cond],
    /// What happens then.
    pub then: Action,
}

/// One system call, by name: its argument forms in order, then what happens otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The kernel's name (`__NR_<name>`).
    pub name: &'static str,
    /// Forms tested in order; the first that matches decides.
    pub arms: &'static [Arm],
    /// What happens when no arm matches.
    pub otherwise: Action,
}

const fn native(name: &'static str) -> Row {
    Row {
        name,
        arms: &[],
        otherwise: Action::Native,
    }
}

const fn refuse(name: &'static str, errno: i32) -> Row {
    Row {
        name,
        arms: &[],
        otherwise: Action::Refuse(errno),
    }
}

const fn broker(name: &'static str, kind: Kind) -> Row {
    Row {
        name,
        arms: &[],
        otherwise: Action::Broker(kind),
    }
}

const fn row(name: &'static str, arms: &'static [Arm], otherwise: Action) -> Row {
    Row {
        name,
        arms,
        otherwise,
    }
}

/// An [`Arm`]: `then` when every condition holds.
macro_rules! arm {
    ($then:expr $(, $cond:expr)* $(,)?) => {
        Arm { when: &[$($cond),*], then: $then }
    };
}

const fn dword(arg: u8, op: Op, value: u64) -> Cond {
    Cond::dword(arg, op, value)
}

const fn qword(arg: u8, op: Op, value: u64) -> Cond {
    Cond::qword(arg, op, value)
}

/// `flags & bit == bit` on the low 32 bits of argument `arg`.
const fn has(arg: u8, bit: u64) -> Cond {
    dword(arg, Op::MaskedEq(bit), bit)
}

/// The namespace flags of `clone` (`CLONE_NEWTIME` shares its bit with the exit signal
/// there, so it is only in [`UNSHARE_NS`]).
const CLONE_NS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32 as u64;
/// The namespace flags of `unshare`.
const UNSHARE_NS: u64 = CLONE_NS | 0x80 /* CLONE_NEWTIME */;
const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;
const S_IFMT: u64 = libc::S_IFMT as u64;
/// `MFD_EXEC` (Linux 6.3): an executable memfd.
const MFD_EXEC: u64 = 0x10;
/// `MFD_NOEXEC_SEAL` (Linux 6.3): a memfd that can never be made executable.
pub const MFD_NOEXEC_SEAL: u64 = 0x08;
/// `__O_TMPFILE` without `O_DIRECTORY`: set in every `O_TMPFILE` open.
const O_TMPFILE_BIT: u64 = (libc::O_TMPFILE & !libc::O_DIRECTORY) as u64;
const OPEN_MARK: u64 = arbiter_protocol::NATIVE_OPEN_MARK as u32 as u64;
const REMOVE_MARK: u64 = arbiter_protocol::NATIVE_REMOVE_MARK;
/// `MSG_FASTOPEN`: a send on an unconnected TCP socket that connects it first.
const MSG_FASTOPEN: u64 = libc::MSG_FASTOPEN as u32 as u64;

/// Terminal ioctls with reach beyond the sandbox: `TIOCSTI` (push input into the terminal,
/// CVE-2017-5226), `TIOCLINUX` (console selection and input), `TIOCCONS` (redirect the
/// console), `TIOCSETD` (change the line discipline). Same numbers on x86_64 and aarch64.
pub const TERMINAL_IOCTLS: [u64; 4] = [0x5412, 0x541C, 0x541D, 0x5423];

/// Socket types allowed natively (masked with `0xf`, dropping `SOCK_NONBLOCK|SOCK_CLOEXEC`).
const STREAM: u64 = libc::SOCK_STREAM as u64;
const DGRAM: u64 = libc::SOCK_DGRAM as u64;
const SEQPACKET: u64 = libc::SOCK_SEQPACKET as u64;
const UNIX: u64 = libc::AF_UNIX as u64;
const INET: u64 = libc::AF_INET as u64;
const INET6: u64 = libc::AF_INET6 as u64;
const NETLINK: u64 = libc::AF_NETLINK as u64;

const TCP: u64 = libc::IPPROTO_TCP as u64;
/// A native IPv4/IPv6 socket of this family, type and protocol.
macro_rules! inet {
    ($family:expr, $ty:expr, $protocol:expr) => {
        arm!(
            Action::Native,
            dword(0, Op::Eq, $family),
            dword(1, Op::MaskedEq(0xf), $ty),
            dword(2, Op::Eq, $protocol)
        )
    };
}
const UDP: u64 = libc::IPPROTO_UDP as u64;

/// `socket(domain, type, protocol)`: unix stream, datagram and seqpacket sockets; IPv4 and
/// IPv6 TCP (stream, protocol 0 or `IPPROTO_TCP`) and UDP (datagram, protocol 0 or
/// `IPPROTO_UDP`); and route netlink. Everything else of these families is refused with
/// `EACCES`: raw sockets, the legacy `SOCK_PACKET` type on `AF_INET`, SCTP (`IPPROTO_SCTP`,
/// and inet `SOCK_SEQPACKET`, which only SCTP implements: its `setsockopt`-based connect and
/// bind, `SCTP_SOCKOPT_CONNECTX`/`BINDX`, bypass `connect`/`bind`), MPTCP (its subflows
/// connect to addresses the peer announces), ICMP "ping" sockets and UDP-Lite. Other
/// families are refused with `EAFNOSUPPORT`.
const SOCKET: &[Arm] = &[
    arm!(
        Action::Native,
        dword(0, Op::Eq, UNIX),
        dword(1, Op::MaskedEq(0xf), STREAM)
    ),
    arm!(
        Action::Native,
        dword(0, Op::Eq, UNIX),
        dword(1, Op::MaskedEq(0xf), DGRAM)
    ),
    arm!(
        Action::Native,
        dword(0, Op::Eq, UNIX),
        dword(1, Op::MaskedEq(0xf), SEQPACKET)
    ),
    inet!(INET, STREAM, 0),
    inet!(INET, STREAM, TCP),
    inet!(INET, DGRAM, 0),
    inet!(INET, DGRAM, UDP),
    inet!(INET6, STREAM, 0),
    inet!(INET6, STREAM, TCP),
    inet!(INET6, DGRAM, 0),
    inet!(INET6, DGRAM, UDP),
    // NETLINK_ROUTE (0): getifaddrs, if_nameindex; changing routes needs CAP_NET_ADMIN,
    // which the sandbox does not have.
    arm!(
        Action::Native,
        dword(0, Op::Eq, NETLINK),
        dword(2, Op::Eq, 0)
    ),
    arm!(Action::Refuse(libc::EACCES), dword(0, Op::Eq, UNIX)),
    arm!(Action::Refuse(libc::EACCES), dword(0, Op::Eq, INET)),
    arm!(Action::Refuse(libc::EACCES), dword(0, Op::Eq, INET6)),
    arm!(Action::Refuse(libc::EACCES), dword(0, Op::Eq, NETLINK)),
];

/// Calls whose first argument is a pid: native for the caller
/// itself (0), `EPERM` for any other process — seccomp cannot tell a pid inside the sandbox
/// from one outside it.
const SELF_ARG0: &[Arm] = &[Arm {
    when: &[dword(0, Op::Eq, 0)],
    then: Action::Native,
}];
/// `setpriority`/`getpriority(which, who, …)` and `ioprio_set`/`ioprio_get(which, who, …)`:
/// `who == 0` is the caller only with `which` naming a process (`PRIO_PROCESS`,
/// `IOPRIO_WHO_PROCESS`); with a process group or a user it is the caller's group (shared
/// with arbiter and the rest of a shell job) or every process of its uid on the host.
const PRIO_SELF: &[Arm] = &[arm!(
    Action::Native,
    dword(0, Op::Eq, libc::PRIO_PROCESS as u64),
    dword(1, Op::Eq, 0)
)];
const IOPRIO_SELF: &[Arm] = &[arm!(
    Action::Native,
    dword(0, Op::Eq, IOPRIO_WHO_PROCESS),
    dword(1, Op::Eq, 0)
)];
/// `IOPRIO_WHO_PROCESS` (linux/ioprio.h).
const IOPRIO_WHO_PROCESS: u64 = 1;

/// `prctl(option, …)`: `PR_SET_PDEATHSIG` with anything but `SIGKILL` would let the command
/// outlive a killed arbiter (and run unbrokered); setting `SIGKILL` again changes nothing
/// (the serve launcher's child sets it after the filter is on). Every other option acts on
/// the caller only, or needs a capability the sandbox lacks (docs/security.md).
/// `PR_SET_DUMPABLE` to 0 may be answered without running ([`Action::KeepDumpable`]).
const PRCTL: &[Arm] = &[
    arm!(
        Action::KeepDumpable,
        dword(0, Op::Eq, libc::PR_SET_DUMPABLE as u64),
        qword(1, Op::Eq, 0)
    ),
    arm!(
        Action::Native,
        dword(0, Op::Eq, libc::PR_SET_PDEATHSIG as u64),
        dword(1, Op::Eq, libc::SIGKILL as u64)
    ),
    arm!(
        Action::Refuse(libc::EPERM),
        dword(0, Op::Eq, libc::PR_SET_PDEATHSIG as u64)
    ),
];

/// `setsockopt(fd, level, optname, …)`: the options that change where a decided
/// connection's packets go are refused (`EACCES`), whatever the socket: a sticky IPv6
/// routing header (`IPV6_RTHDR`, its RFC 2292 twin, and `IPV6_2292PKTOPTIONS`, which sets
/// sticky options from control messages, a routing header among them) — a segment routing
/// header needs no capability and sends every packet of a connection decided for one
/// address to the header's segment — and IPv4 `IP_OPTIONS` (loose and strict source
/// routes; the kernel also asks `CAP_NET_RAW`, which the sandbox lacks); and netlink's
/// `NETLINK_ADD_MEMBERSHIP`. The same control
/// messages on a brokered send are refused by the broker (only `SCM_RIGHTS` and
/// `SCM_CREDENTIALS` pass). `level` and `optname` are `int`: the low 32 bits are compared.
const SETSOCKOPT: &[Arm] = &[
    arm!(
        Action::Refuse(libc::EACCES),
        dword(1, Op::Eq, libc::IPPROTO_IPV6 as u64),
        dword(2, Op::Eq, libc::IPV6_RTHDR as u64)
    ),
    arm!(
        Action::Refuse(libc::EACCES),
        dword(1, Op::Eq, libc::IPPROTO_IPV6 as u64),
        dword(2, Op::Eq, IPV6_2292RTHDR)
    ),
    arm!(
        Action::Refuse(libc::EACCES),
        dword(1, Op::Eq, libc::IPPROTO_IPV6 as u64),
        dword(2, Op::Eq, IPV6_2292PKTOPTIONS)
    ),
    arm!(
        Action::Refuse(libc::EACCES),
        dword(1, Op::Eq, libc::IPPROTO_IP as u64),
        dword(2, Op::Eq, libc::IP_OPTIONS as u64)
    ),
    // A netlink socket joins multicast groups only by bind, which the broker decides (no
    // groups): joining one afterwards would follow the host's network changes.
    arm!(
        Action::Refuse(libc::EACCES),
        dword(1, Op::Eq, libc::SOL_NETLINK as u64),
        dword(2, Op::Eq, libc::NETLINK_ADD_MEMBERSHIP as u64)
    ),
];
/// `IPV6_2292RTHDR` (`<linux/in6.h>`).
const IPV6_2292RTHDR: u64 = 5;
/// `IPV6_2292PKTOPTIONS` (`<linux/in6.h>`).
const IPV6_2292PKTOPTIONS: u64 = 6;

/// `fcntl(fd, cmd, …)`: a lease (`F_SETLEASE`) makes every other process on the host that
/// opens the file for writing wait for the holder (up to `lease-break-time`), and `F_NOTIFY`
/// (dnotify) watches a directory as `inotify_add_watch` would; both are refused (`EACCES`,
/// what a non-owner gets; `EINVAL`, what a kernel without dnotify answers). Every other
/// command acts on the fd the program holds.
const FCNTL: &[Arm] = &[
    arm!(
        Action::Refuse(libc::EACCES),
        dword(1, Op::Eq, libc::F_SETLEASE as u64)
    ),
    arm!(
        Action::Refuse(libc::EINVAL),
        dword(1, Op::Eq, libc::F_NOTIFY as u64)
    ),
];

/// `openat` when native reads are on: only a marked, read-only, non-creating, non-`O_PATH`
/// open may stay native; any of these forms goes to the broker.
const OPENAT: &[Arm] = &[
    Arm {
        when: &[dword(2, Op::MaskedEq(OPEN_MARK), 0)],
        then: Action::Broker(Kind::Openat),
    },
    Arm {
        when: &[has(2, libc::O_WRONLY as u64)],
        then: Action::Broker(Kind::Openat),
    },
    Arm {
        when: &[has(2, libc::O_RDWR as u64)],
        then: Action::Broker(Kind::Openat),
    },
    Arm {
        when: &[has(2, libc::O_CREAT as u64)],
        then: Action::Broker(Kind::Openat),
    },
    Arm {
        when: &[has(2, libc::O_TRUNC as u64)],
        then: Action::Broker(Kind::Openat),
    },
    Arm {
        when: &[has(2, O_TMPFILE_BIT)],
        then: Action::Broker(Kind::Openat),
    },
    Arm {
        when: &[has(2, libc::O_PATH as u64)],
        then: Action::Broker(Kind::Openat),
    },
];

/// `unlinkat` carrying the native-removal mark in the upper half of its flags register,
/// which the kernel does not read (the argument is an `int`).
const UNLINKAT: &[Arm] = &[arm!(
    Action::MarkedRemove,
    qword(2, Op::MaskedEq(REMOVE_MARK), REMOVE_MARK)
)];

/// `mknod`/`mknodat` of a character or block device: refused before the broker sees it.
const MKNOD_DEVICES: &[Arm] = &[
    Arm {
        when: &[dword(1, Op::MaskedEq(S_IFMT), libc::S_IFCHR as u64)],
        then: Action::Refuse(libc::EACCES),
    },
    Arm {
        when: &[dword(1, Op::MaskedEq(S_IFMT), libc::S_IFBLK as u64)],
        then: Action::Refuse(libc::EACCES),
    },
];
const MKNODAT_DEVICES: &[Arm] = &[
    Arm {
        when: &[dword(2, Op::MaskedEq(S_IFMT), libc::S_IFCHR as u64)],
        then: Action::Refuse(libc::EACCES),
    },
    Arm {
        when: &[dword(2, Op::MaskedEq(S_IFMT), libc::S_IFBLK as u64)],
        then: Action::Refuse(libc::EACCES),
    },
];

/// The table, grouped by concept. Every name of [`super::syscall_numbers`] has exactly one
/// row (tested); the order does not matter.
pub const TABLE: &[Row] = &[
    // ---- Memory, the process itself, time: nothing outside the process is reached.
    native("brk"),
    native("mmap"),
    native("munmap"),
    native("mremap"),
    native("mprotect"),
    native("pkey_mprotect"),
    native("pkey_alloc"),
    native("pkey_free"),
    native("madvise"),
    native("mincore"),
    native("msync"),
    native("mlock"),
    native("mlock2"),
    native("munlock"),
    native("mlockall"),
    native("munlockall"),
    native("mseal"),
    native("map_shadow_stack"),
    native("remap_file_pages"),
    native("mbind"),
    native("set_mempolicy"),
    native("get_mempolicy"),
    native("set_mempolicy_home_node"),
    row("move_pages", SELF_ARG0, Action::Refuse(libc::EPERM)),
    refuse("migrate_pages", libc::EPERM),
    native("membarrier"),
    native("rseq"),
    native("set_tid_address"),
    native("set_robust_list"),
    native("get_robust_list"),
    native("arch_prctl"),
    native("set_thread_area"),
    native("get_thread_area"),
    row("prctl", PRCTL, Action::Native),
    native("uname"),
    native("sysinfo"),
    native("times"),
    native("getrusage"),
    native("getcpu"),
    native("getrandom"),
    native("time"),
    native("gettimeofday"),
    native("clock_gettime"),
    native("clock_getres"),
    native("clock_nanosleep"),
    native("nanosleep"),
    native("alarm"),
    native("pause"),
    native("getitimer"),
    native("setitimer"),
    native("timer_create"),
    native("timer_settime"),
    native("timer_gettime"),
    native("timer_getoverrun"),
    native("timer_delete"),
    native("restart_syscall"),
    native("exit"),
    native("exit_group"),
    native("uretprobe"),
    native("uprobe"),
    // ---- Signals. Landlock (ABI ≥ 6) scopes every signal to the sandbox's domain.
    native("rt_sigaction"),
    native("rt_sigprocmask"),
    native("rt_sigreturn"),
    native("rt_sigpending"),
    native("rt_sigtimedwait"),
    native("rt_sigsuspend"),
    native("sigaltstack"),
    native("kill"),
    native("tkill"),
    native("tgkill"),
    native("rt_sigqueueinfo"),
    native("rt_tgsigqueueinfo"),
    native("pidfd_send_signal"),
    // ---- Processes: children, ids, sessions. No capability is left to gain anything.
    native("fork"),
    native("vfork"),
    // Namespaces would give the program a root of its own to fight Landlock with.
    row(
        "clone",
        &[Arm {
            when: &[qword(0, Op::MaskedEq(CLONE_NS), 0)],
            then: Action::Native,
        }],
        Action::Refuse(libc::EPERM),
    ),
    // Its flags are behind a pointer: ENOSYS makes glibc fall back to clone, checked above.
    refuse("clone3", libc::ENOSYS),
    row(
        "unshare",
        &[Arm {
            when: &[qword(0, Op::MaskedEq(UNSHARE_NS), 0)],
            then: Action::Native,
        }],
        Action::Refuse(libc::EPERM),
    ),
    refuse("setns", libc::EPERM),
    native("execve"),
    // execveat(fd, "", …, AT_EMPTY_PATH) runs whatever the fd names, a memfd included.
    row(
        "execveat",
        &[Arm {
            when: &[has(4, AT_EMPTY_PATH)],
            then: Action::Refuse(libc::EACCES),
        }],
        Action::Native,
    ),
    native("wait4"),
    native("waitid"),
    native("getpid"),
    native("getppid"),
    native("gettid"),
    native("getpgid"),
    native("getpgrp"),
    native("setpgid"),
    native("getsid"),
    native("setsid"),
    native("getuid"),
    native("geteuid"),
    native("getgid"),
    native("getegid"),
    native("getresuid"),
    native("getresgid"),
    native("getgroups"),
    native("setuid"),
    native("setgid"),
    native("setreuid"),
    native("setregid"),
    native("setresuid"),
    native("setresgid"),
    native("setfsuid"),
    native("setfsgid"),
    native("setgroups"),
    native("capget"),
    native("capset"),
    native("umask"),
    native("getrlimit"),
    native("setrlimit"),
    // prlimit64(pid, resource, new, old): the caller's own limits, or reading any.
    row(
        "prlimit64",
        &[
            Arm {
                when: &[dword(0, Op::Eq, 0)],
                then: Action::Native,
            },
            Arm {
                when: &[qword(2, Op::Eq, 0)],
                then: Action::Native,
            },
        ],
        Action::Refuse(libc::EPERM),
    ),
    row("getpriority", PRIO_SELF, Action::Refuse(libc::EPERM)),
    row("setpriority", PRIO_SELF, Action::Refuse(libc::EPERM)),
    row("ioprio_get", IOPRIO_SELF, Action::Refuse(libc::EPERM)),
    row("ioprio_set", IOPRIO_SELF, Action::Refuse(libc::EPERM)),
    native("sched_yield"),
    native("sched_getparam"),
    native("sched_getscheduler"),
    native("sched_getattr"),
    native("sched_getaffinity"),
    native("sched_get_priority_max"),
    native("sched_get_priority_min"),
    native("sched_rr_get_interval"),
    row("sched_setparam", SELF_ARG0, Action::Refuse(libc::EPERM)),
    row("sched_setscheduler", SELF_ARG0, Action::Refuse(libc::EPERM)),
    row("sched_setattr", SELF_ARG0, Action::Refuse(libc::EPERM)),
    row("sched_setaffinity", SELF_ARG0, Action::Refuse(libc::EPERM)),
    // PER_LINUX, PER_LINUX32, UNAME26, ADDR_NO_RANDOMIZE, and the query 0xffffffff.
    row(
        "personality",
        &[
            Arm {
                when: &[dword(0, Op::Eq, 0)],
                then: Action::Native,
            },
            Arm {
                when: &[dword(0, Op::Eq, 0x0008)],
                then: Action::Native,
            },
            Arm {
                when: &[dword(0, Op::Eq, 0x0020000)],
                then: Action::Native,
            },
            Arm {
                when: &[dword(0, Op::Eq, 0x0040000)],
                then: Action::Native,
            },
            Arm {
                when: &[dword(0, Op::Eq, 0xffff_ffff)],
                then: Action::Native,
            },
        ],
        Action::Refuse(libc::EPERM),
    ),
    native("pidfd_open"),
    // Needs ptrace access, which Landlock denies outside the domain.
    native("pidfd_getfd"),
    refuse("ptrace", libc::EACCES),
    refuse("process_vm_readv", libc::EACCES),
    refuse("process_vm_writev", libc::EACCES),
    refuse("process_madvise", libc::EPERM),
    refuse("process_mrelease", libc::EPERM),
    refuse("kcmp", libc::EPERM),
    // Confining itself further is always allowed.
    native("seccomp"),
    native("landlock_create_ruleset"),
    native("landlock_add_rule"),
    native("landlock_restrict_self"),
    native("lsm_get_self_attr"),
    native("lsm_list_modules"),
    refuse("lsm_set_self_attr", libc::EPERM),
    // ---- File descriptors the program holds: the right was decided when it was opened.
    native("read"),
    native("write"),
    native("readv"),
    native("writev"),
    native("pread64"),
    native("pwrite64"),
    native("preadv"),
    native("pwritev"),
    native("preadv2"),
    native("pwritev2"),
    native("lseek"),
    native("close"),
    native("close_range"),
    native("dup"),
    native("dup2"),
    native("dup3"),
    row("fcntl", FCNTL, Action::Native),
    native("flock"),
    native("fsync"),
    native("fdatasync"),
    native("sync_file_range"),
    native("syncfs"),
    native("sync"),
    native("readahead"),
    native("fadvise64"),
    native("fallocate"),
    // Needs the fd open for writing, which the broker or Landlock granted.
    native("ftruncate"),
    native("fstat"),
    native("fstatfs"),
    native("getdents"),
    native("getdents64"),
    native("fchdir"),
    native("sendfile"),
    native("splice"),
    native("tee"),
    native("vmsplice"),
    native("copy_file_range"),
    native("cachestat"),
    native("pipe"),
    native("pipe2"),
    native("eventfd"),
    native("eventfd2"),
    native("signalfd"),
    native("signalfd4"),
    native("timerfd_create"),
    native("timerfd_settime"),
    native("timerfd_gettime"),
    native("memfd_secret"),
    // An executable memfd is code the program wrote, run outside the policy's `exec`
    // (Landlock does not govern executing a memfd): MFD_EXEC is refused, a memfd already
    // sealed against exec is native, any other is made by the broker, sealed against exec.
    row(
        "memfd_create",
        &[
            arm!(Action::Refuse(libc::EACCES), has(1, MFD_EXEC)),
            arm!(Action::Native, has(1, MFD_NOEXEC_SEAL)),
        ],
        Action::Broker(Kind::MemfdCreate),
    ),
    native("select"),
    native("pselect6"),
    native("poll"),
    native("ppoll"),
    native("epoll_create"),
    native("epoll_create1"),
    native("epoll_ctl"),
    native("epoll_wait"),
    native("epoll_pwait"),
    native("epoll_pwait2"),
    native("futex"),
    native("futex_waitv"),
    native("futex_wake"),
    native("futex_wait"),
    native("futex_requeue"),
    // Legacy AIO acts on fds the program holds; io_uring's operations bypass seccomp.
    native("io_setup"),
    native("io_destroy"),
    native("io_submit"),
    native("io_cancel"),
    native("io_getevents"),
    native("io_pgetevents"),
    refuse("io_uring_setup", libc::ENOSYS),
    refuse("io_uring_enter", libc::ENOSYS),
    refuse("io_uring_register", libc::ENOSYS),
    // Terminal ioctls that reach outside the sandbox are refused; the rest act on the fd.
    row(
        "ioctl",
        &[
            Arm {
                when: &[dword(1, Op::Eq, TERMINAL_IOCTLS[0])],
                then: Action::Refuse(libc::EPERM),
            },
            Arm {
                when: &[dword(1, Op::Eq, TERMINAL_IOCTLS[1])],
                then: Action::Refuse(libc::EPERM),
            },
            Arm {
                when: &[dword(1, Op::Eq, TERMINAL_IOCTLS[2])],
                then: Action::Refuse(libc::EPERM),
            },
            Arm {
                when: &[dword(1, Op::Eq, TERMINAL_IOCTLS[3])],
                then: Action::Refuse(libc::EPERM),
            },
        ],
        Action::Native,
    ),
    native("inotify_init"),
    native("inotify_init1"),
    native("inotify_rm_watch"),
    // Watching names a path, which neither Landlock nor the broker decides.
    refuse("inotify_add_watch", libc::EACCES),
    refuse("fanotify_init", libc::EPERM),
    refuse("fanotify_mark", libc::EPERM),
    // ---- Paths: the broker decides on the policy (without the transport, see
    // Kind::without_transport).
    row("openat", OPENAT, Action::MarkedRead),
    broker("open", Kind::Open),
    broker("openat2", Kind::Openat2),
    broker("creat", Kind::Creat),
    broker("stat", Kind::Stat),
    broker("lstat", Kind::Lstat),
    // The AT_EMPTY_PATH forms stay native: with an empty path they act on a held fd; with a
    // non-empty one they are a stat, which no layer protects (docs/security.md, the gaps),
    // and the shim's fast path relies on them.
    row(
        "newfstatat",
        &[Arm {
            when: &[has(3, AT_EMPTY_PATH)],
            then: Action::Native,
        }],
        Action::Broker(Kind::Newfstatat),
    ),
    row(
        "statx",
        &[Arm {
            when: &[has(2, AT_EMPTY_PATH)],
            then: Action::Native,
        }],
        Action::Broker(Kind::Statx),
    ),
    broker("access", Kind::Access),
    broker("faccessat", Kind::Faccessat),
    // As for the stats: the AT_EMPTY_PATH form stays native. With an empty path it checks a
    // held fd; with a non-empty one it tells the caller's own permission on a path, which no
    // layer protects (Landlock has no hook on it, and a stat shows the mode and owner it is
    // derived from) and the shim's access fast path relies on.
    row(
        "faccessat2",
        &[Arm {
            when: &[has(3, AT_EMPTY_PATH)],
            then: Action::Native,
        }],
        Action::Broker(Kind::Faccessat2),
    ),
    broker("mkdir", Kind::Mkdir),
    broker("mkdirat", Kind::Mkdirat),
    row("mknod", MKNOD_DEVICES, Action::Broker(Kind::Mknod)),
    row("mknodat", MKNODAT_DEVICES, Action::Broker(Kind::Mknodat)),
    broker("unlink", Kind::Unlink),
    broker("rmdir", Kind::Rmdir),
    row("unlinkat", UNLINKAT, Action::Broker(Kind::Unlinkat)),
    broker("rename", Kind::Rename),
    broker("renameat", Kind::Renameat),
    broker("renameat2", Kind::Renameat2),
    broker("link", Kind::Link),
    broker("linkat", Kind::Linkat),
    broker("symlink", Kind::Symlink),
    broker("symlinkat", Kind::Symlinkat),
    broker("readlink", Kind::Readlink),
    broker("readlinkat", Kind::Readlinkat),
    broker("truncate", Kind::Truncate),
    // Metadata changes, by path or by fd (with or without AT_EMPTY_PATH: seccomp cannot
    // tell an empty path from another), are all the broker's.
    broker("chmod", Kind::Chmod),
    broker("fchmodat", Kind::Fchmodat),
    broker("fchmodat2", Kind::Fchmodat2),
    broker("fchmod", Kind::Fchmod),
    broker("chown", Kind::Chown),
    broker("lchown", Kind::Lchown),
    broker("fchownat", Kind::Fchownat),
    broker("fchown", Kind::Fchown),
    broker("utime", Kind::Utime),
    broker("utimes", Kind::Utimes),
    broker("futimesat", Kind::Futimesat),
    row(
        "utimensat",
        &[Arm {
            when: &[qword(1, Op::Eq, 0)],
            then: Action::Broker(Kind::Futimens),
        }],
        Action::Broker(Kind::Utimensat),
    ),
    // Path information no layer protects (like stat); the working directory is the
    // program's own.
    native("statfs"),
    native("getcwd"),
    native("chdir"),
    // Extended attributes: reading by fd is native; reading by path answers "not
    // supported" (programs then treat the file as having none); changing them is refused
    // (not brokered yet) as "not supported" too, the answer of a filesystem without them,
    // after which `cp -a`, `tar` and `rsync` fall back to chmod for the permissions (an
    // ACL is an xattr); the *xattrat calls (Linux 6.13) do not exist here.
    native("fgetxattr"),
    native("flistxattr"),
    refuse("getxattr", libc::EOPNOTSUPP),
    refuse("lgetxattr", libc::EOPNOTSUPP),
    refuse("listxattr", libc::EOPNOTSUPP),
    refuse("llistxattr", libc::EOPNOTSUPP),
    refuse("setxattr", libc::EOPNOTSUPP),
    refuse("lsetxattr", libc::EOPNOTSUPP),
    refuse("removexattr", libc::EOPNOTSUPP),
    refuse("lremovexattr", libc::EOPNOTSUPP),
    refuse("fsetxattr", libc::EOPNOTSUPP),
    refuse("fremovexattr", libc::EOPNOTSUPP),
    refuse("getxattrat", libc::ENOSYS),
    refuse("listxattrat", libc::ENOSYS),
    refuse("setxattrat", libc::ENOSYS),
    refuse("removexattrat", libc::ENOSYS),
    refuse("file_getattr", libc::ENOSYS),
    refuse("file_setattr", libc::ENOSYS),
    // File handles name files without a path; opening one needs CAP_DAC_READ_SEARCH.
    refuse("name_to_handle_at", libc::EOPNOTSUPP),
    refuse("open_by_handle_at", libc::EPERM),
    // ---- Sockets. connect and bind are performed by the broker on the program's socket.
    row("socket", SOCKET, Action::Refuse(libc::EAFNOSUPPORT)),
    row(
        "socketpair",
        &[Arm {
            when: &[dword(0, Op::Eq, UNIX)],
            then: Action::Native,
        }],
        Action::Refuse(libc::EAFNOSUPPORT),
    ),
    broker("connect", Kind::Connect),
    broker("bind", Kind::Bind),
    broker("listen", Kind::Listen),
    // sendto(fd, buf, len, flags, dest, addrlen): a destination is a connect in disguise, and
    // so is MSG_FASTOPEN. Without either it stays native: the shim's channel sends fd-less
    // messages that way (`arbiter_protocol::fdpass`), and so does the listener handoff.
    row(
        "sendto",
        &[
            arm!(Action::Broker(Kind::Sendto), qword(4, Op::Ne, 0)),
            arm!(Action::Broker(Kind::Sendto), has(3, MSG_FASTOPEN)),
        ],
        Action::Native,
    ),
    // sendmsg(fd, msg, flags), sendmmsg(fd, msgs, n, flags): the destination is inside the
    // msghdr, which seccomp cannot read, so every one goes to the broker. Without the notify
    // filter a plain one stays native (the shim's channel sends with it), a TCP Fast Open
    // one is refused (`Kind::without_transport`).
    row(
        "sendmsg",
        &[arm!(
            Action::Broker(Kind::SendmsgFastOpen),
            has(2, MSG_FASTOPEN)
        )],
        Action::Broker(Kind::Sendmsg),
    ),
    row(
        "sendmmsg",
        &[arm!(
            Action::Broker(Kind::SendmmsgFastOpen),
            has(3, MSG_FASTOPEN)
        )],
        Action::Broker(Kind::Sendmmsg),
    ),
    native("accept"),
    native("accept4"),
    native("recvfrom"),
    native("recvmsg"),
    native("recvmmsg"),
    native("shutdown"),
    native("getsockname"),
    native("getpeername"),
    native("getsockopt"),
    row("setsockopt", SETSOCKOPT, Action::Native),
    // ---- System V IPC: refused as a kernel without CONFIG_SYSVIPC answers. Ids are global:
    // an object created outside the sandbox can be listed (SHM_STAT), attached, changed and
    // removed by id whenever its mode and owner allow, and seccomp cannot tell the sandbox's
    // own ids from others.
    refuse("shmget", libc::ENOSYS),
    refuse("shmat", libc::ENOSYS),
    refuse("shmdt", libc::ENOSYS),
    refuse("shmctl", libc::ENOSYS),
    refuse("semget", libc::ENOSYS),
    refuse("semop", libc::ENOSYS),
    refuse("semtimedop", libc::ENOSYS),
    refuse("semctl", libc::ENOSYS),
    refuse("msgget", libc::ENOSYS),
    refuse("msgsnd", libc::ENOSYS),
    refuse("msgrcv", libc::ENOSYS),
    refuse("msgctl", libc::ENOSYS),
    // POSIX message queues are named host-wide; an open queue's fd stays usable.
    refuse("mq_open", libc::EACCES),
    refuse("mq_unlink", libc::EACCES),
    native("mq_timedsend"),
    native("mq_timedreceive"),
    native("mq_notify"),
    native("mq_getsetattr"),
    // ---- The host: mounts, modules, clocks, power, keys, tracing. Never the sandbox's.
    refuse("mount", libc::EACCES),
    refuse("umount2", libc::EACCES),
    refuse("pivot_root", libc::EACCES),
    refuse("chroot", libc::EACCES),
    refuse("open_tree", libc::EACCES),
    refuse("open_tree_attr", libc::EACCES),
    refuse("move_mount", libc::EACCES),
    refuse("fsopen", libc::EACCES),
    refuse("fsconfig", libc::EACCES),
    refuse("fsmount", libc::EACCES),
    refuse("fspick", libc::EACCES),
    refuse("mount_setattr", libc::EACCES),
    refuse("statmount", libc::ENOSYS),
    refuse("listmount", libc::ENOSYS),
    refuse("swapon", libc::EPERM),
    refuse("swapoff", libc::EPERM),
    refuse("quotactl", libc::EPERM),
    refuse("quotactl_fd", libc::EPERM),
    refuse("init_module", libc::EACCES),
    refuse("finit_module", libc::EACCES),
    refuse("delete_module", libc::EACCES),
    refuse("kexec_load", libc::EACCES),
    refuse("kexec_file_load", libc::EACCES),
    refuse("reboot", libc::EPERM),
    refuse("sethostname", libc::EPERM),
    refuse("setdomainname", libc::EPERM),
    refuse("settimeofday", libc::EPERM),
    refuse("clock_settime", libc::EPERM),
    refuse("clock_adjtime", libc::EPERM),
    refuse("adjtimex", libc::EPERM),
    refuse("acct", libc::EPERM),
    refuse("syslog", libc::EPERM),
    refuse("vhangup", libc::EPERM),
    refuse("iopl", libc::EPERM),
    refuse("ioperm", libc::EPERM),
    refuse("modify_ldt", libc::EPERM),
    refuse("add_key", libc::EPERM),
    refuse("request_key", libc::EPERM),
    refuse("keyctl", libc::EPERM),
    refuse("bpf", libc::EACCES),
    refuse("perf_event_open", libc::EPERM),
    refuse("userfaultfd", libc::EPERM),
    // ---- Obsolete or never implemented: the kernel answers ENOSYS itself.
    refuse("_sysctl", libc::ENOSYS),
    refuse("uselib", libc::ENOSYS),
    refuse("ustat", libc::ENOSYS),
    refuse("sysfs", libc::ENOSYS),
    refuse("nfsservctl", libc::ENOSYS),
    refuse("lookup_dcookie", libc::ENOSYS),
    refuse("create_module", libc::ENOSYS),
    refuse("get_kernel_syms", libc::ENOSYS),
    refuse("query_module", libc::ENOSYS),
    refuse("getpmsg", libc::ENOSYS),
    refuse("putpmsg", libc::ENOSYS),
    refuse("afs_syscall", libc::ENOSYS),
    refuse("tuxcall", libc::ENOSYS),
    refuse("security", libc::ENOSYS),
    refuse("vserver", libc::ENOSYS),
    refuse("epoll_ctl_old", libc::ENOSYS),
    refuse("epoll_wait_old", libc::ENOSYS),
];

/// The row named `name`, if any.
pub fn row_named(name: &str) -> Option<&'static Row> {
    static BY_NAME: OnceLock<std::collections::HashMap<&'static str, &'static Row>> =
        OnceLock::new();
    BY_NAME
        .get_or_init(|| TABLE.iter().map(|r| (r.name, r)).collect())
        .get(name)
        .copied()
}

/// The running architecture's `(name, number)` list.
pub fn numbers() -> &'static [(&'static str, u32)] {
    if cfg!(target_arch = "aarch64") {
        super::syscall_numbers::AARCH64
    } else {
        super::syscall_numbers::X86_64
    }
}

/// [`row_indices`]'s value for a number without a row.
pub const NO_ROW: u16 = u16::MAX;

/// Each syscall number of the running architecture (0 to the highest) → the index of its
/// row in [`TABLE`], or [`NO_ROW`]. `build.rs` embeds it (`syscall_rows.bin`, little-endian
/// `u16`s) so a start builds no index; [`row_for`] computes it only without that.
pub fn row_indices() -> Vec<u16> {
    let by_name: std::collections::HashMap<&str, usize> =
        TABLE.iter().enumerate().map(|(i, r)| (r.name, i)).collect();
    let len = numbers()
        .iter()
        .map(|&(_, n)| n as usize + 1)
        .max()
        .unwrap_or(0);
    let mut v = vec![NO_ROW; len];
    for &(name, n) in numbers() {
        if let Some(&i) = by_name.get(name) {
            v[n as usize] = u16::try_from(i).unwrap_or(NO_ROW);
        }
    }
    v
}

/// The index `build.rs` embedded ([`row_indices`]; empty in a cross-compiled build).
#[cfg(arbiter_built)]
fn built_rows() -> Option<&'static [u8]> {
    static BUILT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/syscall_rows.bin"));
    (!BUILT.is_empty()).then_some(BUILT)
}

/// In `build.rs` itself nothing is embedded yet.
#[cfg(not(arbiter_built))]
fn built_rows() -> Option<&'static [u8]> {
    None
}

/// The row for syscall `nr` of the running architecture, if the table names it.
pub fn row_for(nr: i64) -> Option<&'static Row> {
    let nr = usize::try_from(nr).ok()?;
    let index = match built_rows() {
        Some(bytes) => {
            let b = bytes.get(nr.checked_mul(2)?..)?.get(..2)?;
            u16::from_le_bytes([b[0], b[1]])
        }
        None => {
            static RUNTIME: OnceLock<Vec<u16>> = OnceLock::new();
            *RUNTIME.get_or_init(row_indices).get(nr)?
        }
    };
    TABLE.get(usize::from(index))
}

/// The [`Kind`] the broker serves for syscall `nr` with arguments `args`, as the table
/// decides it: `None` when the table does not send this form to the broker.
pub fn brokered(nr: i64, args: &[u64; 6]) -> Option<Kind> {
    let row = row_for(nr)?;
    let action = row
        .arms
        .iter()
        .find(|arm| arm.when.iter().all(|c| c.holds(args)))
        .map_or(row.otherwise, |arm| arm.then);
    match action {
        Action::Broker(kind) => Some(kind),
        Action::MarkedRead => Some(Kind::Openat),
        Action::MarkedRemove => Some(Kind::Unlinkat),
        Action::Native | Action::Refuse(_) | Action::KeepDumpable => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index `build.rs` embedded is the one computed from the table now, for every
    /// number (and none past the highest): the dispatch finds the same row either way.
    #[test]
    fn built_row_index_is_the_runtime_one() {
        let built = built_rows().expect("a native build embeds the index");
        let runtime = row_indices();
        let bytes: Vec<u8> = runtime.iter().flat_map(|i| i.to_le_bytes()).collect();
        assert_eq!(built, bytes.as_slice());
        for nr in 0..runtime.len() as i64 + 16 {
            let name = numbers()
                .iter()
                .find(|(_, n)| i64::from(*n) == nr)
                .map(|(n, _)| *n);
            let want = name.and_then(row_named).map(|r| r.name);
            assert_eq!(row_for(nr).map(|r| r.name), want, "{nr}");
        }
        assert!(row_for(-1).is_none() && row_for(i64::MAX).is_none());
    }

    /// What the row named `name` does with `args` (the generated filter's tests in
    /// `confine/seccomp.rs` check that the BPF agrees with the rows).
    fn action(name: &str, args: [u64; 6]) -> Action {
        let row = row_named(name).unwrap();
        row.arms
            .iter()
            .find(|arm| arm.when.iter().all(|c| c.holds(&args)))
            .map_or(row.otherwise, |arm| arm.then)
    }

    #[test]
    fn priority_is_the_callers_own_only() {
        let eperm = Action::Refuse(libc::EPERM);
        for name in ["setpriority", "getpriority"] {
            // PRIO_PROCESS, PRIO_PGRP, PRIO_USER with who == 0.
            assert_eq!(action(name, [0, 0, 5, 0, 0, 0]), Action::Native, "{name}");
            assert_eq!(action(name, [1, 0, 5, 0, 0, 0]), eperm, "{name}");
            assert_eq!(action(name, [2, 0, 5, 0, 0, 0]), eperm, "{name}");
            assert_eq!(action(name, [0, 1, 5, 0, 0, 0]), eperm, "{name}");
        }
        for name in ["ioprio_set", "ioprio_get"] {
            // IOPRIO_WHO_PROCESS, _PGRP, _USER with who == 0.
            assert_eq!(action(name, [1, 0, 4, 0, 0, 0]), Action::Native, "{name}");
            assert_eq!(action(name, [2, 0, 4, 0, 0, 0]), eperm, "{name}");
            assert_eq!(action(name, [3, 0, 4, 0, 0, 0]), eperm, "{name}");
            assert_eq!(action(name, [1, 7, 4, 0, 0, 0]), eperm, "{name}");
        }
    }

    #[test]
    fn the_death_signal_stays_sigkill() {
        let pdeathsig = libc::PR_SET_PDEATHSIG as u64;
        let kill = libc::SIGKILL as u64;
        assert_eq!(
            action("prctl", [pdeathsig, kill, 0, 0, 0, 0]),
            Action::Native
        );
        assert_eq!(
            action("prctl", [pdeathsig, 0, 0, 0, 0, 0]),
            Action::Refuse(libc::EPERM)
        );
        assert_eq!(
            action("prctl", [libc::PR_SET_NAME as u64, 0, 0, 0, 0, 0]),
            Action::Native
        );
        let dumpable = libc::PR_SET_DUMPABLE as u64;
        assert_eq!(
            action("prctl", [dumpable, 0, 0, 0, 0, 0]),
            Action::KeepDumpable
        );
        assert_eq!(action("prctl", [dumpable, 1, 0, 0, 0, 0]), Action::Native);
    }

    #[test]
    fn leases_dnotify_and_system_v_ipc_are_refused() {
        let lease = libc::F_SETLEASE as u64;
        let notify = libc::F_NOTIFY as u64;
        assert_eq!(
            action("fcntl", [3, lease, 0, 0, 0, 0]),
            Action::Refuse(libc::EACCES)
        );
        assert_eq!(
            action("fcntl", [3, notify, 0, 0, 0, 0]),
            Action::Refuse(libc::EINVAL)
        );
        assert_eq!(
            action("fcntl", [3, libc::F_GETLEASE as u64, 0, 0, 0, 0]),
            Action::Native
        );
        for name in [
            "shmget",
            "shmat",
            "shmdt",
            "shmctl",
            "semget",
            "semop",
            "semtimedop",
            "semctl",
            "msgget",
            "msgsnd",
            "msgrcv",
            "msgctl",
        ] {
            assert_eq!(action(name, [0; 6]), Action::Refuse(libc::ENOSYS), "{name}");
        }
    }
}
