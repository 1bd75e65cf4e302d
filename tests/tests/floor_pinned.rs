//! The broker never moves a Landlock rule root or a directory above one (red team s5,
//! finding 01): Landlock attaches a rule's rights to the inode, so a rule root renamed to
//! a path where the policy grants fewer rights (a drop box granting create, write and
//! rename only) kept its read, remove and execute rights there — native reads, native
//! removals and `execve` of files the policy no longer allows, with no record.
//!
//! `tests/helpers/rename_calls.c`, built dynamic (libc through the shim) and static (raw
//! `renameat2`, the seccomp transport), run in the working directory `w` (a rule root of
//! the default profile), from `w/tools` (the directory holding the command's file, another
//! rule root); the policy grants `t` as the default profile grants `$PWD` (`rwx`). As root and as uid 65534, each operation in a fresh
//! tree, with a native control in which every one succeeds:
//! * moving an ordinary directory of `w` to the drop box still succeeds (nothing else
//!   changes);
//! * moving `w` itself into the drop box, moving `w/tools` (above the command's file),
//!   exchanging `w` with `t/q` either way round (`RENAME_EXCHANGE`) are
//!   `EBUSY`, and nothing moved;
//! * with a rule beneath `w/tools` (so the command's own file is a rule root), linking a
//!   file of `w` into the drop box succeeds and linking the command's file there is `EPERM`
//!   (it would keep its execute right under the new name).
//!
//! Before the fix every one of these succeeded under arbiter.

use std::path::Path;
use std::process::Command;

use arbiter_tests::{arbiter, compile_dynamic_and_static, is_root, stderr, stdout, Sandbox};

fn chmod(p: &Path) {
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
}

/// A fresh tree in `b`: `w/` (with `sub/`, `secret`, and `tools/` holding copies of the
/// helpers built in `bin/`),
/// `t/q/`, and the drop box `drop/`.
/// Owned by uid 65534 for its runs (`protected_hardlinks` lets it link only its own files).
fn fixture(b: &Path, nobody: bool) {
    for d in ["w", "t", "drop"] {
        let _ = std::fs::remove_dir_all(b.join(d));
    }
    for d in ["w", "w/sub", "w/tools", "t", "t/q", "drop"] {
        std::fs::create_dir_all(b.join(d)).unwrap();
        chmod(&b.join(d));
    }
    std::fs::write(b.join("w/secret"), b"SECRET").unwrap();
    for h in ["rename_calls", "rename_calls-static"] {
        if b.join("bin").join(h).exists() {
            std::fs::copy(b.join("bin").join(h), b.join("w/tools").join(h)).unwrap();
        }
    }
    if nobody {
        for f in [
            "w/secret",
            "w/tools/rename_calls",
            "w/tools/rename_calls-static",
        ] {
            if b.join(f).exists() {
                std::os::unix::fs::chown(b.join(f), Some(65534), Some(65534)).unwrap();
            }
        }
    }
}

fn run(nobody: bool, b: &Path, argv: &[&str]) -> String {
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.arg(argv[0]);
        c.env("HOME", "/nonexistent");
        c
    } else {
        Command::new(argv[0])
    };
    let o = c
        .args(&argv[1..])
        .current_dir(b.join("w"))
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(o.status.success(), "{argv:?}: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn rule_roots_and_the_directories_above_them_are_never_moved() {
    let sb = Sandbox::new();
    chmod(&sb.dir);
    let b = &sb.dir;
    let p = |s: &str| b.join(s).to_str().unwrap().to_owned();
    let policy = b.join("drop.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\n[[fs]]\npath = \"{}\"\nallow = \"create,write,rename,stat\"\n\
             [[fs]]\npath = \"{}\"\nallow = \"rwx\"\n",
            p("drop"),
            p("t")
        ),
    )
    .unwrap();
    // With a rule beneath `w/tools`, the prefix is not granted whole: the command's own
    // file becomes a rule root (`floor::command_files`), which gets no second name.
    let narrow = b.join("narrow.toml");
    std::fs::write(
        &narrow,
        format!(
            "version = 1
[[fs]]
path = \"{}\"
deny = true
",
            p("w/tools/nothing")
        ),
    )
    .unwrap();
    let arb = arbiter();
    let arb = arb.to_str().unwrap();
    let policy = policy.to_str().unwrap();
    let narrow = narrow.to_str().unwrap();
    // (operation, from, to, answer under arbiter, narrow policy too); `HELPER` is the
    // command's own file.
    let ops: [(&str, String, String, &str, bool); 7] = [
        ("mv", p("w/sub"), p("drop/sub"), "ok", false),
        ("mv", p("w"), p("drop/p"), "errno 16", false),
        ("mv", p("w/tools"), p("drop/tools"), "errno 16", false),
        ("xchg", p("w"), p("t/q"), "errno 16", false),
        ("xchg", p("t/q"), p("w"), "errno 16", false),
        ("ln", p("w/secret"), p("drop/s"), "ok", true),
        ("ln", "HELPER".into(), p("drop/h"), "errno 1", true),
    ];
    let mut users = vec![false];
    if is_root() {
        users.push(true);
    } else {
        println!("SKIP (unprivileged half): needs root to switch to uid 65534");
    }
    std::fs::create_dir(b.join("bin")).unwrap();
    for f in compile_dynamic_and_static("rename_calls", &b.join("bin"), &[]) {
        chmod(&f);
    }
    fixture(b, false);
    let helpers: Vec<String> = ["rename_calls", "rename_calls-static"]
        .iter()
        .map(|h| p(&format!("w/tools/{h}")))
        .filter(|h| Path::new(h).exists())
        .collect();
    for nobody in users {
        for h in &helpers {
            for mode in ["libc", "raw"] {
                for (op, from, to, answer, narrowed) in &ops {
                    let from = if from == "HELPER" { h } else { from };
                    let who = format!("nobody={nobody} {h} {mode} {op} {from} {to}");
                    // Native control: the operation succeeds.
                    fixture(b, nobody);
                    let native = run(nobody, b, &[h, mode, op, from, to]);
                    assert_eq!(native, format!("{op} {from} {to}: ok\n"), "{who}: native");
                    fixture(b, nobody);
                    let mut argv = vec![arb, "run", "-q", "--policy", "default", "--policy"];
                    argv.push(policy);
                    if *narrowed {
                        argv.extend(["--policy", narrow]);
                    }
                    argv.extend(["--", h, mode, op, from, to]);
                    let got = run(nobody, b, &argv);
                    assert_eq!(got, format!("{op} {from} {to}: {answer}\n"), "{who}");
                    if *answer != "ok" {
                        assert!(
                            b.join("w/secret").is_file()
                                && b.join("w/tools").is_dir()
                                && b.join("t/q").is_dir()
                                && !b.join("drop/h").exists(),
                            "{who}: something moved"
                        );
                    }
                }
            }
        }
    }
}
