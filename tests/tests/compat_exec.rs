//! A program runs what it wrote in its working directory and its TMPDIR under the default
//! profile (issue 18): `cc -o h h.c && ./h`, `./script.sh`, a `./configure` that compiles
//! and runs a test program, a build tree's `./target/debug/x`, a git hook. Before, each
//! failed with `Permission denied` (exit 126): the policy granted no `exec` in `$PWD` and
//! Landlock's execute right stopped at the system floor.
//!
//! And what it runs stays confined: a binary the program wrote there (the static and the
//! dynamic attack helper, raw system calls; `cat` copied in, through libc) cannot read a
//! file the policy denies, which the same binary reads natively (the control). Each case
//! runs natively first and under `arbiter run --strict`, as the invoking user and as uid
//! 65534.

mod compat_common;
mod floor_common;

use std::process::Stdio;

use floor_common::{users, verdict, Floor, Who};

/// `sh -c SCRIPT` natively and under arbiter as `who`: both print `expected` and exit 0.
fn same(f: &Floor, who: Who, script: &str, expected: &str) {
    for (how, out) in [
        ("natively", f.native(who, &["sh", "-c", script])),
        ("under arbiter", f.confined(who, &[], &["sh", "-c", script])),
    ] {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text == expected,
            "{script:?} {how} as {who:?}: {:?}, stdout {text:?}, stderr {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A fresh working directory for one user (world-writable, as `Floor`'s own).
fn fresh(f: &Floor) {
    let work = f.path("work");
    for entry in std::fs::read_dir(&work).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    std::fs::write(
        work.join("h.c"),
        "#include <stdio.h>\nint main(void){puts(\"hello\");return 0;}\n",
    )
    .unwrap();
}

#[test]
fn a_program_runs_what_it_built_in_its_working_directory() {
    let f = Floor::new();
    for who in users() {
        fresh(&f);
        same(&f, who, "rm -f h; cc -o h h.c && ./h", "hello\n");
        fresh(&f);
        same(
            &f,
            who,
            "mkdir -p target/debug && cc -o target/debug/x h.c && ./target/debug/x",
            "hello\n",
        );
        fresh(&f);
        same(
            &f,
            who,
            "t=${TMPDIR:-/tmp}/t-$$; cc -o $t h.c && $t; rm -f $t",
            "hello\n",
        );
    }
}

#[test]
fn a_script_the_program_wrote_runs() {
    let f = Floor::new();
    for who in users() {
        fresh(&f);
        same(
            &f,
            who,
            "printf '#!/bin/sh\\necho script\\n' > s.sh && chmod +x s.sh && ./s.sh",
            "script\n",
        );
        // A configure script (the project's own, in $PWD) compiling and running a test
        // program, as autoconf's do.
        fresh(&f);
        std::fs::write(
            f.path("work/configure"),
            "#!/bin/sh\ncat > conftest.c <<EOF\nint main(void){return 0;}\nEOF\n\
             if cc -o conftest conftest.c && ./conftest; then echo 'checking whether we are cross compiling... no'; fi\n\
             rm -f conftest conftest.c\n",
        )
        .unwrap();
        std::fs::set_permissions(
            f.path("work/configure"),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        same(
            &f,
            who,
            "./configure",
            "checking whether we are cross compiling... no\n",
        );
    }
}

#[test]
fn a_git_hook_runs() {
    if !arbiter_tests::have("git") {
        println!("SKIP: git is not installed");
        return;
    }
    let f = Floor::new();
    for who in users() {
        fresh(&f);
        // git runs a hook with its stdout on stderr.
        same(
            &f,
            who,
            "rm -rf r && mkdir r && cd r && git init -q . && printf '#!/bin/sh\\necho hook ran\\n' > .git/hooks/pre-commit && \
             chmod +x .git/hooks/pre-commit && \
             git -c user.name=a -c user.email=a@b commit -q --allow-empty -m m 2>&1 | \
             grep -x 'hook ran'",
            "hook ran\n",
        );
    }
}

#[test]
fn what_the_program_runs_is_confined_by_the_same_policy() {
    let f = Floor::new();
    for who in users() {
        fresh(&f);
        let secret = f.file(&format!("secret-{who:?}"), who, 0o644);
        let secret = secret.to_str().unwrap();
        for helper in &f.helpers {
            // The program writes the helper it receives on stdin into $PWD and runs it.
            let script = format!("cat > h && chmod +x h && ./h read {secret}");
            let stdin = || Stdio::from(std::fs::File::open(helper).unwrap());
            let native = f.native_in(who, &["sh", "-c", &script], stdin());
            assert_eq!(verdict(&native), Ok(()), "control: {helper:?} as {who:?}");
            let confined = f.confined_in(who, &[], &["sh", "-c", &script], stdin());
            assert_eq!(
                verdict(&confined),
                Err(libc::EACCES),
                "{helper:?} written and run in $PWD as {who:?}"
            );
        }
        // Through libc: cat copied into $PWD by the program.
        let script = format!("cp /usr/bin/cat ./mycat && ./mycat {secret}");
        let native = f.native(who, &["sh", "-c", &script]);
        assert!(native.status.success(), "control: {native:?}");
        let confined = f.confined(who, &[], &["sh", "-c", &script]);
        assert_eq!(confined.status.code(), Some(1), "{confined:?}");
        assert!(
            String::from_utf8_lossy(&confined.stderr).contains("Permission denied"),
            "{confined:?}"
        );
    }
}

/// A file the program has just written through the broker runs at once: the broker's own
/// copy of the fd may still be open for a moment after the answer (until its worker thread
/// runs again), and execve answers `ETXTBSY` meanwhile; the shim's exec waits it out. Before
/// the shim retried, a few in a hundred of these failed with "Text file busy" on a loaded
/// machine (a regression test only as likely to catch the race as the machine is busy).
#[test]
fn a_file_just_written_runs_without_text_file_busy() {
    let f = Floor::new();
    let script =
        "for i in $(seq 1 100); do rm -f x; cp /usr/bin/true ./x && ./x || echo busy; done";
    for extra in [&[][..], &["--no-seccomp-transport"][..]] {
        let out = f.confined(Who::Invoker, extra, &["sh", "-c", script]);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "",
            "{extra:?}: {out:?}"
        );
    }
}

/// The same for a program making raw calls (a static one, Go's toolchain): it writes a
/// binary through the seccomp transport and execs it at once. The broker used to close its
/// copy of the fd only after the target ran again, and 183 of 200 such execs failed with
/// `ETXTBSY` here; now the fd is added, the copy closed, and only then the answer sent.
#[test]
fn a_binary_just_written_by_raw_calls_runs() {
    let f = Floor::new();
    let h = compat_common::helpers(&f);
    for who in users() {
        for bin in &h {
            let argv = [bin.to_str().unwrap(), "write-exec", "/usr/bin/true", "100"];
            assert_eq!(verdict(&f.native(who, &argv)), Ok(()), "control");
            assert_eq!(
                verdict(&f.confined(who, &[], &argv)),
                Ok(()),
                "{argv:?} as {who:?} (26: text file busy)"
            );
        }
    }
}
