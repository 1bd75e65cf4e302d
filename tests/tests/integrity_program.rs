//! The program's own files are read as the kernel reads them, and nothing the program could
//! have written adds a grant: the `#!` line of a script in the writable working directory
//! does not widen the policy to its interpreter's installation prefix (an untrusted
//! repository's script naming `#!/home/you/private/bin/interp` would otherwise be given
//! read and exec on `/home/you/private`).

#[path = "integrity_harness/mod.rs"]
mod harness;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use arbiter_tests::invoker_and_nobody;
use harness::{show, Scene};

fn executable(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    for d in p.ancestors().skip(1).take(2) {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `outside/bin/interp` (an interpreter: runs its script with /bin/sh), `outside/secret`,
/// and a script at `script` (relative to the scene) whose `#!` names the interpreter and
/// which prints the secret.
fn scene(script: &str) -> Scene {
    let scene = Scene::new("integrity_fs");
    executable(
        &scene.path("outside/bin/interp"),
        "#!/bin/sh\nexec /bin/sh \"$@\"\n",
    );
    std::fs::write(scene.path("outside/secret"), "OUTSIDE-SECRET\n").unwrap();
    let text = format!(
        "#!{}\ncat {}\n",
        scene.path("outside/bin/interp").display(),
        scene.path("outside/secret").display()
    );
    executable(&scene.path(script), &text);
    scene
}

/// Runs `script` natively (the control: it prints the secret) and under arbiter.
fn run(scene: &Scene, script: &str, unprivileged: bool) -> (String, String, std::process::Output) {
    let argv = [scene.path(script).display().to_string()];
    let native = scene.native(&argv, unprivileged);
    let confined = scene.confined(&[], &argv, unprivileged);
    (
        String::from_utf8_lossy(&native.stdout).into_owned(),
        String::from_utf8_lossy(&confined.stdout).into_owned(),
        confined,
    )
}

/// A script in the working directory (which the program may write) once granted its
/// interpreter's whole prefix, `outside/`, and so `outside/secret`.
#[test]
fn a_writable_scripts_interpreter_line_adds_no_grant() {
    let scene = scene("work/script");
    for unprivileged in invoker_and_nobody() {
        let (native, confined, o) = run(&scene, "work/script", unprivileged);
        assert_eq!(native, "OUTSIDE-SECRET\n", "control");
        assert!(!confined.contains("OUTSIDE-SECRET"), "{}", show(&o));
        assert_ne!(o.status.code(), Some(0), "{}", show(&o));
    }
}

/// The allow pair: the same script installed outside anything the program may write runs
/// with its interpreter's prefix granted.
#[test]
fn an_installed_scripts_interpreter_prefix_is_granted() {
    let scene = scene("tools/bin/run");
    for unprivileged in invoker_and_nobody() {
        let (native, confined, o) = run(&scene, "tools/bin/run", unprivileged);
        assert_eq!(native, "OUTSIDE-SECRET\n", "control");
        assert_eq!(confined, "OUTSIDE-SECRET\n", "{}", show(&o));
    }
}

/// The way to run such a script: `--rx` grants the interpreter's prefix explicitly.
#[test]
fn a_writable_scripts_interpreter_runs_when_granted_with_rx() {
    let scene = scene("work/script");
    let rx = [
        "--rx".to_string(),
        scene.path("outside").display().to_string(),
    ];
    for unprivileged in invoker_and_nobody() {
        let argv = [scene.path("work/script").display().to_string()];
        let o = scene.confined(&rx, &argv, unprivileged);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "OUTSIDE-SECRET\n",
            "{}",
            show(&o)
        );
    }
}
