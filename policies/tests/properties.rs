//! Property tests: the compiled index decides exactly as a naive reference reading of the
//! documented rules, never allows through a rule whose root is not a prefix of the path, and
//! never claims a uniform subtree in which another rule decides.

mod common;

use arbiter_policies::{Access, DecidedBy};
use common::*;
use proptest::prelude::*;
use std::path::Path;

/// A component of a rule pattern in a small grammar the reference understands.
#[derive(Debug, Clone, PartialEq)]
enum Comp {
    Lit(&'static str),
    /// `x*`: names starting with x (`*` when x is empty).
    Prefix(&'static str),
    /// `**`
    Many,
}

impl Comp {
    fn text(&self) -> String {
        match self {
            Comp::Lit(s) => (*s).to_owned(),
            Comp::Prefix(s) => format!("{s}*"),
            Comp::Many => "**".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct TestRule {
    comps: Vec<Comp>,
    access: Access,
}

const NAMES: &[&str] = &["a", "b", "ab", "c"];

fn comp() -> impl Strategy<Value = Comp> {
    prop_oneof![
        6 => prop::sample::select(NAMES).prop_map(Comp::Lit),
        1 => prop::sample::select(&["", "a"][..]).prop_map(Comp::Prefix),
        1 => Just(Comp::Many),
    ]
}

fn access() -> impl Strategy<Value = Access> {
    prop::sample::select(
        &[
            Access::NONE,
            Access::RO,
            Access::RW,
            Access::READ,
            Access::STAT,
            Access::ALL,
        ][..],
    )
}

fn rule() -> impl Strategy<Value = TestRule> {
    (prop::collection::vec(comp(), 0..4), access()).prop_map(|(mut comps, access)| {
        // The parser turns a trailing `**` into `*` and collapses `**/**`; keep the reference
        // on the same footing by not generating those.
        comps.dedup_by(|a, b| *a == Comp::Many && *b == Comp::Many);
        if comps.last() == Some(&Comp::Many) {
            *comps.last_mut().unwrap() = Comp::Prefix("");
        }
        TestRule { comps, access }
    })
}

fn path() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(prop::sample::select(NAMES), 0..6)
}

fn join(comps: &[&str]) -> String {
    format!("/{}", comps.join("/"))
}

fn policy_text(rules: &[TestRule]) -> String {
    let mut t = String::new();
    for r in rules {
        let p: Vec<String> = r.comps.iter().map(Comp::text).collect();
        let effect = if r.access.is_empty() {
            "deny = true".to_owned()
        } else {
            format!("allow = \"{}\"", r.access)
        };
        t.push_str(&format!("[[fs]]\npath = \"/{}\"\n{effect}\n", p.join("/")));
    }
    t
}

fn comp_matches(c: &Comp, name: &str) -> bool {
    match c {
        Comp::Lit(s) => *s == name,
        Comp::Prefix(s) => name.starts_with(s),
        Comp::Many => true,
    }
}

/// Does the pattern match exactly `path`?
fn full(pat: &[Comp], path: &[&str]) -> bool {
    match pat.first() {
        None => path.is_empty(),
        Some(Comp::Many) => (0..=path.len()).any(|k| full(&pat[1..], &path[k..])),
        Some(c) => !path.is_empty() && comp_matches(c, path[0]) && full(&pat[1..], &path[1..]),
    }
}

/// Could the pattern match something strictly beneath `path`?
fn beneath(pat: &[Comp], path: &[&str]) -> bool {
    match pat.first() {
        None => false,
        Some(Comp::Many) => {
            (0..=path.len()).any(|k| beneath(&pat[1..], &path[k..])) || path.is_empty()
        }
        Some(_) if path.is_empty() => true,
        Some(c) => comp_matches(c, path[0]) && beneath(&pat[1..], &path[1..]),
    }
}

fn literal_depth(r: &TestRule) -> usize {
    r.comps
        .iter()
        .take_while(|c| matches!(c, Comp::Lit(_)))
        .count()
}

fn is_glob(r: &TestRule) -> bool {
    literal_depth(r) < r.comps.len()
}

/// The documented semantics, read naively: (allowed, index of the deciding rule).
fn reference(rules: &[TestRule], path: &[&str], access: Access) -> (bool, Option<usize>) {
    // Later identical patterns in one source all apply (ties), which the reference does too.
    let mut best: Option<(usize, u8)> = None;
    let mut members = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let depth = literal_depth(r);
        let rank = if is_glob(r) {
            let (pre, rest) = r.comps.split_at(depth);
            let prefix_ok =
                path.len() > depth && pre.iter().zip(path).all(|(c, n)| comp_matches(c, n));
            if !(prefix_ok && (depth + 1..=path.len()).any(|k| full(rest, &path[depth..k]))) {
                continue;
            }
            (depth, 1)
        } else {
            if !(r.comps.len() <= path.len()
                && r.comps.iter().zip(path).all(|(c, n)| comp_matches(c, n)))
            {
                continue;
            }
            (depth, if depth == path.len() { 2 } else { 0 })
        };
        match best.map(|b| rank.cmp(&b)) {
            Some(std::cmp::Ordering::Less) => {}
            Some(std::cmp::Ordering::Equal) => members.push(i),
            _ => {
                best = Some(rank);
                members = vec![i];
            }
        }
    }
    let ok = |i: &usize| !rules[*i].access.is_empty() && rules[*i].access.contains(access);
    let decided = if members.is_empty() {
        (false, None)
    } else if let Some(&d) = members.iter().find(|i| !ok(i)) {
        (false, Some(d))
    } else {
        (true, Some(members[0]))
    };
    if !decided.0 && access == Access::STAT {
        let implicit = rules.iter().any(|r| {
            !r.access.is_empty()
                && if is_glob(r) {
                    beneath(&r.comps, path)
                } else {
                    r.comps.len() > path.len()
                        && r.comps.iter().zip(path).all(|(c, n)| comp_matches(c, n))
                }
        });
        if implicit {
            return (true, None);
        }
    }
    decided
}

const ASKED: &[Access] = &[
    Access::READ,
    Access::WRITE,
    Access::STAT,
    Access::EXEC,
    Access::RO,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decisions_match_the_reference(
        rules in prop::collection::vec(rule(), 1..8),
        paths in prop::collection::vec(path(), 1..12),
        acc in prop::sample::select(ASKED),
    ) {
        let p = policy(&policy_text(&rules));
        for path in &paths {
            let d = p.decide_path(Path::new(&join(path)), acc);
            let (allow, rule) = reference(&rules, path, acc);
            prop_assert_eq!(d.decision.allow, allow, "{} {} {}", join(path), acc, p.explain_path(&d));
            if d.decision.by == DecidedBy::Rule {
                prop_assert_eq!(d.decision.rule.map(|r| r.0 as usize), rule, "{}", join(path));
            }
        }
    }

    #[test]
    fn allow_comes_only_from_a_rule_whose_root_is_a_prefix(
        rules in prop::collection::vec(rule(), 1..8),
        path in path(),
        acc in prop::sample::select(ASKED),
    ) {
        let p = policy(&policy_text(&rules));
        let full_path = join(&path);
        let d = p.decide_path(Path::new(&full_path), acc);
        if d.decision.allow {
            let root = &p.roots()[d.root.unwrap()];
            prop_assert!(Path::new(&full_path).starts_with(root), "{} via {}", full_path, root.display());
            if d.decision.by == DecidedBy::Rule {
                prop_assert_eq!(p.rule(d.decision.rule.unwrap()).root, d.root);
            }
        }
    }

    #[test]
    fn uniform_roots_contain_no_other_deciding_rule(
        rules in prop::collection::vec(rule(), 1..8),
        path in path(),
        below in prop::collection::vec(path(), 1..10),
        acc in prop::sample::select(ASKED),
    ) {
        let p = policy(&policy_text(&rules));
        let d = p.decide_path(Path::new(&join(&path)), acc);
        if d.uniform {
            let root = p.roots()[d.root.unwrap()].clone();
            prop_assert!(Path::new(&join(&path)).starts_with(&root));
            // No rule has its root strictly beneath, …
            for info in p.rules() {
                let r = &p.roots()[info.root.unwrap()];
                prop_assert!(!(r.starts_with(&root) && *r != root), "{} beneath {}", r.display(), root.display());
            }
            // … and every path strictly beneath is decided the same way by the same rule.
            for b in below.iter().filter(|b| !b.is_empty()) {
                let q = root.join(b.join("/"));
                let dq = p.decide_path(&q, acc);
                prop_assert_eq!(dq.decision.allow, d.decision.allow, "{}", q.display());
                prop_assert_eq!(dq.decision.rule, d.decision.rule, "{}", q.display());
                prop_assert_eq!(dq.root, d.root);
            }
        }
    }
}
