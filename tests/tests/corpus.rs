//! The compatibility corpus: everyday programs give the same output under `arbiter run` as
//! natively.
//!
//! `tests/corpus/cases.toml` is the one table of cases (its header describes the fields).
//! Each case is a shell snippet (or a command line) run in a fresh scratch directory twice,
//! natively and under `arbiter run` with the grants the case records, and the two runs'
//! stdout and exit status (and stderr where the case says it is deterministic) must agree.
//! Lines arbiter itself writes to stderr (`arbiter: …`, its denial reports) are not the
//! program's output: they are left out of the comparison and shown when a case fails.
//!
//! Two passes, run in parallel by the test harness: as the invoking user (root in CI), and
//! as uid 65534 (`setpriv --reuid=65534 --regid=65534 --clear-groups` for the native and
//! the arbiter run alike, the scratch directories, `TMPDIR` and a fresh `HOME` owned by that
//! user, `USER`/`LOGNAME` `nobody`); the second pass is skipped, with a line saying so, when
//! the tests do not run as root. Report lines of that pass say `as uid 65534`.
//!
//! Outcomes: `ok`; `FAIL`; `SKIP: case NAME: TOOL not installed` (and, as uid 65534,
//! `SKIP: case NAME as uid 65534: TOOL is not reachable by that user …` for a tool only the
//! invoker's `PATH` reaches, under `/root`); `XFAIL` for a case marked
//! `known_failure` that fails (a bug being fixed); `XPASS` for such a case that passes (the
//! mark must go, so that counts as a failure). The test fails if any case fails or
//! unexpectedly passes, and prints a summary line either way.
//!
//! Environment:
//! - `ARBITER_CORPUS_ONLY=NAME,NAME…` runs only the cases whose name contains one of these.
//! - `ARBITER_CORPUS_TIMES=FILE` writes native and arbiter wall time per case to FILE as a
//!   Markdown table (docs/performance.md holds one); `ARBITER_CORPUS_TIMES_NOBODY=FILE` the
//!   same for the uid-65534 pass. Nothing is asserted about the times.
//! - `ARBITER_CORPUS_REPEAT=N` (default 1): after the compared pair of runs, which is then a
//!   warm-up, N more pairs (native, arbiter, alternated) are timed, and the table gives the
//!   medians and the ratio of the medians. With 1 the compared pair is the timed one, so the
//!   normal test run costs no more. With N > 1 the two passes take turns case by case, so
//!   neither times the other.

mod corpus_harness;

use corpus_harness::{Case, Outcome, User};

#[test]
fn everyday_programs_behave_as_natively() {
    corpus(User::Invoker);
}

/// The same corpus as uid 65534 (both runs, in scratch directories that user owns), run by
/// the test harness in parallel with the pass above. A case whose tools that user cannot
/// reach (installed under `/root`) prints `SKIP: case NAME as uid 65534: REASON` and counts
/// as skipped.
#[test]
fn everyday_programs_behave_as_natively_as_uid_65534() {
    if !arbiter_tests::is_root() {
        println!("SKIP: corpus as uid 65534: needs root to switch to that user");
        return;
    }
    corpus(User::Nobody);
}

fn corpus(user: User) {
    let cases = Case::load_all().unwrap_or_else(|e| panic!("tests/corpus/cases.toml: {e}"));
    assert!(
        cases.len() >= 70,
        "the corpus holds {} cases, fewer than 70",
        cases.len()
    );
    let only: Option<Vec<String>> = std::env::var("ARBITER_CORPUS_ONLY")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let times_file = std::env::var_os(match user {
        User::Invoker => "ARBITER_CORPUS_TIMES",
        User::Nobody => "ARBITER_CORPUS_TIMES_NOBODY",
    });
    let repeat = match std::env::var("ARBITER_CORPUS_REPEAT") {
        Err(_) => 1,
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| panic!("ARBITER_CORPUS_REPEAT={v}: not a positive number")),
    };
    let server = corpus_harness::HttpServer::start();
    let who = user.label();

    let mut tally = corpus_harness::Tally::default();
    let mut times = Vec::new();
    for case in &cases {
        if let Some(only) = &only {
            if !only.iter().any(|o| case.name.contains(o.as_str())) {
                continue;
            }
        }
        let result = case.run(server.port(), user, repeat);
        let name = &case.name;
        match &result.outcome {
            Outcome::Skipped(why) => println!("SKIP: case {name}{who}: {why}"),
            Outcome::Passed => println!("ok: case {name}{who}"),
            Outcome::Failed(why) => println!("FAIL: case {name}{who}\n{why}"),
            Outcome::ExpectedFailure(reason) => {
                println!("XFAIL: case {name}{who} ({reason})")
            }
            Outcome::UnexpectedPass(reason) => {
                println!("XPASS: case {name}{who} passes: remove its known_failure ({reason})")
            }
        }
        if let Some(t) = result.times {
            times.push((case.name.clone(), t));
        }
        tally.count(&result.outcome);
    }
    println!("corpus{who}: {tally}");
    if let Some(file) = times_file {
        std::fs::write(&file, corpus_harness::times_table(&times))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.to_string_lossy()));
    }
    assert!(
        tally.failed == 0 && tally.unexpected_pass == 0,
        "corpus{who}: {tally}"
    );
}

/// The times table reads the medians of alternated runs, not one sample: an outlier on
/// either side (a run that waited for a CPU) moves neither the figures nor the ratio.
#[test]
fn times_table_gives_medians_and_the_ratio_of_medians() {
    use std::time::Duration;
    let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect();
    let times = corpus_harness::Times {
        native: ms(&[10, 11, 90, 9, 10]),
        arbiter: ms(&[25, 1, 20, 21, 22]),
    };
    assert_eq!(
        times.medians(),
        (Duration::from_millis(10), Duration::from_millis(21))
    );
    let table = corpus_harness::times_table(&[("case-a".into(), times)]);
    let row = table.lines().nth(2).expect("one row after the header");
    assert_eq!(
        row,
        "| case-a | 5 | 0.0100 | 0.0210 | 2.10× | 0.0090 | 0.0010 |"
    );
    let slow = corpus_harness::Times {
        native: ms(&[10]),
        arbiter: ms(&[31]),
    };
    let table = corpus_harness::times_table(&[("case-b".into(), slow)]);
    assert!(table.contains("| 3.10× **> 3×** |"), "{table}");
}
