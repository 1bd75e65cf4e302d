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
//! Outcomes: `ok`; `FAIL`; `SKIP: case NAME: TOOL not installed`; `XFAIL` for a case marked
//! `known_failure` that fails (a bug being fixed); `XPASS` for such a case that passes (the
//! mark must go, so that counts as a failure). The test fails if any case fails or
//! unexpectedly passes, and prints a summary line either way.
//!
//! Environment:
//! - `ARBITER_CORPUS_ONLY=NAME,NAME…` runs only the cases whose name contains one of these.
//! - `ARBITER_CORPUS_TIMES=FILE` writes native and arbiter wall time per case to FILE as a
//!   Markdown table (docs/performance.md holds one). Nothing is asserted about the times.

mod corpus_harness;

use corpus_harness::{Case, Outcome};

#[test]
fn everyday_programs_behave_as_natively() {
    let cases = Case::load_all().unwrap_or_else(|e| panic!("tests/corpus/cases.toml: {e}"));
    assert!(
        cases.len() >= 70,
        "the corpus holds {} cases, fewer than 70",
        cases.len()
    );
    let only: Option<Vec<String>> = std::env::var("ARBITER_CORPUS_ONLY")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let times_file = std::env::var_os("ARBITER_CORPUS_TIMES");
    let server = corpus_harness::HttpServer::start();

    let mut tally = corpus_harness::Tally::default();
    let mut times = Vec::new();
    for case in &cases {
        if let Some(only) = &only {
            if !only.iter().any(|o| case.name.contains(o.as_str())) {
                continue;
            }
        }
        let result = case.run(server.port());
        match &result.outcome {
            Outcome::Skipped(tool) => println!("SKIP: case {}: {tool} not installed", case.name),
            Outcome::Passed => println!("ok: case {}", case.name),
            Outcome::Failed(why) => println!("FAIL: case {}\n{why}", case.name),
            Outcome::ExpectedFailure(reason) => {
                println!("XFAIL: case {} ({reason})", case.name)
            }
            Outcome::UnexpectedPass(reason) => println!(
                "XPASS: case {} passes: remove its known_failure ({reason})",
                case.name
            ),
        }
        if let Some(t) = result.times {
            times.push((case.name.clone(), t));
        }
        tally.count(&result.outcome);
    }
    println!("corpus: {tally}");
    if let Some(file) = times_file {
        std::fs::write(&file, corpus_harness::times_table(&times))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.to_string_lossy()));
    }
    assert!(
        tally.failed == 0 && tally.unexpected_pass == 0,
        "corpus: {tally}"
    );
}
