//! No existence oracle: a walk through a directory the policy hides answers that rule's
//! errno (`EACCES` by default) whether or not what lies beyond exists — by `..`
//! (`private/present/../../public.txt` and `private/missing/../../public.txt`) or through a
//! symlink into the hidden directory — and a hidden path answers alike whether it exists.
//! Natively the two variants differ (success against `ENOENT`): that difference is the
//! oracle each test closes.

#[path = "integrity_harness/mod.rs"]
mod harness;

use std::path::PathBuf;

use harness::{attack, attack_expecting, mkdir_all, Scene};

const EACCES: Result<(), i32> = Err(libc::EACCES);
const ENOENT: Result<(), i32> = Err(libc::ENOENT);

/// The scene with `work/private/present/` (a directory inside the denied one) and
/// `work/open/` (an allowed directory).
fn scene() -> Scene {
    let scene = Scene::new("integrity_fs");
    mkdir_all(&scene, "work/private/present");
    mkdir_all(&scene, "work/open");
    scene
}

fn walk(scene: &Scene, via: &str) -> PathBuf {
    scene.path(&format!("work/{via}/../../public.txt"))
}

#[test]
fn a_dotdot_walk_through_a_denied_directory_tells_nothing() {
    let scene = scene();
    let extra = scene.deny_private();
    for mode in ["stat", "read"] {
        attack(
            &scene,
            &extra,
            mode,
            &[&walk(&scene, "private/present")],
            EACCES,
            || {},
        );
        attack_expecting(
            &scene,
            &extra,
            mode,
            &[&walk(&scene, "private/missing")],
            ENOENT,
            EACCES,
        );
    }
}

#[test]
fn a_symlink_walk_through_a_denied_directory_tells_nothing() {
    let scene = scene();
    let extra = scene.deny_private();
    // Symlinks the program could have made in its working directory.
    std::os::unix::fs::symlink("private/present", scene.path("work/hop")).unwrap();
    std::os::unix::fs::symlink("private/missing", scene.path("work/gap")).unwrap();
    let via = |l: &str| scene.path(&format!("work/{l}/../../public.txt"));
    for mode in ["stat", "read"] {
        attack(&scene, &extra, mode, &[&via("hop")], EACCES, || {});
        attack_expecting(&scene, &extra, mode, &[&via("gap")], ENOENT, EACCES);
    }
}

/// A denied path answers `EACCES` whether it exists or not.
#[test]
fn a_denied_path_answers_alike_whether_it_exists() {
    let scene = scene();
    let extra = scene.deny_private();
    for mode in ["stat", "read"] {
        let key = scene.path("work/private/key");
        attack(&scene, &extra, mode, &[&key], EACCES, || {});
        let missing = scene.path("work/private/missing");
        attack_expecting(&scene, &extra, mode, &[&missing], ENOENT, EACCES);
        let deeper = scene.path("work/private/missing/deeper");
        attack_expecting(&scene, &extra, mode, &[&deeper], ENOENT, EACCES);
    }
}

/// The allow pair: a `..` walk through an allowed directory works, and a missing path
/// there is `ENOENT`.
#[test]
fn a_dotdot_walk_through_an_allowed_directory_works() {
    let scene = scene();
    let extra = scene.deny_private();
    for mode in ["stat", "read"] {
        let through = scene.path("work/open/../public.txt");
        attack(&scene, &extra, mode, &[&through], Ok(()), || {});
        let missing = scene.path("work/nope/../public.txt");
        attack_expecting(&scene, &extra, mode, &[&missing], ENOENT, ENOENT);
    }
}
