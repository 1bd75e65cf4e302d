//! A small seccomp BPF compiler: a decision per syscall number → one classic BPF program,
//! short so the kernel installs it quickly.
//!
//! Installing a filter costs time with its length and with how far it runs for a syscall:
//! the kernel converts it to eBPF, JIT-compiles it in several passes, and emulates it once
//! per syscall number to find the syscalls it always allows (`seccomp_cache_prepare`, with
//! interrupts off). Here the numbers are split into runs of consecutive numbers with the
//! same decision, covering all 2³² values, and a run is found by binary search (`jge`): a
//! number no decision names lands in a run of the default and needs no comparison of its
//! own, and a run of unconditional decisions ends in one `ret`.
//!
//! Semantics: the architecture must match or the process is killed; for a number, the
//! first arm one of whose conditions all hold gives the arm's action, else the decision's
//! `otherwise`; a number without a decision gets the default. `Dword` compares the low 32
//! bits of the argument, `Qword` all 64; `MaskedEq` masks both sides. `Decision::decide`
//! is the same semantics in Rust, which the tests compare the program with.

use std::collections::BTreeMap;

/// `SECCOMP_RET_KILL_PROCESS`: the action on a foreign architecture.
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_ERRNO`, to be or-ed with the errno.
pub const RET_ERRNO: u32 = 0x0005_0000;
/// `SECCOMP_RET_USER_NOTIF`.
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;

const LD_W_ABS: u16 = 0x20;
const ALU_AND_K: u16 = 0x54;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;

/// `offsetof(struct seccomp_data, nr)`.
const NR: u32 = 0;
/// `offsetof(struct seccomp_data, arch)`.
const ARCH: u32 = 4;
/// `offsetof(struct seccomp_data, args)`.
const ARGS: u32 = 16;

/// The `AUDIT_ARCH_*` value of the running architecture, as seccomp reports it.
pub fn audit_arch() -> Option<u32> {
    match std::env::consts::ARCH {
        "x86_64" => Some(0xc000_003e),
        "aarch64" => Some(0xc000_00b7),
        "riscv64" => Some(0xc000_00f3),
        _ => None,
    }
}

/// How much of an argument a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// The low 32 bits.
    Dword,
    /// All 64 bits.
    Qword,
}

/// A comparison of an argument with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Equal after and-ing both sides with the mask.
    MaskedEq(u64),
}

/// One condition on one argument of a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    /// The argument, 0 to 5.
    pub arg: u8,
    /// How much of it is compared.
    pub width: Width,
    /// The comparison.
    pub op: Op,
    /// The value compared with.
    pub value: u64,
}

impl Cond {
    /// A 64-bit comparison of argument `arg`.
    pub const fn qword(arg: u8, op: Op, value: u64) -> Cond {
        Cond {
            arg,
            width: Width::Qword,
            op,
            value,
        }
    }

    /// A comparison of the low 32 bits of argument `arg`.
    pub const fn dword(arg: u8, op: Op, value: u64) -> Cond {
        Cond {
            arg,
            width: Width::Dword,
            op,
            value,
        }
    }
}

impl Cond {
    /// Whether the condition holds for the syscall arguments `args` (what the program
    /// computes, in Rust).
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        let Some(&arg) = args.get(usize::from(self.arg)) else {
            return false;
        };
        let (a, v) = match self.width {
            Width::Dword => (arg & 0xffff_ffff, self.value & 0xffff_ffff),
            Width::Qword => (arg, self.value),
        };
        match self.op {
            Op::Eq => a == v,
            Op::Ne => a != v,
            Op::MaskedEq(m) => a & m == v & m,
        }
    }
}

/// The conditions that must all hold (none: the rule always matches).
pub type Rule = Vec<Cond>;

/// What one syscall number does: the action of the first arm whose conditions all hold,
/// else `otherwise`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Conditions and the action they give, tested in order.
    pub arms: Vec<(Rule, u32)>,
    /// The action when no arm matches.
    pub otherwise: u32,
}

impl Decision {
    /// A decision without arms.
    pub fn always(action: u32) -> Decision {
        Decision {
            arms: Vec::new(),
            otherwise: action,
        }
    }

    /// The action for arguments `args`.
    #[cfg(test)]
    pub fn decide(&self, args: &[u64; 6]) -> u32 {
        self.arms
            .iter()
            .find(|(rule, _)| rule.iter().all(|c| c.holds(args)))
            .map_or(self.otherwise, |(_, action)| *action)
    }
}

/// Syscall number → its decision.
pub type Decisions = BTreeMap<u32, Decision>;

/// A BPF instruction, as `struct sock_filter`.
pub type Insn = libc::sock_filter;

fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// Why a program could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A condition names an argument beyond the sixth.
    #[error("seccomp: argument {0} does not exist")]
    Argument(u8),
    /// A jump inside one syscall's rules would exceed what classic BPF can encode.
    #[error("seccomp: the rules of syscall {0} are too long")]
    TooLong(u32),
    /// More instructions than the kernel accepts.
    #[error("seccomp: the filter has {0} instructions, more than the kernel's 4096")]
    Program(usize),
}

/// Compiles `decisions` into one program for the architecture `arch`; numbers without a
/// decision get `default`, a foreign architecture `SECCOMP_RET_KILL_PROCESS`.
pub fn compile(arch: u32, decisions: &Decisions, default: u32) -> Result<Vec<Insn>, Error> {
    // Runs of consecutive numbers with the same decision, from 0 to u32::MAX.
    let fallback = Decision::always(default);
    let mut runs: Vec<(u32, &Decision)> = Vec::new();
    fn push<'a>(start: u32, d: &'a Decision, runs: &mut Vec<(u32, &'a Decision)>) {
        if runs.last().map(|(_, last)| *last) != Some(d) {
            runs.push((start, d));
        }
    }
    let mut next: u64 = 0;
    for (&nr, d) in decisions {
        if u64::from(nr) > next {
            push(next as u32, &fallback, &mut runs);
        }
        push(nr, d, &mut runs);
        next = u64::from(nr) + 1;
    }
    if next <= u64::from(u32::MAX) {
        push(next as u32, &fallback, &mut runs);
    }
    let mut blocks = Vec::with_capacity(runs.len());
    for (start, d) in runs {
        blocks.push((start, decision_code(start, d)?));
    }
    let mut prog = vec![
        stmt(LD_W_ABS, ARCH),
        jump(JMP_JEQ_K, arch, 1, 0),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_W_ABS, NR),
    ];
    prog.extend(search(&blocks));
    if prog.len() > 4096 {
        return Err(Error::Program(prog.len()));
    }
    Ok(prog)
}

/// Code that finds the run the accumulator's number lies in among `blocks` (sorted by
/// their first number, the first run starting at or below it) and runs its block.
fn search(blocks: &[(u32, Vec<Insn>)]) -> Vec<Insn> {
    if let [(_, only)] = blocks {
        return only.clone();
    }
    let mid = blocks.len() / 2;
    let below = search(&blocks[..mid]);
    let above = search(&blocks[mid..]);
    let split = blocks[mid].0;
    let mut out = Vec::with_capacity(below.len() + above.len() + 2);
    match u8::try_from(below.len()) {
        Ok(skip) => out.push(jump(JMP_JGE_K, split, skip, 0)),
        Err(_) => {
            // nr >= split: the next instruction jumps over the lower half.
            out.push(jump(JMP_JGE_K, split, 0, 1));
            out.push(stmt(JMP_JA, below.len() as u32));
        }
    }
    out.extend(below);
    out.extend(above);
    out
}

/// The code of one decision: each arm in turn, then `ret otherwise`. Every path through it
/// ends in a `ret`, and it is at most 255 instructions long. `nr` names it in errors.
fn decision_code(nr: u32, d: &Decision) -> Result<Vec<Insn>, Error> {
    let mut out = Vec::new();
    for (rule, action) in &d.arms {
        if rule.is_empty() {
            // Always matches: the later arms are never reached.
            out.push(stmt(RET_K, *action));
            return check_len(nr, out);
        }
        out.extend(rule_code(nr, rule, *action)?);
    }
    out.push(stmt(RET_K, d.otherwise));
    check_len(nr, out)
}

fn check_len(nr: u32, block: Vec<Insn>) -> Result<Vec<Insn>, Error> {
    if block.len() > usize::from(u8::MAX) {
        return Err(Error::TooLong(nr));
    }
    Ok(block)
}

/// One rule: each condition jumps past the rule when it fails; if none fails, `action`.
fn rule_code(nr: u32, rule: &Rule, action: u32) -> Result<Vec<Insn>, Error> {
    // Built backwards, so each jump's distance to the end of the rule is known.
    let mut rev: Vec<Insn> = vec![stmt(RET_K, action)];
    for cond in rule.iter().rev() {
        if cond.arg > 5 {
            return Err(Error::Argument(cond.arg));
        }
        let lo = ARGS + u32::from(cond.arg) * 8;
        let hi = lo + 4;
        let (mask, value) = match cond.op {
            Op::MaskedEq(mask) => (Some(mask), cond.value & mask),
            Op::Eq | Op::Ne => (None, cond.value),
        };
        // Distance from just after an instruction to the end of the rule (the next rule).
        let to_end = |rev: &Vec<Insn>| u8::try_from(rev.len()).map_err(|_| Error::TooLong(nr));
        // The low half, pushed in reverse order.
        let lo_code = |rev: &mut Vec<Insn>| -> Result<(), Error> {
            let fail = to_end(rev)?;
            rev.push(match cond.op {
                Op::Ne => jump(JMP_JEQ_K, value as u32, fail, 0),
                _ => jump(JMP_JEQ_K, value as u32, 0, fail),
            });
            if let Some(m) = mask {
                rev.push(stmt(ALU_AND_K, m as u32));
            }
            rev.push(stmt(LD_W_ABS, lo));
            Ok(())
        };
        let lo_len = 2 + usize::from(mask.is_some());
        lo_code(&mut rev)?;
        if cond.width == Width::Qword {
            let hi_value = (value >> 32) as u32;
            rev.push(match cond.op {
                // The high halves differ: the values differ, the condition holds.
                Op::Ne => jump(JMP_JEQ_K, hi_value, 0, lo_len as u8),
                _ => jump(JMP_JEQ_K, hi_value, 0, to_end(&rev)?),
            });
            if let Some(m) = mask {
                rev.push(stmt(ALU_AND_K, (m >> 32) as u32));
            }
            rev.push(stmt(LD_W_ABS, hi));
        }
    }
    rev.reverse();
    Ok(rev)
}

#[cfg(test)]
pub(crate) mod interp {
    //! A classic BPF interpreter for the instructions seccomp filters use, to compare
    //! programs by what they decide rather than by how they are written.

    use super::*;

    /// `struct seccomp_data`, as the kernel passes it.
    #[derive(Debug, Clone, Copy)]
    pub struct Data {
        pub nr: u32,
        pub arch: u32,
        pub args: [u64; 6],
    }

    impl Data {
        fn word(&self, off: u32) -> u32 {
            match off {
                NR => self.nr,
                ARCH => self.arch,
                8 | 12 => 0, // instruction_pointer: never read by these filters
                o if (ARGS..ARGS + 48).contains(&o) && (o - ARGS) & 3 == 0 => {
                    // Little-endian: the low half first.
                    let word = (o - ARGS) / 4;
                    let a = self.args[(word / 2) as usize];
                    if word & 1 == 0 {
                        a as u32
                    } else {
                        (a >> 32) as u32
                    }
                }
                o => panic!("load from offset {o}"),
            }
        }
    }

    /// What `prog` returns for `data`.
    pub fn run(prog: &[Insn], data: &Data) -> u32 {
        let mut acc: u32 = 0;
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => acc = data.word(i.k),
                ALU_AND_K => acc &= i.k,
                JMP_JA => pc += i.k as usize,
                JMP_JEQ_K => pc += usize::from(if acc == i.k { i.jt } else { i.jf }),
                JMP_JGE_K => pc += usize::from(if acc >= i.k { i.jt } else { i.jf }),
                0x25 => pc += usize::from(if acc > i.k { i.jt } else { i.jf }),
                0x45 => pc += usize::from(if acc & i.k != 0 { i.jt } else { i.jf }),
                RET_K => return i.k,
                c => panic!("opcode {c:#x} at {}", pc - 1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::interp::{run, Data};
    use super::*;

    const ARCH_X: u32 = 0xc000_003e;

    fn data(nr: u32, args: [u64; 6]) -> Data {
        Data {
            nr,
            arch: ARCH_X,
            args,
        }
    }

    fn decisions(list: &[(u32, Decision)]) -> Decisions {
        list.iter().cloned().collect()
    }

    #[test]
    fn foreign_architectures_are_killed() {
        let d = decisions(&[(1, Decision::always(RET_ALLOW))]);
        let prog = compile(ARCH_X, &d, RET_ERRNO | 38).unwrap();
        let mut x = data(1, [0; 6]);
        x.arch = 0x4000_0003;
        assert_eq!(run(&prog, &x), RET_KILL_PROCESS);
        x.arch = ARCH_X;
        assert_eq!(run(&prog, &x), RET_ALLOW);
    }

    #[test]
    fn numbers_without_a_decision_get_the_default() {
        let d = decisions(&[
            (0, Decision::always(RET_ALLOW)),
            (5, Decision::always(RET_USER_NOTIF)),
            (6, Decision::always(RET_ALLOW)),
        ]);
        let prog = compile(ARCH_X, &d, RET_ERRNO | 38).unwrap();
        for (nr, want) in [
            (0, RET_ALLOW),
            (1, RET_ERRNO | 38),
            (4, RET_ERRNO | 38),
            (5, RET_USER_NOTIF),
            (6, RET_ALLOW),
            (7, RET_ERRNO | 38),
            (0x4000_0000, RET_ERRNO | 38),
            (u32::MAX, RET_ERRNO | 38),
        ] {
            assert_eq!(run(&prog, &data(nr, [0; 6])), want, "{nr}");
        }
    }

    #[test]
    fn the_first_matching_arm_decides() {
        let d = decisions(&[(
            7,
            Decision {
                arms: vec![
                    (vec![Cond::qword(0, Op::Eq, 1)], RET_ERRNO | 1),
                    (vec![Cond::dword(0, Op::MaskedEq(1), 1)], RET_USER_NOTIF),
                ],
                otherwise: RET_ALLOW,
            },
        )]);
        let prog = compile(ARCH_X, &d, RET_ERRNO | 38).unwrap();
        assert_eq!(run(&prog, &data(7, [1, 0, 0, 0, 0, 0])), RET_ERRNO | 1);
        assert_eq!(run(&prog, &data(7, [3, 0, 0, 0, 0, 0])), RET_USER_NOTIF);
        assert_eq!(
            run(&prog, &data(7, [1 << 32 | 1, 0, 0, 0, 0, 0])),
            RET_USER_NOTIF
        );
        assert_eq!(run(&prog, &data(7, [2, 0, 0, 0, 0, 0])), RET_ALLOW);
    }

    #[test]
    fn many_decisions_are_found_across_long_jumps() {
        // Long blocks make the lower half of the search exceed a conditional jump's reach.
        let long = Decision {
            arms: (0..10)
                .map(|v| (vec![Cond::qword(1, Op::Eq, v)], RET_ERRNO | 13))
                .collect(),
            otherwise: RET_ALLOW,
        };
        let d: Decisions = (0..60).map(|nr| (nr * 3, long.clone())).collect();
        let prog = compile(ARCH_X, &d, RET_ERRNO | 38).unwrap();
        assert!(prog.iter().any(|i| i.code == JMP_JA));
        for nr in 0..300u32 {
            for v in [0u64, 5, 9, 10, 1 << 32] {
                let want = match d.get(&nr) {
                    Some(x) => x.decide(&[0, v, 0, 0, 0, 0]),
                    None => RET_ERRNO | 38,
                };
                assert_eq!(run(&prog, &data(nr, [0, v, 0, 0, 0, 0])), want, "{nr} {v}");
            }
        }
    }

    #[test]
    fn bad_decisions_are_refused() {
        let bad = Decision {
            arms: vec![(vec![Cond::qword(6, Op::Eq, 1)], RET_ALLOW)],
            otherwise: RET_ALLOW,
        };
        assert_eq!(
            compile(ARCH_X, &decisions(&[(1, bad)]), RET_ALLOW),
            Err(Error::Argument(6))
        );
        let huge = Decision {
            arms: (0..100)
                .map(|v| (vec![Cond::qword(1, Op::Eq, v)], RET_ALLOW))
                .collect(),
            otherwise: RET_ALLOW,
        };
        assert_eq!(
            compile(ARCH_X, &decisions(&[(1, huge)]), RET_ALLOW),
            Err(Error::TooLong(1))
        );
    }
}
