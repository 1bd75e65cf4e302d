//! The seccomp layer: the program generated from the one syscall table
//! ([`super::syscalls::TABLE`]).
//!
//! The BPF program is compiled in the parent ([`super::bpf`]); the child installs it with
//! a raw `seccomp(SECCOMP_SET_MODE_FILTER)` call. Every syscall number of the running
//! architecture gets the action its row decides: `SECCOMP_RET_ALLOW` for native calls,
//! `SECCOMP_RET_ERRNO` for refused ones, `SECCOMP_RET_USER_NOTIF` for the ones the broker
//! serves when the notify filter is installed ([`NotifyFilter`]; without it, a brokered
//! call does what [`syscalls::Kind::without_transport`] says). A number no row names — a later
//! kernel's call, x32's numbers (`__X32_SYSCALL_BIT` set) — is refused with `ENOSYS`; a
//! foreign architecture (i386's `int 0x80` on x86_64) kills the process.

use super::bpf::{self, Insn};
use super::seccomp_program::{self, Options};
use super::syscalls;
use crate::sandbox::spawn::PreExec;

/// `SECCOMP_SET_MODE_FILTER`.
const SET_MODE_FILTER: libc::c_uint = 1;
/// `SECCOMP_GET_ACTION_AVAIL`, used to probe for the seccomp() syscall.
const GET_ACTION_AVAIL: libc::c_uint = 2;

/// The programs `build.rs` compiled for every [`Options`] (`seccomp_program::encode`'s
/// format; empty in a cross-compiled build).
static BUILT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/seccomp_programs.bin"));

/// The program for the running architecture: the one `build.rs` compiled from this same
/// table (no compilation at start-up; the test `built_programs_are_the_runtime_compile`
/// holds them equal), else compiled now.
fn program(opts: Options) -> anyhow::Result<Vec<Insn>> {
    let arch = arch()?;
    if let Some(built) = seccomp_program::decode(BUILT, opts) {
        return Ok(built);
    }
    Ok(seccomp_program::compile(arch, syscalls::numbers(), opts)?)
}

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

impl Filter {
    /// Compiles the filter for when no notify filter is installed: brokered calls do what
    /// [`syscalls::Kind::without_transport`] says.
    pub fn compile() -> anyhow::Result<Self> {
        let program = program(Options {
            notify: false,
            native_reads: false,
            keep_dumpable: false,
            native_removes: false,
        })?;
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

/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 5.19): once the broker has received a
/// notification, only a fatal signal interrupts the call. Without it a signal arriving
/// while the broker performs a call (a `mkdir`, a `rename`, the `sendmsg` that registers a
/// shim channel) makes the kernel restart the call after the handler, and the broker
/// performs it a second time: the program sees `EEXIST` or `ENOENT` for a call that
/// succeeded, or a channel registered twice.
const FLAG_WAIT_KILLABLE_RECV: libc::c_uint = 1 << 5;

/// Installs the notify filter, with [`FLAG_WAIT_KILLABLE_RECV`] where the kernel has it
/// (an older kernel refuses the flag with `EINVAL`; docs/security.md says what is lost).
fn install_notify(program: &[Insn]) -> std::io::Result<i64> {
    match install(program, FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => install(program, FLAG_NEW_LISTENER),
        other => other,
    }
}

/// The notify filter: the table's program with its brokered calls answered by the broker
/// through seccomp user notification (`transport::seccomp`), so static binaries, raw
/// `syscall()` and glibc's internal opens are brokered like the shim's calls.
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
    /// Compiles the program with the brokered calls sent to the broker. With
    /// `native_reads`, marked read-only `openat`s stay native ([`syscalls::Action::MarkedRead`]);
    /// with `native_removes`, marked `unlinkat`s ([`syscalls::Action::MarkedRemove`]). Without
    /// `CAP_SYS_PTRACE` in this process, `prctl(PR_SET_DUMPABLE, 0)` is answered without
    /// running ([`syscalls::Action::KeepDumpable`]).
    pub fn compile(native_reads: bool, native_removes: bool) -> anyhow::Result<Self> {
        let program = program(Options {
            notify: true,
            native_reads,
            native_removes,
            keep_dumpable: !super::privilege::reaches_non_dumpable(),
        })?;
        Ok(NotifyFilter { program })
    }

    /// The step that installs the filter in the child and hands its listener to the broker
    /// as `handoff` says. It replaces [`Filter::into_pre_exec`]. Makes system calls only.
    pub fn into_pre_exec(self, handoff: Handoff) -> anyhow::Result<PreExec> {
        let program = self.program;
        Ok(match handoff {
            Handoff::Bootstrap(bootstrap) => Box::new(move || {
                super::no_new_privs()?;
                let listener = install_notify(&program)? as i32;
                let sent = send_on_bootstrap(bootstrap, listener);
                // SAFETY: listener is our own fd, closed once; the broker holds its copy.
                unsafe { libc::close(listener) };
                sent
            }),
            Handoff::SharedTable(slot) => Box::new(move || {
                super::no_new_privs()?;
                let listener = install_notify(&program)? as i32;
                // The descriptor is already the broker's: the table is shared until exec,
                // which closes the command's copy (the kernel opens listeners close-on-exec).
                slot.put(listener);
                Ok(())
            }),
        })
    }
}

/// How the notify filter's listener reaches the broker from the process that installs it.
pub enum Handoff {
    /// Named on the bootstrap socket at this descriptor number (a
    /// [`arbiter_protocol::SeccompListener`]): the broker takes it with `pidfd_getfd` and
    /// answers one byte, which the installing process waits for before it closes its copy
    /// (the filter traps `sendmsg`, so it cannot travel as `SCM_RIGHTS`). `arbiter serve`'s
    /// launcher, which confines itself in its own process.
    Bootstrap(i32),
    /// Left where it is: the installing child shares the broker's descriptor table until
    /// it execs (`sandbox::vfork`, [`crate::sandbox::Sandbox::listener_in_shared_table`]), so
    /// the listener is the broker's from the moment it exists, without a round trip; its
    /// number is written to the slot, which the broker reads once the child has exec'd.
    SharedTable(std::sync::Arc<ListenerSlot>),
}

/// Sends the [`arbiter_protocol::SeccompListener`] naming `listener` on `bootstrap` and
/// waits for the broker's byte ([`Handoff::Bootstrap`]). Async-signal-safe.
fn send_on_bootstrap(bootstrap: i32, listener: i32) -> std::io::Result<()> {
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
            if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break if n == 1 { Ok(()) } else { Err(libc::EPIPE) };
            }
        },
        Err(e) => Err(e),
    };
    got.map_err(std::io::Error::from_raw_os_error)
}

/// The listener's descriptor number, written by the child that installed the filter in a
/// descriptor table it shares with the broker ([`Handoff::SharedTable`]) and taken by the
/// broker once the child has exec'd or exited.
#[derive(Debug)]
pub struct ListenerSlot(std::sync::atomic::AtomicI32);

impl Default for ListenerSlot {
    fn default() -> Self {
        ListenerSlot(std::sync::atomic::AtomicI32::new(-1))
    }
}

impl ListenerSlot {
    /// Records `fd` (in the child: an atomic store, async-signal-safe).
    fn put(&self, fd: i32) {
        self.0.store(fd, std::sync::atomic::Ordering::SeqCst);
    }

    /// The listener, once the child that shares this process's descriptor table has
    /// exec'd or exited: `None` when it installed none (it failed before), an error when
    /// the number does not name a seccomp listener here (the child did not share the
    /// table: nothing is taken then). Takes it once.
    pub fn take(&self) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
        use std::os::fd::FromRawFd;
        let fd = self.0.swap(-1, std::sync::atomic::Ordering::SeqCst);
        if fd < 0 {
            return Ok(None);
        }
        // A listener answers for a notification id: 0 when one is pending with it, ENOENT
        // when none is; any other descriptor refuses the request (ENOTTY).
        let id: u64 = 0;
        // SAFETY: the ioctl reads a u64 from a valid pointer and changes nothing.
        let rc = unsafe {
            libc::ioctl(
                fd,
                libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _,
                &id as *const u64,
            )
        };
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("descriptor {fd} is not the sandbox's seccomp listener"),
            ));
        }
        // SAFETY: the child created fd in the table this process shares with it and handed
        // it over through the slot, once; nothing else owns it.
        Ok(Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }
}

#[cfg(test)]
mod tests {
    //! The program decides as the table says, for every number of both architectures and
    //! argument values around every constant the rows compare with; every call the kernel
    //! headers know has a row; what no row names is refused.

    use super::bpf::interp::{run, Data};
    use super::*;
    use crate::confine::seccomp_program::{decisions, seccomp_action};
    use crate::confine::syscall_numbers::{AARCH64, X86_64};
    use crate::confine::syscalls::{row_named, TABLE, UNKNOWN_ERRNO};

    const ALL: [Options; 4] = [
        Options {
            notify: false,
            native_reads: false,
            keep_dumpable: false,
            native_removes: false,
        },
        Options {
            notify: true,
            native_reads: false,
            keep_dumpable: false,
            native_removes: false,
        },
        Options {
            notify: true,
            native_reads: true,
            keep_dumpable: false,
            native_removes: false,
        },
        Options {
            notify: true,
            native_reads: true,
            keep_dumpable: true,
            native_removes: true,
        },
    ];
    const ENOSYS_RET: u32 = bpf::RET_ERRNO | UNKNOWN_ERRNO as u32;
    /// `__X32_SYSCALL_BIT`.
    const X32: u32 = 0x4000_0000;

    /// What the table says for `nr` of `numbers` with `args`, evaluated in Rust.
    fn expected(numbers: &[(&str, u32)], nr: u32, args: &[u64; 6], opts: Options) -> u32 {
        let Some(&(name, _)) = numbers.iter().find(|(_, n)| *n == nr) else {
            return ENOSYS_RET;
        };
        let Some(row) = row_named(name) else {
            return ENOSYS_RET;
        };
        let then = row
            .arms
            .iter()
            .find(|arm| arm.when.iter().all(|c| c.holds(args)))
            .map_or(row.otherwise, |arm| arm.then);
        seccomp_action(then, opts)
    }

    /// Argument values around every constant the table compares with.
    fn interesting() -> Vec<u64> {
        let mut bases = vec![
            0u64,
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
        for row in TABLE {
            for arm in row.arms {
                for c in arm.when {
                    bases.push(c.value);
                    if let bpf::Op::MaskedEq(m) = c.op {
                        bases.push(m);
                    }
                }
            }
        }
        bases.sort_unstable();
        bases.dedup();
        let mut v = Vec::new();
        for base in bases {
            for extra in [
                0,
                1,
                0o644,
                libc::SOCK_CLOEXEC as u64,
                libc::SOCK_NONBLOCK as u64,
                libc::O_CLOEXEC as u64,
                libc::O_WRONLY as u64,
                libc::O_CREAT as u64,
                1 << 32,
            ] {
                v.push(base | extra);
            }
            v.push(!base);
        }
        v
    }

    /// Every number of `numbers` up to 1024, x32's, and other high numbers, with each
    /// interesting value in each position and random mixes of them.
    fn inputs(arch: u32, mut check: impl FnMut(&Data)) {
        let values = interesting();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let high = [
            X32,
            X32 + 2,
            X32 + 257,
            X32 + 512,
            u32::MAX,
            1 << 31,
            0xffff,
        ];
        for nr in (0..1024).chain(high) {
            check(&Data {
                nr,
                arch,
                args: [0; 6],
            });
            for pos in 0..6 {
                for &v in &values {
                    let mut args = [0; 6];
                    args[pos] = v;
                    check(&Data { nr, arch, args });
                }
            }
            for _ in 0..20 {
                let mut args = [0; 6];
                for a in args.iter_mut() {
                    *a = values[(next() % values.len() as u64) as usize];
                }
                check(&Data { nr, arch, args });
            }
        }
    }

    #[test]
    fn every_syscall_of_both_architectures_has_exactly_one_row() {
        for (arch, numbers) in [("x86_64", X86_64), ("aarch64", AARCH64)] {
            for (name, _) in numbers {
                let rows = TABLE.iter().filter(|r| r.name == *name).count();
                assert_eq!(rows, 1, "{arch}: {name} has {rows} rows");
            }
            let mut nrs: Vec<u32> = numbers.iter().map(|(_, n)| *n).collect();
            nrs.sort_unstable();
            nrs.dedup();
            assert_eq!(nrs.len(), numbers.len(), "{arch}: a number is listed twice");
        }
        for row in TABLE {
            assert!(
                X86_64.iter().chain(AARCH64).any(|(n, _)| *n == row.name),
                "the row {} names no system call",
                row.name
            );
        }
    }

    #[test]
    fn the_program_decides_as_the_table_says() {
        for (audit_arch, numbers) in [(0xc000_003e, X86_64), (0xc000_00b7, AARCH64)] {
            for opts in ALL {
                let prog = bpf::compile(
                    audit_arch,
                    &decisions(numbers, opts),
                    bpf::RET_ERRNO | UNKNOWN_ERRNO as u32,
                )
                .unwrap();
                assert!(prog.len() < 1000, "{} instructions", prog.len());
                eprintln!("{audit_arch:#x} {opts:?}: {} instructions", prog.len());
                let mut notified = 0;
                inputs(audit_arch, |d| {
                    let got = run(&prog, d);
                    notified += usize::from(got == bpf::RET_USER_NOTIF);
                    assert_eq!(
                        got,
                        expected(numbers, d.nr, &d.args, opts),
                        "{opts:?} {d:?}"
                    );
                });
                assert_eq!(notified > 0, opts.notify);
                // Another architecture's numbers (i386 on x86_64) kill the process.
                let foreign = Data {
                    nr: 1,
                    arch: 0x4000_0003,
                    args: [0; 6],
                };
                assert_eq!(run(&prog, &foreign), bpf::RET_KILL_PROCESS);
            }
        }
    }

    /// The completeness test against the kernel's own list: every number in the installed
    /// header has a row under its name, and every number above the highest, and x32's, is
    /// refused with ENOSYS by the compiled filter.
    #[test]
    fn the_kernel_header_is_covered_and_the_rest_refused() {
        const HEADER: &str = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
        let Ok(text) = std::fs::read_to_string(HEADER) else {
            eprintln!("SKIP: {HEADER} is missing (install linux-libc-dev)");
            return;
        };
        let mut seen = 0;
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some("#define"), Some(name), Some(nr)) =
                (words.next(), words.next(), words.next())
            else {
                continue;
            };
            let (Some(name), Ok(nr)) = (name.strip_prefix("__NR_"), nr.parse::<u32>()) else {
                continue;
            };
            seen += 1;
            assert!(
                X86_64.contains(&(name, nr)),
                "{name} = {nr} from {HEADER} is not in syscall_numbers::X86_64"
            );
            assert!(row_named(name).is_some(), "{name} has no row");
        }
        assert!(seen > 300, "only {seen} syscalls parsed from {HEADER}");
        let highest = X86_64.iter().map(|(_, n)| *n).max().unwrap();
        for opts in ALL {
            let prog = bpf::compile(
                0xc000_003e,
                &decisions(X86_64, opts),
                bpf::RET_ERRNO | UNKNOWN_ERRNO as u32,
            )
            .unwrap();
            let unnamed = (0..=highest).filter(|n| !X86_64.iter().any(|(_, m)| m == n));
            for nr in unnamed
                .chain(highest + 1..1024)
                .chain(X32..X32 + 1024)
                .chain([u32::MAX])
            {
                for args in [[0; 6], [u64::MAX; 6]] {
                    let d = Data {
                        nr,
                        arch: 0xc000_003e,
                        args,
                    };
                    assert_eq!(run(&prog, &d), ENOSYS_RET, "{nr:#x} {opts:?}");
                }
            }
        }
    }

    /// The programs `build.rs` embeds are the ones compiled at run time from the same table,
    /// for every option: a start that takes its program from the binary decides exactly as
    /// one that compiles it. Fails if build.rs compiled anything else (or nothing: this is a
    /// native build).
    #[test]
    fn built_programs_are_the_runtime_compile() {
        let fields = |p: &[Insn]| -> Vec<(u16, u8, u8, u32)> {
            p.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect()
        };
        let arch = arch().unwrap();
        for i in 0..Options::COUNT {
            let opts = Options::from_index(i);
            assert_eq!(opts.index(), i);
            let built = seccomp_program::decode(BUILT, opts)
                .unwrap_or_else(|| panic!("no built program for {opts:?}"));
            let compiled = seccomp_program::compile(arch, syscalls::numbers(), opts).unwrap();
            assert!(
                compiled.len() > 100,
                "{opts:?}: {} instructions",
                compiled.len()
            );
            for (what, got) in [("built", built), ("program()", program(opts).unwrap())] {
                let (got, want) = (fields(&got), fields(&compiled));
                let first = got.iter().zip(&want).position(|(a, b)| a != b);
                assert!(
                    got.len() == want.len() && first.is_none(),
                    "{opts:?}: the {what} program ({} instructions) differs from the compiled \
                     one ({}) at instruction {first:?}",
                    got.len(),
                    want.len()
                );
            }
        }
        // A blob cut short holds no program for what it cannot reach; an empty one none.
        let last = Options::from_index(Options::COUNT - 1);
        assert!(seccomp_program::decode(&BUILT[..BUILT.len() - 1], last).is_none());
        assert!(seccomp_program::decode(&[], Options::from_index(0)).is_none());
    }

    fn x86(name: &str, args: [u64; 6], opts: Options) -> u32 {
        let nr = X86_64.iter().find(|(n, _)| *n == name).unwrap().1;
        let prog = bpf::compile(
            0xc000_003e,
            &decisions(X86_64, opts),
            bpf::RET_ERRNO | UNKNOWN_ERRNO as u32,
        )
        .unwrap();
        run(
            &prog,
            &Data {
                nr,
                arch: 0xc000_003e,
                args,
            },
        )
    }

    #[test]
    fn argument_forms_are_classified() {
        let notify = ALL[1];
        let errno = |e: i32| bpf::RET_ERRNO | e as u32;
        let empty = libc::AT_EMPTY_PATH as u64;
        // The AT_EMPTY_PATH forms that change metadata are the broker's, whatever the path.
        assert_eq!(
            x86("fchmodat2", [3, 0x1000, 0o777, empty, 0, 0], notify),
            bpf::RET_USER_NOTIF
        );
        assert_eq!(
            x86("fchownat", [3, 0x1000, 0, 0, empty, 0], notify),
            bpf::RET_USER_NOTIF
        );
        assert_eq!(
            x86("fchmod", [3, 0o777, 0, 0, 0, 0], notify),
            bpf::RET_USER_NOTIF
        );
        assert_eq!(
            x86("utimensat", [3, 0, 0, 0, 0, 0], notify),
            bpf::RET_USER_NOTIF
        );
        // Without the transport they are refused.
        assert_eq!(
            x86("fchmod", [3, 0o777, 0, 0, 0, 0], ALL[0]),
            errno(libc::EACCES)
        );
        // PR_SET_DUMPABLE to 0 is answered 0 without running only for a broker that could
        // not serve a non-dumpable process; other values, and a privileged broker, run it.
        let dumpable = libc::PR_SET_DUMPABLE as u64;
        for opts in ALL {
            let off = x86("prctl", [dumpable, 0, 0, 0, 0, 0], opts);
            let want = if opts.keep_dumpable {
                bpf::RET_ERRNO
            } else {
                bpf::RET_ALLOW
            };
            assert_eq!(off, want, "{opts:?}");
            assert_eq!(
                x86("prctl", [dumpable, 1, 0, 0, 0, 0], opts),
                bpf::RET_ALLOW
            );
            assert_eq!(
                x86("prctl", [dumpable, 1 << 32, 0, 0, 0, 0], opts),
                bpf::RET_ALLOW
            );
        }
        // Terminal injection.
        for cmd in crate::confine::syscalls::TERMINAL_IOCTLS {
            assert_eq!(
                x86("ioctl", [0, cmd, 0, 0, 0, 0], notify),
                errno(libc::EPERM)
            );
            assert_eq!(
                x86("ioctl", [0, cmd | 1 << 32, 0, 0, 0, 0], notify),
                errno(libc::EPERM)
            );
        }
        assert_eq!(
            x86("ioctl", [0, 0x5401 /* TCGETS */, 0, 0, 0, 0], notify),
            bpf::RET_ALLOW
        );
        // Sockets.
        let sock = |d: i32, t: i32, p: u64| [d as u64, t as u64, p, 0, 0, 0];
        let cloexec = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
        assert_eq!(
            x86(
                "socket",
                sock(libc::AF_INET, libc::SOCK_STREAM | cloexec, 0),
                notify
            ),
            bpf::RET_ALLOW
        );
        assert_eq!(
            x86(
                "socket",
                sock(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0),
                notify
            ),
            bpf::RET_ALLOW
        );
        assert_eq!(
            x86("socket", sock(libc::AF_NETLINK, libc::SOCK_RAW, 0), notify),
            bpf::RET_ALLOW
        );
        assert_eq!(
            x86("socket", sock(libc::AF_NETLINK, libc::SOCK_RAW, 9), notify),
            errno(libc::EACCES)
        );
        assert_eq!(
            x86("socket", sock(libc::AF_INET, libc::SOCK_RAW, 1), notify),
            errno(libc::EACCES)
        );
        assert_eq!(
            x86(
                "socket",
                sock(libc::AF_INET, 10 /* SOCK_PACKET */, 0),
                notify
            ),
            errno(libc::EACCES)
        );
        assert_eq!(
            x86("socket", sock(libc::AF_PACKET, libc::SOCK_RAW, 0), notify),
            errno(libc::EAFNOSUPPORT)
        );
        // SCTP (its setsockopt connect/bind), MPTCP, ping and UDP-Lite sockets are refused;
        // inet SOCK_SEQPACKET is SCTP whatever the protocol.
        for opts in ALL {
            for family in [libc::AF_INET, libc::AF_INET6] {
                for (ty, protocol, allowed) in [
                    (libc::SOCK_STREAM, 0, true),
                    (libc::SOCK_STREAM, libc::IPPROTO_TCP, true),
                    (libc::SOCK_DGRAM, 0, true),
                    (libc::SOCK_DGRAM, libc::IPPROTO_UDP, true),
                    (libc::SOCK_STREAM, libc::IPPROTO_SCTP, false),
                    (libc::SOCK_SEQPACKET, libc::IPPROTO_SCTP, false),
                    (libc::SOCK_SEQPACKET, 0, false),
                    (libc::SOCK_STREAM, libc::IPPROTO_MPTCP, false),
                    (libc::SOCK_DGRAM, libc::IPPROTO_ICMP, false),
                    (libc::SOCK_DGRAM, libc::IPPROTO_UDPLITE, false),
                ] {
                    let want = if allowed {
                        bpf::RET_ALLOW
                    } else {
                        errno(libc::EACCES)
                    };
                    let args = sock(family, ty | cloexec, protocol as u64);
                    assert_eq!(x86("socket", args, opts), want, "{args:?} {opts:?}");
                }
            }
        }
        // Network sends: with the notify filter every sendmsg/sendmmsg, a sendto with a
        // destination or MSG_FASTOPEN and every listen go to the broker; a plain sendto (the
        // shim's channel, the listener handoff) and read stay native.
        let without = ALL[0];
        let fastopen = libc::MSG_FASTOPEN as u32 as u64;
        for opts in &ALL[1..] {
            let opts = *opts;
            for (name, args) in [
                ("sendmsg", [3, 0x1000, 0, 0, 0, 0]),
                ("sendmsg", [3, 0x1000, fastopen, 0, 0, 0]),
                ("sendmmsg", [3, 0x1000, 2, 0, 0, 0]),
                ("sendmmsg", [3, 0x1000, 2, fastopen, 0, 0]),
                ("sendto", [3, 0x1000, 1, 0, 0x2000, 16]),
                ("sendto", [3, 0x1000, 1, fastopen, 0, 0]),
                ("listen", [3, 1, 0, 0, 0, 0]),
            ] {
                assert_eq!(
                    x86(name, args, opts),
                    bpf::RET_USER_NOTIF,
                    "{name} {args:?}"
                );
            }
            assert_eq!(x86("sendto", [3, 0x1000, 1, 0, 0, 0], opts), bpf::RET_ALLOW);
            assert_eq!(x86("read", [3, 0x1000, 1, 0, 0, 0], opts), bpf::RET_ALLOW);
        }
        // Without it: a TCP Fast Open send is a connect, refused like one; a plain sendmsg
        // stays native (the shim's channel); listen is refused (the shim forwards it).
        for (name, args, want) in [
            (
                "sendmsg",
                [3, 0x1000, fastopen, 0, 0, 0],
                errno(libc::EACCES),
            ),
            (
                "sendmmsg",
                [3, 0x1000, 2, fastopen, 0, 0],
                errno(libc::EACCES),
            ),
            (
                "sendto",
                [3, 0x1000, 1, fastopen, 0, 0],
                errno(libc::EACCES),
            ),
            ("sendto", [3, 0x1000, 1, 0, 0x2000, 16], errno(libc::EACCES)),
            ("listen", [3, 1, 0, 0, 0, 0], errno(libc::EACCES)),
            ("sendmsg", [3, 0x1000, 0, 0, 0, 0], bpf::RET_ALLOW),
            ("sendmmsg", [3, 0x1000, 2, 0, 0, 0], bpf::RET_ALLOW),
            ("sendto", [3, 0x1000, 1, 0, 0, 0], bpf::RET_ALLOW),
        ] {
            assert_eq!(x86(name, args, without), want, "{name} {args:?}");
        }
        // Namespaces, clone3, foreign pids.
        let newuser = libc::CLONE_NEWUSER as u64;
        assert_eq!(
            x86("unshare", [newuser, 0, 0, 0, 0, 0], notify),
            errno(libc::EPERM)
        );
        assert_eq!(
            x86("clone", [newuser | 17, 0, 0, 0, 0, 0], notify),
            errno(libc::EPERM)
        );
        assert_eq!(x86("clone", [17, 0, 0, 0, 0, 0], notify), bpf::RET_ALLOW);
        assert_eq!(x86("clone3", [0; 6], notify), errno(libc::ENOSYS));
        assert_eq!(
            x86("prlimit64", [0, 7, 0x1000, 0, 0, 0], notify),
            bpf::RET_ALLOW
        );
        assert_eq!(
            x86("prlimit64", [1, 7, 0x1000, 0, 0, 0], notify),
            errno(libc::EPERM)
        );
        assert_eq!(
            x86("prlimit64", [1, 7, 0, 0x1000, 0, 0], notify),
            bpf::RET_ALLOW
        );
        assert_eq!(
            x86("setpriority", [0, 1, 10, 0, 0, 0], notify),
            errno(libc::EPERM)
        );
        assert_eq!(
            x86("setpriority", [0, 0, 10, 0, 0, 0], notify),
            bpf::RET_ALLOW
        );
        // memfd and exec.
        assert_eq!(
            x86("memfd_create", [0x1000, 0x10, 0, 0, 0, 0], notify),
            errno(libc::EACCES)
        );
        assert_eq!(
            x86("memfd_create", [0x1000, 1, 0, 0, 0, 0], notify),
            bpf::RET_USER_NOTIF
        );
        assert_eq!(
            x86("memfd_create", [0x1000, 9, 0, 0, 0, 0], notify),
            bpf::RET_ALLOW
        );
        assert_eq!(
            x86("execveat", [3, 0x1000, 0, 0, empty, 0], notify),
            errno(libc::EACCES)
        );
        // The host.
        for name in ["io_uring_setup", "setxattrat", "statmount"] {
            assert_eq!(x86(name, [0; 6], notify), errno(libc::ENOSYS), "{name}");
        }
        for name in [
            "sethostname",
            "keyctl",
            "perf_event_open",
            "userfaultfd",
            "setns",
        ] {
            assert_eq!(x86(name, [0; 6], notify), errno(libc::EPERM), "{name}");
        }
    }

    #[test]
    fn only_a_marked_read_only_openat_stays_native() {
        let mark = arbiter_protocol::NATIVE_OPEN_MARK;
        let openat = |flags: i32, opts| {
            x86(
                "openat",
                [
                    libc::AT_FDCWD as u64,
                    0x1000,
                    u64::from(flags as u32),
                    0,
                    0,
                    0,
                ],
                opts,
            )
        };
        let reads = ALL[2];
        assert_eq!(openat(mark, reads), bpf::RET_ALLOW);
        assert_eq!(
            openat(mark | libc::O_CLOEXEC | libc::O_DIRECTORY, reads),
            bpf::RET_ALLOW
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
            assert_eq!(openat(bad, reads), bpf::RET_USER_NOTIF, "{bad:#x}");
        }
        // Without native reads, even a marked read is the broker's.
        assert_eq!(openat(mark, ALL[1]), bpf::RET_USER_NOTIF);
        // Without the transport, Landlock decides every open.
        assert_eq!(openat(0, ALL[0]), bpf::RET_ALLOW);
    }

    #[test]
    fn the_dispatch_serves_what_the_filter_sends() {
        // syscalls::brokered (the dispatch's key) agrees with the program on every input.
        let prog = NotifyFilter::compile(true, true).unwrap().program;
        let arch = bpf::audit_arch().unwrap();
        inputs(arch, |d| {
            let notified = run(&prog, d) == bpf::RET_USER_NOTIF;
            let served = syscalls::brokered(i64::from(d.nr), &d.args).is_some();
            let marked_native = run(&prog, d) == bpf::RET_ALLOW && served;
            assert!(notified == served || marked_native, "{d:?}");
        });
    }
}
