//! `arbiter run` compiles the policy on a second thread while its main thread forks the pid
//! namespace's init (docs/performance.md, "The critical path of `arbiter run`"): the
//! namespace is still made, a policy that fails to compile is still reported as before, and
//! nothing arbiter started outlives it then (the init dies with the broker). As root (the
//! namespace) and as uid 65534 (none).

use std::process::{Command, Output, Stdio};

use arbiter_tests::{arbiter_as, assert_code, invoker_and_nobody, stderr, stdout, Sandbox};

/// `arbiter run EXTRA -- CMD` in `sb`, as root or (with `nobody`) as uid 65534, with the
/// variable `ARBITER_TEST_MARK=mark` in its environment (every process it forks keeps it).
fn run(sb: &Sandbox, nobody: bool, mark: &str, extra: &[&str], cmd: &[&str]) -> Output {
    let mut c = arbiter_as(nobody);
    c.arg("run")
        .args(extra)
        .arg("--")
        .args(cmd)
        .current_dir(&sb.dir)
        .env("ARBITER_TEST_MARK", mark)
        .env("HOME", "/nonexistent")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null());
    c.output().expect("run arbiter")
}

/// The processes whose environment holds `ARBITER_TEST_MARK=mark`.
fn marked(mark: &str) -> Vec<String> {
    let needle = format!("ARBITER_TEST_MARK={mark}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            found.push(format!("{name} {}", comm.trim()));
        }
    }
    found
}

#[test]
fn a_policy_that_fails_to_compile_is_reported_and_leaves_no_process_behind() {
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        std::fs::write(sb.path("bad.toml"), "version = 1\n[[fs]]\npath = 7\n").unwrap();
        std::fs::set_permissions(
            sb.path("bad.toml"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        let mark = format!("bad-policy-{}-{nobody}", std::process::id());
        let o = run(&sb, nobody, &mark, &["--policy", "./bad.toml"], &["true"]);
        assert_code(&o, 125);
        assert!(
            stderr(&o).starts_with("arbiter: invalid policy"),
            "nobody={nobody}: {}",
            stderr(&o)
        );
        // The guardian has reaped the broker and, as a subreaper, whatever it left: the
        // pid namespace's init (as root) is gone when arbiter's status is known.
        assert_eq!(marked(&mark), Vec::<String>::new(), "nobody={nobody}");
    }
}

#[test]
fn the_pid_namespace_is_made_while_the_policy_compiles() {
    // Native control: outside arbiter the shell is not pid 2.
    let native = Command::new("sh")
        .args(["-c", "echo $$"])
        .output()
        .expect("sh");
    assert_ne!(String::from_utf8_lossy(&native.stdout).trim(), "2");
    for nobody in invoker_and_nobody() {
        let sb = Sandbox::new();
        let mark = format!("pidns-{}-{nobody}", std::process::id());
        let o = run(&sb, nobody, &mark, &[], &["sh", "-c", "echo $$"]);
        assert_code(&o, 0);
        let pid = stdout(&o);
        if nobody {
            // Unprivileged: no namespace (docs/process-model.md), the host's pid.
            assert_ne!(pid.trim(), "2", "{}", stderr(&o));
        } else {
            // As root: pid 2 of the sandbox's namespace (the init is pid 1).
            assert_eq!(pid.trim(), "2", "{}", stderr(&o));
        }
        assert_eq!(marked(&mark), Vec::<String>::new(), "nobody={nobody}");
    }
}
