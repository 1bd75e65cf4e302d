//! `root`, `uniform` and the kernel floor.

mod common;

use arbiter_policies::{Access, FloorEntry, Policy, Source};
use common::*;
use std::path::{Path, PathBuf};

fn root_of(p: &Policy, path: &str, access: Access) -> (Option<PathBuf>, bool) {
    let d = p.decide_path(Path::new(path), access);
    (d.root.map(|r| p.roots()[r].clone()), d.uniform)
}

#[test]
fn roots_start_with_slash_and_are_deduplicated() {
    let p = policy("[[fs]]\npath = \"/a\"\nallow = \"ro\"\n[[fs]]\npath = \"/a/*.x\"\ndeny = true\n[[fs]]\npath = \"/b\"\nallow = \"ro\"\n");
    assert_eq!(p.roots(), &[PathBuf::from("/"), "/a".into(), "/b".into()]);
    for info in p.rules() {
        assert!(info.root.is_some());
    }
}

#[test]
fn a_rule_with_nothing_beneath_is_uniform() {
    let p =
        policy("[[fs]]\npath = \"/usr\"\nallow = \"rx\"\n[[fs]]\npath = \"/\"\nallow = \"stat\"\n");
    assert_eq!(
        root_of(&p, "/usr/lib/x.so", Access::READ),
        (Some("/usr".into()), true)
    );
    assert_eq!(
        root_of(&p, "/usr", Access::READ),
        (Some("/usr".into()), true)
    );
    // `/` has /usr beneath it.
    assert_eq!(root_of(&p, "/var", Access::STAT), (Some("/".into()), false));
}

#[test]
fn a_rule_beneath_makes_the_root_not_uniform() {
    let p = policy("[[fs]]\npath = \"/etc\"\nallow = \"ro\"\n[[fs]]\npath = \"/etc/ssl/private\"\ndeny = true\n");
    assert_eq!(
        root_of(&p, "/etc/hosts", Access::READ),
        (Some("/etc".into()), false)
    );
    assert_eq!(
        root_of(&p, "/etc/ssl/private/k", Access::READ),
        (Some("/etc/ssl/private".into()), true)
    );
}

#[test]
fn a_pattern_anchored_at_or_beneath_makes_the_root_not_uniform() {
    let at =
        policy("[[fs]]\npath = \"/w\"\nallow = \"rw\"\n[[fs]]\npath = \"/w/*.key\"\ndeny = true\n");
    assert_eq!(
        root_of(&at, "/w/a", Access::READ),
        (Some("/w".into()), false)
    );
    let beneath = policy(
        "[[fs]]\npath = \"/w\"\nallow = \"rw\"\n[[fs]]\npath = \"/w/x/**/y\"\ndeny = true\n",
    );
    assert_eq!(
        root_of(&beneath, "/w/a", Access::READ),
        (Some("/w".into()), false)
    );
}

#[test]
fn a_less_specific_pattern_above_does_not_break_uniformity() {
    // A shallower pattern such as `/home/**/*.pem` covers paths beneath /home/u/proj but
    // never wins there, so it does not make /home/u/proj non-uniform.
    let p = policy("[[fs]]\npath = \"/home/u/proj\"\nallow = \"rw\"\n[[fs]]\npath = \"/home/**/*.pem\"\ndeny = true\n");
    assert_eq!(
        root_of(&p, "/home/u/proj/a", Access::READ),
        (Some("/home/u/proj".into()), true)
    );
    assert!(
        allowed(&p, "/home/u/proj/k.pem", Access::READ),
        "the deeper rule decides"
    );
    assert!(!allowed(&p, "/home/u/k.pem", Access::READ));
}

#[test]
fn a_pattern_root_is_its_literal_prefix() {
    let p = policy("[[fs]]\npath = \"/data/*/in\"\nallow = \"ro\"\n");
    assert_eq!(
        root_of(&p, "/data/x/in/f", Access::READ),
        (Some("/data".into()), false)
    );
}

#[test]
fn a_pattern_covering_everything_beneath_is_uniform_when_alone() {
    let p = policy("[[fs]]\npath = \"/data/**\"\nallow = \"ro\"\n");
    assert_eq!(
        root_of(&p, "/data/x/y", Access::READ),
        (Some("/data".into()), true)
    );
    let p = policy("[[fs]]\npath = \"/data/*\"\nallow = \"ro\"\n[[fs]]\npath = \"/data/*.tmp\"\nallow = \"rw\"\n");
    assert_eq!(
        root_of(&p, "/data/x/y", Access::READ),
        (Some("/data".into()), false)
    );
}

#[test]
fn floor_lists_uniform_literal_read_exec_rules_only() {
    let p = policy(
        r#"[[fs]]
path = "/usr"
allow = "rx"
[[fs]]
path = "/etc"
allow = "ro"
[[fs]]
path = "/etc/shadow"
deny = true
[[fs]]
path = "/opt/*"
allow = "ro"
[[fs]]
path = "/home/u/proj"
allow = "rw"
[[fs]]
path = "/var/log"
allow = "stat,list"
[[fs]]
path = "/srv/watched"
allow = "ro"
audit = "log"
[[fs]]
path = "/dev/null"
allow = "read,write"
"#,
    );
    assert_eq!(
        p.kernel_floor(),
        vec![
            FloorEntry {
                path: "/dev/null".into(),
                access: Access::READ
            },
            FloorEntry {
                path: "/home/u/proj".into(),
                access: Access::READ | Access::LIST
            },
            FloorEntry {
                path: "/usr".into(),
                access: Access::READ | Access::LIST | Access::EXEC
            },
        ]
    );
}

#[test]
fn floor_of_the_default_profile_keeps_the_loader_working() {
    let p = Policy::load(&[Source::Builtin("default".into())], &vars()).unwrap();
    let floor = p.kernel_floor();
    let has = |path: &str| {
        floor
            .iter()
            .any(|e| e.path == Path::new(path) && e.access.contains(Access::READ))
    };
    for needed in [
        "/usr",
        "/etc/ld.so.cache",
        "/etc/passwd",
        "/dev/null",
        "/proc/self",
    ] {
        assert!(has(needed), "{needed} missing from {floor:#?}");
    }
    // /etc has denied secrets beneath it: the kernel must not grant it whole.
    assert!(!floor.iter().any(|e| e.path == Path::new("/etc")));
    for e in &floor {
        assert!((Access::READ | Access::LIST | Access::EXEC).contains(e.access));
        // Every floor entry really is uniform and allowed.
        let d = p.decide_path(&e.path, Access::READ);
        assert!(d.uniform && d.decision.allow, "{}", e.path.display());
    }
}

/// Regression (found by the property test): an allow pattern anchored above a root grants
/// the implicit `stat` on directories beneath that root, so the root is not uniform.
#[test]
fn implicit_stat_from_a_pattern_above_breaks_uniformity() {
    let p =
        policy("[[fs]]\npath = \"/a\"\ndeny = true\n[[fs]]\npath = \"/*/b/a\"\nallow = \"ro\"\n");
    assert!(allowed(&p, "/a/b", Access::STAT), "could lead to /a/b/a");
    assert_eq!(
        root_of(&p, "/a/x", Access::STAT),
        (Some("/a".into()), false)
    );
    // A pattern that cannot reach beneath the root leaves it uniform.
    let p = policy("[[fs]]\npath = \"/a\"\ndeny = true\n[[fs]]\npath = \"/*/b\"\nallow = \"ro\"\n");
    assert_eq!(root_of(&p, "/a/x", Access::STAT), (Some("/a".into()), true));
}

#[test]
fn uniform_grants_lists_the_subtrees_a_right_is_granted_throughout() {
    let p = policy(concat!(
        "[[fs]]\npath = \"/usr\"\nallow = \"rx\"\n",
        "[[fs]]\npath = \"/w\"\nallow = \"rw\"\n",
        "[[fs]]\npath = \"/w/secret\"\ndeny = true\n",
        "[[fs]]\npath = \"/w/secret/inner\"\nallow = \"ro\"\n",
        "[[fs]]\npath = \"/logged\"\nallow = \"ro\"\naudit = \"log\"\n",
        "[[fs]]\npath = \"/x\"\nallow = \"read\"\n",
        "[[fs]]\npath = \"/p\"\nallow = \"ro\"\n[[fs]]\npath = \"/p/**/*.key\"\ndeny = true\n",
    ));
    // /w has rules beneath it, /w/secret denies, /logged is watched, /x lacks stat, and
    // /p has a pattern anchored in it: only the uniform, stat-granting, unwatched roots.
    assert_eq!(
        p.uniform_grants(Access::STAT),
        vec![PathBuf::from("/usr"), PathBuf::from("/w/secret/inner")]
    );
    assert_eq!(p.uniform_grants(Access::EXEC), vec![PathBuf::from("/usr")]);
    // Each listed root really decides its whole subtree with an allow.
    for root in p.uniform_grants(Access::STAT) {
        let d = p.decide_path(&root.join("a/b"), Access::STAT);
        assert!(d.decision.allow && d.uniform, "{}", root.display());
    }
}
