//! Which trees may be native-read roots (Landlock decides reads there; the seccomp transport
//! lets the program's own read-only opens there through, `SECCOMP_USER_NOTIF_FLAG_CONTINUE`):
//! never one holding `/proc`, which the broker decides itself (another process's entries,
//! its own, sandbox pids), even where the policy grants `/` whole (finding 11); never one a
//! rule with `audit = "all"` decides, whose every use must be recorded (finding 10). Each
//! case with a native control, from the static helper (raw `openat`, no shim), the dynamic
//! one (raw `openat` through the shim-loaded libc), `cat` through libc, and an `openat` that
//! carries the shim's native-open mark itself; as root and as uid 65534. And (finding 12)
//! an `O_PATH` open the seccomp transport cannot deliver is recorded as the `EACCES` the
//! program gets.

use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, compile_dynamic_and_static, is_root, stdout, Sandbox};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Invoker,
    Nobody,
}

fn everyone() -> &'static [Who] {
    if is_root() {
        &[Who::Invoker, Who::Nobody]
    } else {
        eprintln!("SKIP: the uid 65534 case needs root to switch users");
        &[Who::Invoker]
    }
}

/// `argv` as `who`, in `sb`'s directory, under `arbiter run arbiter_args… --` unless `None`.
fn run(who: Who, sb: &Sandbox, arbiter_args: Option<&[String]>, cmd: &[String]) -> Output {
    let mut argv = Vec::new();
    if let Some(extra) = arbiter_args {
        argv.push(arbiter().display().to_string());
        argv.push("run".into());
        argv.extend_from_slice(extra);
        argv.push("--".into());
    }
    argv.extend_from_slice(cmd);
    let mut c = match who {
        Who::Invoker => Command::new(&argv[0]),
        Who::Nobody => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&argv[0])
                .env("HOME", "/nonexistent");
            c
        }
    };
    c.args(&argv[1..])
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap()
}

/// A raw `openat` of `argv[1]` carrying the native-open mark (as a program that knows it
/// would): prints the first line read, or `errno N`.
const MARKED_OPEN: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.syscall(257, -100, sys.argv[1].encode(), os.O_RDONLY | int(os.environ["MARK"]), 0)
if fd < 0:
    print("errno", ctypes.get_errno())
else:
    print(os.read(fd, 4096).decode().splitlines()[0])
"#;

/// The programs reading one file: the raw-open helpers, `cat`, and the marked open.
fn readers(sb: &Sandbox) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = compile_dynamic_and_static("raw_open", &sb.dir, &[])
        .into_iter()
        .map(|h| vec![h.display().to_string()])
        .collect();
    out.push(vec!["cat".into()]);
    out.push(vec![
        "env".into(),
        format!("MARK={}", arbiter_protocol::NATIVE_OPEN_MARK),
        "python3".into(),
        "-c".into(),
        MARKED_OPEN.into(),
    ]);
    out
}

fn read(who: Who, sb: &Sandbox, args: Option<&[String]>, reader: &[String], file: &str) -> String {
    let mut cmd = reader.to_vec();
    cmd.push(file.to_string());
    let o = run(who, sb, args, &cmd);
    stdout(&o)
}

#[test]
fn a_policy_granting_slash_whole_does_not_open_proc_to_the_kernel() {
    let sb = Sandbox::new();
    let policy = sb.path("ro-all.toml");
    std::fs::write(
        &policy,
        "version = 1\n[[fs]]\npath = \"/\"\nallow = \"rx\"\n",
    )
    .unwrap();
    // Entries of the host's init the broker refuses for any other process (only `status`,
    // `stat`, `statm`, `cmdline`, `comm` may be decided) but anyone may read natively.
    let files = ["/proc/1/limits", "/proc/1/mountinfo", "/proc/1/cgroup"];
    for &who in everyone() {
        for reader in readers(&sb) {
            for file in files {
                // Native control: readable without arbiter.
                let native = read(who, &sb, None, &reader, file);
                assert!(
                    !native.is_empty() && !native.starts_with("errno"),
                    "{reader:?} as {who:?}: native {file}: {native:?}"
                );
                for extra in [&[][..], &["--no-fast-path".to_string()][..]] {
                    let mut args = vec!["--policy".to_string(), policy.display().to_string()];
                    args.extend_from_slice(extra);
                    let got = read(who, &sb, Some(&args), &reader, file);
                    assert!(
                        got.is_empty() || got.trim() == "errno 13",
                        "{reader:?} as {who:?} {extra:?}: {file} read under arbiter: {got:?}"
                    );
                }
            }
            // What the policy grants still reads (natively or by the broker alike).
            let args = vec!["--policy".to_string(), policy.display().to_string()];
            let got = read(who, &sb, Some(&args), &reader, "/usr/lib/os-release");
            assert!(
                !got.is_empty() && !got.starts_with("errno"),
                "{reader:?} as {who:?}: /usr/lib/os-release: {got:?}"
            );
        }
    }
}

#[test]
fn a_tree_watched_with_audit_all_records_every_read() {
    let sb = Sandbox::new();
    let policy = sb.log("usr-audit-all.toml");
    std::fs::write(
        &policy,
        "version = 1\nextends = [\"default\"]\n[[fs]]\npath = \"/usr\"\nallow = \"rx\"\naudit = \"all\"\n",
    )
    .unwrap();
    let file = "/usr/share/common-licenses/GPL-3";
    let log = sb.log("audit.jsonl");
    for &who in everyone() {
        for reader in readers(&sb) {
            let native = read(who, &sb, None, &reader, file);
            assert!(
                !native.is_empty() && !native.starts_with("errno"),
                "{reader:?} as {who:?}: native {file}: {native:?}"
            );
            for extra in [&[][..], &["--no-fast-path".to_string()][..]] {
                let _ = std::fs::remove_file(&log);
                let mut args = vec![
                    "--policy".to_string(),
                    policy.display().to_string(),
                    "--audit".to_string(),
                    log.display().to_string(),
                    "-q".to_string(),
                ];
                args.extend_from_slice(extra);
                let got = read(who, &sb, Some(&args), &reader, file);
                assert!(
                    !got.is_empty() && !got.starts_with("errno"),
                    "{reader:?} as {who:?} {extra:?}: {file}: {got:?}"
                );
                let audit = std::fs::read_to_string(&log).unwrap_or_default();
                let recorded = audit.lines().any(|l| {
                    let r: serde_json::Value = match serde_json::from_str(l) {
                        Ok(r) => r,
                        Err(_) => return false,
                    };
                    r["type"] == "call" && r["decision"] == "allow" && r["paths"][0] == file
                });
                assert!(
                    recorded,
                    "{reader:?} as {who:?} {extra:?}: no allow record of {file}:\n{audit}"
                );
            }
        }
    }
}

/// Finding 12: an `O_PATH` open through the seccomp transport that the policy allows gets
/// `EACCES` (the kernel installs no `O_PATH` descriptor through
/// `SECCOMP_IOCTL_NOTIF_ADDFD`); its record must say so, not that a descriptor was given.
#[test]
fn an_o_path_open_through_seccomp_is_recorded_as_the_program_got_it() {
    let sb = Sandbox::new();
    let helpers = compile_dynamic_and_static("opath_open", &sb.dir, &[]);
    let Some(helper) = helpers.iter().find(|h| h.ends_with("opath_open-static")) else {
        eprintln!("SKIP: no static libc to build the raw O_PATH helper");
        return;
    };
    let helper = helper.display().to_string();
    let file = sb.path("f.txt");
    std::fs::write(&file, b"hi\n").unwrap();
    let file = file.display().to_string();
    let log = sb.log("audit.jsonl");
    for &who in everyone() {
        let cmd = [helper.clone(), file.clone()];
        // Native control: the open succeeds.
        assert_eq!(stdout(&run(who, &sb, None, &cmd)).trim(), "fd ok");
        let _ = std::fs::remove_file(&log);
        let args = [
            "--audit".to_string(),
            log.display().to_string(),
            "--audit-level".to_string(),
            "all".to_string(),
            "-q".to_string(),
        ];
        let got = stdout(&run(who, &sb, Some(&args), &cmd));
        assert_eq!(got.trim(), "errno 13", "as {who:?}");
        let audit = std::fs::read_to_string(&log).unwrap();
        let records: Vec<serde_json::Value> = audit
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|r| r["type"] == "call" && r["call"] == "open" && r["paths"][0] == *file)
            .collect();
        assert!(
            !records.is_empty(),
            "as {who:?}: no record of the open:\n{audit}"
        );
        for r in &records {
            assert_eq!(
                r["result"],
                serde_json::json!({"errno": "EACCES"}),
                "as {who:?}: the record says otherwise than the program got: {r}"
            );
        }
    }
}
