//! Operations on directories respect what lies beneath them: a rename may not carry a
//! subtree some rule treats differently (a denied directory inside an allowed one) to a
//! place where another rule decides it, nor give a file rights its old name did not have.
//! Such a rename answers `EXDEV`, so `mv` and its kind fall back to copy-and-remove, which
//! the policy decides file by file.

#[path = "integrity_harness/mod.rs"]
mod harness;

use harness::{attack, mkdir_all, Scene, SECRET};

/// `work/sub/private/key` (denied by `--deny`), `work/empty/`, `work/plain/file`.
fn scene() -> (Scene, Vec<String>) {
    let scene = Scene::new("integrity_fs");
    let extra = vec![
        "--deny".to_string(),
        scene.path("work/sub/private").display().to_string(),
    ];
    (scene, extra)
}

/// Puts the tree back as `scene()` made it.
fn reset(scene: &Scene) {
    let work = scene.work();
    for d in ["sub", "moved", "empty", "plain", "plain2"] {
        let _ = std::fs::remove_dir_all(work.join(d));
    }
    mkdir_all(scene, "work/sub/private");
    mkdir_all(scene, "work/empty");
    mkdir_all(scene, "work/plain");
    std::fs::write(work.join("sub/private/key"), SECRET).unwrap();
    std::fs::write(work.join("plain/file"), "x").unwrap();
}

/// Renaming `work/sub` (allowed) to `work/moved` once moved the denied `work/sub/private`
/// to `work/moved/private`, where the rule on `work` let the program read the key.
#[test]
fn renaming_an_allowed_ancestor_of_a_denied_directory_is_refused() {
    let (scene, extra) = scene();
    let (from, to) = (scene.path("work/sub"), scene.path("work/moved"));
    attack(
        &scene,
        &extra,
        "rename",
        &[&from, &to],
        Err(libc::EXDEV),
        || reset(&scene),
    );
    // And the key is still where the rule denies it.
    attack(
        &scene,
        &extra,
        "read",
        &[&scene.path("work/sub/private/key")],
        Err(libc::EACCES),
        || reset(&scene),
    );
}

/// `RENAME_EXCHANGE` moves both directories: `work/empty` takes the denied subtree's place,
/// and the subtree lands at `work/empty`.
#[test]
fn exchanging_an_allowed_ancestor_of_a_denied_directory_is_refused() {
    let (scene, extra) = scene();
    let (a, b) = (scene.path("work/sub"), scene.path("work/empty"));
    attack(
        &scene,
        &extra,
        "exchange",
        &[&a, &b],
        Err(libc::EXDEV),
        || reset(&scene),
    );
}

/// The allow pair: a directory whose whole subtree one rule decides moves freely.
#[test]
fn renaming_a_directory_decided_by_one_rule_throughout_is_allowed() {
    let (scene, extra) = scene();
    let (from, to) = (scene.path("work/plain"), scene.path("work/plain2"));
    attack(&scene, &extra, "rename", &[&from, &to], Ok(()), || {
        reset(&scene)
    });
}
