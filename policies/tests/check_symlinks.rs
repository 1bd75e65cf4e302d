//! `check` reports every diagnostic, and warns about rule paths through symlinks.

mod common;

use arbiter_policies::{check, ErrorKind, Severity, Source, Vars};
use common::*;
use std::os::unix::fs::symlink;

#[test]
fn check_returns_every_error() {
    let d = check(
        &[text(
            "[[fs]]\npath = \"/a\"\nallow = \"wirte\"\n[[fs]]\npath = \"/b\"\nallow = \"reed\"\n",
        )],
        &vars(),
    );
    assert_eq!(d.len(), 2);
    assert!(d.iter().all(|d| d.severity == Severity::Error));
}

#[test]
fn a_valid_policy_has_no_diagnostics() {
    assert!(check(&[Source::Builtin("default".into())], &vars()).is_empty());
}

#[test]
fn a_rule_on_a_symlink_is_warned_about_with_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("f"), "").unwrap();
    symlink(&real, dir.path().join("link")).unwrap();
    let v = Vars {
        pwd: dir.path().into(),
        ..vars()
    };
    let text_ = "[[fs]]\npath = \"$PWD/link\"\nallow = \"ro\"\n[[fs]]\npath = \"$PWD/link/f\"\nallow = \"rw\"\n[[fs]]\npath = \"$PWD/real\"\nallow = \"ro\"\n[[bind]]\nunix = \"$PWD/link/s.sock\"\n";
    let d = check(&[text(text_)], &v);
    assert_eq!(d.len(), 3, "{d:#?}");
    assert!(d
        .iter()
        .all(|d| d.severity == Severity::Warning && d.kind == ErrorKind::SymlinkPath));
    let real = std::fs::canonicalize(&real).unwrap();
    assert_eq!(d[0].at.line, 1);
    assert!(
        d[0].message.contains("is a symlink to")
            && d[0].message.contains(&real.display().to_string()),
        "{}",
        d[0]
    );
    assert!(
        d[0].hint
            .as_deref()
            .unwrap()
            .contains("which the rule at test.toml:7:1 decides now"),
        "{}",
        d[0]
    );
    assert_eq!(d[1].at.line, 4);
    assert!(d[1].message.contains("runs through a symlink"), "{}", d[1]);
    assert!(d[1]
        .hint
        .as_deref()
        .unwrap()
        .contains("which the rule at test.toml:7:1 decides now"));
    assert_eq!(d[2].at.line, 10);
    assert!(
        d[2].message
            .contains(&real.join("s.sock").display().to_string()),
        "{}",
        d[2]
    );
    // Warnings do not stop loading.
    assert!(arbiter_policies::Policy::load(&[text(text_)], &v).is_ok());
}

#[test]
fn a_symlink_to_an_uncovered_path_says_so() {
    let dir = tempfile::tempdir().unwrap();
    symlink("/nonexistent-target-dir", dir.path().join("dangling")).unwrap();
    std::fs::create_dir(dir.path().join("t")).unwrap();
    symlink(dir.path().join("t"), dir.path().join("l")).unwrap();
    let v = Vars {
        pwd: dir.path().into(),
        ..vars()
    };
    let d = check(&[text("[[fs]]\npath = \"$PWD/l\"\nallow = \"ro\"\n[[fs]]\npath = \"$PWD/dangling\"\ndeny = true\n")], &v);
    assert_eq!(d.len(), 2);
    assert!(
        d[1].message
            .contains("is a symlink to `/nonexistent-target-dir`"),
        "{}",
        d[1]
    );
    assert!(
        d[0].hint
            .as_deref()
            .unwrap()
            .contains("which no rule covers now"),
        "{}",
        d[0]
    );
    assert!(
        d[0].to_string().starts_with("test.toml:1:1: warning: `"),
        "{}",
        d[0]
    );
}

#[test]
fn builtin_rules_are_not_checked_for_symlinks() {
    // /lib is a symlink on merged-/usr systems; the runtime profile documents why it is there.
    assert!(check(&[Source::Builtin("runtime".into())], &vars()).is_empty());
}
