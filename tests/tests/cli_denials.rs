//! A denied call is named on stderr with the option that allows it, and following that hint
//! makes the call succeed.

use std::process::{Command, Stdio};

use arbiter_tests::{arbiter, outside_dir, stderr, stdout, Sandbox};

/// The `to allow: …` hint of the first stderr line that names `what`.
fn hint_for(err: &str, what: &str) -> Vec<String> {
    let line = err
        .lines()
        .find(|l| l.starts_with("arbiter: denied") && l.contains(what))
        .unwrap_or_else(|| panic!("no denial line for {what} in:\n{err}"));
    let hint = line.split("to allow: ").nth(1).expect("a hint");
    hint.split(' ').map(str::to_owned).collect()
}

#[test]
fn a_denied_read_names_the_rule_and_the_hint_makes_it_succeed() {
    let sb = Sandbox::new();
    let outside = outside_dir();
    let secret = outside.path().join("notes.txt");
    std::fs::write(&secret, "hello\n").unwrap();
    let secret = secret.to_str().unwrap();

    let o = sb.run(&[], &["cat", secret]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("Permission denied"), "{err}");
    let hint = hint_for(&err, secret);
    assert_eq!(hint, ["--ro", secret]);
    assert!(err.contains("(no rule)"), "{err}");
    assert!(err.contains("call(s) denied"), "the exit summary: {err}");

    let hint: Vec<&str> = hint.iter().map(String::as_str).collect();
    let o = sb.run(&hint, &["cat", secret]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hello\n");
    assert!(!stderr(&o).contains("arbiter: denied"), "{}", stderr(&o));
}

#[test]
fn a_denied_write_hint_makes_it_succeed() {
    let sb = Sandbox::new();
    let outside = outside_dir();
    let target = outside.path().join("out.txt");
    let t = target.to_str().unwrap();
    let o = sb.run(&[], &["sh", "-c", &format!("echo x > {t}")]);
    assert_ne!(o.status.code(), Some(0));
    let hint = hint_for(&stderr(&o), t);
    assert_eq!(hint[0], "--rw", "{hint:?}");
    let hint: Vec<&str> = hint.iter().map(String::as_str).collect();
    let o = sb.run(&hint, &["sh", "-c", &format!("echo x > {t}")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "x\n");
}

#[test]
fn a_denied_connect_hint_makes_it_succeed() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = std::thread::spawn(move || {
        // One connection is expected: the one the hint allows.
        let _ = listener.accept();
    });
    let sb = Sandbox::new();
    let script = format!(
        "import socket\ns=socket.socket()\ntry:\n  s.connect(('127.0.0.1',{port})); print('connected')\nexcept OSError as e: print('refused', e.errno)\n"
    );
    let o = sb.run(&[], &["python3", "-c", &script]);
    assert!(stdout(&o).starts_with("refused"), "{}", stdout(&o));
    let hint = hint_for(&stderr(&o), &format!("127.0.0.1:{port}"));
    assert_eq!(
        hint,
        ["--connect".to_owned(), format!("tcp:127.0.0.1:{port}")]
    );
    let hint: Vec<&str> = hint.iter().map(String::as_str).collect();
    let o = sb.run(&hint, &["python3", "-c", &script]);
    assert_eq!(stdout(&o), "connected\n", "{}", stderr(&o));
    accept.join().unwrap();
}

#[test]
fn quiet_silences_denial_lines_and_the_audit_record_carries_the_hint() {
    let sb = Sandbox::new();
    let outside = outside_dir();
    let secret = outside.path().join("s.txt");
    std::fs::write(&secret, "x").unwrap();
    let s = secret.to_str().unwrap();
    let o = sb.run(&["--quiet"], &["cat", s]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("arbiter:"), "{}", stderr(&o));

    let log = sb.log("audit.jsonl");
    let o = sb.run(&["--quiet", "--audit", log.to_str().unwrap()], &["cat", s]);
    assert_eq!(o.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    let denied: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["decision"] == "deny" && r["args"]["path"] == s)
        .collect();
    assert!(!denied.is_empty(), "{text}");
    assert_eq!(denied[0]["hint"], format!("--ro {s}"));
}

#[test]
fn a_mistyped_option_is_refused_before_anything_runs() {
    let sb = Sandbox::new();
    let marker = sb.path("ran");
    let o = Command::new(arbiter())
        .args(["run", "--polcy", "p.toml", "--", "touch"])
        .arg(&marker)
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--policy"),
        "did you mean: {}",
        stderr(&o)
    );
    assert!(!marker.exists());
    // Without `--` too: the command starts at the first word that is not an option.
    let o = Command::new(arbiter())
        .args(["run", "--bogus", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    // An option's value that looks like an option, and the command's own options, still work.
    let o = sb.run(&[], &["ls", "-d", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = Command::new(arbiter())
        .args(["run", "ls", "-d", "/"])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "/\n", "{}", stderr(&o));
}

#[test]
fn report_commands_end_quietly_on_a_closed_pipe() {
    for args in [
        &["profiles"][..],
        &["profiles", "show", "default"],
        &["doctor"],
        &["explain", "open", "/etc/hostname"],
    ] {
        let mut child = Command::new(arbiter())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the command writes: every write then meets EPIPE.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert!(
            o.status.success() || o.status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {:?} {err}",
            o.status
        );
    }
}

#[test]
fn environment_options_and_credential_withholding() {
    let sb = Sandbox::new();
    let run = |extra: &[&str], script: &str| {
        let mut c = Command::new(arbiter());
        c.arg("run")
            .args(extra)
            .args(["--", "sh", "-c", script])
            .current_dir(&sb.dir)
            .stdin(Stdio::null())
            .env("MY_API_TOKEN", "t0k")
            .env("PLAIN_SETTING", "p");
        c.output().unwrap()
    };
    let o = run(&[], "echo \"[$MY_API_TOKEN][$PLAIN_SETTING]\"");
    assert_eq!(stdout(&o), "[][p]\n");
    assert!(stderr(&o).contains("MY_API_TOKEN"), "{}", stderr(&o));
    let o = run(&["--keep-env", "MY_API_TOKEN"], "echo \"[$MY_API_TOKEN]\"");
    assert_eq!(stdout(&o), "[t0k]\n");
    let o = run(
        &[
            "--clearenv",
            "--setenv",
            "A",
            "b c",
            "--keep-env",
            "PLAIN_SETTING",
        ],
        "echo \"[$A][$PLAIN_SETTING][$HOME]\"",
    );
    assert_eq!(stdout(&o), "[b c][p][]\n", "{}", stderr(&o));
    let o = run(
        &["--unsetenv", "PLAIN_SETTING"],
        "echo \"[$PLAIN_SETTING]\"",
    );
    assert_eq!(stdout(&o), "[]\n");
    let o = run(&["--setenv", "A=B", "x"], "true");
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn chdir_starts_the_command_there_and_it_is_the_policys_pwd() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("sub")).unwrap();
    let o = Command::new(arbiter())
        .args(["run", "--chdir"])
        .arg(sb.path("sub"))
        .args(["--", "sh", "-c", "pwd; echo w > made && cat made"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&o),
        format!("{}\nw\n", sb.path("sub").display()),
        "{}",
        stderr(&o)
    );
    let o = Command::new(arbiter())
        .args(["run", "--chdir", "/nonexistent-dir", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("--chdir"), "{}", stderr(&o));
}

#[test]
fn policy_names_are_found_in_the_user_config_directory() {
    let sb = Sandbox::new();
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir(config.path().join("arbiter")).unwrap();
    let outside = outside_dir();
    let file = outside.path().join("data.txt");
    std::fs::write(&file, "data\n").unwrap();
    std::fs::write(
        config.path().join("arbiter/mine.toml"),
        format!(
            "version = 1\nextends = [\"default\"]\n[[fs]]\npath = \"{}\"\nallow = \"ro\"\n",
            outside.path().display()
        ),
    )
    .unwrap();
    let with_config = |args: &[&str]| {
        Command::new(arbiter())
            .args(args)
            .current_dir(&sb.dir)
            .env("XDG_CONFIG_HOME", config.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let f = file.to_str().unwrap();
    let o = with_config(&["run", "--policy", "mine", "--", "cat", f]);
    assert_eq!(stdout(&o), "data\n", "{}", stderr(&o));
    let o = with_config(&["check", "mine"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = with_config(&["explain", "--policy", "mine", "open", f]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = with_config(&["profiles"]);
    assert!(stdout(&o).contains("mine.toml"), "{}", stdout(&o));
    // explain takes run's additions.
    let o = with_config(&["explain", "--deny", f, "--policy", "mine", "open", f]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

/// `arbiter run …` as uid 65534 when the tests run as root, else as the current user.
fn run_as(unprivileged: bool, sb: &Sandbox, cmd: &[&str]) -> std::process::Output {
    if !unprivileged {
        return sb.run(&[], cmd);
    }
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(arbiter())
        .arg("run")
        .arg("--")
        .args(cmd)
        .current_dir(&sb.dir)
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .output()
        .expect("run setpriv")
}

/// A program names a file whose name holds a newline, an escape sequence and a
/// bidirectional override: arbiter's denial line must stay one line that drives no
/// terminal, and its hint must still name the file (bash reads it back as the same name).
/// Through libc (`cat`) and a static helper's raw `openat`; as root and as uid 65534.
#[test]
fn a_name_the_program_chose_cannot_forge_denial_lines_or_drive_the_terminal() {
    let sb = Sandbox::new();
    let tools = tempfile::tempdir_in(&sb.dir).unwrap();
    std::fs::set_permissions(
        tools.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let raw = arbiter_tests::compile_dynamic_and_static("raw_open", tools.path(), &[]);
    let outside = outside_dir();
    let name = "a\narbiter: allowed everything\x1b[2K\u{202e}b";
    let secret = outside.path().join(name);
    std::fs::write(&secret, "secret\n").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let secret = secret.to_str().unwrap();
    // Native control: the file is there and readable.
    assert_eq!(std::fs::read_to_string(secret).unwrap(), "secret\n");

    let mut users = vec![false];
    if arbiter_tests::is_root() && arbiter_tests::have("setpriv") {
        users.push(true);
    } else {
        println!("SKIP: the uid 65534 pass needs root and setpriv");
    }
    let mut programs: Vec<String> = vec!["cat".into()];
    programs.extend(raw.iter().map(|p| p.to_str().unwrap().to_owned()));
    for unprivileged in users {
        for program in &programs {
            let o = run_as(unprivileged, &sb, &[program, secret]);
            assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
            assert!(!stdout(&o).contains("secret"), "{}", stdout(&o));
            let err = stderr(&o);
            println!("{program} (uid 65534: {unprivileged}): {err}");
            let ours: Vec<&str> = err.lines().filter(|l| l.starts_with("arbiter:")).collect();
            for line in &ours {
                assert!(
                    !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
                    "{program} (uid 65534: {unprivileged}): {line:?}"
                );
                assert!(
                    !line.starts_with("arbiter: allowed"),
                    "a forged line: {err:?}"
                );
            }
            let denial = ours
                .iter()
                .find(|l| l.starts_with("arbiter: denied"))
                .unwrap_or_else(|| panic!("{program}: no denial line in {err:?}"));
            let hint = denial.split("to allow: --ro ").nth(1).expect("a hint");
            let back = Command::new("bash")
                .args(["-c", &format!("printf %s {hint}")])
                .output()
                .expect("bash");
            assert_eq!(String::from_utf8_lossy(&back.stdout), secret);
        }
    }
    // `arbiter explain` of that name (a user pasting the hint) escapes it too.
    let o = Command::new(arbiter())
        .args(["explain", "open", secret, "read"])
        .output()
        .expect("arbiter explain");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("a\\narbiter: allowed"), "{out}");
    for line in out.lines() {
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{line:?}"
        );
    }
}
