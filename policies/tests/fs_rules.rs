//! Path rules: every kind in an allow/deny pair, precedence, boundaries, the implicit stat.

mod common;

use arbiter_policies::{Access, AuditSetting, DecidedBy, Policy};
use common::*;
use std::path::Path;

#[test]
fn literal_directory_rule_allows_its_subtree_and_nothing_else() {
    let p = policy("[[fs]]\npath = \"/srv/data\"\nallow = \"ro\"\n");
    assert!(allowed(&p, "/srv/data", Access::LIST));
    assert!(allowed(&p, "/srv/data/a/b.txt", Access::READ));
    assert!(!allowed(&p, "/srv/data/a/b.txt", Access::WRITE));
    assert!(!allowed(&p, "/srv/other", Access::READ));
    assert!(!allowed(&p, "/srv", Access::READ));
}

#[test]
fn literal_deny_rule_denies_its_subtree() {
    let p = policy(
        "[[fs]]\npath = \"/srv\"\nallow = \"rw\"\n[[fs]]\npath = \"/srv/private\"\ndeny = true\n",
    );
    assert!(allowed(&p, "/srv/public/x", Access::WRITE));
    assert!(!allowed(&p, "/srv/private", Access::STAT));
    assert!(!allowed(&p, "/srv/private/x", Access::READ));
    assert_eq!(line(&p, "/srv/private/x", Access::READ), 4);
}

#[test]
fn literal_file_rule_pair() {
    let p = policy("[[fs]]\npath = \"/etc/hosts\"\nallow = \"read\"\n[[fs]]\npath = \"/etc/shadow\"\ndeny = true\n");
    assert!(allowed(&p, "/etc/hosts", Access::READ));
    assert!(
        !allowed(&p, "/etc/hosts", Access::STAT),
        "only the rights named"
    );
    assert!(!allowed(&p, "/etc/shadow", Access::READ));
    assert!(!allowed(&p, "/etc/hostsx", Access::READ));
}

#[test]
fn glob_rule_pair() {
    let p = policy(
        "[[fs]]\npath = \"/data/*.csv\"\nallow = \"ro\"\n[[fs]]\npath = \"/data/secret*\"\ndeny = true\n",
    );
    assert!(allowed(&p, "/data/a.csv", Access::READ));
    assert!(!allowed(&p, "/data/a.txt", Access::READ));
    assert!(
        !allowed(&p, "/data/sub/a.csv", Access::READ),
        "* stays in one component"
    );
    assert!(
        !allowed(&p, "/data/secret.csv", Access::READ),
        "equally specific: deny wins"
    );
    assert!(!allowed(&p, "/data/secrets/x", Access::READ));
}

#[test]
fn double_star_rule_pair() {
    let p = policy(
        "[[fs]]\npath = \"/src\"\nallow = \"rw\"\n[[fs]]\npath = \"/src/**/.git\"\nallow = \"ro\"\n[[fs]]\npath = \"/src/**/*.pem\"\ndeny = true\n",
    );
    assert!(allowed(&p, "/src/a/b/c.rs", Access::WRITE));
    assert!(allowed(&p, "/src/.git/config", Access::READ));
    assert!(!allowed(&p, "/src/a/b/.git/config", Access::WRITE));
    assert!(!allowed(&p, "/src/a/key.pem", Access::READ));
    assert!(
        !allowed(&p, "/src/key.pem", Access::READ),
        "** matches zero components"
    );
}

#[test]
fn class_and_question_mark_patterns() {
    let p = policy("[[fs]]\npath = \"/logs/app-[0-9]?.log\"\nallow = \"ro\"\n");
    assert!(allowed(&p, "/logs/app-12.log", Access::READ));
    assert!(!allowed(&p, "/logs/app-x2.log", Access::READ));
    assert!(!allowed(&p, "/logs/app-1.log", Access::READ));
}

#[test]
fn escaped_wildcards_are_literal() {
    let p = policy("[[fs]]\npath = \"/odd/[*]\"\nallow = \"ro\"\n");
    assert!(allowed(&p, "/odd/*", Access::READ));
    assert!(!allowed(&p, "/odd/x", Access::READ));
}

/// The precedence table of the crate docs, one row per case:
/// (rules, path, access, allowed, line of the deciding rule or 0).
#[test]
fn most_specific_wins_table() {
    let base = r#"[[fs]]
path = "/home/u/proj"
allow = "rw"
[[fs]]
path = "/home/u/proj/secrets"
deny = true
[[fs]]
path = "/home/u/proj/docs"
allow = "ro"
[[fs]]
path = "/home/u/proj/*.lock"
allow = "ro"
[[fs]]
path = "/home/u/proj/a.lock"
allow = "rw"
[[fs]]
path = "/home/*/proj/build"
deny = true
"#;
    let p = policy(base);
    let rows: &[(&str, Access, bool, u32)] = &[
        ("/home/u/proj/src/main.rs", Access::WRITE, true, 1),
        ("/home/u/proj/secrets", Access::STAT, false, 4),
        ("/home/u/proj/secrets/key", Access::READ, false, 4),
        // The deciding rule alone decides: docs is ro, so writing there is denied by it even
        // though /home/u/proj allows rw.
        ("/home/u/proj/docs/x.md", Access::READ, true, 7),
        ("/home/u/proj/docs/x.md", Access::WRITE, false, 7),
        // At equal depth (3), a pattern beats the directory prefix…
        ("/home/u/proj/Cargo.lock", Access::WRITE, false, 10),
        ("/home/u/proj/Cargo.lock", Access::READ, true, 10),
        // …and an exact rule beats the pattern (it is deeper anyway).
        ("/home/u/proj/a.lock", Access::WRITE, true, 13),
        // A shallower pattern loses to a deeper literal rule.
        ("/home/u/proj/build/out", Access::WRITE, true, 1),
        ("/home/v/proj/build/out", Access::READ, false, 16),
        // Nothing matches: the default.
        ("/home/u/other", Access::READ, false, 0),
    ];
    for &(path, access, allow, line_no) in rows {
        let d = p.decide_path(Path::new(path), access);
        assert_eq!(
            d.decision.allow,
            allow,
            "{path} {access}: {}",
            p.explain_path(&d)
        );
        assert_eq!(line(&p, path, access), line_no, "{path} {access}");
    }
}

#[test]
fn equal_specificity_deny_wins_regardless_of_order() {
    for text in [
        "[[fs]]\npath = \"/x/*.txt\"\nallow = \"ro\"\n[[fs]]\npath = \"/x/a*\"\ndeny = true\n",
        "[[fs]]\npath = \"/x/a*\"\ndeny = true\n[[fs]]\npath = \"/x/*.txt\"\nallow = \"ro\"\n",
    ] {
        let p = policy(text);
        assert!(!allowed(&p, "/x/a.txt", Access::READ));
        assert!(allowed(&p, "/x/b.txt", Access::READ));
    }
}

#[test]
fn same_path_twice_in_one_source_needs_both() {
    // E.g. the default profile when $PWD is $TMPDIR: both rules stay, both must allow.
    let p =
        policy("[[fs]]\npath = \"/w\"\nallow = \"rw\"\n[[fs]]\npath = \"/w\"\nallow = \"ro\"\n");
    assert!(allowed(&p, "/w/x", Access::READ));
    assert!(!allowed(&p, "/w/x", Access::WRITE));
    assert_eq!(
        line(&p, "/w/x", Access::WRITE),
        4,
        "the denying rule is reported"
    );
}

#[test]
fn prefixes_match_on_component_boundaries() {
    let p = policy("[[fs]]\npath = \"/tmp/good\"\nallow = \"rw\"\n");
    assert!(allowed(&p, "/tmp/good", Access::READ));
    assert!(allowed(&p, "/tmp/good/x", Access::READ));
    assert!(!allowed(&p, "/tmp/good_extra", Access::READ));
    assert!(!allowed(&p, "/tmp/goo", Access::READ));
    assert!(!allowed(&p, "/tmp/good_extra/x", Access::READ));
}

#[test]
fn ancestors_of_an_allow_root_get_stat_only() {
    let p = policy(
        "[[fs]]\npath = \"/home/u/proj\"\nallow = \"rw\"\n[[fs]]\npath = \"/home\"\ndeny = true\n",
    );
    for ancestor in ["/", "/home", "/home/u"] {
        let d = p.decide_path(Path::new(ancestor), Access::STAT);
        assert!(d.decision.allow, "{ancestor}");
        assert_eq!(d.decision.by, DecidedBy::ImplicitStat);
        assert_eq!(d.decision.rule.map(|r| p.rule(r).origin.line), Some(1));
        assert!(!d.uniform);
        for other in [
            Access::READ,
            Access::LIST,
            Access::STAT | Access::READ,
            Access::WRITE,
        ] {
            assert!(!allowed(&p, ancestor, other), "{ancestor} {other}");
        }
    }
    // Not siblings, not a directory that merely shares a prefix.
    assert!(!allowed(&p, "/home/v", Access::STAT));
    assert!(!allowed(&p, "/home/u/pro", Access::STAT));
}

#[test]
fn deny_rules_give_no_implicit_stat() {
    let p = policy("[[fs]]\npath = \"/a/b\"\ndeny = true\n");
    assert!(!allowed(&p, "/a", Access::STAT));
}

#[test]
fn pattern_allow_rules_give_stat_on_the_way_to_matches() {
    let p = policy("[[fs]]\npath = \"/home/*/public\"\nallow = \"ro\"\n");
    assert!(allowed(&p, "/home", Access::STAT));
    assert!(
        allowed(&p, "/home/u", Access::STAT),
        "could lead to /home/u/public"
    );
    assert!(!allowed(&p, "/home/u/private", Access::STAT));
    assert!(allowed(&p, "/home/u/public/x", Access::READ));
}

#[test]
fn errno_and_audit_come_from_the_rule_or_the_defaults() {
    let p = policy(
        r#"[defaults]
errno = "EPERM"
audit = "silent"
[[fs]]
path = "/home/u/.ssh"
deny = true
errno = "ENOENT"
audit = "log"
[[fs]]
path = "/etc"
allow = "ro"
"#,
    );
    let d = p
        .decide_path(Path::new("/home/u/.ssh/id_rsa"), Access::READ)
        .decision;
    assert_eq!(
        (d.allow, d.errno, d.audit),
        (false, libc::ENOENT, AuditSetting::All)
    );
    let d = p.decide_path(Path::new("/etc/x"), Access::WRITE).decision;
    assert_eq!(
        (d.allow, d.errno, d.audit),
        (false, libc::EPERM, AuditSetting::Default)
    );
    let d = p.decide_path(Path::new("/var"), Access::READ).decision;
    assert_eq!(
        (d.allow, d.errno, d.audit),
        (false, libc::EPERM, AuditSetting::Silent)
    );
    assert_eq!(d.by, DecidedBy::Default(arbiter_policies::Family::Fs));
    let d = p.decide_path(Path::new("/etc/x"), Access::READ).decision;
    assert_eq!((d.allow, d.errno), (true, 0));
}

#[test]
fn default_rights_apply_where_no_rule_matches() {
    let p = policy("[defaults]\nfs = \"ro\"\n[[fs]]\npath = \"/home\"\ndeny = true\n");
    let d = p.decide_path(Path::new("/var/log/x"), Access::READ);
    assert!(d.decision.allow);
    assert_eq!((d.root, d.uniform), (Some(0), false));
    assert!(!allowed(&p, "/var/log/x", Access::WRITE));
    assert!(!allowed(&p, "/home/u", Access::READ));
}

#[test]
fn the_empty_policy_denies_everything() {
    let p = Policy::load(&[], &vars()).unwrap();
    let d = p.decide_path(Path::new("/"), Access::STAT);
    assert!(!d.decision.allow);
    assert_eq!((d.root, d.decision.rule), (None, None));
    assert_eq!(d.decision.errno, libc::EACCES);
}

#[test]
fn paths_that_are_not_clean_are_denied() {
    let p = policy("[[fs]]\npath = \"/home/u/proj\"\nallow = \"rw\"\n");
    for bad in [
        "/home/u/proj/../.ssh",
        "/home/u/proj/./x",
        "/home/u/proj//x",
        "/home/u/proj/",
        "home/u/proj",
        "",
    ] {
        let d = p.decide_path(Path::new(bad), Access::READ);
        assert!(!d.decision.allow, "{bad:?}");
        assert_eq!(d.decision.rule, None);
    }
}

#[test]
fn variables_expand_in_paths() {
    let p = policy(
        "[[fs]]\npath = \"$PWD\"\nallow = \"rw\"\n[[fs]]\npath = \"~/.cache\"\nallow = \"rw\"\n[[fs]]\npath = \"${XDG_RUNTIME_DIR}/bus\"\nallow = \"ro\"\n[[fs]]\npath = \"$XDG_CONFIG_HOME/app\"\nallow = \"ro\"\n",
    );
    assert!(allowed(&p, "/home/u/proj/x", Access::WRITE));
    assert!(allowed(&p, "/home/u/.cache/x", Access::WRITE));
    assert!(allowed(&p, "/run/user/1000/bus", Access::READ));
    assert!(allowed(&p, "/home/u/.config/app/x", Access::READ));
    let info = p.rule(
        p.decide_path(Path::new("/home/u/proj"), Access::READ)
            .decision
            .rule
            .unwrap(),
    );
    assert_eq!(info.text, "fs /home/u/proj (written \"$PWD\"): allow rw");
    assert_eq!(
        (
            info.origin.origin.as_str(),
            info.origin.line,
            info.origin.column
        ),
        ("test.toml", 1, 1)
    );
}

#[test]
fn a_variable_value_is_never_a_pattern() {
    let mut v = vars();
    v.pwd = "/w/[x]*".into();
    let p = Policy::load(&[text("[[fs]]\npath = \"$PWD\"\nallow = \"rw\"\n")], &v).unwrap();
    assert!(allowed(&p, "/w/[x]*/f", Access::READ));
    assert!(!allowed(&p, "/w/xyz/f", Access::READ));
    assert_eq!(p.roots()[1], Path::new("/w/[x]*"));
}

#[test]
fn inline_rule_lists_work_like_blocks() {
    let p = policy(
        "fs = [\n  { path = \"/a\", allow = \"ro\" },\n  { path = \"/a/b\", deny = true },\n]\n",
    );
    assert!(allowed(&p, "/a/x", Access::READ));
    assert!(!allowed(&p, "/a/b", Access::READ));
    assert_eq!(line(&p, "/a/b", Access::READ), 3);
}

#[test]
fn access_can_be_a_list() {
    let p = policy("[[fs]]\npath = \"/a\"\nallow = [\"ro\", \"exec\"]\n");
    assert!(allowed(&p, "/a/bin", Access::EXEC | Access::READ));
    assert!(!allowed(&p, "/a/bin", Access::WRITE));
}

#[test]
fn explain_names_the_rule_and_its_place() {
    let p = policy("[[fs]]\npath = \"~/.ssh\"\ndeny = true\nerrno = \"ENOENT\"\n");
    let d = p.decide_path(Path::new("/home/u/.ssh/id"), Access::READ);
    assert_eq!(
        p.explain_path(&d),
        "deny (ENOENT) by test.toml:1:1: fs /home/u/.ssh (written \"~/.ssh\"): deny errno=ENOENT\n\
         root: /home/u/.ssh (uniform: this rule decides everything beneath it)"
    );
    let d = p.decide_path(Path::new("/x"), Access::READ);
    assert_eq!(
        p.explain_path(&d),
        "deny (EACCES): no fs rule matches, and the default for fs is deny"
    );
}

#[test]
fn directories_on_the_way_to_a_create_rule_may_be_made() {
    let p = policy(
        "[[fs]]\npath = \"/home/u/.cache/go-build\"\nallow = \"rw\"\n\
         [[fs]]\npath = \"/home/u/ro\"\nallow = \"ro\"\n\
         [[fs]]\npath = \"/home\"\nallow = \"stat\"\n",
    );
    for ancestor in ["/home/u", "/home/u/.cache"] {
        let d = p.decide_mkdir(Path::new(ancestor));
        assert!(d.decision.allow, "{ancestor}");
        assert_eq!(d.decision.by, DecidedBy::ImplicitMkdir);
        assert_eq!(d.decision.rule.map(|r| p.rule(r).origin.line), Some(1));
        // Only mkdir: create by any other call is the rule's (here: refused).
        assert!(!allowed(&p, ancestor, Access::CREATE), "{ancestor}");
    }
    // The rule's own path and beneath: the rule decides.
    let d = p.decide_mkdir(Path::new("/home/u/.cache/go-build/00"));
    assert_eq!((d.decision.allow, d.decision.by), (true, DecidedBy::Rule));
    // Off the way, on the way to a rule without create, or not clean: refused.
    for path in [
        "/home/u/other",
        "/home/u/ro",
        "/home/u/.cache/../x",
        "/home/v",
    ] {
        assert!(!p.decide_mkdir(Path::new(path)).decision.allow, "{path}");
    }
    assert!(p
        .explain(&p.decide_mkdir(Path::new("/home/u")).decision)
        .contains("implicit mkdir"));
}

#[test]
fn a_deny_rule_at_or_above_stops_the_implicit_mkdir() {
    let p = policy(
        "[[fs]]\npath = \"/home/u/.cache/go-build\"\nallow = \"rw\"\n\
         [[fs]]\npath = \"/home/u/.cache\"\ndeny = true\n\
         [[fs]]\npath = \"/home/u/.cache/x\"\nallow = \"ro\"\n\
         [[fs]]\npath = \"/home/u/.cache/x/y/z\"\nallow = \"rw\"\n",
    );
    // Not stopped: above the deny.
    let d = p.decide_mkdir(Path::new("/home/u"));
    assert_eq!(
        (d.decision.allow, d.decision.by),
        (true, DecidedBy::ImplicitMkdir)
    );
    // The deny's own path, and beneath it (even under a more specific non-deny rule):
    // refused by the deny rule.
    for path in ["/home/u/.cache", "/home/u/.cache/x/y"] {
        let d = p.decide_mkdir(Path::new(path));
        assert!(!d.decision.allow, "{path}");
        assert_eq!(
            d.decision.rule.map(|r| p.rule(r).origin.line),
            Some(4),
            "{path}"
        );
    }
    // A rule beneath the deny still decides its own path.
    let d = p.decide_mkdir(Path::new("/home/u/.cache/go-build"));
    assert_eq!((d.decision.allow, d.decision.by), (true, DecidedBy::Rule));
}
