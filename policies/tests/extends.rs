//! Sources, `extends`, merging order, cycles and unreadable includes.

mod common;

use arbiter_policies::{Access, ErrorKind, Policy, Source, Vars};
use common::*;
use std::fs;
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, text).unwrap();
    p
}

fn load(sources: &[Source]) -> Policy {
    Policy::load(sources, &vars()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_builtin_can_be_extended() {
    let p = policy("extends = [\"runtime\"]\n[[fs]]\npath = \"/srv\"\nallow = \"ro\"\n");
    assert!(allowed(
        &p,
        "/usr/lib/libc.so.6",
        Access::READ | Access::EXEC
    ));
    assert!(allowed(&p, "/srv/x", Access::READ));
    let p = policy("extends = \"builtin:runtime\"\n");
    assert!(allowed(&p, "/etc/ld.so.cache", Access::READ));
}

#[test]
fn a_later_source_replaces_rules_on_the_same_target() {
    let p = load(&[
        Source::Builtin("default".into()),
        text("[[fs]]\npath = \"~/.ssh\"\nallow = \"ro\"\n"),
    ]);
    assert!(allowed(&p, "/home/u/.ssh/known_hosts", Access::READ));
    assert!(!allowed(&p, "/home/u/.ssh/known_hosts", Access::WRITE));
    assert_eq!(line(&p, "/home/u/.ssh/x", Access::READ), 1);
    // The profile's other rules stay.
    assert!(!allowed(&p, "/home/u/.gnupg/x", Access::READ));
}

#[test]
fn a_file_replaces_rules_of_what_it_extends() {
    let p = policy("extends = [\"default\"]\n[[fs]]\npath = \"/etc\"\nallow = \"rw\"\n");
    assert!(allowed(&p, "/etc/hosts", Access::WRITE));
    assert!(
        !allowed(&p, "/etc/shadow", Access::READ),
        "deeper rules of the profile stay"
    );
}

#[test]
fn later_defaults_override_earlier_ones() {
    let p = load(&[
        text("[defaults]\nconnect = \"allow\"\nerrno = \"EPERM\"\n"),
        Source::Text {
            origin: "second".into(),
            text: "[defaults]\nconnect = \"deny\"\n".into(),
        },
    ]);
    let d = p.decide_connect(&tcp("192.0.2.1:1"), &[]);
    assert_eq!((d.allow, d.errno), (false, libc::EPERM));
}

#[test]
fn files_extend_files_relative_to_themselves() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "base.toml",
        "[[fs]]\npath = \"/base\"\nallow = \"ro\"\n",
    );
    let child = write(
        dir.path(),
        "sub/child.toml",
        "extends = [\"../base.toml\", \"runtime\"]\n[[fs]]\npath = \"/child\"\nallow = \"ro\"\n",
    );
    let p = load(&[Source::File(child.clone())]);
    assert!(allowed(&p, "/base/x", Access::READ));
    assert!(allowed(&p, "/child/x", Access::READ));
    assert!(allowed(&p, "/usr/x", Access::READ));
    let base_rule = p.rule(
        p.decide_path(Path::new("/base"), Access::READ)
            .decision
            .rule
            .unwrap(),
    );
    assert!(
        base_rule.origin.origin.ends_with("base.toml"),
        "{}",
        base_rule.origin
    );
    assert_eq!(base_rule.origin.line, 1);
}

#[test]
fn variables_expand_in_extends_paths() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inc.toml",
        "[[fs]]\npath = \"/inc\"\nallow = \"ro\"\n",
    );
    let v = Vars {
        pwd: dir.path().into(),
        ..vars()
    };
    let p = Policy::load(&[text("extends = [\"$PWD/inc.toml\"]\n")], &v).unwrap();
    assert!(allowed(&p, "/inc", Access::READ));
    // A text source's relative includes are relative to $PWD.
    let p = Policy::load(&[text("extends = [\"./inc.toml\"]\n")], &v).unwrap();
    assert!(allowed(&p, "/inc", Access::READ));
}

#[test]
fn each_source_is_applied_once_where_it_first_appears() {
    // b narrows runtime's /usr; a extends b and then runtime again. Were runtime re-applied,
    // it would undo b's narrowing.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "b.toml",
        "extends = [\"runtime\"]\n[[fs]]\npath = \"/usr\"\nallow = \"ro\"\n",
    );
    let a = write(
        dir.path(),
        "a.toml",
        "extends = [\"./b.toml\", \"runtime\"]\n",
    );
    let p = load(&[Source::File(a)]);
    assert!(allowed(&p, "/usr/bin/x", Access::READ));
    assert!(!allowed(&p, "/usr/bin/x", Access::EXEC));
}

#[test]
fn a_cycle_is_an_error_at_the_entry_that_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.toml", "extends = [\"./b.toml\"]\n");
    write(
        dir.path(),
        "b.toml",
        "# b\nextends = [\"runtime\", \"./a.toml\"]\n",
    );
    let e = Policy::load(&[Source::File(a)], &vars()).unwrap_err();
    let d = &e.diagnostics()[0];
    assert_eq!(d.kind, ErrorKind::Cycle);
    assert!(d.at.origin.ends_with("b.toml"));
    assert_eq!((d.at.line, d.at.column), (2, 23));
    assert!(
        d.message.contains("a.toml → ") && d.message.contains("b.toml → "),
        "{}",
        d.message
    );
}

#[test]
fn a_file_including_itself_is_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.toml", "extends = [\"a.toml\"]\n");
    let e = Policy::load(&[Source::File(a)], &vars()).unwrap_err();
    assert_eq!(e.diagnostics()[0].kind, ErrorKind::Cycle);
}

#[test]
fn an_unreadable_include_is_an_error_at_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.toml",
        "version = 1\nextends = [\n  \"./nope.toml\",\n]\n",
    );
    let e = Policy::load(&[Source::File(a)], &vars()).unwrap_err();
    let d = &e.diagnostics()[0];
    assert_eq!(
        (d.kind, d.at.line, d.at.column),
        (ErrorKind::Unreadable, 3, 3)
    );
    assert!(d.message.contains("nope.toml"));
    // A directory is unreadable too.
    fs::create_dir(dir.path().join("d.toml")).unwrap();
    let b = write(dir.path(), "b.toml", "extends = [\"./d.toml\"]\n");
    let e = Policy::load(&[Source::File(b)], &vars()).unwrap_err();
    assert_eq!(e.diagnostics()[0].kind, ErrorKind::Unreadable);
    // A device is never read (it could be endless, or block).
    let c = write(dir.path(), "c.toml", "extends = [\"/dev/zero\"]\n");
    let e = Policy::load(&[Source::File(c)], &vars()).unwrap_err();
    let d = &e.diagnostics()[0];
    assert_eq!(d.kind, ErrorKind::Unreadable);
    assert!(d.message.contains("not a regular file"), "{d}");
}

#[test]
fn errors_in_an_included_file_name_that_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bad.toml",
        "\n[[fs]]\npath = \"/x\"\nallow = \"rwz\"\n",
    );
    let a = write(dir.path(), "a.toml", "extends = [\"./bad.toml\"]\n");
    let e = Policy::load(&[Source::File(a)], &vars()).unwrap_err();
    let d = &e.diagnostics()[0];
    assert!(d.at.origin.ends_with("bad.toml"));
    assert_eq!(
        (d.kind, d.at.line, d.at.column),
        (ErrorKind::UnknownAccess, 4, 10)
    );
}

#[test]
fn the_digest_is_stable_and_follows_content() {
    let a = policy("[[fs]]\npath = \"/a\"\nallow = \"ro\"\n");
    let a2 = policy("# moved\n\n[[fs]]\npath = \"/a\"\nallow = \"read,list,stat\"\n");
    let b = policy("[[fs]]\npath = \"/a\"\nallow = \"rw\"\n");
    assert_eq!(
        a.digest(),
        a2.digest(),
        "where a rule is written does not count"
    );
    assert_ne!(a.digest(), b.digest());
    assert!(a.digest().starts_with("fnv1a64:") && a.digest().len() == 24);
    // Stable across runs and builds: a fixed value.
    assert_eq!(
        policy("").digest(),
        Policy::load(&[], &vars()).unwrap().digest()
    );
    assert_eq!(policy("").digest(), "fnv1a64:bcdd581121861184");
}
