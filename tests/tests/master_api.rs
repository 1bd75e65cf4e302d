//! The Rust master API (`arbiter::master`), end to end: a master program
//! (`master_probe`, tests/src/bin/) runs a helper in a `Sandbox` and answers the calls the
//! policy leaves undecided. Each behaviour is checked through libc (the shim) and with raw
//! syscalls from a static helper (the seccomp transport), as root and as an unprivileged
//! user, each against a native control run of the same helper that succeeds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arbiter_tests::{bin_dir, compile_helper, invoker_and_nobody, stderr, stdout, Sandbox};

struct Setup {
    sb: Sandbox,
    data: PathBuf,
    policy: PathBuf,
    /// (mode, helper): `libc` through the shim, `raw` static with raw syscalls.
    helpers: Vec<(&'static str, PathBuf)>,
}

/// `data/` holds `a`, `b`, `b.master` (the master's own file), `x`, `y`, and `granted/f`,
/// `other/f`, `denied/f`; the policy reads `granted/`, denies `denied/`, and leaves the
/// rest undecided. The helpers live in `tools/`, an installation prefix apart from `data/`.
fn setup() -> Setup {
    let sb = Sandbox::new();
    let data = sb.dir.join("data");
    let tools = sb.dir.join("tools");
    for d in ["granted", "other", "denied"] {
        std::fs::create_dir_all(data.join(d)).unwrap();
        std::fs::write(data.join(d).join("f"), format!("{d}-file\n")).unwrap();
    }
    for (name, text) in [
        ("a", "A-real"),
        ("b", "B-real"),
        ("b.master", "B-from-master"),
        ("x", "X-real"),
        ("y", "Y-real"),
    ] {
        std::fs::write(data.join(name), format!("{text}\n")).unwrap();
    }
    std::fs::create_dir(&tools).unwrap();
    let raw = tools.join("master_calls_static");
    std::fs::rename(
        compile_helper("master_calls", &tools, &["-pthread", "-static", "-DNO_GAI"]),
        &raw,
    )
    .unwrap();
    let dynamic = compile_helper("master_calls", &tools, &["-pthread"]);
    let policy = sb.dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\nextends = [\"runtime\"]\n\
             [[fs]]\npath = \"{0}/granted\"\nallow = \"ro\"\n\
             [[fs]]\npath = \"{0}/denied\"\ndeny = true\n",
            data.display()
        ),
    )
    .unwrap();
    Setup {
        sb,
        data,
        policy,
        helpers: vec![("libc", dynamic), ("raw", raw)],
    }
}

/// Runs the master probe with `scenario`, as root or (`nobody`) as uid 65534.
fn probe(s: &Setup, nobody: bool, scenario: &str, extra: &[&str], cmd: &[&Path]) -> Output {
    let probe = bin_dir().join("master_probe");
    assert!(
        probe.is_file(),
        "{} is missing: run `cargo build --workspace` first",
        probe.display()
    );
    let mut c = if nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.arg(&probe);
        c
    } else {
        Command::new(&probe)
    };
    c.arg(scenario)
        .arg(&s.policy)
        .args(extra)
        .arg("--")
        .args(cmd)
        .current_dir(&s.sb.dir)
        .env("HOME", "/nonexistent")
        .output()
        .unwrap()
}

/// The helper run natively: the control every denial is measured against.
fn native(helper: &Path, mode: &str, paths: &[&Path]) -> String {
    let o = Command::new(helper)
        .arg(mode)
        .arg("open")
        .args(paths)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stdout(&o)
}

fn line_for(out: &str, path: &Path) -> String {
    let prefix = format!("open {}: ", path.display());
    out.lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {} in:\n{out}", path.display()))
        .to_owned()
}

fn helper_cmd<'a>(helper: &'a Path, mode: &'a str, paths: &[&'a Path]) -> Vec<&'a Path> {
    let mut v = vec![helper, Path::new(mode), Path::new("open")];
    v.extend_from_slice(paths);
    v
}

#[test]
fn two_outstanding_calls_are_answered_in_reverse_order_and_a_master_fd_reaches_the_program() {
    let s = setup();
    let (a, b) = (s.data.join("a"), s.data.join("b"));
    for nobody in invoker_and_nobody() {
        for (mode, helper) in &s.helpers {
            let control = native(helper, mode, &[&a, &b]);
            assert!(
                control.contains(&format!("open {}: ok B-real", b.display())),
                "{control}"
            );
            let o = probe(
                &s,
                nobody,
                "reverse",
                &[],
                &helper_cmd(helper, mode, &[&a, &b]),
            );
            let (out, err) = (stdout(&o), stderr(&o));
            assert_eq!(o.status.code(), Some(0), "{mode} nobody={nobody}: {err}");
            // Both threads were blocked on the master at once …
            assert!(
                err.contains("master: both outstanding"),
                "{mode} nobody={nobody}: {err}"
            );
            // … b was answered first, with the master's own descriptor, then a performed.
            let replied = err.find("master: replied with fd open").expect(&err);
            let performed = err
                .find(&format!("master: performed open {}", a.display()))
                .expect(&err);
            assert!(replied < performed, "{err}");
            assert_eq!(
                line_for(&out, &b),
                format!("open {}: ok B-from-master", b.display())
            );
            assert_eq!(
                line_for(&out, &a),
                format!("open {}: ok A-real", a.display())
            );
        }
    }
}

#[test]
fn a_dropped_call_is_denied_and_the_next_call_is_still_served() {
    let s = setup();
    let (x, y) = (s.data.join("x"), s.data.join("y"));
    for nobody in invoker_and_nobody() {
        for (mode, helper) in &s.helpers {
            let control = native(helper, mode, &[&x, &y]);
            assert!(
                control.contains(&format!("open {}: ok X-real", x.display())),
                "{control}"
            );
            let o = probe(
                &s,
                nobody,
                "drop",
                &[],
                &helper_cmd(helper, mode, &[&x, &y]),
            );
            let (out, err) = (stdout(&o), stderr(&o));
            assert_eq!(o.status.code(), Some(0), "{err}");
            assert!(
                err.contains(&format!("master: dropped open {}", x.display())),
                "{err}"
            );
            assert_eq!(
                line_for(&out, &x),
                format!("open {}: errno {}", x.display(), libc::EACCES)
            );
            assert_eq!(
                line_for(&out, &y),
                format!("open {}: ok Y-real", y.display())
            );
        }
    }
}

#[test]
fn with_the_master_gone_undecided_calls_are_denied_and_rules_still_decide() {
    let s = setup();
    let (x, granted) = (s.data.join("x"), s.data.join("granted/f"));
    for nobody in invoker_and_nobody() {
        for (mode, helper) in &s.helpers {
            let control = native(helper, mode, &[&x]);
            assert!(control.contains("ok X-real"), "{control}");
            let o = probe(
                &s,
                nobody,
                "gone",
                &[],
                &helper_cmd(helper, mode, &[&x, &granted]),
            );
            let out = stdout(&o);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert_eq!(
                line_for(&out, &x),
                format!("open {}: errno {}", x.display(), libc::EACCES)
            );
            assert_eq!(
                line_for(&out, &granted),
                format!("open {}: ok granted-file", granted.display())
            );
        }
    }
}

#[test]
fn rule_decided_calls_never_reach_the_master_and_undecided_ones_do() {
    let s = setup();
    let granted = s.data.join("granted/f");
    let other = s.data.join("other/f");
    let denied = s.data.join("denied/f");
    for nobody in invoker_and_nobody() {
        for (mode, helper) in &s.helpers {
            let control = native(helper, mode, &[&denied]);
            assert!(control.contains("ok denied-file"), "{control}");
            let o = probe(
                &s,
                nobody,
                "log",
                &[],
                &helper_cmd(helper, mode, &[&granted, &other, &denied]),
            );
            let (out, err) = (stdout(&o), stderr(&o));
            assert_eq!(o.status.code(), Some(0), "{err}");
            assert!(
                err.contains(&format!("master: performed open {}", other.display())),
                "{err}"
            );
            assert!(
                !err.contains(&granted.display().to_string()),
                "an allow rule decides: {err}"
            );
            assert!(
                !err.contains(&denied.display().to_string()),
                "a deny rule is final: {err}"
            );
            assert_eq!(
                line_for(&out, &granted),
                format!("open {}: ok granted-file", granted.display())
            );
            assert_eq!(
                line_for(&out, &other),
                format!("open {}: ok other-file", other.display())
            );
            assert_eq!(
                line_for(&out, &denied),
                format!("open {}: errno {}", denied.display(), libc::EACCES)
            );
        }
    }
}

/// The call records of an audit log that name `path`.
fn records_for(log: &Path, path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["type"] == "call" && r["args"]["path"] == path.display().to_string())
        .collect()
}

#[test]
fn the_kernel_floor_holds_when_the_master_allows_everything() {
    let s = setup();
    let x = s.data.join("x");
    let (_, dynamic) = &s.helpers[0];
    let (_, raw) = &s.helpers[1];
    for nobody in invoker_and_nobody() {
        assert!(native(raw, "raw", &[&x]).contains("ok X-real"));
        // Without the seccomp transport a raw open is the program's own: Landlock refuses
        // it, and the master (which performs everything) is never asked.
        let log = s.sb.dir.join(format!("audit-raw-{nobody}.json"));
        let log_s = log.to_str().unwrap();
        let o = probe(
            &s,
            nobody,
            "log",
            &["--no-seccomp", "--audit", log_s],
            &helper_cmd(raw, "raw", &[&x]),
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(
            line_for(&stdout(&o), &x),
            format!("open {}: errno {}", x.display(), libc::EACCES)
        );
        assert!(!stderr(&o).contains("master: performed"), "{}", stderr(&o));
        assert!(records_for(&log, &x).is_empty());
        // The brokered paths are the only way in, and each is audited as the master's.
        for (helper, mode, extra, transport) in [
            (dynamic, "libc", vec!["--no-seccomp"], "shim"),
            (raw, "raw", vec![], "seccomp"),
        ] {
            let log = s.sb.dir.join(format!("audit-{mode}-{nobody}.json"));
            let mut extra = extra;
            extra.extend(["--audit", log.to_str().unwrap()]);
            let o = probe(&s, nobody, "log", &extra, &helper_cmd(helper, mode, &[&x]));
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert_eq!(
                line_for(&stdout(&o), &x),
                format!("open {}: ok X-real", x.display())
            );
            let records = records_for(&log, &x);
            assert_eq!(records.len(), 1, "{records:?}");
            assert_eq!(records[0]["decided_by"], "master", "{records:?}");
            assert_eq!(records[0]["decision"], "allow", "{records:?}");
            assert_eq!(records[0]["transport"], transport, "{records:?}");
        }
    }
}

/// getaddrinfo goes through libc only: a static program resolves by its own UDP queries,
/// which reach the broker as sends, not as a getaddrinfo call.
#[test]
fn a_master_supplies_the_addresses_of_a_name() {
    let s = setup();
    let (_, dynamic) = &s.helpers[0];
    let name = "master-supplied.invalid";
    // Control: the name does not resolve natively (`.invalid` never does).
    let o = Command::new(dynamic)
        .args(["libc", "gai", name])
        .output()
        .unwrap();
    assert!(
        stdout(&o).starts_with(&format!("gai {name}: error")),
        "{}",
        stdout(&o)
    );
    for nobody in invoker_and_nobody() {
        let cmd = [
            dynamic.as_path(),
            Path::new("libc"),
            Path::new("gai"),
            Path::new(name),
        ];
        let o = probe(&s, nobody, "names", &[], &cmd);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("master: replied with addresses getaddrinfo"),
            "{}",
            stderr(&o)
        );
        assert_eq!(stdout(&o).trim(), format!("gai {name}: ok 127.0.0.7 ::7"));
    }
}

/// A master routing `unlink`/`rmdir` is offered every removal, also beneath a directory the
/// policy grants `remove` in full (where native removals would let Landlock decide alone):
/// with a decider there are no native removals. Red team s5/rt1 finding 03: before the fix
/// the shim removed in-process and a raw marked `unlinkat` ran natively — the master saw
/// neither and the files were gone. Routed before `start` and after it.
#[test]
fn a_master_routing_removals_sees_every_removal_even_where_the_policy_grants_remove() {
    let mut s = setup();
    let rm = s.data.join("rm");
    let tools = s.sb.dir.join("tools");
    let helpers = arbiter_tests::compile_dynamic_and_static("remove_calls", &tools, &[]);
    let policy = s.sb.dir.join("policy-rm.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\nextends = [\"runtime\"]\n[[fs]]\npath = \"{}\"\nallow = \"rwx\"\n",
            rm.display()
        ),
    )
    .unwrap();
    s.policy = policy;
    let fill = || {
        let _ = std::fs::remove_dir_all(&rm);
        std::fs::create_dir_all(rm.join("d")).unwrap();
        std::fs::write(rm.join("f"), b"f").unwrap();
        for p in [&rm, &rm.join("d")] {
            std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o777))
                .unwrap();
        }
    };
    let (f, d) = (rm.join("f"), rm.join("d"));
    let dir_arg = format!("d:{}", d.display());
    let want = |what: &str| {
        format!(
            "remove {}: {what}\nremove {}: {what}\n",
            f.display(),
            d.display()
        )
    };
    for helper in &helpers {
        for mode in ["libc", "raw"] {
            // Native control: both removals succeed.
            fill();
            let o = Command::new(helper)
                .args([mode, f.to_str().unwrap(), &dir_arg])
                .output()
                .unwrap();
            assert_eq!(stdout(&o), want("ok"), "{mode}: {}", stderr(&o));
            for nobody in invoker_and_nobody() {
                for scenario in ["veto-removals", "veto-removals-late"] {
                    fill();
                    let cmd = [
                        helper.as_path(),
                        Path::new(mode),
                        f.as_path(),
                        Path::new(&dir_arg),
                    ];
                    let o = probe(&s, nobody, scenario, &[], &cmd);
                    let (out, err) = (stdout(&o), stderr(&o));
                    let who = format!("{} {mode} {scenario} nobody={nobody}", helper.display());
                    assert_eq!(o.status.code(), Some(0), "{who}: {err}");
                    assert_eq!(out, want(&format!("errno {}", libc::EPERM)), "{who}: {err}");
                    for (call, p) in [("unlink", &f), ("rmdir", &d)] {
                        assert!(
                            err.contains(&format!("master: denied {call} {}", p.display())),
                            "{who}: {err}"
                        );
                    }
                    assert!(f.is_file() && d.is_dir(), "{who}: removed");
                }
            }
        }
    }
}
