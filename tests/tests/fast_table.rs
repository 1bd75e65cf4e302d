//! The fast-path table every process of a sandbox inherits (a sealed memfd at fd 1022,
//! `arbiter_protocol::fast_table`): a process that makes only fast-path and native calls
//! learns what it may answer in-process from it and never registers a channel with the
//! broker (issue 18: what each exec costs); and a program that closes, replaces or forges
//! that descriptor changes only its own hints — what it reaches is still what Landlock and
//! the broker allow.
//!
//! The helper (`helpers/fast_table_forge.c`, built static — raw system calls, no shim —
//! and dynamic) tampers with fd 1022 by raw system calls and execs a libc program (`cat`,
//! `rm`) whose shim reads the table; it also makes one raw marked `openat` itself. As root
//! and as uid 65534, each with a native control.

use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, compile_dynamic_and_static, have, is_root, outside_dir, Sandbox};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Invoker,
    Nobody,
}

fn whos() -> Vec<Who> {
    if is_root() && have("setpriv") {
        vec![Who::Invoker, Who::Nobody]
    } else {
        println!("SKIP: the uid 65534 pass needs root and setpriv");
        vec![Who::Invoker]
    }
}

/// `argv` as `who`, in the sandbox's directory, under `arbiter run ARGS --` when `arbiter`
/// is given; `probe` is the helper's `FORGE_PROBE`.
fn run(
    who: Who,
    sb: &Sandbox,
    arbiter_args: Option<&[&str]>,
    probe: &str,
    argv: &[&str],
) -> Output {
    let mut full: Vec<String> = Vec::new();
    if let Some(extra) = arbiter_args {
        full.push(arbiter().display().to_string());
        full.push("run".into());
        full.extend(extra.iter().map(|s| s.to_string()));
        full.push("--".into());
    }
    full.extend(argv.iter().map(|s| s.to_string()));
    let mut c = match who {
        Who::Invoker => Command::new(&full[0]),
        Who::Nobody => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&full[0])
                .env("HOME", "/nonexistent");
            c
        }
    };
    c.args(&full[1..])
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH")
        .env("FORGE_PROBE", probe)
        .output()
        .expect("run the helper")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}stderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The audit log's `process` records of `exe` that came over a shim channel: one per
/// process that registered a channel (`transport::shim` writes it when a channel starts).
fn registered(log: &std::path::Path, exe: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["type"] == "process" && r["transport"] == "shim" && r["exe"] == exe)
        .count()
}

fn helpers(sb: &Sandbox) -> Vec<String> {
    compile_dynamic_and_static("fast_table_forge", &sb.dir, &[])
        .into_iter()
        .map(|p| p.display().to_string())
        .collect()
}

const MODES: [&str; 4] = ["keep", "close", "unsealed", "forge"];

#[test]
fn a_process_making_only_fast_path_and_native_calls_registers_no_channel() {
    let sb = Sandbox::new();
    let cat = std::fs::canonicalize("/bin/cat").unwrap();
    let cat = cat.to_str().unwrap();
    let expected = std::fs::read("/etc/passwd").unwrap();
    for who in whos() {
        for helper in helpers(&sb) {
            for mode in MODES {
                let log = sb.log(&format!("audit-{mode}-{who:?}.jsonl"));
                let _ = std::fs::remove_file(&log);
                // `/etc/passwd` and `/dev/null` are beneath the default profile's native
                // reads: `cat` makes no call the broker must answer.
                let o = run(
                    who,
                    &sb,
                    Some(&["--audit", log.to_str().unwrap()]),
                    "",
                    &[&helper, mode, cat, "/etc/passwd", "/dev/null"],
                );
                assert_eq!(
                    o.status.code(),
                    Some(0),
                    "{who:?} {helper} {mode}: {}",
                    text(&o)
                );
                assert_eq!(o.stdout, expected, "{who:?} {helper} {mode}: {}", text(&o));
                let channels = registered(&log, cat);
                match mode {
                    // The broker's table: no channel, no round trip.
                    "keep" => assert_eq!(channels, 0, "{who:?} {helper}: cat registered a channel"),
                    // No table, or one the shim refuses: it asks the broker, as before
                    // (so the count above can tell).
                    "close" | "unsealed" => {
                        assert_eq!(channels, 1, "{who:?} {helper} {mode}: no channel counted")
                    }
                    // A forged table is believed: its hints are the program's own business.
                    _ => assert_eq!(channels, 0, "{who:?} {helper} forge"),
                }
            }
        }
    }
}

#[test]
fn a_closed_replaced_or_forged_table_grants_nothing_landlock_does_not() {
    let sb = Sandbox::new();
    let outside = outside_dir();
    let secret = outside.path().join("secret");
    let victim = outside.path().join("victim");
    let (secret, victim) = (secret.to_str().unwrap(), victim.to_str().unwrap());
    let make = || {
        std::fs::write(secret, b"top secret\n").unwrap();
        std::fs::write(victim, b"v").unwrap();
    };
    make();
    let cat = std::fs::canonicalize("/bin/cat").unwrap();
    let rm = std::fs::canonicalize("/bin/rm").unwrap();
    let (cat, rm) = (cat.to_str().unwrap(), rm.to_str().unwrap());
    for who in whos() {
        for helper in helpers(&sb) {
            // Native control: the same helper reads the secret (raw marked open and `cat`)
            // and removes the victim.
            let o = run(who, &sb, None, secret, &[&helper, "forge", cat, secret]);
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                "probe ok\ntop secret\n",
                "native control {who:?} {helper}: {}",
                text(&o)
            );
            let o = run(who, &sb, None, secret, &[&helper, "forge", rm, victim]);
            assert_eq!(o.status.code(), Some(0), "native control: {}", text(&o));
            assert!(
                !std::path::Path::new(victim).exists(),
                "native control kept the victim"
            );
            make();
            for mode in MODES {
                let log = sb.log(&format!("deny-{mode}-{who:?}.jsonl"));
                let _ = std::fs::remove_file(&log);
                let args = ["--audit", log.to_str().unwrap()];
                let o = run(who, &sb, Some(&args), secret, &[&helper, mode, cat, secret]);
                let out = String::from_utf8_lossy(&o.stdout).into_owned();
                assert_eq!(
                    o.status.code(),
                    Some(1),
                    "{who:?} {helper} {mode}: {}",
                    text(&o)
                );
                // The raw marked open is Landlock's EACCES; cat's is the broker's.
                assert_eq!(
                    out,
                    "probe errno 13\n",
                    "{who:?} {helper} {mode}: {}",
                    text(&o)
                );
                assert!(
                    String::from_utf8_lossy(&o.stderr).contains("Permission denied"),
                    "{who:?} {helper} {mode}: {}",
                    text(&o)
                );
                let audit = std::fs::read_to_string(&log).unwrap_or_default();
                assert!(
                    audit.lines().any(|l| {
                        let r: serde_json::Value = serde_json::from_str(l).unwrap();
                        r["type"] == "call"
                            && r["decision"] == "deny"
                            && r["paths"][0] == secret
                            && r["exe"] == cat
                    }),
                    "{who:?} {helper} {mode}: no deny record of cat's open:\n{audit}"
                );
                let o = run(who, &sb, Some(&[]), secret, &[&helper, mode, rm, victim]);
                assert_ne!(
                    o.status.code(),
                    Some(0),
                    "{who:?} {helper} {mode}: {}",
                    text(&o)
                );
                assert!(
                    std::path::Path::new(victim).exists(),
                    "{who:?} {helper} {mode}: the victim was removed: {}",
                    text(&o)
                );
            }
        }
    }
}

/// Python's `subprocess` (like many a supervisor) closes every descriptor but 0–2 before it
/// execs (`close_range` through libc): the shim spares the table as it spares the
/// bootstrap socket, so the program started still reads it and registers no channel. A
/// program's own file put at 1022 is its own: read, and really closed.
#[test]
fn a_program_closing_every_descriptor_keeps_the_table_for_what_it_starts() {
    if !have("python3") {
        println!("SKIP: no python3");
        return;
    }
    let sb = Sandbox::new();
    let cat = std::fs::canonicalize("/bin/cat").unwrap();
    let cat = cat.to_str().unwrap();
    let script = format!(
        "import os, subprocess\n\
         subprocess.run(['{cat}', '/etc/passwd'], stdout=subprocess.DEVNULL, check=True)\n\
         fd = os.open('/etc/passwd', os.O_RDONLY)\n\
         os.dup2(fd, 1022)\n\
         print(os.read(1022, 5))\n\
         os.close(1022)\n\
         print(1022 in [int(x) for x in os.listdir('/proc/self/fd')])\n"
    );
    for who in whos() {
        let log = sb.log(&format!("python-{who:?}.jsonl"));
        let _ = std::fs::remove_file(&log);
        let o = run(
            who,
            &sb,
            Some(&["--audit", log.to_str().unwrap()]),
            "",
            &["python3", "-c", &script],
        );
        assert_eq!(o.status.code(), Some(0), "{who:?}: {}", text(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "b'root:'\nFalse\n",
            "{who:?}: {}",
            text(&o)
        );
        assert_eq!(
            registered(&log, cat),
            0,
            "{who:?}: cat started by subprocess registered a channel"
        );
    }
}
