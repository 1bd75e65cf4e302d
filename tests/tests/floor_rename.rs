//! Renames do what was decided and nothing else (red-team findings 10, 11 and 12 of the
//! start-up round, against `core::fs::rename`). Each with `tests/helpers/rename_undo.c` or
//! `tests/helpers/rename_calls.c`, built dynamic (libc through the shim; also its raw
//! system calls, the seccomp transport) and static (raw system calls), as the invoker and,
//! when that is root, as uid 65534, with a native control that succeeds:
//! * a rename's undo never moves an object nobody decided about (11, critical): a thread
//!   shuffling a drop box's secret onto the destination of the main thread's rename out of
//!   the working directory got the secret moved into the working directory by the undo;
//! * flags nobody classified are refused (`RENAME_WHITEOUT` made a 0:0 device at the source
//!   name; 10), and `RENAME_NOREPLACE | RENAME_EXCHANGE` and unknown bits are `EINVAL` as
//!   natively;
//! * a rename onto an existing name removes what was there, so it needs `remove` on it
//!   (12: a directory granting only `rename` lost a file it refuses to unlink).
//!
//! Every one of them failed on the build before the fix (`cand`, d34f336).

mod floor_common;

use std::path::{Path, PathBuf};
use std::process::Output;

use floor_common::{arbiter, command, users, Scratch, Who};

/// The text of the drop box's secret.
const SECRET: &str = "TOP SECRET: the drop box's, which the program may not read\n";

/// The race's iterations: the undo moved the secret within a few hundred before the fix.
const ITERATIONS: &str = "2000";

fn run(who: Who, cwd: &Path, argv: &[&str]) -> Output {
    command(who, argv).current_dir(cwd).output().unwrap()
}

/// `arbiter run -q --policy default --policy POLICY -- argv`, as `who` in `cwd`.
fn confined(who: Who, cwd: &Path, policy: &Path, argv: &[&str]) -> Output {
    let arb = arbiter();
    let mut full = vec![
        arb.to_str().unwrap(),
        "run",
        "-q",
        "--policy",
        "default",
        "--policy",
        policy.to_str().unwrap(),
        "--",
    ];
    full.extend_from_slice(argv);
    run(who, cwd, &full)
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The modes a helper build is run in: its libc calls and its raw system calls when it is
/// dynamic (the shim, the seccomp transport), raw only when static.
fn modes(helper: &Path) -> &'static [&'static str] {
    if helper.to_string_lossy().ends_with("-static") {
        &["raw"]
    } else {
        &["libc", "raw"]
    }
}

/// A fresh tree `NAME/{box,work}` (both world-writable) and a policy granting `box`
/// `allow`; returns (base, policy).
fn tree(s: &Scratch, name: &str, allow: &str) -> (PathBuf, PathBuf) {
    let base = s.work(name);
    for d in ["box", "work"] {
        let p = base.join(d);
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    }
    let policy = base.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\n[[fs]]\npath = \"{}\"\nallow = \"{allow}\"\n",
            base.join("box").display()
        ),
    )
    .unwrap();
    (base, policy)
}

#[test]
fn a_rename_undo_never_moves_an_object_nobody_decided_about() {
    let s = Scratch::new("rename_undo", &["-pthread"]);
    let mut n = 0;
    for who in users() {
        for h in &s.helpers {
            for mode in modes(h) {
                n += 1;
                // A drop box the program may fill and tidy but never read (with `remove`,
                // so the shuffling thread's renames over the program's file are allowed).
                let (base, policy) = tree(&s, &format!("undo{n}"), "create,write,rename,remove");
                let (boxed, work) = (base.join("box"), base.join("work"));
                let secret = boxed.join("secret");
                std::fs::write(&secret, SECRET).unwrap();
                let secret_s = secret.to_str().unwrap();
                let who_s = format!("{who:?} {} {mode}", h.display());
                // Control: the user can read the secret natively; the policy refuses it.
                let native = run(who, &work, &["cat", secret_s]);
                assert_eq!(text(&native), SECRET, "{who_s}: native control");
                let denied = confined(who, &work, &policy, &["cat", secret_s]);
                assert!(
                    !denied.status.success() && !text(&denied).contains("SECRET"),
                    "{who_s}: the policy must refuse reading the box: {denied:?}"
                );
                let out = confined(
                    who,
                    &work,
                    &policy,
                    &[
                        h.to_str().unwrap(),
                        mode,
                        boxed.to_str().unwrap(),
                        ITERATIONS,
                    ],
                );
                let got = text(&out);
                assert!(out.status.success(), "{who_s}: {out:?}");
                assert!(
                    !got.contains("WIN"),
                    "{who_s}: the undo moved the secret out of the box: {got}"
                );
                // The race ran: the shuffling thread moved the secret, the main thread's
                // renames were answered.
                let counts: Vec<&str> = got
                    .lines()
                    .last()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                assert_eq!(counts.first(), Some(&"done"), "{who_s}: {got}");
                let count = |k: &str| -> u64 {
                    let i = counts.iter().position(|c| *c == k).unwrap();
                    counts[i + 1].parse().unwrap()
                };
                assert!(count("moves") > 0, "{who_s}: the box never moved: {got}");
                assert!(
                    count("ok") + count("eexist") > 0,
                    "{who_s}: no rename answered: {got}"
                );
                assert_eq!(count("other"), 0, "{who_s}: {got}");
                // The secret is still in the box, and not in the working directory.
                let kept = [secret.clone(), boxed.join("x")]
                    .iter()
                    .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t == SECRET))
                    .count();
                assert_eq!(kept, 1, "{who_s}: the secret left the box");
                let a = std::fs::read_to_string(work.join("a")).unwrap_or_default();
                assert!(!a.contains("SECRET"), "{who_s}: $PWD/a holds {a:?}");
            }
        }
    }
}

/// Runs `rename_calls MODE OP FROM TO` natively (fresh `fixture` first) and under arbiter
/// with `policy` (fresh again) in `cwd`; returns both answers (`ok` or `errno N`).
fn both(
    who: Who,
    helper: &Path,
    mode: &str,
    cwd: &Path,
    policy: &Path,
    op: [&str; 3],
    fixture: &dyn Fn(),
) -> (String, String) {
    let mut argv = vec![helper.to_str().unwrap(), mode];
    argv.extend_from_slice(&op);
    let answer = |o: Output| {
        let t = text(&o);
        let prefix = format!("{} {} {}: ", op[0], op[1], op[2]);
        match t.lines().last().and_then(|l| l.strip_prefix(&prefix)) {
            Some(a) => a.to_owned(),
            None => panic!("{argv:?}: unexpected output {o:?}"),
        }
    };
    fixture();
    let native = answer(run(who, cwd, &argv));
    fixture();
    let confined = answer(confined(who, cwd, policy, &argv));
    (native, confined)
}

#[test]
fn rename_flags_nobody_classified_are_refused() {
    let s = Scratch::new("rename_calls", &[]);
    let mut n = 0;
    for who in users() {
        for h in &s.helpers {
            for mode in modes(h) {
                n += 1;
                let (base, policy) = tree(&s, &format!("flags{n}"), "stat");
                let work = base.join("work");
                let fixture = || {
                    for f in ["a", "b", "c"] {
                        let _ = std::fs::remove_file(work.join(f));
                    }
                    std::fs::write(work.join("a"), "a\n").unwrap();
                    std::fs::write(work.join("b"), "b\n").unwrap();
                };
                let who_s = format!("{who:?} {} {mode}", h.display());
                // (operation, native answer, answer under arbiter)
                for (op, native, answer) in [
                    // RENAME_WHITEOUT: natively a 0:0 device is left at `a`.
                    ("wo", "ok", "errno 22"),
                    ("nrx", "errno 22", "errno 22"),
                    ("f8", "errno 22", "errno 22"),
                    // The classified flags still work.
                    ("nr", "ok", "ok"),
                    ("xchg", "ok", "ok"),
                    ("mv", "ok", "ok"),
                ] {
                    let to = if op == "xchg" { "b" } else { "c" };
                    let got = both(who, h, mode, &work, &policy, [op, "a", to], &fixture);
                    assert_eq!(got, (native.into(), answer.into()), "{who_s} {op}");
                    if answer != "ok" {
                        let a = std::fs::symlink_metadata(work.join("a")).unwrap();
                        assert!(a.is_file(), "{who_s} {op}: `a` is now {a:?}");
                        assert!(!work.join("c").exists(), "{who_s} {op}: `c` appeared");
                    }
                }
            }
        }
    }
}

#[test]
fn a_rename_onto_an_existing_name_needs_remove_there() {
    let s = Scratch::new("rename_calls", &[]);
    let mut n = 0;
    for who in users() {
        for h in &s.helpers {
            for mode in modes(h) {
                for (allow, replaced) in [("rename", "errno 13"), ("rename,remove", "ok")] {
                    n += 1;
                    let (base, policy) = tree(&s, &format!("over{n}"), allow);
                    let (boxed, work) = (base.join("box"), base.join("work"));
                    let fixture = || {
                        let _ = std::fs::remove_dir_all(&boxed);
                        for d in ["", "d1", "d2"] {
                            std::fs::create_dir(boxed.join(d)).unwrap();
                            std::fs::set_permissions(
                                boxed.join(d),
                                std::os::unix::fs::PermissionsExt::from_mode(0o777),
                            )
                            .unwrap();
                        }
                        std::fs::write(boxed.join("victim"), "victim\n").unwrap();
                        std::fs::write(boxed.join("junk"), "junk\n").unwrap();
                    };
                    let p = |f: &str| boxed.join(f).to_str().unwrap().to_owned();
                    let who_s = format!("{who:?} {} {mode} {allow}", h.display());
                    let removes = if allow == "rename" { "errno 13" } else { "ok" };
                    for (op, from, to, answer) in [
                        ("rm", p("victim"), "-".to_owned(), removes),
                        // Replacing a file and an empty directory removes them.
                        ("mv", p("junk"), p("victim"), replaced),
                        ("mv", p("d1"), p("d2"), replaced),
                        // Nothing is removed: allowed with `rename` alone.
                        ("mv", p("junk"), p("new"), "ok"),
                        ("nr", p("junk"), p("victim"), "errno 17"),
                        ("xchg", p("junk"), p("victim"), "ok"),
                    ] {
                        let got = both(who, h, mode, &work, &policy, [op, &from, &to], &fixture);
                        let native = if op == "nr" { "errno 17" } else { "ok" };
                        assert_eq!(
                            got,
                            (native.into(), answer.into()),
                            "{who_s} {op} {from} {to}"
                        );
                        if answer != "ok" {
                            assert_eq!(
                                std::fs::read_to_string(boxed.join("victim")).unwrap(),
                                "victim\n",
                                "{who_s} {op} {from} {to}"
                            );
                            assert!(boxed.join("d2").is_dir(), "{who_s} {op} {from} {to}");
                        }
                    }
                }
            }
        }
    }
}
