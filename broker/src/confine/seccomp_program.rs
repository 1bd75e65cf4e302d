//! The seccomp program as a pure function of the syscall table ([`super::syscalls`]) and
//! four options, compiled by [`super::bpf`].
//!
//! This module and the three it uses (`bpf`, `syscalls`, `syscall_numbers`) make no system
//! call and name nothing else of the crate, so `build.rs` compiles them too: it runs
//! [`compile`] for every [`Options`] at build time and embeds the programs in the binary
//! ([`encode`]); a start takes its program from there instead of compiling it
//! (`seccomp::program`). The test `built_programs_are_the_runtime_compile` holds the two
//! equal for every option, and cargo runs `build.rs` again whenever one of these files
//! changes.

use super::bpf::{self, Decision, Decisions, Insn};
use super::syscalls::{self, Action, Kind};

/// How the table's actions become seccomp actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The notify filter is installed: brokered calls go to the broker.
    pub notify: bool,
    /// The shim's marked read-only opens stay native ([`Action::MarkedRead`]).
    pub native_reads: bool,
    /// `prctl(PR_SET_DUMPABLE, 0)` is answered 0 without running ([`Action::KeepDumpable`]):
    /// the broker could not serve a non-dumpable process.
    pub keep_dumpable: bool,
    /// Marked `unlinkat`s stay native ([`Action::MarkedRemove`]).
    pub native_removes: bool,
}

impl Options {
    /// How many different options there are ([`Options::index`] is below it).
    pub const COUNT: usize = 16;

    /// A number from 0 to [`Options::COUNT`] − 1, different for each options.
    pub fn index(self) -> usize {
        usize::from(self.notify)
            | usize::from(self.native_reads) << 1
            | usize::from(self.keep_dumpable) << 2
            | usize::from(self.native_removes) << 3
    }

    /// The options whose [`Options::index`] is `i` (only the low four bits count).
    pub fn from_index(i: usize) -> Options {
        Options {
            notify: i & 1 != 0,
            native_reads: i & 2 != 0,
            keep_dumpable: i & 4 != 0,
            native_removes: i & 8 != 0,
        }
    }
}

/// The seccomp action for `action`.
pub fn seccomp_action(action: Action, opts: Options) -> u32 {
    match action {
        Action::Native => bpf::RET_ALLOW,
        Action::Refuse(errno) => bpf::RET_ERRNO | errno as u32,
        Action::Broker(_) if opts.notify => bpf::RET_USER_NOTIF,
        Action::Broker(kind) => match kind.without_transport() {
            // without_transport never answers Broker, MarkedRead or MarkedRemove.
            Action::Refuse(errno) => bpf::RET_ERRNO | errno as u32,
            _ => bpf::RET_ALLOW,
        },
        Action::MarkedRead if opts.native_reads && opts.notify => bpf::RET_ALLOW,
        Action::MarkedRead => seccomp_action(Action::Broker(Kind::Openat), opts),
        // SECCOMP_RET_ERRNO with 0: the call is not run and returns 0.
        Action::KeepDumpable if opts.keep_dumpable && opts.notify => bpf::RET_ERRNO,
        Action::KeepDumpable => bpf::RET_ALLOW,
        Action::MarkedRemove if opts.native_removes && opts.notify => bpf::RET_ALLOW,
        Action::MarkedRemove => seccomp_action(Action::Broker(Kind::Unlinkat), opts),
    }
}

/// The decision of `row`: its arms in order (trailing arms that decide as `otherwise` does
/// are dropped, so an unconditional row is one `ret` the kernel's cache recognises).
pub fn decision(row: &syscalls::Row, opts: Options) -> Decision {
    let otherwise = seccomp_action(row.otherwise, opts);
    let mut arms: Vec<_> = row
        .arms
        .iter()
        .map(|arm| (arm.when.to_vec(), seccomp_action(arm.then, opts)))
        .collect();
    while arms.last().is_some_and(|(_, a)| *a == otherwise) {
        arms.pop();
    }
    Decision { arms, otherwise }
}

/// Every number of `numbers` with a row, and its decision.
pub fn decisions(numbers: &[(&str, u32)], opts: Options) -> Decisions {
    numbers
        .iter()
        .filter_map(|&(name, nr)| Some((nr, decision(syscalls::row_named(name)?, opts))))
        .collect()
}

/// The program for the architecture `arch` (its `AUDIT_ARCH_*` value) whose numbers are
/// `numbers`: what no row names is refused with [`syscalls::UNKNOWN_ERRNO`].
pub fn compile(arch: u32, numbers: &[(&str, u32)], opts: Options) -> Result<Vec<Insn>, bpf::Error> {
    let unknown = bpf::RET_ERRNO | syscalls::UNKNOWN_ERRNO as u32;
    bpf::compile(arch, &decisions(numbers, opts), unknown)
}

/// Bytes per instruction in [`encode`]'s format.
const INSN_BYTES: usize = 8;

/// One program per [`Options::index`], in order, as bytes: each a little-endian `u16`
/// count of instructions, then each instruction as `code` (`u16` LE), `jt`, `jf`, `k`
/// (`u32` LE). [`decode`] reads it back.
pub fn encode(programs: &[Vec<Insn>]) -> Vec<u8> {
    let mut out = Vec::new();
    for program in programs {
        out.extend_from_slice(&(program.len() as u16).to_le_bytes());
        for insn in program {
            out.extend_from_slice(&insn.code.to_le_bytes());
            out.push(insn.jt);
            out.push(insn.jf);
            out.extend_from_slice(&insn.k.to_le_bytes());
        }
    }
    out
}

/// The program of `opts` from bytes [`encode`] wrote; `None` when they hold no program for
/// it (empty: a cross-compiled build, see `build.rs`) or are cut short.
pub fn decode(bytes: &[u8], opts: Options) -> Option<Vec<Insn>> {
    let mut rest = bytes;
    for i in 0..=opts.index() {
        let (count, tail) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_le_bytes(*count)) * INSN_BYTES;
        let body = tail.get(..len)?;
        rest = &tail[len..];
        if i == opts.index() {
            return Some(
                body.chunks_exact(INSN_BYTES)
                    .map(|c| Insn {
                        code: u16::from_le_bytes([c[0], c[1]]),
                        jt: c[2],
                        jf: c[3],
                        k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                    })
                    .collect(),
            );
        }
    }
    None
}
