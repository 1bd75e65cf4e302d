//! The broker's own integrity (issue 14's red team): what the broker opens is the object it
//! decided about, and every brokered call gets an answer. Each attack runs through libc and
//! as a raw system call, from a dynamic and a static build of `helpers/integrity_broker.c`,
//! as root and as nobody, with a native control.

#[path = "integrity_harness/mod.rs"]
mod harness;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use arbiter_tests::{arbiter, invoker_and_nobody, shim};
use harness::{attack, attack_expecting, mkdir_all, show, verdict, Scene};

/// `argv` under `arbiter run EXTRA… -- argv` in `work/`, with `env` set; natively when
/// `arb` is false. A run that never ends fails (`timeout`) instead of hanging the suite.
fn run(
    scene: &Scene,
    env: &[(&str, &Path)],
    extra: &[String],
    argv: &[String],
    unprivileged: bool,
    arb: bool,
) -> Output {
    let mut c = Command::new("timeout");
    c.arg("120");
    if unprivileged {
        c.args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ]);
        c.env("HOME", "/nonexistent");
    }
    if arb {
        c.arg(arbiter()).arg("run").args(extra).arg("--");
    }
    c.args(argv)
        .envs(env.iter().copied())
        .current_dir(scene.work())
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run")
}

fn argv(helper: &Path, form: &str, args: &[&Path]) -> Vec<String> {
    let mut v = vec![helper.display().to_string(), form.to_string()];
    v.extend(args.iter().map(|p| p.display().to_string()));
    v
}

/// The shim lies beneath the working directory (a cargo build tree); the program swaps it
/// for a symlink to the denied key and opens the shim's exact path. Natively the read
/// succeeds; under arbiter the broker must not follow the name to the key (issue 14, 03).
#[test]
fn a_floor_file_swapped_for_a_symlink_is_not_opened_by_name() {
    let scene = Scene::new("integrity_broker");
    let extra = scene.deny_private();
    let lib = scene.path("work/target");
    std::fs::create_dir(&lib).unwrap();
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o777)).unwrap();
    let copy = lib.join("libarbiter_shim.so");
    let reset = || {
        let _ = std::fs::remove_file(&copy);
        std::fs::copy(shim(), &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let env = [("ARBITER_SHIM_PATH", copy.as_path())];
    let key = scene.path("work/private/key");
    for unprivileged in invoker_and_nobody() {
        for h in &scene.helpers {
            for form in ["swapread", "raw-swapread"] {
                let a = argv(h, form, &[&key, &copy]);
                reset();
                let o = run(&scene, &[], &[], &a, unprivileged, false);
                assert_eq!(verdict(&o), Ok(()), "control {a:?}: {}", show(&o));
                reset();
                let o = run(&scene, &env, &extra, &a, unprivileged, true);
                assert_eq!(
                    verdict(&o),
                    Err(libc::EACCES),
                    "{a:?} under arbiter (unprivileged: {unprivileged}): {}",
                    show(&o)
                );
            }
        }
    }
}

/// The allow side: the floor's exact files (the shim where it was surveyed, `/dev/null`)
/// still open, through libc and the seccomp transport alike.
#[test]
fn the_floor_files_still_open() {
    let scene = Scene::new("integrity_broker");
    let lib = scene.path("work/target");
    std::fs::create_dir(&lib).unwrap();
    let copy = lib.join("libarbiter_shim.so");
    std::fs::copy(shim(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = [("ARBITER_SHIM_PATH", copy.as_path())];
    for unprivileged in invoker_and_nobody() {
        for h in &scene.helpers {
            for form in ["read", "raw-read"] {
                for p in [copy.as_path(), Path::new("/dev/null")] {
                    let a = argv(h, form, &[p]);
                    let o = run(&scene, &env, &[], &a, unprivileged, true);
                    assert_eq!(verdict(&o), Ok(()), "{a:?}: {}", show(&o));
                }
            }
        }
    }
}

/// Every `O_PATH` open gets an answer: through the shim the fd itself; through the seccomp
/// transport (the static build, raw calls) `EACCES`, since the kernel's
/// `SECCOMP_IOCTL_NOTIF_ADDFD` installs no `O_PATH` fd (issue 14, 16: it hung before).
#[test]
fn an_o_path_open_is_answered() {
    let scene = Scene::new("integrity_broker");
    let public = scene.path("work/public.txt");
    let dir = scene.work();
    for unprivileged in invoker_and_nobody() {
        for h in &scene.helpers {
            let is_static = h.to_string_lossy().ends_with("-static");
            for form in ["openpath", "raw-openpath"] {
                for p in [&public, &dir] {
                    let a = argv(h, form, &[p]);
                    let o = run(&scene, &[], &[], &a, unprivileged, false);
                    assert_eq!(verdict(&o), Ok(()), "control {a:?}: {}", show(&o));
                    let o = run(&scene, &[], &[], &a, unprivileged, true);
                    assert_ne!(o.status.code(), Some(124), "{a:?} hung: {}", show(&o));
                    let seccomp = is_static || form.starts_with("raw-");
                    let expected = if seccomp { Err(libc::EACCES) } else { Ok(()) };
                    assert_eq!(
                        verdict(&o),
                        expected,
                        "{a:?} under arbiter (unprivileged: {unprivileged}): {}",
                        show(&o)
                    );
                }
            }
        }
    }
}

/// A unix socket is bound at the name decided about, byte for byte: `x\xff` (not UTF-8)
/// once was decided as such but created as `x\u{FFFD}`, the name the policy denies here
/// (issue 14, 06). The control: binding `x\u{FFFD}` itself is refused.
#[test]
fn a_unix_bind_creates_the_name_decided_about() {
    use std::os::unix::ffi::OsStrExt;
    let scene = Scene::new("integrity_broker");
    let work = scene.work();
    let policy = scene.path("bind.toml");
    std::fs::write(
        &policy,
        format!(
            "extends = \"default\"\n[[bind]]\nunix = \"{w}\"\n[[bind]]\nunix = \"{w}/x\u{FFFD}\"\ndeny = true\n",
            w = work.display()
        ),
    )
    .unwrap();
    let extra = vec!["--policy".to_string(), policy.display().to_string()];
    let raw_name = std::ffi::OsStr::from_bytes(b"x\xff");
    let replacement = "x\u{FFFD}";
    let reset = || {
        let _ = std::fs::remove_file(work.join(raw_name));
        let _ = std::fs::remove_file(work.join(replacement));
    };
    for unprivileged in invoker_and_nobody() {
        for h in &scene.helpers {
            for form in ["bindhex", "raw-bindhex"] {
                for (hex, name, expected) in [
                    ("78ff", raw_name, Ok(())),
                    (
                        "78efbfbd",
                        std::ffi::OsStr::new(replacement),
                        Err(libc::EACCES),
                    ),
                ] {
                    let a = argv(h, form, &[&work, Path::new(hex)]);
                    reset();
                    let o = run(&scene, &[], &[], &a, unprivileged, false);
                    assert_eq!(verdict(&o), Ok(()), "control {a:?}: {}", show(&o));
                    assert!(work.join(name).exists(), "control made no {name:?}");
                    reset();
                    let o = run(&scene, &[], &extra, &a, unprivileged, true);
                    assert_eq!(
                        verdict(&o),
                        expected,
                        "{a:?} under arbiter (unprivileged: {unprivileged}): {}",
                        show(&o)
                    );
                    assert_eq!(work.join(name).exists(), expected.is_ok(), "{a:?}");
                    assert!(
                        !work.join(replacement).exists(),
                        "{a:?} created the denied name"
                    );
                }
            }
        }
    }
}

/// One budget of 40 symlinks per lookup, as the kernel counts them (issue 14, 13): links
/// that multiply each other (`s -> d/..`, `M0 -> s/…(38)/public.txt`, `Mi -> s/…(38)/Mi-1`)
/// once got 40 per walk and 40 per final chain: `stat M2` succeeded (and a longer chain
/// cost seconds of broker time) where the kernel answers `ELOOP`. The allow pair: `M0`
/// takes 39 links and resolves, natively and under arbiter.
#[test]
fn symlinks_are_counted_per_lookup() {
    let scene = Scene::new("integrity_broker");
    let work = scene.work();
    std::fs::create_dir(work.join("d")).unwrap();
    let ss = vec!["s"; 38].join("/");
    std::os::unix::fs::symlink("d/..", work.join("s")).unwrap();
    std::os::unix::fs::symlink(format!("{ss}/public.txt"), work.join("M0")).unwrap();
    for i in 1..3 {
        std::os::unix::fs::symlink(format!("{ss}/M{}", i - 1), work.join(format!("M{i}"))).unwrap();
    }
    attack(&scene, &[], "stat", &[&work.join("M0")], Ok(()), || {});
    let eloop = Err(libc::ELOOP);
    attack_expecting(&scene, &[], "stat", &[&work.join("M2")], eloop, eloop);
}

/// No existence oracle through a symlink the program made into a hidden directory (issue
/// 14, 01): `l/x` with `l -> private/missing` (or `private/key`), and a link to
/// `private/missing/y` itself, answer `EACCES` like `l -> private/present`, where the
/// kernel answers `ENOENT`/`ENOTDIR` (the control) and the broker once did too. Relative
/// and absolute link targets. The allow pair: the same links into an allowed directory
/// answer the kernel's errno.
#[test]
fn a_symlink_into_a_hidden_directory_tells_nothing() {
    let scene = Scene::new("integrity_broker");
    mkdir_all(&scene, "work/private/present");
    mkdir_all(&scene, "work/open");
    let extra = scene.deny_private();
    let work = scene.work();
    let enoent = Err(libc::ENOENT);
    let eacces = Err(libc::EACCES);
    for (i, (target, then, native)) in [
        ("private/present", "/x", enoent),
        ("private/missing", "/x", enoent),
        ("private/key", "/x", Err(libc::ENOTDIR)),
        ("private/missing/y", "", enoent),
        ("private/present/y", "", enoent),
    ]
    .into_iter()
    .enumerate()
    {
        for (kind, to) in [
            ("rel", target.to_string()),
            ("abs", format!("{}/{target}", work.display())),
        ] {
            let link = format!("l{i}{kind}");
            std::os::unix::fs::symlink(&to, work.join(&link)).unwrap();
            let probe = work.join(format!("{link}{then}"));
            attack_expecting(&scene, &extra, "stat", &[&probe], native, eacces);
        }
    }
    std::os::unix::fs::symlink("open/missing", work.join("lo")).unwrap();
    attack_expecting(
        &scene,
        &extra,
        "stat",
        &[&work.join("lo/x")],
        enoent,
        enoent,
    );
    attack_expecting(&scene, &extra, "stat", &[&work.join("lo")], enoent, enoent);
    std::os::unix::fs::symlink("public.txt", work.join("lp")).unwrap();
    attack(&scene, &extra, "stat", &[&work.join("lp")], Ok(()), || {});
}
