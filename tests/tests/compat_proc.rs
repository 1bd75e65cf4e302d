//! The program's own process is visible to it as natively (issue 18), whichever way a call
//! reaches the broker: `/proc/self/…`, `/proc/<its pid>/…`, `/proc/thread-self/…` and a
//! thread's `/proc/<pid>/task/<tid>/…`, from the main thread and from a second one, by raw
//! system calls from a static helper (the seccomp transport) and a dynamic one, through
//! libc and the shim (`cat`, `readlink`, `ls`), without the seccomp transport too; and
//! ld.so expands `$ORIGIN` (through `/proc/self/exe`) for a program whose libraries sit
//! beside its `bin/`, as a JDK's do. Each attempt runs natively first (the control), as the
//! invoking user and as uid 65534. Other processes' `/proc` stays denied
//! (`escape_proc.rs`, `floor_proc.rs`).

mod compat_common;
mod floor_common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use compat_common::helpers;
use floor_common::{command, users, verdict, Floor};

const FORMS: &[&[&str]] = &[
    &["readlink", "/proc/self/exe"],
    &["proc", "/proc/self/status"],
    &["proc", "/proc/self/maps"],
    &["proc", "/proc/self/stat"],
    &["proc", "/proc/self/cmdline"],
    &["proc", "/proc/self/mountinfo"],
    &["proc", "/proc/thread-self/status"],
    &["proc-pid", "status"],
    &["proc-pid", "maps"],
    &["proc-thread", "/proc/self/status"],
    &["proc-thread", "/proc/thread-self/status"],
    &["proc-thread", "status"],
    &["proc-thread", "maps"],
    &["proc-thread", "pid/status"],
    &["reopen", "/proc/self/fd", "dir"],
    &["reopen", "/proc/thread-self/fd", "dir"],
];

#[test]
fn the_own_process_is_visible_by_every_name() {
    let f = Floor::new();
    let h = helpers(&f);
    for who in users() {
        for bin in &h {
            for form in FORMS {
                let mut argv = vec![bin.to_str().unwrap()];
                argv.extend_from_slice(form);
                assert_eq!(verdict(&f.native(who, &argv)), Ok(()), "control {argv:?}");
                for extra in [&[][..], &["--no-seccomp-transport"][..]] {
                    assert_eq!(
                        verdict(&f.confined(who, extra, &argv)),
                        Ok(()),
                        "{argv:?} under arbiter {extra:?} as {who:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn libc_programs_see_their_own_process() {
    let f = Floor::new();
    for who in users() {
        for script in [
            "readlink /proc/self/exe",
            "head -c 5 /proc/self/status",
            "ls /proc/self/fd | head -1",
            // exec: $$ is then the reading process's own pid.
            "exec head -c 3 /proc/$$/status",
            "ls /proc/thread-self/ | grep -x status",
            "exec readlink /proc/$$/exe",
        ] {
            let native = f.native(who, &["sh", "-c", script]);
            let confined = f.confined(who, &[], &["sh", "-c", script]);
            assert!(native.status.success(), "control {script:?}: {native:?}");
            assert_eq!(
                (confined.status.code(), &confined.stdout),
                (Some(0), &native.stdout),
                "{script:?} as {who:?}: {}",
                String::from_utf8_lossy(&confined.stderr)
            );
        }
    }
}

#[test]
fn origin_relative_libraries_load() {
    let f = Floor::new();
    // A JDK-like installation outside the working directory: bin/prog needs
    // $ORIGIN/../lib/libjli.so, which ld.so finds through /proc/self/exe.
    let jdk = f.path("jdk");
    for d in ["bin", "lib"] {
        std::fs::create_dir_all(jdk.join(d)).unwrap();
    }
    std::fs::write(jdk.join("lib.c"), "int jli(void){return 42;}\n").unwrap();
    std::fs::write(
        jdk.join("prog.c"),
        "#include <stdio.h>\nint jli(void);\nint main(void){printf(\"%d\\n\", jli());return 0;}\n",
    )
    .unwrap();
    let cc = |args: &[&str]| {
        let ok = Command::new("cc")
            .args(args)
            .current_dir(&jdk)
            .status()
            .unwrap()
            .success();
        assert!(ok, "cc {args:?}");
    };
    cc(&["-shared", "-fPIC", "-o", "lib/libjli.so", "lib.c"]);
    cc(&[
        "-o",
        "bin/prog",
        "prog.c",
        "-Llib",
        "-ljli",
        "-Wl,-rpath,$ORIGIN/../lib",
    ]);
    for p in [&jdk, &jdk.join("bin"), &jdk.join("lib")] {
        std::fs::set_permissions(p, PermissionsExt::from_mode(0o755)).unwrap();
    }
    let prog = jdk.join("bin/prog");
    let prog = prog.to_str().unwrap();
    for who in users() {
        let native = command(who, &[prog]).stdin(Stdio::null()).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&native.stdout), "42\n", "control");
        let confined = f.confined(who, &[], &[prog]);
        assert_eq!(
            String::from_utf8_lossy(&confined.stdout),
            "42\n",
            "as {who:?}: {confined:?}"
        );
    }
}
