//! Whole programs, timed natively and under `arbiter run`, wall clock per run:
//!
//! * `true`: `/bin/true`, start-up alone;
//! * `python`: `python3 -c pass`, an interpreter's start-up;
//! * `git_status`: `git status` in a 5,000-file repository the bench creates;
//! * `make`: `make -j2` of a small C project the bench writes, after an untimed
//!   `make clean` before each run.
//!
//! * `stat_open`: a Python script making 2,000 `stat` + `open` pairs on 100 files of its
//!   working directory.
//!
//! The Python rows run the interpreter that `python3` on `PATH` resolves to (found once,
//! natively), not a version manager's shim script in front of it.
//! * `find_4000`, `du_4000`, `tar_4000`, `rm_r_4000`: `find`, `du -s`, `tar cf` and `rm -r`
//!   over a tree of 4,000 files in 40 directories (`rm -r` on a fresh copy each run, made
//!   natively and untimed): tree walks, whose calls are relative to directory fds.
//!
//! Result names are `native_{name}` and `run_{name}`. For the audit workloads
//! (`git_status`, `stat_open`) also `run_audit_deny_{name}` (`--audit FILE`, the default
//! level), `run_audit_all_{name}` (`--audit FILE --audit-level all`: the shim reports the
//! calls its fast paths answer), `run_audit_all_nofast_{name}` (the same with
//! `--no-fast-path`: every record the broker's, every call a round trip). For those two and
//! `true`, reference rows from other sandboxes: `bwrap_{name}` (bubblewrap: namespaces, no
//! per-call cost), `proot_{name}` (ptrace on every system call), and for `true`
//! `bwrap_min_true` (one mount namespace, the root bound read-only: the least a namespace
//! sandbox does to start a command). `git_status`, `make` and the reference rows
//! need their tools on `PATH`; without them they are skipped (with a reason), not failed.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};

use crate::stats::{now_ns, summarize, Summary};
use arbiter::sandbox::program;

/// Directories of the `git_status` repository.
const GIT_DIRS: usize = 50;
/// Files per directory of the `git_status` repository.
const GIT_FILES_PER_DIR: usize = 100;
/// C files (one small function each) of the `make` project, besides `main.c`.
const C_FILES: usize = 16;

/// One whole program to time.
#[derive(Debug, Clone)]
pub struct Program {
    /// The result names' suffix: `native_{name}`, `run_{name}`.
    pub name: &'static str,
    /// The command and its arguments.
    pub argv: Vec<OsString>,
    /// Its working directory (read-write under the default policy, which grants `$PWD`).
    pub dir: PathBuf,
    /// Environment changes for every run: set (`Some`) or removed (`None`).
    pub env: Vec<(&'static str, Option<OsString>)>,
    /// Run natively, untimed, before each run (`make clean`).
    pub reset: Option<&'static [&'static str]>,
    /// Timed rounds (after one untimed warm-up round): each row runs once per round.
    pub iters: usize,
    /// Also timed with an audit log at both levels.
    pub audit_workload: bool,
    /// Also timed under the reference sandboxes that are installed (`bwrap_{name}`,
    /// `proot_{name}`; for `true` also `bwrap_min_{name}`, the least bubblewrap can do).
    pub reference: bool,
}

/// How one row launches its program.
#[derive(Debug, Clone)]
pub enum Launch {
    /// The program itself.
    Native,
    /// `arbiter run FLAGS -- program` with this `arbiter` binary.
    Arbiter {
        /// The binary.
        exe: PathBuf,
        /// Flags before `--`.
        flags: Vec<OsString>,
    },
    /// Another sandbox: the program's argv appended to this command line.
    Wrapper(Vec<OsString>),
}

/// A program left out because a tool it needs is missing.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The [`Program::name`] it would have had.
    pub name: &'static str,
    /// Why, for the person running the bench.
    pub reason: String,
}

impl Program {
    fn command<S: AsRef<OsStr>>(&self, argv: &[S], launch: &Launch) -> Command {
        let mut c = match launch {
            Launch::Arbiter { exe, flags } => {
                let mut c = Command::new(exe);
                c.arg("run").args(flags).arg("--").args(argv);
                c
            }
            Launch::Native => {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            }
            Launch::Wrapper(prefix) => {
                let mut c = Command::new(&prefix[0]);
                c.args(&prefix[1..]).args(argv);
                c
            }
        };
        c.current_dir(&self.dir);
        for (key, value) in &self.env {
            match value {
                Some(v) => c.env(key, v),
                None => c.env_remove(key),
            };
        }
        c
    }

    /// Times every row of the program side by side: one untimed warm-up round, then
    /// [`Program::iters`] timed rounds, each running every row once (see [`interleave`]),
    /// so that whatever else the machine is doing lands on all rows alike. `after` runs,
    /// untimed, after each run (the bench empties the audit log there). Returns one
    /// [`Timed`] per row, in the order of `rows`.
    pub fn time_rows(
        &self,
        rows: &[(String, Launch)],
        mut after: impl FnMut() -> Result<()>,
    ) -> Result<Vec<Timed>> {
        let samples = interleave(rows.len(), self.iters, |i| {
            let (name, launch) = &rows[i];
            if let Some(reset) = self.reset {
                run_quietly(&mut self.command(reset, &Launch::Native))
                    .with_context(|| format!("{name}: the reset before the run failed"))?;
            }
            let t = run_timed(&mut self.command(&self.argv, launch))
                .with_context(|| format!("{name} failed"))?;
            after()?;
            Ok(t)
        })?;
        Ok(samples
            .into_iter()
            .map(|row| {
                let mut wall: Vec<u64> = row.iter().map(|s| s.0).collect();
                let mut cpu: Vec<u64> = row.iter().map(|s| s.1).collect();
                let total = wall.iter().sum();
                cpu.sort_unstable();
                Timed {
                    wall: summarize(&mut wall, total),
                    cpu_p50_ns: cpu.get(cpu.len().saturating_sub(1) / 2).copied(),
                }
            })
            .collect())
    }
}

/// One row's figures from [`Program::time_rows`].
#[derive(Debug, Clone)]
pub struct Timed {
    /// Wall time per run; `ops_per_s` is runs per second of this row's own runs.
    pub wall: Summary,
    /// Median CPU time per run (user + system of the command and every process it waited
    /// for: for `arbiter run`, the broker and the program), `None` without samples.
    pub cpu_p50_ns: Option<u64>,
}

/// Runs `rows` rows round-robin: one untimed warm-up round, then `rounds` rounds in which
/// every row runs once, the starting row moving by one each round (so that no row always
/// follows the same neighbour). Returns each row's samples, in round order.
pub fn interleave<T>(
    rows: usize,
    rounds: usize,
    mut run: impl FnMut(usize) -> Result<T>,
) -> Result<Vec<Vec<T>>> {
    for i in 0..rows {
        run(i)?;
    }
    let mut samples: Vec<Vec<T>> = (0..rows).map(|_| Vec::with_capacity(rounds)).collect();
    for round in 0..rounds {
        for k in 0..rows {
            let i = (round + k) % rows;
            samples[i].push(run(i)?);
        }
    }
    Ok(samples)
}

/// CPU time (user + system) of the children this process has waited for, in ns.
fn children_cpu_ns() -> u64 {
    // SAFETY: rusage is plain data; getrusage fills it and has no other memory effects.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid out-pointer for the call's duration.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    ns(ru.ru_utime) + ns(ru.ru_stime)
}

/// Makes the bench the subreaper of what it starts (once): `arbiter run`'s guardian exits as
/// soon as the broker reports the status, before the broker's own exit, so the broker (and
/// with it the CPU of the program it waited for) would otherwise be reaped by init and
/// missing from `RUSAGE_CHILDREN`.
fn become_subreaper() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with integer arguments; it only changes this process's own flag.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    });
}

/// Reaps the orphans a run left to the bench (an `arbiter run` broker after its guardian
/// exited), so that their CPU is counted; waits at most 2 s for one still exiting.
fn reap_orphans() {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        // SAFETY: siginfo_t is plain old data; zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: info is a valid out-pointer; only children of this process are waited for.
        let rc = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::__WALL,
            )
        };
        // SAFETY: si_pid is valid to read for a waitid result (0 when no child was ready).
        let pid = unsafe { info.si_pid() };
        if rc != 0 || std::time::Instant::now() > until {
            return; // ECHILD: nothing left to reap.
        }
        if pid == 0 {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
}

/// Runs a command to completion: its wall time and its CPU time (with every process it
/// waited for), in ns. The command's stdout is discarded; its stderr is shown only when it
/// fails.
fn run_timed(cmd: &mut Command) -> Result<(u64, u64)> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    become_subreaper();
    let cpu = children_cpu_ns();
    let start = now_ns();
    let out = cmd.output().context("cannot start the command")?;
    let end = now_ns();
    reap_orphans();
    let cpu = children_cpu_ns().saturating_sub(cpu);
    if !out.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            cmd.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((end - start, cpu))
}

/// An argv of static words.
fn argv(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

/// The interpreter `python3` on `PATH` runs, resolved once (natively) to its real path, so
/// that the Python rows time Python and not a version manager's shim in front of it (pyenv's
/// `python3` is a bash script that runs some 40 programs before the interpreter);
/// `python3` itself when it cannot tell.
fn python3() -> OsString {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, sys; sys.stdout.write(os.path.realpath(sys.executable))",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() && o.stdout.starts_with(b"/") => {
            use std::os::unix::ffi::OsStringExt;
            OsString::from_vec(o.stdout)
        }
        _ => "python3".into(),
    }
}

/// Runs a setup command to completion; its output is shown only when it fails.
fn run_quietly(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} {:?} failed ({}): {}{}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The first of `tools` missing from `PATH`, as a skip reason.
fn missing(tools: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH");
    tools.iter().find_map(|t| {
        program::find(OsStr::new(t), path.as_deref())
            .err()
            .map(|e| format!("{e} (looked up in PATH)"))
    })
}

/// Every whole program, with fixtures for `git_status` and `make` created under `root`;
/// `quick` takes fewer runs of each.
pub fn all(root: &Path, quick: bool) -> Result<(Vec<Program>, Vec<Skipped>)> {
    let runs = |full: usize, fewer: usize| if quick { fewer } else { full };
    let python = python3();
    let mut programs = vec![
        Program {
            name: "true",
            argv: argv(&["/bin/true"]),
            dir: root.to_path_buf(),
            env: Vec::new(),
            reset: None,
            iters: runs(30, 5),
            audit_workload: false,
            reference: true,
        },
        Program {
            name: "python",
            argv: vec![python.clone(), "-c".into(), "pass".into()],
            dir: root.to_path_buf(),
            env: Vec::new(),
            reset: None,
            iters: runs(10, 3),
            audit_workload: false,
            reference: false,
        },
        stat_open(root, &python, runs(10, 3))?,
    ];
    let mut skipped = Vec::new();
    match missing(&["git"]) {
        Some(reason) => skipped.push(Skipped {
            name: "git_status",
            reason,
        }),
        None => programs.push(git_status(root, runs(20, 5))?),
    }
    for walk in tree_walks(root, runs(10, 3))? {
        programs.push(walk);
    }
    match missing(&["make", "cc"]) {
        Some(reason) => skipped.push(Skipped {
            name: "make",
            reason,
        }),
        None => programs.push(make(root, runs(10, 3))?),
    }
    Ok((programs, skipped))
}

/// Sets a file's modification time a minute back, so that no entry in a git index written
/// now is "racily clean" (which would make every `git status` re-read its content).
fn backdate(path: &Path) -> Result<()> {
    let f = std::fs::File::options().write(true).open(path)?;
    f.set_modified(SystemTime::now() - Duration::from_secs(60))
        .with_context(|| format!("cannot set the time of {}", path.display()))
}

/// `git status` in `root/git`: [`GIT_DIRS`] × [`GIT_FILES_PER_DIR`] small files, committed,
/// then one changed so that status has something to report.
///
/// Every git command (setup and timed) runs with `HOME` at `root/home`, no system config
/// and the repository's own settings only, so the user's configuration does not matter. The
/// repository sets `core.excludesFile` and `core.attributesFile` to `/dev/null` and
/// `advice.ignoredHook` off, so that neither run reads the (empty) home directory, which
/// the default policy denies (git would warn on every run).
fn git_status(root: &Path, iters: usize) -> Result<Program> {
    let home = root.join("home");
    let repo = root.join("git");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(&repo)?;
    let program = Program {
        name: "git_status",
        argv: argv(&["git", "status"]),
        dir: repo.clone(),
        env: vec![
            ("HOME", Some(home.into_os_string())),
            ("GIT_CONFIG_NOSYSTEM", Some("1".into())),
            ("GIT_CONFIG_GLOBAL", None),
            ("GIT_DIR", None),
            ("GIT_WORK_TREE", None),
            ("GIT_INDEX_FILE", None),
        ],
        reset: None,
        iters,
        audit_workload: true,
        reference: true,
    };
    let git = |args: &[&str]| -> Result<()> {
        let mut argv = vec![
            "git",
            "-c",
            "user.email=bench@arbiter.invalid",
            "-c",
            "user.name=arbiter bench",
            "-c",
            "init.defaultBranch=main",
        ];
        argv.extend_from_slice(args);
        run_quietly(&mut program.command(&argv, &Launch::Native))
            .context("cannot create the git_status repository")
    };
    git(&["init", "-q", "."])?;
    for (key, value) in [
        ("core.excludesFile", "/dev/null"),
        ("core.attributesFile", "/dev/null"),
        ("advice.ignoredHook", "false"),
    ] {
        git(&["config", key, value])?;
    }
    let mut files = Vec::with_capacity(GIT_DIRS * GIT_FILES_PER_DIR);
    for d in 0..GIT_DIRS {
        let dir = repo.join(format!("d{d:02}"));
        std::fs::create_dir(&dir)?;
        for f in 0..GIT_FILES_PER_DIR {
            let file = dir.join(format!("f{f:03}.txt"));
            std::fs::write(&file, format!("arbiter bench: file {f} of directory {d}\n"))?;
            backdate(&file)?;
            files.push(file);
        }
    }
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "bench fixture"])?;
    let changed = &files[0];
    std::fs::write(changed, "arbiter bench: changed\nand longer\n")?;
    backdate(changed)?;
    Ok(program)
}

/// `make -j2` in `root/make`: [`C_FILES`] C files, each including three libc headers and
/// defining one small function, a `main.c` calling them all, and a Makefile compiling each
/// with `cc -O1` and linking `prog`. `make clean` runs (natively, untimed) before each build.
fn make(root: &Path, iters: usize) -> Result<Program> {
    let dir = root.join("make");
    std::fs::create_dir_all(&dir)?;
    let mut objs = Vec::new();
    let mut main = String::from("#include <stdio.h>\n\n");
    let mut calls = String::new();
    for i in 0..C_FILES {
        let src = format!(
            "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n\
             int f{i:02}(int x)\n{{\n    char buf[32];\n    \
             snprintf(buf, sizeof buf, \"%d\", x * {i});\n    \
             return (int)strlen(buf) + abs(x);\n}}\n"
        );
        std::fs::write(dir.join(format!("f{i:02}.c")), src)?;
        objs.push(format!("f{i:02}.o"));
        main.push_str(&format!("int f{i:02}(int x);\n"));
        calls.push_str(&format!("    s += f{i:02}(s);\n"));
    }
    main.push_str(&format!(
        "\nint main(void)\n{{\n    int s = 1;\n{calls}    printf(\"%d\\n\", s);\n    return 0;\n}}\n"
    ));
    std::fs::write(dir.join("main.c"), main)?;
    objs.push("main.o".into());
    let makefile = format!(
        "CC = cc\nOBJS = {objs}\n\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\n\
         %.o: %.c\n\t$(CC) -O1 -c $< -o $@\n\nclean:\n\trm -f $(OBJS) prog\n\n.PHONY: clean\n",
        objs = objs.join(" ")
    );
    std::fs::write(dir.join("Makefile"), makefile)?;
    Ok(Program {
        name: "make",
        argv: argv(&["make", "-j2"]),
        dir,
        // A make running the bench must not hand its jobserver or flags down.
        env: vec![("MAKEFLAGS", None), ("MFLAGS", None), ("MAKELEVEL", None)],
        reset: Some(&["make", "clean"]),
        iters,
        audit_workload: false,
        reference: false,
    })
}

/// Directories, and files in each, of the tree-walk workloads.
const WALK_DIRS: usize = 40;
/// See [`WALK_DIRS`].
const WALK_FILES_PER_DIR: usize = 100;

/// `find_4000`, `du_4000`, `tar_4000` and `rm_r_4000` in `root/walk`, over the tree `t`
/// ([`WALK_DIRS`] × [`WALK_FILES_PER_DIR`] files of 100 bytes); `rm -r` removes a copy
/// (`r`) that `cp -a` makes anew (natively, untimed) before each run.
fn tree_walks(root: &Path, iters: usize) -> Result<Vec<Program>> {
    let dir = root.join("walk");
    let tree = dir.join("t");
    for d in 0..WALK_DIRS {
        let sub = tree.join(format!("d{d:02}"));
        std::fs::create_dir_all(&sub)?;
        for f in 0..WALK_FILES_PER_DIR {
            std::fs::write(sub.join(format!("f{f:03}.txt")), [b'x'; 100])?;
        }
    }
    let program = |name, args: &[&str], reset| Program {
        name,
        argv: argv(args),
        dir: dir.clone(),
        env: Vec::new(),
        reset,
        iters,
        audit_workload: false,
        reference: false,
    };
    Ok(vec![
        program("find_4000", &["find", "t"], None),
        program("du_4000", &["du", "-s", "t"], None),
        program("tar_4000", &["tar", "cf", "t.tar", "t"], None),
        program(
            "rm_r_4000",
            &["rm", "-r", "r"],
            Some(&["sh", "-c", "rm -rf r && cp -a t r"]),
        ),
    ])
}

/// Files of the `stat_open` workload, and its script's loop count.
const STAT_OPEN_FILES: usize = 100;

/// `stat_open` in `root/stat_open`: 2,000 `os.stat` + `open().close()` pairs over
/// [`STAT_OPEN_FILES`] files.
fn stat_open(root: &Path, python: &OsStr, iters: usize) -> Result<Program> {
    let dir = root.join("stat_open");
    std::fs::create_dir_all(&dir)?;
    for i in 0..STAT_OPEN_FILES {
        std::fs::write(dir.join(format!("f{i:03}")), "x\n")?;
    }
    Ok(Program {
        name: "stat_open",
        argv: vec![
            python.to_owned(),
            "-c".into(),
            "import os\nfor i in range(2000):\n    p = 'f%03d' % (i % 100)\n    os.stat(p)\n    open(p).close()\n".into(),
        ],
        dir,
        env: Vec::new(),
        reset: None,
        iters,
        audit_workload: true,
        reference: true,
    })
}

/// How each row of `program` is launched: native and `arbiter run` for every program; for
/// the audit workloads also with an audit log at both levels and under the reference
/// sandboxes that are installed. Returns the rows and the reference rows skipped (why).
pub fn launches(
    program: &Program,
    arbiter: &Path,
    audit_log: &Path,
) -> (Vec<(String, Launch)>, Vec<String>) {
    let name = program.name;
    let run = |flags: Vec<OsString>| Launch::Arbiter {
        exe: arbiter.to_path_buf(),
        flags,
    };
    let mut rows = vec![
        (format!("native_{name}"), Launch::Native),
        (format!("run_{name}"), run(Vec::new())),
    ];
    let mut skipped = Vec::new();
    if program.audit_workload {
        audit_rows(name, &run, audit_log, &mut rows);
    }
    if program.reference {
        reference_rows(program, &mut rows, &mut skipped);
    }
    (rows, skipped)
}

/// The rows of an audit workload: `--audit FILE` at the default level, at `all`, and at
/// `all` with `--no-fast-path`.
fn audit_rows(
    name: &str,
    run: &dyn Fn(Vec<OsString>) -> Launch,
    audit_log: &Path,
    rows: &mut Vec<(String, Launch)>,
) {
    let log: OsString = audit_log.as_os_str().to_owned();
    rows.push((
        format!("run_audit_deny_{name}"),
        run(vec!["--audit".into(), log.clone()]),
    ));
    rows.push((
        format!("run_audit_all_{name}"),
        run(vec![
            "--audit".into(),
            log.clone(),
            "--audit-level".into(),
            "all".into(),
        ]),
    ));
    rows.push((
        format!("run_audit_all_nofast_{name}"),
        run(vec![
            "--audit".into(),
            log,
            "--audit-level".into(),
            "all".into(),
            "--no-fast-path".into(),
        ]),
    ));
}

/// The reference sandboxes' rows that are installed (the others go to `skipped`, with why).
fn reference_rows(program: &Program, rows: &mut Vec<(String, Launch)>, skipped: &mut Vec<String>) {
    let name = program.name;
    let dir: OsString = program.dir.as_os_str().to_owned();
    let bwrap = program::find(OsStr::new("bwrap"), std::env::var_os("PATH").as_deref());
    if let (Ok(bwrap), "true") = (&bwrap, name) {
        // The least a namespace sandbox does to start a command: one mount namespace with
        // the root bound read-only (no /dev, /proc, other namespaces). Start-up's floor.
        rows.push((
            format!("bwrap_min_{name}"),
            Launch::Wrapper(vec![
                bwrap.clone().into_os_string(),
                "--ro-bind".into(),
                "/".into(),
                "/".into(),
                "--".into(),
            ]),
        ));
    }
    match bwrap {
        Ok(bwrap) => rows.push((
            format!("bwrap_{name}"),
            Launch::Wrapper(vec![
                bwrap.into_os_string(),
                "--ro-bind".into(),
                "/".into(),
                "/".into(),
                "--dev".into(),
                "/dev".into(),
                "--proc".into(),
                "/proc".into(),
                "--bind".into(),
                dir.clone(),
                dir.clone(),
                "--chdir".into(),
                dir.clone(),
                "--unshare-all".into(),
                "--die-with-parent".into(),
                "--".into(),
            ]),
        )),
        Err(_) => skipped.push(format!("bwrap_{name}: bubblewrap (bwrap) is not installed")),
    }
    match program::find(OsStr::new("proot"), std::env::var_os("PATH").as_deref()) {
        Ok(proot) => rows.push((
            format!("proot_{name}"),
            Launch::Wrapper(vec![proot.into_os_string(), "-w".into(), dir]),
        )),
        Err(_) => skipped.push(format!("proot_{name}: proot is not installed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_runs_each_row_once_per_round_after_a_warm_up_round() {
        let mut order = Vec::new();
        let samples = interleave(3, 4, |i| {
            order.push(i);
            Ok(order.len())
        })
        .expect("no row fails");
        // The warm-up round, then rounds starting one row further each time.
        assert_eq!(
            order,
            [0, 1, 2, 0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2],
            "round-robin order"
        );
        // Each row keeps its own timed samples (the warm-up's are not among them).
        assert_eq!(
            samples,
            [vec![4, 9, 11, 13], vec![5, 7, 12, 14], vec![6, 8, 10, 15]]
        );
    }

    #[test]
    fn interleave_stops_at_the_first_failing_row() {
        let mut runs = 0;
        let r = interleave(2, 3, |i| {
            runs += 1;
            if runs == 4 && i == 1 {
                bail!("row 1 failed")
            }
            Ok(())
        });
        assert!(r.is_err_and(|e| e.to_string() == "row 1 failed"));
        assert_eq!(runs, 4);
    }
}
