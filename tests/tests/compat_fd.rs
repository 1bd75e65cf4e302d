//! Descriptors a program holds are reachable by every name Linux gives them, with exactly
//! the rights the descriptor has (issue 18). `/dev/stdin`, `/dev/stdout`, `/dev/fd/N` and
//! `/proc/self/fd/N` of a file outside the policy were refused (the broker decided the
//! re-open on the file's path), and `stat` of a pipe's `/dev/fd/N` answered `ENOENT` (the
//! broker followed the magic link's text, `pipe:[…]`), which broke `echo x > /dev/stderr`
//! into a log, `cat /dev/stdin < file` and bash's `diff <(…) <(…)`. Now the broker
//! re-opens the caller's own open file description when it grants the access asked for.
//!
//! And never more: a read-only fd re-opened for writing, a write-only fd for reading, an
//! `O_PATH` fd for reading, a directory fd as a way to its denied contents — each works
//! natively (the control) and is refused under arbiter. Every case from a dynamic and a
//! static helper making raw calls (and the dynamic one through libc too), as the invoking
//! user and as uid 65534; the descriptor is opened outside arbiter and inherited, as a
//! shell's redirection would.

mod compat_common;
mod floor_common;

use std::path::PathBuf;
use std::process::{Output, Stdio};

use compat_common::helpers;
use floor_common::{arbiter, command, users, verdict, Floor, Who};

/// `wrapper` (`with-fd …` of the first helper, or nothing) then `argv`, natively or under
/// `arbiter run --strict`, as `who`, in `work/`.
fn run(f: &Floor, h: &[PathBuf], who: Who, hold: &[&str], confined: bool, argv: &[&str]) -> Output {
    let mut full: Vec<String> = Vec::new();
    if !hold.is_empty() {
        full.push(h[0].to_str().unwrap().into());
        full.push("with-fd".into());
        full.extend(hold.iter().map(|s| s.to_string()));
        full.push("--".into());
    }
    if confined {
        full.push(arbiter().to_str().unwrap().into());
        full.extend(["run", "--strict", "-q", "--"].map(String::from));
    }
    full.extend(argv.iter().map(|s| s.to_string()));
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    command(who, &full)
        .current_dir(f.path("work"))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// For every helper (and `modes`, e.g. `reopen` and `reopen-libc` for the dynamic one):
/// natively `Ok`, under arbiter `expected`.
fn check(
    f: &Floor,
    h: &[PathBuf],
    who: Who,
    hold: &[&str],
    args: &[&str],
    expected: Result<(), i32>,
) {
    for (i, bin) in h.iter().enumerate() {
        let mut modes = vec![args[0].to_string()];
        if i == 0 && args[0] == "reopen" {
            modes.push("reopen-libc".into()); // through libc: the shim passes it on
        }
        for mode in &modes {
            let mut argv = vec![bin.to_str().unwrap(), mode.as_str()];
            argv.extend_from_slice(&args[1..]);
            let native = run(f, h, who, hold, false, &argv);
            assert_eq!(
                verdict(&native),
                Ok(()),
                "control: {hold:?} {argv:?} as {who:?}"
            );
            let confined = run(f, h, who, hold, true, &argv);
            assert_eq!(
                verdict(&confined),
                expected,
                "{hold:?} {argv:?} under arbiter as {who:?}: {}",
                String::from_utf8_lossy(&confined.stderr)
            );
        }
    }
}

#[test]
fn a_held_descriptor_is_reachable_by_its_names_with_its_own_rights() {
    let f = Floor::new();
    let h = helpers(&f);
    for who in users() {
        // Outside the working directory: the default profile grants no name of it.
        let secret = f.file(&format!("secret-{who:?}"), who, 0o644);
        let s = secret.to_str().unwrap();
        check(
            &f,
            &h,
            who,
            &["0", "r", s],
            &["reopen", "/dev/stdin", "r"],
            Ok(()),
        );
        // (The helper reports on stdout: /dev/stdout itself is the shell test's.)
        check(
            &f,
            &h,
            who,
            &["2", "w", s],
            &["reopen", "/dev/stderr", "wt"],
            Ok(()),
        );
        check(
            &f,
            &h,
            who,
            &["2", "w", s],
            &["reopen", "/dev/stderr", "w"],
            Ok(()),
        );
        check(
            &f,
            &h,
            who,
            &["5", "rw", s],
            &["reopen", "/proc/self/fd/5", "rw"],
            Ok(()),
        );
        check(
            &f,
            &h,
            who,
            &["5", "r", s],
            &["reopen", "/dev/fd/5", "r"],
            Ok(()),
        );
        check(&f, &h, who, &["5", "r", s], &["stat", "/dev/fd/5"], Ok(()));
        check(&f, &h, who, &[], &["pipe-stat"], Ok(()));
        check(&f, &h, who, &[], &["pipe-reopen"], Ok(()));
        check(&f, &h, who, &[], &["pipe-access"], Ok(()));
        check(
            &f,
            &h,
            who,
            &["5", "r", s],
            &["access", "/dev/fd/5", "r"],
            Ok(()),
        );
        check(
            &f,
            &h,
            who,
            &["5", "path", s],
            &["access", "/dev/fd/5", "f"],
            Ok(()),
        );
        check(
            &f,
            &h,
            who,
            &["2", "w", s],
            &["access", "/dev/stderr", "w"],
            Ok(()),
        );
    }
}

#[test]
fn a_held_descriptor_never_gains_rights_by_being_reopened() {
    let f = Floor::new();
    let h = helpers(&f);
    for who in users() {
        let secret = f.file(&format!("secret-{who:?}"), who, 0o644);
        let s = secret.to_str().unwrap();
        let denied = Err(libc::EACCES);
        // Natively the owner may open its 0644 file for writing again; the fd alone may not.
        check(
            &f,
            &h,
            who,
            &["0", "r", s],
            &["reopen", "/dev/stdin", "rw"],
            denied,
        );
        check(
            &f,
            &h,
            who,
            &["0", "r", s],
            &["reopen", "/proc/self/fd/0", "w"],
            denied,
        );
        check(
            &f,
            &h,
            who,
            &["0", "r", s],
            &["reopen", "/dev/fd/0", "wt"],
            denied,
        );
        check(
            &f,
            &h,
            who,
            &["2", "w", s],
            &["reopen", "/dev/stderr", "r"],
            denied,
        );
        check(
            &f,
            &h,
            who,
            &["5", "path", s],
            &["reopen", "/proc/self/fd/5", "r"],
            denied,
        );
        check(
            &f,
            &h,
            who,
            &["0", "r", s],
            &["access", "/dev/stdin", "w"],
            denied,
        );
        check(
            &f,
            &h,
            who,
            &["5", "path", s],
            &["access", "/dev/fd/5", "r"],
            denied,
        );
        // A directory fd re-opened is the same directory: its denied contents stay denied.
        let dir = f.path(&format!("dir-{who:?}"));
        std::fs::create_dir_all(&dir).unwrap();
        if who == Who::Nobody {
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        }
        let key = dir.join("key");
        std::fs::write(&key, "key\n").unwrap();
        if who == Who::Nobody {
            std::os::unix::fs::chown(&key, Some(65534), Some(65534)).unwrap();
        }
        let d = dir.to_str().unwrap();
        check(
            &f,
            &h,
            who,
            &["5", "dir", d],
            &["dir-escape", "5", "key"],
            denied,
        );
        check(
            &f,
            &h,
            who,
            &["5", "dir", d],
            &["reopen", "/proc/self/fd/5/key", "r"],
            denied,
        );
        // Natively a socket cannot be opened by its /proc name: ENXIO, under arbiter too.
        for bin in &h {
            let argv = [bin.to_str().unwrap(), "socket-reopen"];
            assert_eq!(
                verdict(&run(&f, &h, who, &[], false, &argv)),
                Err(libc::ENXIO)
            );
            assert_eq!(
                verdict(&run(&f, &h, who, &[], true, &argv)),
                Err(libc::ENXIO)
            );
        }
    }
}

/// `sh -c script` natively and under arbiter as `who` with `hold`: same stdout, exit 0.
fn same_shell(f: &Floor, h: &[PathBuf], who: Who, hold: &[&str], script: &str) -> String {
    let native = run(f, h, who, hold, false, &["bash", "-c", script]);
    let confined = run(f, h, who, hold, true, &["bash", "-c", script]);
    assert!(native.status.success(), "control {script:?}: {native:?}");
    assert!(
        confined.status.success(),
        "{script:?} under arbiter: {confined:?}"
    );
    assert_eq!(native.stdout, confined.stdout, "{script:?}");
    String::from_utf8_lossy(&confined.stdout).into_owned()
}

#[test]
fn shells_reach_their_descriptors_by_name() {
    if !arbiter_tests::have("bash") {
        println!("SKIP: bash is not installed");
        return;
    }
    let f = Floor::new();
    let h = helpers(&f);
    for who in users() {
        let secret = f.file(&format!("log-{who:?}"), who, 0o644);
        let s = secret.to_str().unwrap();
        let out = same_shell(&f, &h, who, &[], "diff <(echo a) <(echo b); true");
        assert!(out.contains("< a") && out.contains("> b"), "{out:?}");
        assert_eq!(
            same_shell(&f, &h, who, &["0", "r", s], "cat /dev/stdin"),
            "text\n"
        );
        // A log outside the working directory, inherited as stderr (and stdout).
        same_shell(&f, &h, who, &["2", "w", s], "echo to-stderr > /dev/stderr");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "to-stderr\n");
        same_shell(&f, &h, who, &["1", "w", s], "echo to-stdout > /dev/stdout");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "to-stdout\n");
        same_shell(&f, &h, who, &["7", "w", s], "echo to-fd >> /dev/fd/7");
        let py = "import os; print(os.path.exists('/dev/fd/0'), os.access('/dev/stdin', os.R_OK))";
        if std::path::Path::new("/usr/bin/python3").exists() {
            let out = same_shell(
                &f,
                &h,
                who,
                &["0", "r", s],
                &format!("/usr/bin/python3 -c \"{py}\""),
            );
            assert_eq!(out, "True True\n");
        }
    }
}

#[test]
fn the_controlling_terminal_is_named_as_natively() {
    if !arbiter_tests::have("script") {
        println!("SKIP: script (util-linux) is not installed: no pseudo-terminal to test with");
        return;
    }
    let f = Floor::new();
    let a = arbiter();
    let python = std::path::Path::new("/usr/bin/python3").exists();
    for who in users() {
        let mut cmds = vec!["tty".to_string()];
        if python {
            cmds.push("/usr/bin/python3 -c 'import os; print(os.ttyname(0))'".into());
        }
        for cmd in cmds {
            let confined = format!("{} run --strict -q -- {cmd}", a.display());
            let mut outs = Vec::new();
            for line in [cmd.as_str(), confined.as_str()] {
                let out = command(who, &["script", "-qec", line, "/dev/null"])
                    .current_dir(f.path("work"))
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
                assert!(out.status.success(), "{line:?} as {who:?}: {out:?}");
                assert!(
                    text.starts_with("/dev/pts/"),
                    "{line:?} as {who:?}: {text:?}"
                );
                outs.push(text);
            }
            // Each run has a terminal of its own: only the form is compared.
            assert_eq!(outs[0].lines().count(), outs[1].lines().count(), "{outs:?}");
        }
    }
}
