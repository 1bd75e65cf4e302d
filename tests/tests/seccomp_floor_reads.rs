//! A read-only open that reaches the seccomp transport beneath the native-read floor (ld.so's
//! libraries, glibc's locale files, a static program's reads in `$PWD`) may be performed by
//! the kernel itself (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`, `transport::seccomp` `reads`), but
//! only where that ends as the broker's own open would: what the broker decides at a symlink's
//! target and records, and what the program's own credentials may not read, stay the
//! broker's. Each case with a native control, from the static helper (raw `openat`, no
//! shim) and the dynamic one (raw `openat` through the shim-loaded libc), and `cat` through
//! libc, as root and as uid 65534.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter, compile_dynamic_and_static, is_root, stdout, Sandbox};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Invoker,
    Nobody,
}

fn command(who: Who, argv: &[String]) -> Command {
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
        .stdin(Stdio::null())
        .env_remove("LD_LIBRARY_PATH");
    c
}

fn run(who: Who, sb: &Sandbox, arbiter_args: Option<&[String]>, cmd: &[String]) -> Output {
    let mut argv = Vec::new();
    if let Some(extra) = arbiter_args {
        argv.push(arbiter().display().to_string());
        argv.push("run".into());
        argv.extend_from_slice(extra);
        argv.push("--".into());
    }
    argv.extend_from_slice(cmd);
    command(who, &argv).current_dir(&sb.dir).output().unwrap()
}

/// The helper's answer: the file's contents, or `errno N`.
fn read_with(
    who: Who,
    sb: &Sandbox,
    arbiter_args: Option<&[String]>,
    helper: &str,
    file: &str,
) -> String {
    // Absolute, as ld.so's and glibc's own opens are (a relative path is never let through).
    let file = sb.path(file).display().to_string();
    let o = run(who, sb, arbiter_args, &[helper.to_string(), file]);
    stdout(&o).trim().to_string()
}

#[test]
fn continued_floor_reads_end_where_the_brokers_open_would() {
    let sb = Sandbox::new();
    let helpers = compile_dynamic_and_static("raw_open", &sb.dir, &[]);
    std::fs::write(sb.path("plain"), b"plain\n").unwrap();
    // A symlink in $PWD (which the default profile grants and native reads cover) to a file
    // the policy denies: the broker decides the target, denies and records it.
    std::os::unix::fs::symlink("/etc/shadow", sb.path("to-shadow")).unwrap();
    // A file only its owner (uid 65534) may read: as root without capabilities the program
    // cannot, the broker (root) can, and did before the kernel was let to open anything.
    let owned = sb.path("owned-by-nobody");
    std::fs::write(&owned, b"owned\n").unwrap();
    std::fs::set_permissions(&owned, std::fs::Permissions::from_mode(0o600)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(&owned, Some(65534), Some(65534)).unwrap();
    }
    let log = sb.log("audit.jsonl");
    let who_all: &[Who] = if is_root() {
        &[Who::Invoker, Who::Nobody]
    } else {
        eprintln!("SKIP: the uid 65534 case needs root to switch users");
        &[Who::Invoker]
    };
    for &who in who_all {
        let mut programs: Vec<String> = helpers.iter().map(|h| h.display().to_string()).collect();
        programs.push("cat".into());
        for program in &programs {
            let _ = std::fs::remove_file(&log);
            let args = vec![
                "--audit".to_string(),
                log.display().to_string(),
                "-q".to_string(),
            ];
            // Native control: a plain file reads, and so does the owner-only file for its
            // owner and for root (with capabilities); shadow only for root.
            assert_eq!(read_with(who, &sb, None, program, "plain"), "plain");
            let native_owned = read_with(who, &sb, None, program, "owned-by-nobody");
            let native_shadow = read_with(who, &sb, None, program, "to-shadow");
            if who == Who::Invoker && is_root() {
                assert_eq!(native_owned, "owned", "{program}");
                assert!(!native_shadow.is_empty() && !native_shadow.contains("errno"));
            }
            // Under arbiter: the same answers for what the policy allows ...
            assert_eq!(
                read_with(who, &sb, Some(&args), program, "plain"),
                "plain",
                "{program} as {who:?}"
            );
            assert_eq!(
                read_with(who, &sb, Some(&args), program, "owned-by-nobody"),
                "owned",
                "{program} as {who:?}: the broker's open, not the program's credentials"
            );
            // ... and the symlink's target is the broker's to refuse, and to record.
            let shadow = read_with(who, &sb, Some(&args), program, "to-shadow");
            assert!(
                shadow == "errno 13" || shadow.is_empty(),
                "{program} as {who:?} read through the symlink: {shadow}"
            );
            let records = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                records
                    .lines()
                    .any(|l| l.contains("\"decision\":\"deny\"") && l.contains("\"/etc/shadow\"]")),
                "{program} as {who:?}: no denial of /etc/shadow recorded:\n{records}"
            );
        }
    }
}
