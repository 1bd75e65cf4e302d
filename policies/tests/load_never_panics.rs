//! Loading never panics, whatever the input: random bytes, and random TOML built from the
//! policy's own keys and awkward values. (The cargo-fuzz target in `fuzz/` does the same
//! without a time limit.)

mod common;

use arbiter_policies::{check, Access, Endpoint, Policy, Source};
use common::*;
use proptest::prelude::*;
use std::path::Path;

const KEYS: &[&str] = &[
    "version",
    "extends",
    "description",
    "defaults",
    "fs",
    "connect",
    "bind",
    "resolve",
    "path",
    "allow",
    "deny",
    "errno",
    "audit",
    "host",
    "ip",
    "unix",
    "ports",
    "proto",
    "mode",
    "replace_stale",
    "name",
    "acess",
    "x",
];

const VALUES: &[&str] = &[
    "1",
    "2",
    "-1",
    "99999999999999999999",
    "true",
    "false",
    "1.5",
    "1979-05-27",
    "\"\"",
    "\"/\"",
    "\"~\"",
    "\"~/.ssh\"",
    "\"$PWD\"",
    "\"${TMPDIR}/x\"",
    "\"$\"",
    "\"${\"",
    "\"$$\"",
    "\"/a/**\"",
    "\"/**/**\"",
    "\"/a/[\"",
    "\"/a/[!]]\"",
    "\"/a/[z-a]\"",
    "\"/a/b**\"",
    "\"/a/../b\"",
    "\"relative\"",
    "\"@\"",
    "\"@x*\"",
    "\"rw\"",
    "\"ro,exec\"",
    "\"wirte\"",
    "\"0600\"",
    "0o600",
    "0o7777",
    "\"80,443\"",
    "\"9-1\"",
    "\"*\"",
    "\"*.example.com\"",
    "\"a*b\"",
    "\"10.0.0.0/8\"",
    "\"::ffff:1.2.3.4/120\"",
    "\"::/0\"",
    "\"ENOENT\"",
    "\"log\"",
    "[]",
    "[1]",
    "[\"runtime\"]",
    "[\"default\", \"runtime\"]",
    "[\"./x.toml\"]",
    "{}",
    "{ path = \"/a\", allow = \"ro\" }",
    "[{ path = \"/a\" }, 3]",
    "\"\\u0000\"",
    "\"é\"",
    "\"/a/\\u00ff*\"",
];

/// Random documents made of the policy's own vocabulary.
fn document() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        (prop::sample::select(KEYS), prop::sample::select(VALUES))
            .prop_map(|(k, v)| format!("{k} = {v}")),
        prop::sample::select(KEYS).prop_map(|k| format!("[[{k}]]")),
        prop::sample::select(KEYS).prop_map(|k| format!("[{k}]")),
        (
            prop::sample::select(KEYS),
            prop::sample::select(KEYS),
            prop::sample::select(VALUES)
        )
            .prop_map(|(a, b, v)| format!("{a}.{b} = {v}")),
    ];
    prop::collection::vec(line, 0..24).prop_map(|lines| lines.join("\n"))
}

fn exercise(text: &str) {
    let v = vars();
    let sources = [Source::Text {
        origin: "fuzz".into(),
        text: text.into(),
    }];
    let _ = check(&sources, &v);
    if let Ok(p) = Policy::load(&sources, &v) {
        for path in ["/", "/a", "/a/b/c", "/home/u/proj/x", "/tmp"] {
            let d = p.decide_path(Path::new(path), Access::READ);
            let _ = p.explain_path(&d);
        }
        let _ = p.decide_connect(&tcp("10.1.2.3:443"), &["x.example.com"]);
        let _ = p.decide_bind(&Endpoint::Unix("/home/u/proj/s".into()));
        let _ = p.decide_bind(&Endpoint::Abstract(b"xy".to_vec()));
        let _ = p.decide_resolve("a.example.com");
        let _ = (p.kernel_floor(), p.digest());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_policy_shaped_toml(text in document()) {
        exercise(&text);
    }
}

#[test]
fn deep_nesting_and_long_lines() {
    exercise(&"[".repeat(10_000));
    exercise(&format!("a = {}1{}", "[".repeat(5_000), "]".repeat(5_000)));
    exercise(&format!(
        "[[fs]]\npath = \"/{}\"\nallow = \"ro\"\n",
        "a/".repeat(3_000)
    ));
    exercise(&format!(
        "[[fs]]\npath = \"/{}\"\nallow = \"ro\"\n",
        "*/".repeat(100)
    ));
    exercise(&format!(
        "[[fs]]\npath = \"/{}x\"\nallow = \"ro\"\n",
        "*a".repeat(2_000)
    ));
}
