//! `mkdir -p` of a granted path whose parents do not exist yet (issue 18: `go build` as a
//! user without `~/.cache` could not make `~/.cache/go-build`, which `--policy go` grants).
//! A rule granting `create` on a path also allows `mkdir` of each missing directory on the
//! way to it — only directories (a symlink or file there stays refused), only with no write
//! for group or others whatever mode and umask the program gives (`0755` at most), and
//! nothing off the way. Dynamic (libc, the shim) and static (no shim: the seccomp transport) helper, root and uid 65534, native
//! control (all five creations succeed, mode 0777); before the fix `mkdir a` was refused.

mod floor_common;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use floor_common::{arbiter, command, users};

const NATIVE: &str = "mkdir a: ok 777\nmkdir a/b: ok 777\nmkdir other: ok 777\n\
                      symlink q: ok\ncreate f: ok\n";
const CONFINED: &str = "mkdir a: ok 755\nmkdir a/b: ok 755\n\
                        mkdir other: Permission denied\nsymlink q: Permission denied\n\
                        create f: Permission denied\n";

#[test]
fn directories_on_the_way_to_a_granted_path_can_be_made_and_nothing_else() {
    on_the_way(&[], CONFINED);
}

/// With `--deny BASE/a` (rt2 finding 06 of issue 15): a deny rule at or above a directory
/// stops the implicit mkdir, so `a` and `a/b` (on the way to the `--rw BASE/a/b/c` grant)
/// are not made; the rest is as without it. Before, `mkdir a` succeeded under the deny.
#[test]
fn a_deny_rule_on_the_way_stops_the_implicit_mkdir() {
    on_the_way(&["a"], CONFINED_DENIED);
}

const CONFINED_DENIED: &str = "mkdir a: Permission denied\nmkdir a/b: No such file or directory\n\
                               mkdir other: Permission denied\nsymlink q: Permission denied\n\
                               create f: Permission denied\n";

/// Runs the helper natively (the control: [`NATIVE`]) and under `arbiter run` with `--rw`
/// grants on `BASE/a/b/c`, `BASE/q/r` and `BASE/f/r` plus `--deny BASE/<d>` for each of
/// `denied` (expecting `confined`), for each helper and user.
fn on_the_way(denied: &[&str], confined_out: &str) {
    let scratch = tempfile::Builder::new()
        .prefix("arbiter-mkdirway-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(scratch.path(), PermissionsExt::from_mode(0o777)).unwrap();
    let bins = arbiter_tests::compile_dynamic_and_static("mkdir_on_the_way", scratch.path(), &[]);
    let arb = arbiter();
    for who in users() {
        for h in &bins {
            for confined in [false, true] {
                let tag = format!(
                    "{who:?}-{}-{confined}",
                    h.file_name().unwrap().to_str().unwrap()
                );
                let root = scratch.path().join(&tag);
                let (work, base) = (root.join("work"), root.join("outside"));
                for d in [&root, &work, &base] {
                    std::fs::create_dir(d).unwrap();
                    std::fs::set_permissions(d, PermissionsExt::from_mode(0o777)).unwrap();
                }
                let mut grants: Vec<String> = ["a/b/c", "q/r", "f/r"]
                    .iter()
                    .flat_map(|p| ["--rw".to_owned(), base.join(p).display().to_string()])
                    .collect();
                for d in denied {
                    grants.extend(["--deny".to_owned(), base.join(d).display().to_string()]);
                }
                let mut argv: Vec<&str> = vec![];
                if confined {
                    argv.extend([arb.to_str().unwrap(), "run", "-q"]);
                    argv.extend(grants.iter().map(String::as_str));
                    argv.push("--");
                }
                argv.extend([h.to_str().unwrap(), base.to_str().unwrap()]);
                let out = command(who, &argv)
                    .current_dir(&work)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                let want = if confined { confined_out } else { NATIVE };
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    want,
                    "{tag}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// `arbiter explain mkdir` decides as `run` does (rt2 finding 06 of issue 15: `explain`
/// had no mkdir, and `open PATH create` said deny where `run` made the directory): the
/// directory on the way is allowed naming the implicit mkdir and the rule it leads to, and
/// refused naming the deny rule once `--deny` covers it (also from above). Before the fix
/// `explain mkdir` did not exist.
#[test]
fn explain_mkdir_shows_the_implicit_mkdir_and_the_deny_that_stops_it() {
    let scratch = tempfile::Builder::new()
        .prefix("arbiter-mkdirway-")
        .tempdir()
        .unwrap();
    let base = scratch.path().join("base");
    std::fs::create_dir(&base).unwrap();
    let (base_s, a) = (
        base.display().to_string(),
        base.join("a").display().to_string(),
    );
    let grant = base.join("a/b/c").display().to_string();
    let explain = |extra: &[&str], what: &str| {
        let mut argv = vec![arbiter().to_str().unwrap().to_owned(), "explain".into()];
        argv.extend(["--rw".into(), grant.clone()]);
        argv.extend(extra.iter().map(|s| s.to_string()));
        argv.extend(["mkdir".into(), what.to_owned()]);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = command(floor_common::Who::Invoker, &argv)
            .current_dir("/proc")
            .env("TMPDIR", "/nonexistent")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = explain(&[], &a);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "mkdir {a}: allow (implicit mkdir on the way to a rule's path)"
        )) && text.contains(&format!("fs {grant}: allow rw")),
        "{text}"
    );
    for denied in [&a, &base_s] {
        let (code, text) = explain(&["--deny", denied], &a);
        assert_eq!(code, Some(1), "{text}");
        assert!(
            text.contains(&format!("mkdir {a}: deny (EACCES) by command line"))
                && text.contains(&format!("fs {denied}: deny")),
            "{text}"
        );
    }
    // Off the way: the default decides.
    let (code, text) = explain(&[], &base.join("other").display().to_string());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no fs rule matches"), "{text}");
}
