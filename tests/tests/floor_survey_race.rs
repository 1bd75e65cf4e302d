//! The floor's survey never grants an object the policy was not asked about (red team s6,
//! finding 15): `confine::prepare` opened the policy's native-read roots (`--ro DIR`) and
//! the shim following symlinks, after the real-path memo had checked them; a process outside
//! the sandbox that swapped a symlink in meanwhile made Landlock grant read (for the shim
//! read+execute) on any directory, which the program then read with a marked `openat`
//! while the broker, deciding on real paths, denied it.
//!
//! A racer (`tests/helpers/survey_race.c flip`) exchanges the policy's read root `s`
//! (`allow = "ro"`) with a symlink to `hidden/`, which no rule grants — or, in the second
//! variant, the shim (`ARBITER_SHIM_PATH` in a directory the racer can write, default
//! policy) with such a symlink — while `arbiter run` starts again and again. The helper,
//! built dynamic (libc through the shim) and static (raw system calls), reads
//! `hidden/key` by libc's `open` and by a raw `openat` carrying `NATIVE_OPEN_MARK`. As
//! root and as uid 65534:
//! * native control: the helper reads `hidden/key`;
//! * without the racer: `s/file` is read natively with the mark (the rule exists) and
//!   `hidden/key` is `EACCES` both ways;
//! * with the racer, in every run: arbiter refuses to start naming the path (the survey
//!   found a symlink, or another object, on a real path it had decided on), or the program
//!   runs and both reads are `EACCES`; never the key. At least one run must reach the
//!   program, so a start that always fails cannot pass.
//!
//! Before the fix the key was read within a few dozen runs (3–69 in the red team's and our
//! runs, root and 65534).

mod floor_common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use floor_common::{command, users, Who};

/// Starts of `arbiter run` per user, helper and variant while the racer flips.
const RUNS: usize = 40;

/// The racer, killed on drop. It exchanges the two names in bursts with pauses between
/// them: a start that meets a burst races it (and must never widen the floor), one that
/// falls in a pause reaches the program — a start refuses when a name it resolved changes
/// under it, so a racer that never paused could leave no start to check at all.
struct Racer(Child);

impl Racer {
    fn start(who: Who, helper: &Path, a: &Path, b: &Path) -> Racer {
        let child = command(
            who,
            &[
                helper.to_str().unwrap(),
                "flipburst",
                a.to_str().unwrap(),
                b.to_str().unwrap(),
            ],
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
        Racer(child)
    }
}

impl Drop for Racer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The scratch tree, outside every rule of the default profile (`/var/tmp`).
struct Tree {
    _dir: tempfile::TempDir,
    base: PathBuf,
    helpers: Vec<PathBuf>,
}

impl Tree {
    fn new() -> Tree {
        let dir = arbiter_tests::outside_dir();
        let base = dir.path().canonicalize().unwrap();
        std::fs::create_dir(base.join("tools")).unwrap();
        let helpers =
            arbiter_tests::compile_dynamic_and_static("survey_race", &base.join("tools"), &[]);
        std::fs::set_permissions(base.join("tools"), PermissionsExt::from_mode(0o755)).unwrap();
        Tree {
            _dir: dir,
            base,
            helpers,
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }

    /// `s/file`, `hidden/key`, `work/`, the symlink `s.alt` -> `hidden`, and the shim's
    /// directory `shimd/` (the shim, and `alt` -> `hidden`), owned by `who`.
    fn populate(&self, who: Who) {
        for d in ["s", "s.alt", "hidden", "work", "shimd"] {
            let p = self.p(d);
            let _ = std::fs::remove_file(&p);
            let _ = std::fs::remove_dir_all(&p);
        }
        for d in ["s", "hidden", "work", "shimd"] {
            std::fs::create_dir(self.p(d)).unwrap();
            std::fs::set_permissions(self.p(d), PermissionsExt::from_mode(0o755)).unwrap();
        }
        std::fs::write(self.p("s/file"), "VISIBLE\n").unwrap();
        std::fs::write(self.p("hidden/key"), "HIDDEN: no rule grants this\n").unwrap();
        std::fs::copy(arbiter_tests::shim(), self.p("shimd/libarbiter_shim.so")).unwrap();
        std::os::unix::fs::symlink(self.p("hidden"), self.p("s.alt")).unwrap();
        std::os::unix::fs::symlink(self.p("hidden"), self.p("shimd/alt")).unwrap();
        std::fs::write(
            self.p("policy.toml"),
            format!(
                "version = 1\nextends = [\"default\"]\n[[fs]]\npath = \"{}\"\nallow = \"ro\"\n",
                self.p("s").display()
            ),
        )
        .unwrap();
        if who == Who::Nobody {
            for p in [
                "s",
                "s/file",
                "s.alt",
                "hidden",
                "hidden/key",
                "work",
                "shimd",
                "shimd/libarbiter_shim.so",
                "shimd/alt",
            ] {
                std::os::unix::fs::lchown(self.p(p), Some(65534), Some(65534)).unwrap();
            }
        }
        // The racer (as `who`) renames in the base directory itself.
        std::fs::set_permissions(&self.base, PermissionsExt::from_mode(0o777)).unwrap();
    }

    /// `helper ARGS` as `who` in `work/`, natively or (with `arbiter` arguments) under
    /// `arbiter run -q ARBITER -- helper ARGS`; `shim` sets `ARBITER_SHIM_PATH`.
    fn run(
        &self,
        who: Who,
        arbiter: Option<&[&str]>,
        shim: Option<&Path>,
        argv: &[&str],
    ) -> Output {
        let bin = arbiter_tests::arbiter();
        let mut full: Vec<&str> = Vec::new();
        if let Some(args) = arbiter {
            full.extend([bin.to_str().unwrap(), "run", "-q"]);
            full.extend_from_slice(args);
            full.push("--");
        }
        full.extend_from_slice(argv);
        let mut c = command(who, &full);
        if let Some(shim) = shim {
            c.env("ARBITER_SHIM_PATH", shim);
        }
        c.current_dir(self.p("work"))
            .env_remove("LD_LIBRARY_PATH")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_symlink_swapped_in_during_start_up_never_widens_the_floor() {
    let tree = Tree::new();
    let mark = arbiter_protocol::NATIVE_OPEN_MARK.to_string();
    let key = tree.p("hidden/key");
    let key = key.to_str().unwrap();
    let file = tree.p("s/file");
    let file = file.to_str().unwrap();
    let policy = tree.p("policy.toml");
    let policy = policy.to_str().unwrap();
    let shim = tree.p("shimd/libarbiter_shim.so");
    let denied = format!("{key}: errno 13\n{key}: errno 13\n");
    for who in users() {
        for h in &tree.helpers {
            let h = h.to_str().unwrap();
            let probe = [h, "read", key, "mread", &mark, key];
            tree.populate(who);
            // Native control: the key is readable both ways.
            let o = tree.run(who, None, None, &probe);
            let leaked = "HIDDEN: no rule grants this";
            assert_eq!(
                text(&o.stdout),
                format!("{key}: {leaked}\n{key}: {leaked}\n"),
                "control {who:?} {h}: {}",
                text(&o.stderr)
            );
            // Without the racer: the read root is granted natively, the key is not.
            for (args, shim) in [
                (&["--policy", policy][..], None),
                (&[][..], Some(shim.as_path())),
            ] {
                let o = tree.run(who, Some(args), shim, &[h, "mread", &mark, file]);
                if shim.is_none() {
                    assert_eq!(text(&o.stdout), format!("{file}: VISIBLE\n"), "{who:?} {h}");
                }
                let o = tree.run(who, Some(args), shim, &probe);
                assert_eq!(text(&o.stdout), denied, "{who:?} {h} {args:?}");
            }
            // With the racer: the read root, then the shim.
            for (args, shim, a, b) in [
                (
                    &["--policy", policy][..],
                    None,
                    tree.p("s"),
                    tree.p("s.alt"),
                ),
                (
                    &[][..],
                    Some(shim.as_path()),
                    shim.clone(),
                    tree.p("shimd/alt"),
                ),
            ] {
                let racer = Racer::start(who, Path::new(h), &a, &b);
                let mut ran = 0;
                for run in 0..RUNS {
                    let o = tree.run(who, Some(args), shim, &probe);
                    let (out, err) = (text(&o.stdout), text(&o.stderr));
                    let who = format!("{who:?} {h} {args:?} run {run}: {out}{err}");
                    assert!(!out.contains("HIDDEN"), "the key was read: {who}");
                    if o.status.success() {
                        assert_eq!(out, denied, "{who}");
                        ran += 1;
                    } else {
                        // Refused to start: a clear error, the program never ran.
                        assert!(out.is_empty() && err.starts_with("arbiter: "), "{who}");
                    }
                }
                drop(racer);
                assert!(
                    ran > 0,
                    "{who:?} {h} {args:?}: no start reached the program"
                );
                tree.populate(who);
            }
        }
    }
}

/// `helper flipuntil` as `who` until `go` exists, then waited for.
fn flip_until(who: Who, helper: &str, a: &Path, b: &Path, go: &Path, ready: &Path) -> Racer {
    let child = command(
        who,
        &[
            helper,
            "flipuntil",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            go.to_str().unwrap(),
            ready.to_str().unwrap(),
        ],
    )
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    Racer(child)
}

/// The directory above a rule root is pinned as the object it is, not as what a path to it
/// leads through (red team s6, finding 14): the pinned set was taken from the real-path
/// memo's path by `lstat`, which followed a symlink swapped in for a directory above the
/// root since the memo was filled, so the symlink was pinned and the real directory could
/// be moved into a drop box, carrying the rule's read right with it.
///
/// `d/` is a drop box (`create,write,rename,stat`: no read), `d/P/data` a read root (`ro`).
/// A racer exchanges `d/P` with a symlink `d/L` -> `L` (so `d/P` still leads to the
/// directory) while arbiter starts, until the program creates `d/GO`; then it leaves the
/// directory at `d/L` (`d/P` the symlink to it), creates `d/READY` and exits. The program
/// renames `d/L` into `d/box/` and reads `d/box/L/data/f` with a marked `openat`. As root
/// and as uid 65534, dynamic and static helper:
/// * native control: the rename succeeds and the file is read;
/// * without the racer: `d/P/data/f` is read natively with the mark (the rule exists);
/// * with the racer, every run: arbiter refuses to start naming the path; or the rename is
///   `EBUSY` (the directory above the rule root is pinned); or, where the start saw the
///   symlink and added no rule for `d/P/data`, it moves and the file cannot be read. Never
///   read in the drop box. At least one run must reach the program.
///
/// Before the fix the directory moved with its read right within a few dozen runs.
#[test]
fn the_directory_above_a_rule_root_stays_pinned_when_a_symlink_is_swapped_in_above_it() {
    let tree = Tree::new();
    let mark = arbiter_protocol::NATIVE_OPEN_MARK.to_string();
    let d = |rel: &str| tree.p("d").join(rel);
    let s = |p: PathBuf| p.to_str().unwrap().to_owned();
    let policy = tree.p("pinned.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\nextends = [\"default\"]\n[[fs]]\npath = \"{}\"\n\
             allow = \"create,write,rename,stat\"\n[[fs]]\npath = \"{}\"\nallow = \"ro\"\n",
            tree.p("d").display(),
            d("P/data").display()
        ),
    )
    .unwrap();
    let policy = s(policy);
    let args = ["--policy", policy.as_str()];
    let fresh = |who: Who| {
        tree.populate(who);
        let _ = std::fs::remove_dir_all(tree.p("d"));
        for dir in ["", "P", "P/data", "box"] {
            std::fs::create_dir(d(dir)).unwrap();
        }
        std::fs::write(d("P/data/f"), "data\n").unwrap();
        std::os::unix::fs::symlink("L", d("L")).unwrap();
        if who == Who::Nobody {
            for p in ["", "P", "P/data", "P/data/f", "box", "L"] {
                std::os::unix::fs::lchown(d(p), Some(65534), Some(65534)).unwrap();
            }
        }
    };
    let (go, ready) = (d("GO"), d("READY"));
    let moved = s(d("box/L/data/f"));
    let argv_of = |h: &str| {
        vec![
            h.to_owned(),
            "movewhen".into(),
            s(go.clone()),
            s(ready.clone()),
            s(d("L")),
            s(d("box/L")),
            "mread".into(),
            mark.clone(),
            moved.clone(),
        ]
    };
    for who in users() {
        for h in &tree.helpers {
            let h = h.to_str().unwrap();
            let argv = argv_of(h);
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            // Native control, with the racer: the directory moves and is read.
            fresh(who);
            let racer = flip_until(who, h, &d("P"), &d("L"), &go, &ready);
            let o = tree.run(who, None, None, &argv);
            drop(racer);
            assert_eq!(
                text(&o.stdout),
                format!("rename: ok\n{moved}: data\n"),
                "control {who:?} {h}"
            );
            // Without the racer: the read root is granted natively.
            fresh(who);
            let f = s(d("P/data/f"));
            let o = tree.run(who, Some(&args), None, &[h, "mread", &mark, &f]);
            assert_eq!(text(&o.stdout), format!("{f}: data\n"), "{who:?} {h}");
            // With the racer.
            let mut ran = 0;
            for run in 0..RUNS {
                fresh(who);
                let mut racer = flip_until(who, h, &d("P"), &d("L"), &go, &ready);
                let o = tree.run(who, Some(&args), None, &argv);
                // A start that was refused never created GO: the racer stops now.
                let _ = std::fs::write(&go, "");
                let _ = racer.0.wait();
                let (out, err) = (text(&o.stdout), text(&o.stderr));
                let who = format!("{who:?} {h} run {run}: {out}{err}");
                assert!(!out.contains(": data"), "read in the drop box: {who}");
                if o.status.success() {
                    assert!(
                        out == format!("rename: errno 16\n{moved}: errno 2\n")
                            || out == format!("rename: ok\n{moved}: errno 13\n"),
                        "{who}"
                    );
                    ran += 1;
                } else {
                    assert!(out.is_empty() && err.starts_with("arbiter: "), "{who}");
                }
            }
            assert!(ran > 0, "{who:?} {h}: no start reached the program");
        }
    }
}
