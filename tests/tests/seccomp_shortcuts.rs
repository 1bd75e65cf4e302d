//! The seccomp transport's cheaper answers (issue 18, `transport::seccomp` `reads`) decide
//! exactly as the broker's own open, access and lookup would:
//! * a name that does not exist beneath a native-read root whose rule also grants `stat`
//!   throughout is answered `ENOENT` by the transport itself; beneath a root whose rule
//!   grants `read` and `list` but not `stat`, the broker's answer stays (`EACCES` where
//!   the failed lookup shows a path the policy lets no one `stat`), never the kernel's
//!   `ENOENT` (no existence oracle);
//! * ld.so's open of the shim is let through to the kernel only while the name is the
//!   surveyed file: swapped by the program for a symlink to a file no rule grants, the
//!   open is the broker's to refuse, and to record.
//!
//! Each case with a native control (which answers differently, so the check means
//! something), from the static helper (raw system calls, no shim) and the dynamic one (raw
//! and through libc), as root and as uid 65534.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, compile_dynamic_and_static, is_root, outside_dir, stdout, Sandbox};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Invoker,
    Nobody,
}

fn whos() -> Vec<Who> {
    if is_root() {
        vec![Who::Invoker, Who::Nobody]
    } else {
        println!("SKIP: the uid 65534 case needs root to switch users");
        vec![Who::Invoker]
    }
}

/// `argv` as `who` in `dir`, natively or (with `arbiter` arguments) under `arbiter run
/// ARGS -- argv`, with `env` added.
fn run(
    who: Who,
    dir: &Path,
    arbiter_args: Option<&[String]>,
    env: &[(&str, &Path)],
    argv: &[String],
) -> Output {
    let mut full: Vec<String> = Vec::new();
    if who == Who::Nobody {
        full.extend(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
            ]
            .map(String::from),
        );
    }
    if let Some(args) = arbiter_args {
        full.push(arbiter().display().to_string());
        full.push("run".into());
        full.extend_from_slice(args);
        full.push("--".into());
    }
    full.extend_from_slice(argv);
    let mut c = Command::new(&full[0]);
    c.args(&full[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH");
    if who == Who::Nobody {
        c.env("HOME", "/nonexistent");
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn missing_names_answer_as_the_brokers_lookup_would() {
    let sb = Sandbox::new();
    let helpers = compile_dynamic_and_static("raw_probe", &sb.dir, &[]);
    let other = outside_dir();
    let ro = other.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    chmod(&ro, 0o755);
    std::fs::write(ro.join("present"), "present\n").unwrap();
    chmod(&ro.join("present"), 0o644);
    // `ro` joins the native-read floor (read and list throughout) but its rule grants no
    // `stat`: a failed lookup there must not tell what exists.
    let policy = sb.path("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\nextends = [\"default\"]\n[[fs]]\npath = \"{}\"\nallow = \"read, list\"\n",
            ro.display()
        ),
    )
    .unwrap();
    let args = vec![
        "-q".to_string(),
        "--policy".to_string(),
        policy.display().to_string(),
    ];
    let p = |p: &Path| p.display().to_string();
    // (path, call, native answer, arbiter's answer to the raw call, and through the shim)
    let cases: Vec<(String, &str, &str, &str, &str)> = vec![
        // The allow pair: beneath $PWD (rw, stat included) a missing name is ENOENT, as natively.
        (
            p(&sb.path("missing")),
            "open",
            "errno 2",
            "errno 2",
            "errno 2",
        ),
        (
            p(&sb.path("missing")),
            "access",
            "errno 2",
            "errno 2",
            "errno 2",
        ),
        (
            p(&sb.path("nodir/missing")),
            "open",
            "errno 2",
            "errno 2",
            "errno 2",
        ),
        (
            p(&sb.path("nodir/missing")),
            "access",
            "errno 2",
            "errno 2",
            "errno 2",
        ),
        // Beneath `ro`: what exists reads; stat-like answers are the policy's.
        (
            p(&ro.join("present")),
            "open",
            "present",
            "present",
            "present",
        ),
        (
            p(&ro.join("present")),
            "access",
            "ok",
            "errno 13",
            "errno 13",
        ),
        // A missing name: open's lookup shows only `ro` itself (ENOENT, as the broker
        // answered before); access is a stat of the name: EACCES whether or not it exists.
        (
            p(&ro.join("missing")),
            "open",
            "errno 2",
            "errno 2",
            "errno 2",
        ),
        (
            p(&ro.join("missing")),
            "access",
            "errno 2",
            "errno 13",
            "errno 13",
        ),
        // A missing directory on the way: the broker's failed lookup would show `ro/nodir`
        // (EACCES). The shim's marked open answers the kernel's ENOENT there, as before this
        // change (`list` on `ro` shows that `nodir` is absent anyway).
        (
            p(&ro.join("nodir/x")),
            "open",
            "errno 2",
            "errno 13",
            "errno 2",
        ),
        (
            p(&ro.join("nodir/x")),
            "access",
            "errno 2",
            "errno 13",
            "errno 13",
        ),
    ];
    for who in whos() {
        for helper in &helpers {
            let dynamic = !helper.display().to_string().ends_with("-static");
            for (path, kind, native, raw, shim) in &cases {
                let mut modes = vec![(kind.to_string(), *raw)];
                if dynamic {
                    modes.push((format!("libc-{kind}"), *shim));
                }
                for (mode, brokered) in modes {
                    let argv = vec![helper.display().to_string(), mode.clone(), path.clone()];
                    let n = stdout(&run(who, &sb.dir, None, &[], &argv));
                    assert_eq!(n.trim(), *native, "native {mode} {path} as {who:?}");
                    let a = stdout(&run(who, &sb.dir, Some(&args), &[], &argv));
                    assert_eq!(
                        a.trim(),
                        brokered,
                        "{} {mode} {path} as {who:?} under arbiter",
                        helper.display()
                    );
                }
            }
        }
    }
}

#[test]
fn a_shim_swapped_for_a_symlink_is_the_brokers_to_refuse() {
    if !Path::new("/bin/sh").exists() {
        println!("SKIP: no /bin/sh");
        return;
    }
    let sb = Sandbox::new();
    let helpers = compile_dynamic_and_static("raw_probe", &sb.dir, &[]);
    let other = outside_dir();
    let key = other.path().join("key");
    std::fs::write(&key, "KEY: no rule grants this\n").unwrap();
    chmod(&key, 0o644);
    let shimd = sb.path("shimd");
    let shim = shimd.join("libarbiter_shim.so");
    let log = sb.log("audit.jsonl");
    let set_up = || {
        let _ = std::fs::remove_dir_all(&shimd);
        std::fs::create_dir(&shimd).unwrap();
        chmod(&shimd, 0o777);
        std::fs::copy(arbiter_tests::shim(), &shim).unwrap();
        chmod(&shim, 0o644);
        std::os::unix::fs::symlink(&key, shimd.join("link")).unwrap();
        let _ = std::fs::remove_file(&log);
    };
    let args = vec![
        "-q".to_string(),
        "--audit".to_string(),
        log.display().to_string(),
    ];
    let env = [("ARBITER_SHIM_PATH", shim.as_path())];
    for who in whos() {
        for helper in &helpers {
            let h = helper.display().to_string();
            // The allow pair: the shim's own bytes, read by the raw open ld.so also makes.
            set_up();
            let argv = vec![h.clone(), "open".into(), shim.display().to_string()];
            let a = stdout(&run(who, &sb.dir, Some(&args), &env, &argv));
            assert!(a.starts_with(".ELF"), "{h} as {who:?}: the shim read {a:?}");
            // The program swaps the shim for a symlink to the key, then opens the name
            // (ld.so of the exec'd helper, when dynamic, and the helper's raw openat).
            let script = vec![
                "/bin/sh".to_string(),
                "-c".into(),
                "mv -f shimd/link shimd/libarbiter_shim.so && exec \"$0\" open \"$1\"".into(),
                h.clone(),
                shim.display().to_string(),
            ];
            set_up();
            let n = stdout(&run(who, &sb.dir, None, &env, &script));
            assert_eq!(
                n.trim(),
                "KEY: no rule grants this",
                "native control as {who:?}"
            );
            set_up();
            let o = run(who, &sb.dir, Some(&args), &env, &script);
            assert_eq!(
                stdout(&o).trim(),
                "errno 13",
                "{h} as {who:?} read through the swapped shim: {}",
                arbiter_tests::stderr(&o)
            );
            let records = std::fs::read_to_string(&log).unwrap_or_default();
            let key_json = format!("\"{}\"]", key.display());
            assert!(
                records.lines().any(|l| l.contains("\"call\":\"open\"")
                    && l.contains("\"decision\":\"deny\"")
                    && l.contains(&key_json)),
                "{h} as {who:?}: no denial of the open of the key recorded:\n{records}"
            );
        }
    }
}

#[test]
fn the_brokers_rights_come_back_after_a_continued_read() {
    // A continued read's check leaves the worker's DAC capabilities dropped (the next check
    // needs no `capset`); an open the broker then performs must have them back. Opens of a
    // system file (continued) and of a `0600` file of uid 65534 in `$PWD` (which root
    // without capabilities — the sandboxed program — may not read, so the broker opens it
    // with its own rights) alternate, so each worker meets both.
    let sb = Sandbox::new();
    let helpers = compile_dynamic_and_static("raw_probe", &sb.dir, &[]);
    let system = ["/usr/lib/os-release", "/etc/ld.so.cache"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("a system file to read");
    let owned = sb.path("owned-by-nobody");
    std::fs::write(&owned, "owned\n").unwrap();
    chmod(&owned, 0o600);
    if is_root() {
        std::os::unix::fs::chown(&owned, Some(65534), Some(65534)).unwrap();
    }
    let mut paths = Vec::new();
    for _ in 0..12 {
        paths.push(system.to_string());
        paths.push(owned.display().to_string());
    }
    let args = vec!["-q".to_string()];
    for who in whos() {
        for helper in &helpers {
            let mut argv = vec![helper.display().to_string(), "open".into()];
            argv.extend(paths.iter().cloned());
            let native = stdout(&run(who, &sb.dir, None, &[], &argv));
            let under = stdout(&run(who, &sb.dir, Some(&args), &[], &argv));
            let owned_lines = |out: &str| {
                out.lines()
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            };
            // Native control: root reads the file with its capabilities, and so does its
            // owner; under arbiter the broker's open answers the same.
            assert!(
                owned_lines(&native).iter().all(|l| l == "owned"),
                "native as {who:?}: {native}"
            );
            assert_eq!(
                under.lines().count(),
                paths.len(),
                "{} as {who:?}: {under}",
                helper.display()
            );
            assert!(
                owned_lines(&under).iter().all(|l| l == "owned"),
                "{} as {who:?}: the broker's open lacked its rights:\n{under}",
                helper.display()
            );
        }
    }
}
