//! Filesystem escapes by a program that bypasses the shim (raw syscalls, static binary):
//! each must work natively and be denied under arbiter by the kernel layers.

mod common;

use common::{denied, Scene};

const EACCES: i32 = libc::EACCES;

#[test]
fn read_secret_outside_the_floor() {
    let s = Scene::new();
    denied(
        &s,
        &["read", s.path("outside/secret").to_str().unwrap()],
        EACCES,
        || {},
    );
}

#[test]
fn create_outside() {
    let s = Scene::new();
    let p = s.path("outside/new");
    denied(&s, &["create", p.to_str().unwrap()], EACCES, || {
        let _ = std::fs::remove_file(&p);
    });
}

#[test]
fn write_outside() {
    let s = Scene::new();
    denied(
        &s,
        &["write", s.path("outside/secret").to_str().unwrap()],
        EACCES,
        || {},
    );
}

#[test]
fn rename_outside() {
    let s = Scene::new();
    let (a, b) = (s.path("outside/secret"), s.path("outside/moved"));
    denied(
        &s,
        &["rename", a.to_str().unwrap(), b.to_str().unwrap()],
        EACCES,
        || {
            if b.exists() {
                std::fs::rename(&b, &a).unwrap();
            }
        },
    );
}

#[test]
fn unlink_outside() {
    let s = Scene::new();
    let p = s.path("outside/secret");
    denied(&s, &["unlink", p.to_str().unwrap()], EACCES, || {
        std::fs::write(&p, "secret\n").unwrap();
    });
}

/// chmod by path is not governed by Landlock; seccomp denies it.
#[test]
fn chmod_outside() {
    let s = Scene::new();
    denied(
        &s,
        &["chmod", s.path("outside/secret").to_str().unwrap()],
        EACCES,
        || {},
    );
}

/// Without the shim the program still runs, but reaches nothing outside the floor.
/// (`cat` lives in the floor; a helper in a tempdir would not be executable through `env`.)
#[test]
fn env_without_ld_preload() {
    let s = Scene::new();
    let secret = s.path("outside/secret");
    let argv = [
        "/usr/bin/env",
        "-u",
        "LD_PRELOAD",
        "cat",
        secret.to_str().unwrap(),
    ];
    let native = s.native(&argv);
    assert_eq!(
        String::from_utf8_lossy(&native.stdout),
        "secret\n",
        "negative control"
    );
    let confined = s.confined(&argv);
    assert_eq!(confined.stdout, b"", "the secret leaked");
    assert!(
        String::from_utf8_lossy(&confined.stderr).contains("Permission denied"),
        "{:?}",
        confined
    );
}
