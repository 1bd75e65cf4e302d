//! Shared harness for the escape tests: locate `arbiter` (built by `cargo build` first),
//! compile the C helpers into a tempdir, run them natively and under arbiter.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `target/<profile>/arbiter`, honouring `CARGO_TARGET_DIR`. The tests need
/// `cargo build --workspace` first; they do not build it.
pub fn arbiter() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let bin = target.join(profile).join("arbiter");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace` before the tests",
        bin.display()
    );
    bin
}

/// A scratch layout: `root/helpers/` (the helper's prefix, read+exec under Landlock),
/// `root/outside/` (outside every policy rule and the floor), `root/work/` (the cwd).
pub struct Scene {
    pub dir: tempfile::TempDir,
    pub dynamic: PathBuf,
    pub static_: Option<PathBuf>,
}

impl Scene {
    pub fn new() -> Scene {
        let dir = tempfile::Builder::new()
            .prefix("arbiter-escape-")
            .tempdir()
            .unwrap();
        for d in ["helpers", "outside", "work"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/escape.c");
        let dynamic = dir.path().join("helpers/escape");
        let st = Command::new("cc")
            .arg("-O0")
            .arg("-o")
            .arg(&dynamic)
            .arg(&src)
            .status()
            .expect("cc");
        assert!(st.success(), "cannot compile {}", src.display());
        let static_path = dir.path().join("helpers/escape-static");
        let static_ = Command::new("cc")
            .arg("-static")
            .arg("-o")
            .arg(&static_path)
            .arg(&src)
            .status()
            .ok()
            .filter(|s| s.success())
            .map(|_| static_path);
        if static_.is_none() {
            eprintln!("note: static libc unavailable, skipping the -static helper");
        }
        std::fs::write(dir.path().join("outside/secret"), "secret\n").unwrap();
        Scene {
            dir,
            dynamic,
            static_,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The helpers to exercise: the dynamic one and, when it could be built, the static one.
    pub fn helpers(&self) -> Vec<&Path> {
        let mut v = vec![self.dynamic.as_path()];
        v.extend(self.static_.as_deref());
        v
    }

    /// Runs `argv` natively in `work/`.
    pub fn native(&self, argv: &[&str]) -> Output {
        Command::new(argv[0])
            .args(&argv[1..])
            .current_dir(self.path("work"))
            .output()
            .unwrap()
    }

    /// Runs `argv` under `arbiter run --strict` in `work/`.
    pub fn confined(&self, argv: &[&str]) -> Output {
        Command::new(arbiter())
            .args(["run", "--strict", "--"])
            .args(argv)
            .current_dir(self.path("work"))
            .output()
            .unwrap()
    }
}

/// The helper's verdict: `Ok(())` or `Err(errno)`; panics on anything else.
pub fn verdict(out: &Output) -> Result<(), i32> {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    if line == "ok" {
        return Ok(());
    }
    match line.strip_prefix("errno ") {
        Some(n) => Err(n.parse().unwrap()),
        None => panic!(
            "unexpected helper output {text:?}, stderr {:?}, status {:?}",
            String::from_utf8_lossy(&out.stderr),
            out.status
        ),
    }
}

/// Asserts the attempt succeeds natively and fails with `errno` under arbiter, for every helper.
pub fn denied(scene: &Scene, args: &[&str], errno: i32, reset: impl Fn()) {
    for h in scene.helpers() {
        let h = h.to_str().unwrap();
        let mut argv = vec![h];
        argv.extend_from_slice(args);
        reset();
        assert_eq!(
            verdict(&scene.native(&argv)),
            Ok(()),
            "negative control: {argv:?} must succeed natively"
        );
        reset();
        assert_eq!(
            verdict(&scene.confined(&argv)),
            Err(errno),
            "{argv:?} under arbiter"
        );
    }
}
