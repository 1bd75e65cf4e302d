//! Installing like a real tool: `install.sh PREFIX` puts the binary, the shim, man pages and
//! completions where arbiter finds them; a shim ld.so cannot preload stops `run` (125).

use std::path::Path;
use std::process::{Command, Stdio};

use arbiter_tests::{arbiter, bin_dir, stderr, stdout, Sandbox};

#[test]
fn install_sh_gives_a_working_arbiter_that_finds_its_shim() {
    let prefix = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../install.sh");
    let o = Command::new("bash")
        .arg(&script)
        .arg(prefix.path())
        .env("ARBITER_BUILD_DIR", bin_dir())
        .env_remove("ARBITER_SHIM_PATH")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let p = prefix.path();
    for f in [
        "bin/arbiter",
        "lib/arbiter/libarbiter_shim.so",
        "share/man/man1/arbiter.1",
        "share/man/man1/arbiter-run.1",
        "share/bash-completion/completions/arbiter",
        "share/zsh/site-functions/_arbiter",
        "share/fish/vendor_completions.d/arbiter.fish",
    ] {
        assert!(p.join(f).is_file(), "{f} not installed");
    }
    let man = std::fs::read_to_string(p.join("share/man/man1/arbiter-run.1")).unwrap();
    assert!(
        man.contains("clearenv"),
        "the man page documents run's options"
    );

    let sb = Sandbox::new();
    let o = Command::new(p.join("bin/arbiter"))
        .args(["run", "--", "cat", "/etc/hostname"])
        .current_dir(&sb.dir)
        .env_remove("ARBITER_SHIM_PATH")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        std::fs::read_to_string("/etc/hostname").unwrap()
    );
    let o = Command::new(p.join("bin/arbiter"))
        .arg("doctor")
        .env_remove("ARBITER_SHIM_PATH")
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "shim: {}",
            p.join("lib/arbiter/libarbiter_shim.so")
                .canonicalize()
                .unwrap()
                .display()
        )),
        "{out}"
    );
    assert!(out.contains("[x] version arbiter-shim/"), "{out}");
}

#[test]
fn a_shim_that_is_not_a_library_stops_run_before_the_program_starts() {
    let sb = Sandbox::new();
    let fake = sb.path("fake.so");
    std::fs::write(&fake, "#!/bin/sh\n").unwrap();
    let marker = sb.path("ran");
    let o = Command::new(arbiter())
        .args(["run", "--", "touch"])
        .arg(&marker)
        .current_dir(&sb.dir)
        .env("ARBITER_SHIM_PATH", &fake)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("not an ELF file"), "{}", stderr(&o));
    assert!(!marker.exists(), "the program must not run unbrokered");
    // Control: the real shim runs the same command.
    let o = sb.run(&[], &["touch", marker.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(marker.exists());

    let o = Command::new(arbiter())
        .arg("doctor")
        .env("ARBITER_SHIM_PATH", &fake)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(stdout(&o).contains("[ ]"), "{}", stdout(&o));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let o = Command::new(arbiter())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(o.status.success());
        assert!(stdout(&o).contains("clearenv"), "{shell}");
    }
}
