//! Shared harness for the integrity tests: a scene with a denied subtree inside the
//! writable working directory, helpers built static and dynamic, and runs natively, under
//! arbiter as root, and under arbiter as an unprivileged user.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arbiter_tests::{arbiter, invoker_and_nobody};

/// `root/helpers/` (the helpers' installation prefix), `root/work/` (the working directory,
/// read-write under the default policy) holding `public.txt`, and `work/private/` — denied
/// by `--deny` — holding `key`. Everything is world-readable, so a native read succeeds for
/// every user (the control), and any denial under arbiter is the broker's.
pub struct Scene {
    pub dir: tempfile::TempDir,
    /// The helper builds: dynamic (libc, the shim loaded) and, when it links, static.
    pub helpers: Vec<PathBuf>,
}

/// The denied file's contents.
pub const SECRET: &[u8] = b"TOPSECRET\n";
/// The allowed file's contents.
pub const PUBLIC: &[u8] = b"public\n";

impl Scene {
    /// A scene with the helper `name` (`tests/helpers/NAME.c`) built both ways.
    pub fn new(name: &str) -> Scene {
        let dir = tempfile::Builder::new()
            .prefix("arbiter-integrity-")
            .tempdir()
            .unwrap();
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        mode(dir.path(), 0o755);
        for (d, m) in [("helpers", 0o755), ("work", 0o777), ("work/private", 0o755)] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
            mode(&dir.path().join(d), m);
        }
        std::fs::write(dir.path().join("work/private/key"), SECRET).unwrap();
        std::fs::write(dir.path().join("work/public.txt"), PUBLIC).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("helpers")
            .join(format!("{name}.c"));
        let mut helpers = Vec::new();
        for (suffix, extra) in [("", None), ("-static", Some("-static"))] {
            let out = dir.path().join(format!("helpers/{name}{suffix}"));
            let st = Command::new("cc")
                .arg("-O1")
                .arg("-o")
                .arg(&out)
                .arg(&src)
                .args(extra)
                .status()
                .expect("run cc");
            if st.success() {
                helpers.push(out);
            } else if extra.is_some() {
                eprintln!("note: static libc unavailable, skipping the -static helper");
            } else {
                panic!("cannot compile {}", src.display());
            }
        }
        Scene { dir, helpers }
    }

    /// A path in the scene.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The working directory.
    pub fn work(&self) -> PathBuf {
        self.path("work")
    }

    /// The arguments that deny `work/private` (and keep the rest of the default policy).
    pub fn deny_private(&self) -> Vec<String> {
        vec![
            "--deny".into(),
            self.path("work/private").display().to_string(),
        ]
    }

    /// Runs `argv` natively in `work/`, as root or (`unprivileged`) as nobody.
    pub fn native(&self, argv: &[String], unprivileged: bool) -> Output {
        self.command(&[], argv, unprivileged, false)
    }

    /// Runs `argv` under `arbiter run [extra…]` in `work/`.
    pub fn confined(&self, extra: &[String], argv: &[String], unprivileged: bool) -> Output {
        self.command(extra, argv, unprivileged, true)
    }

    fn command(&self, extra: &[String], argv: &[String], unprivileged: bool, arb: bool) -> Output {
        let mut c = if unprivileged {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c.env("HOME", "/nonexistent");
            c
        } else {
            Command::new(if arb {
                arbiter()
            } else {
                PathBuf::from(&argv[0])
            })
        };
        if unprivileged && arb {
            c.arg(arbiter());
        }
        if arb {
            c.arg("run").args(extra).arg("--");
        }
        let skip = usize::from(!unprivileged && !arb);
        c.args(&argv[skip..])
            .current_dir(self.work())
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .expect("run")
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from lowercase hex ("-" is empty).
pub fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Lines of stdout starting with `tag `, the rest decoded from hex.
pub fn tagged(o: &Output, tag: &str) -> Vec<Vec<u8>> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')))
        .map(unhex)
        .collect()
}

/// Shows a run's output for an assertion message.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Creates the directory `rel` (and its parents) in the scene, writable by every user.
pub fn mkdir_all(scene: &Scene, rel: &str) -> PathBuf {
    let p = scene.path(rel);
    std::fs::create_dir_all(&p).unwrap();
    let mut d = p.as_path();
    while d != scene.dir.path() {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        d = d.parent().unwrap();
    }
    p
}

/// A helper's verdict: `Ok(())` for "ok", `Err(errno)` for "errno N"; panics otherwise.
pub fn verdict(o: &Output) -> Result<(), i32> {
    let text = String::from_utf8_lossy(&o.stdout);
    match text.lines().last().unwrap_or("") {
        "ok" => Ok(()),
        line => match line.strip_prefix("errno ") {
            Some(n) => Err(n.parse().unwrap()),
            None => panic!("unexpected helper output: {}", show(o)),
        },
    }
}

/// For every helper build, every user, and both forms of the call (through libc and as a
/// raw system call): `reset()`, then `MODE ARGS…` must succeed natively (the control);
/// `reset()` again, then under `arbiter run EXTRA…` it must give `expected`.
pub fn attack(
    scene: &Scene,
    extra: &[String],
    mode: &str,
    args: &[&Path],
    expected: Result<(), i32>,
    reset: impl Fn(),
) {
    for unprivileged in invoker_and_nobody() {
        for h in &scene.helpers {
            for form in [mode.to_string(), format!("raw-{mode}")] {
                let mut argv = vec![h.display().to_string(), form];
                argv.extend(args.iter().map(|p| p.display().to_string()));
                reset();
                let o = scene.native(&argv, unprivileged);
                assert_eq!(
                    verdict(&o),
                    Ok(()),
                    "control {argv:?} natively: {}",
                    show(&o)
                );
                reset();
                let o = scene.confined(extra, &argv, unprivileged);
                assert_eq!(
                    verdict(&o),
                    expected,
                    "{argv:?} under arbiter (unprivileged: {unprivileged}): {}",
                    show(&o)
                );
            }
        }
    }
}

/// Like [`attack`], for a call whose native answer is `native` (say `ENOENT`, where the
/// attack's other variant succeeds): under arbiter it must give `expected`.
pub fn attack_expecting(
    scene: &Scene,
    extra: &[String],
    mode: &str,
    args: &[&Path],
    native: Result<(), i32>,
    expected: Result<(), i32>,
) {
    for unprivileged in invoker_and_nobody() {
        for h in &scene.helpers {
            for form in [mode.to_string(), format!("raw-{mode}")] {
                let mut argv = vec![h.display().to_string(), form];
                argv.extend(args.iter().map(|p| p.display().to_string()));
                let o = scene.native(&argv, unprivileged);
                assert_eq!(
                    verdict(&o),
                    native,
                    "control {argv:?} natively: {}",
                    show(&o)
                );
                let o = scene.confined(extra, &argv, unprivileged);
                assert_eq!(
                    verdict(&o),
                    expected,
                    "{argv:?} under arbiter (unprivileged: {unprivileged}): {}",
                    show(&o)
                );
            }
        }
    }
}
