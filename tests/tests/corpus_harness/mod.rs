//! The corpus harness: loads `tests/corpus/cases.toml`, runs one case natively and under
//! `arbiter run` in the same scratch directory, and compares the runs.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arbiter_tests::{arbiter, have};

/// The unprivileged user of the second pass (`setpriv --reuid=65534 --regid=65534
/// --clear-groups`), as in `tests/tests/run_unprivileged.rs`.
const NOBODY: u32 = 65534;

/// Held by a pass for the whole of each case when its runs are timed
/// (`ARBITER_CORPUS_REPEAT` > 1), so the invoker's and uid 65534's passes take turns: side by
/// side on a two-CPU machine they would time each other (arbiter's threads more than a
/// native run's) rather than the case.
static TIMED_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Who runs a case: both runs, its setup, and the owner of its scratch directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// The user running the tests (root in CI), in the test's own environment.
    Invoker,
    /// uid/gid 65534 with no groups; `HOME` is a fresh directory that user owns, `USER`
    /// and `LOGNAME` are `nobody`.
    Nobody,
}

impl User {
    /// How report lines name the pass: `""` or `" as uid 65534"`.
    pub fn label(self) -> &'static str {
        match self {
            User::Invoker => "",
            User::Nobody => " as uid 65534",
        }
    }

    /// `program` run as this user (through `setpriv` for [`User::Nobody`]).
    fn command(self, program: &OsStr) -> Command {
        match self {
            User::Invoker => Command::new(program),
            User::Nobody => {
                let mut c = Command::new("setpriv");
                c.args([
                    format!("--reuid={NOBODY}"),
                    format!("--regid={NOBODY}"),
                    "--clear-groups".into(),
                    "--".into(),
                ])
                .arg(program);
                c
            }
        }
    }

    /// Makes `path` this user's (a no-op for the invoker).
    fn own(self, path: &Path) {
        if self == User::Nobody {
            std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }
}

/// How long a run may take before it counts as hung (a case may set `guard` lower or
/// higher). A guard against hangs, not an assertion about speed.
const DEFAULT_GUARD_SECS: u64 = 300;

/// The body the loopback HTTP server answers `/hello.txt` with.
pub const HELLO: &str = "hello from the corpus server\n";

/// The fields a case may have; anything else is an error naming the case and the field.
const FIELDS: &[&str] = &[
    "name",
    "family",
    "tools",
    "grants",
    "setup",
    "script",
    "argv",
    "stderr",
    "filter",
    "known_failure",
    "guard",
    "learned",
];

/// One case of the corpus.
#[derive(Debug)]
pub struct Case {
    /// Unique name, printed in every report line.
    pub name: String,
    /// Programs that must be on `PATH` (else the case is skipped).
    tools: Vec<String>,
    /// Options given to `arbiter run` before `--`; `{port}` is the HTTP server's port.
    grants: Vec<String>,
    /// Shell run natively in the scratch directory before each of the two runs.
    setup: Option<String>,
    /// The command: `bash -c SCRIPT`, or an argv run as it is.
    command: Vec<String>,
    /// Whether stderr is deterministic and compared too.
    compare_stderr: bool,
    /// A shell filter applied (natively) to both runs' stdout and stderr before comparing.
    filter: Option<String>,
    /// Why the case fails today, if it does.
    known_failure: Option<String>,
    /// Seconds after which a run counts as hung.
    guard: Duration,
    /// Whether the arbiter run uses a policy `arbiter learn` wrote from a first run.
    learned: bool,
}

/// What became of a case.
pub enum Outcome {
    /// Both runs agreed.
    Passed,
    /// They did not (what differed).
    Failed(String),
    /// The case cannot run here (why: a tool is missing, or not reachable by the user).
    Skipped(String),
    /// A `known_failure` case failed, as expected.
    ExpectedFailure(String),
    /// A `known_failure` case passed.
    UnexpectedPass(String),
}

/// A case's outcome and, when every run completed, their wall times.
pub struct CaseResult {
    /// What became of it.
    pub outcome: Outcome,
    /// Native and arbiter wall times, one pair per timed repetition.
    pub times: Option<Times>,
}

/// The wall times of a case's timed runs: `native[i]` and `arbiter[i]` ran back to back.
#[derive(Debug, Default, Clone)]
pub struct Times {
    /// Native runs.
    pub native: Vec<Duration>,
    /// `arbiter run` runs (or replays of the learned policy).
    pub arbiter: Vec<Duration>,
}

impl Times {
    /// The median of each side (the upper one of an even count).
    pub fn medians(&self) -> (Duration, Duration) {
        (median(&self.native), median(&self.arbiter))
    }
}

/// The median of `d` (the upper middle element of an even count; zero when empty).
fn median(d: &[Duration]) -> Duration {
    let mut v = d.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// How a run is made.
enum Mode<'a> {
    /// The command itself.
    Native,
    /// `arbiter run GRANTS -- command`.
    Run,
    /// `arbiter learn -o POLICY -- command`.
    Learn(&'a Path),
    /// `arbiter run --policy POLICY GRANTS -- command`.
    Replay(PathBuf),
}

impl Mode<'_> {
    /// The same mode for another run.
    fn again(&self) -> Mode<'_> {
        match self {
            Mode::Native => Mode::Native,
            Mode::Run => Mode::Run,
            Mode::Learn(p) => Mode::Learn(p),
            Mode::Replay(p) => Mode::Replay(p.clone()),
        }
    }
}

/// One run's observable result.
struct Run {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
    /// Lines arbiter itself wrote (`arbiter: …`), not compared.
    arbiter_lines: String,
    hung: bool,
    wall: Duration,
}

impl Case {
    /// The cases of `tests/corpus/cases.toml`, validated.
    pub fn load_all() -> Result<Vec<Case>, String> {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/cases.toml");
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
        let tables = doc
            .get("case")
            .and_then(|c| c.as_array_of_tables())
            .ok_or("no [[case]] tables")?;
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for (i, t) in tables.iter().enumerate() {
            let case = Case::from_table(t).map_err(|e| format!("case #{}: {e}", i + 1))?;
            if !names.insert(case.name.clone()) {
                return Err(format!("case `{}` is defined twice", case.name));
            }
            out.push(case);
        }
        Ok(out)
    }

    fn from_table(t: &toml_edit::Table) -> Result<Case, String> {
        let name = string(t, "name")?.ok_or("no `name`")?;
        let err = |e: String| format!("`{name}`: {e}");
        for (key, _) in t.iter() {
            if !FIELDS.contains(&key) {
                return Err(err(format!(
                    "unknown field `{key}` (known: {})",
                    FIELDS.join(", ")
                )));
            }
        }
        string(t, "family")?.ok_or_else(|| err("no `family`".into()))?;
        let command = match (string(t, "script").map_err(err)?, strings(t, "argv")) {
            (Some(script), Ok(argv)) if argv.is_empty() => {
                vec!["bash".to_owned(), "-c".to_owned(), script]
            }
            (None, Ok(argv)) if !argv.is_empty() => argv,
            (_, Err(e)) => return Err(err(e)),
            _ => return Err(err("exactly one of `script` and `argv` is needed".into())),
        };
        let guard = match t.get("guard") {
            None => DEFAULT_GUARD_SECS,
            Some(v) => v
                .as_integer()
                .filter(|g| *g > 0)
                .ok_or_else(|| err("`guard` must be a positive number of seconds".into()))?
                as u64,
        };
        let compare_stderr = match t.get("stderr") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| err("`stderr` must be true or false".into()))?,
        };
        let learned = match t.get("learned") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| err("`learned` must be true or false".into()))?,
        };
        Ok(Case {
            learned,
            tools: strings(t, "tools").map_err(err)?,
            grants: strings(t, "grants").map_err(err)?,
            setup: string(t, "setup").map_err(err)?,
            filter: string(t, "filter").map_err(err)?,
            known_failure: string(t, "known_failure").map_err(err)?,
            command,
            compare_stderr,
            guard: Duration::from_secs(guard),
            name,
        })
    }

    /// Runs the case natively and under arbiter, both as `user`, and compares the runs. With
    /// `repeat` above 1, that compared pair is a warm-up and `repeat` more pairs (native,
    /// then arbiter, alternated) are timed; with 1, the compared pair is the one timed, so
    /// the normal test run costs no more.
    pub fn run(&self, port: u16, user: User, repeat: usize) -> CaseResult {
        let _turn = (repeat > 1).then(|| TIMED_TURN.lock().unwrap_or_else(|e| e.into_inner()));
        let skipped = |why: String| CaseResult {
            outcome: Outcome::Skipped(why),
            times: None,
        };
        if let Some(tool) = self.tools.iter().find(|t| !have(t)) {
            return skipped(format!("{tool} not installed"));
        }
        if user == User::Nobody {
            if let Some(why) = self.unreachable_as_nobody() {
                return skipped(why);
            }
        }
        let base = tempfile::Builder::new()
            .prefix("arbiter-corpus-")
            .tempdir()
            .expect("scratch base");
        let base_path = base.path().canonicalize().expect("canonical scratch base");
        user.own(&base_path);
        let scratch = base_path.join(&self.name);
        let native_tmp = base_path.join("native-tmp");
        let run = Runner {
            scratch: &scratch,
            tmp: &native_tmp,
            home: (user == User::Nobody).then(|| base_path.join("home")),
            port,
            user,
        };

        let native = self.run_once(&run, Mode::Native);
        let mode = if self.learned {
            let policy = base_path.join("learned.toml");
            let learn = self.run_once(&run, Mode::Learn(&policy));
            if learn.status.map(|s| s.success()) != Some(true) {
                let why = format!(
                    "  arbiter learn failed: {:?}\n{}{}",
                    learn.status, learn.stderr, learn.arbiter_lines
                );
                return self.judged(Some(why), None);
            }
            Mode::Replay(policy)
        } else {
            Mode::Run
        };
        let sandboxed = self.run_once(&run, mode.again());
        let differences = self.differences(&native, &sandboxed);
        let mut times = (!native.hung && !sandboxed.hung).then(|| Times {
            native: vec![native.wall],
            arbiter: vec![sandboxed.wall],
        });
        if repeat > 1 && differences.is_none() && times.is_some() {
            let mut timed = Times::default();
            for _ in 0..repeat {
                let n = self.run_once(&run, Mode::Native);
                let a = self.run_once(&run, mode.again());
                if n.hung || a.hung {
                    break;
                }
                timed.native.push(n.wall);
                timed.arbiter.push(a.wall);
            }
            // A repetition that hung leaves the case without figures rather than fewer.
            times = (timed.native.len() == repeat).then_some(timed);
        }
        self.judged(differences, times)
    }

    fn judged(&self, differences: Option<String>, times: Option<Times>) -> CaseResult {
        let outcome = match (&self.known_failure, differences) {
            (None, None) => Outcome::Passed,
            (None, Some(d)) => Outcome::Failed(d),
            (Some(r), Some(_)) => Outcome::ExpectedFailure(r.clone()),
            (Some(r), None) => Outcome::UnexpectedPass(r.clone()),
        };
        CaseResult { outcome, times }
    }

    /// Why uid 65534 cannot run this case, if it cannot: a tool that `PATH` finds for the
    /// invoker but not for that user (under `/root`: cargo, rustup, pyenv shims…) — the
    /// user's own lookup may find another copy (`/usr/bin/python3`), which then runs.
    fn unreachable_as_nobody(&self) -> Option<String> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        for tool in &self.tools {
            let found = User::Nobody
                .command(OsStr::new("sh"))
                .args(["-c", "command -v \"$0\"", tool])
                .env_clear()
                .env("PATH", &path)
                .current_dir("/")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !found {
                let at = Command::new("sh")
                    .args(["-c", "command -v \"$0\"", tool])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                    .unwrap_or_default();
                return Some(format!(
                    "{tool} is not reachable by that user (the invoker's PATH finds it at {at})"
                ));
            }
        }
        None
    }

    /// One run in a freshly created scratch directory (emptied first).
    fn run_once(&self, run: &Runner<'_>, mode: Mode) -> Run {
        let (scratch, tmp, port) = (run.scratch, run.tmp, run.port);
        for dir in [Some(scratch), Some(tmp), run.home.as_deref()]
            .into_iter()
            .flatten()
        {
            if dir.exists() {
                std::fs::remove_dir_all(dir).expect("empty the scratch directory");
            }
            std::fs::create_dir_all(dir).expect("scratch directory");
            std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
                .expect("chmod scratch");
            run.user.own(dir);
        }
        let env = environment(port, tmp, run.home.as_deref());
        if let Some(setup) = &self.setup {
            let ok = run
                .user
                .command(OsStr::new("bash"))
                .arg("-c")
                .arg(setup)
                .current_dir(scratch)
                .env_clear()
                .envs(env.iter().cloned())
                .stdin(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "case {}: setup failed", self.name);
        }
        let home = run.home.as_deref();
        let grants = self.grants.iter().map(|g| grant(g, port, home));
        let arbiter = arbiter();
        let mut cmd = match &mode {
            Mode::Native => run.user.command(OsStr::new(&self.command[0])),
            Mode::Run => {
                let mut c = run.user.command(arbiter.as_os_str());
                c.arg("run").args(grants);
                c
            }
            Mode::Learn(policy) => {
                let mut c = run.user.command(arbiter.as_os_str());
                c.args(["learn", "--force", "-o"]).arg(policy);
                c
            }
            Mode::Replay(policy) => {
                let mut c = run.user.command(arbiter.as_os_str());
                c.arg("run").arg("--policy").arg(policy).args(grants);
                c
            }
        };
        if !matches!(mode, Mode::Native) {
            cmd.arg("--").arg(&self.command[0]);
        }
        cmd.args(&self.command[1..])
            .current_dir(scratch)
            .env_clear()
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let start = Instant::now();
        let mut child = cmd.spawn().expect("spawn the case");
        let (tx, rx) = mpsc::channel();
        for (i, pipe) in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .enumerate()
        {
            let tx = tx.clone();
            let mut pipe = pipe.expect("piped output");
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                let _ = tx.send((i, buf));
            });
        }
        let deadline = start + self.guard;
        let mut hung = false;
        // Waited for in a thread (without reaping, so the group can still be killed below),
        // which notes the end the moment the wait returns: no polling interval is added to
        // the wall time.
        let pid = child.id();
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            wait_exited(pid);
            let _ = done_tx.send(start.elapsed());
        });
        let wall = match done_rx.recv_timeout(self.guard) {
            Ok(wall) => wall,
            Err(_) => {
                hung = true;
                start.elapsed()
            }
        };
        // A background job of the case may wait for this file: the command has ended.
        let _ = std::fs::write(scratch.join(".corpus-ended"), "");
        // Whatever the run left in its process group goes now, as `arbiter run` ends its
        // own leftovers: a native background job would otherwise outlive the scratch
        // directory it polls (removed for the next run) and loop forever. The command is
        // not reaped yet, so the group's id cannot name another group.
        kill_group(child.id());
        let status = child.wait().expect("reap the case");
        let mut outputs = [Vec::new(), Vec::new()];
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.max(Duration::from_secs(5))) {
                Ok((i, buf)) => outputs[i] = buf,
                Err(_) => {
                    hung = true;
                    break;
                }
            }
        }
        let [out, err] = outputs.map(|b| String::from_utf8_lossy(&b).into_owned());
        let (arbiter_lines, err) = if !matches!(mode, Mode::Native) {
            split_arbiter_lines(&err)
        } else {
            (String::new(), err)
        };
        Run {
            status: (!hung).then_some(status),
            stdout: self.filtered(out),
            stderr: self.filtered(err),
            arbiter_lines,
            hung,
            wall,
        }
    }

    fn filtered(&self, text: String) -> String {
        let Some(filter) = &self.filter else {
            return text;
        };
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(filter)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the case's filter");
        let mut stdin = child.stdin.take().expect("filter stdin");
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
        let out = child.wait_with_output().expect("the case's filter");
        let _ = writer.join();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What differs between the native and the arbiter run, if anything.
    fn differences(&self, native: &Run, sandboxed: &Run) -> Option<String> {
        let mut d = String::new();
        if native.hung {
            d += &format!(
                "  the native run did not end within {} s\n",
                self.guard.as_secs()
            );
        }
        if sandboxed.hung {
            d += &format!(
                "  the arbiter run did not end within {} s (or left its output open)\n",
                self.guard.as_secs()
            );
        }
        // arbiter reports each distinct denial on a line of its own (the stat, access and
        // readlink probes it counts but does not show are not counted here).
        if self.learned
            && sandboxed
                .arbiter_lines
                .lines()
                .any(|l| l.starts_with("arbiter: denied "))
        {
            d += "  the learned policy did not replay cleanly: arbiter reported denials\n";
        }
        if native.status != sandboxed.status {
            d += &format!(
                "  status: native {:?}, arbiter {:?}\n",
                native.status, sandboxed.status
            );
        }
        if native.stdout != sandboxed.stdout {
            d += &format!(
                "  stdout differs:\n--- native\n{}--- arbiter\n{}",
                native.stdout, sandboxed.stdout
            );
        }
        if self.compare_stderr && native.stderr != sandboxed.stderr {
            d += &format!(
                "  stderr differs:\n--- native\n{}--- arbiter\n{}",
                native.stderr, sandboxed.stderr
            );
        }
        if d.is_empty() {
            return None;
        }
        if !self.compare_stderr {
            d += &format!(
                "  stderr (not compared):\n--- native\n{}--- arbiter\n{}",
                native.stderr, sandboxed.stderr
            );
        }
        d += &format!(
            "  arbiter's own lines:\n{}  grants: {:?}\n",
            sandboxed.arbiter_lines, self.grants
        );
        Some(d)
    }
}

/// Where and as whom a case's runs are made.
struct Runner<'a> {
    /// The scratch directory, the runs' working directory.
    scratch: &'a Path,
    /// The runs' `TMPDIR`.
    tmp: &'a Path,
    /// `HOME` for [`User::Nobody`] (a fresh directory it owns); the invoker keeps its own.
    home: Option<PathBuf>,
    /// The HTTP server's port.
    port: u16,
    /// Who runs.
    user: User,
}

/// The environment of both runs: the same user, a fixed locale and time zone, the server's
/// port, and a temporary directory (arbiter replaces `TMPDIR` with its own private one).
/// With `home` (uid 65534), `HOME` is that directory and `USER`/`LOGNAME` are `nobody`.
fn environment(port: u16, tmp: &Path, home: Option<&Path>) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = ["PATH", "HOME", "USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (k.into(), v)))
        .collect();
    if let Some(home) = home {
        env.retain(|(k, _)| k == "PATH");
        env.push(("HOME".into(), home.into()));
        env.push(("USER".into(), "nobody".into()));
        env.push(("LOGNAME".into(), "nobody".into()));
    }
    for (k, v) in [
        ("LC_ALL", "C.UTF-8"),
        ("TZ", "UTC"),
        ("PORT", &port.to_string()),
        ("GIT_AUTHOR_NAME", "Corpus"),
        ("GIT_AUTHOR_EMAIL", "corpus@example.com"),
        ("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z"),
        ("GIT_COMMITTER_NAME", "Corpus"),
        ("GIT_COMMITTER_EMAIL", "corpus@example.com"),
        ("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z"),
    ] {
        env.push((k.into(), v.into()));
    }
    env.push(("TMPDIR".into(), tmp.into()));
    env
}

/// A grant as a shell would pass it: `{port}` is the HTTP server's port, a leading `~/` the
/// home directory (`home` where the runs have their own, else the test's `HOME`).
fn grant(g: &str, port: u16, home: Option<&Path>) -> String {
    let g = g.replace("{port}", &port.to_string());
    let home = home
        .map(|h| h.to_string_lossy().into_owned())
        .or_else(|| std::env::var("HOME").ok());
    match (g.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => format!("{home}/{rest}"),
        _ => g,
    }
}

/// Splits arbiter's own `arbiter: …` lines from the program's stderr.
fn split_arbiter_lines(err: &str) -> (String, String) {
    let (mine, program): (Vec<&str>, Vec<&str>) = err
        .split_inclusive('\n')
        .partition(|l| l.starts_with("arbiter: "));
    (mine.concat(), program.concat())
}

/// Waits until the child `pid` has exited, without reaping it (`waitid` with `WNOWAIT`).
fn wait_exited(pid: u32) {
    let pid = libc::id_t::from(pid);
    // SAFETY: siginfo_t is plain old data; zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: info is a valid out-pointer; the child is this harness's own.
        let rc =
            unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// Kills the process group this harness started for a case (`process_group(0)`): what a
/// run left behind, or all of a run that hung.
fn kill_group(pid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill has no memory-safety preconditions; the group is the one this harness
    // created for its own child (`process_group(0)`).
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

fn string(t: &toml_edit::Table, key: &str) -> Result<Option<String>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| format!("`{key}` must be a string")),
    }
}

fn strings(t: &toml_edit::Table, key: &str) -> Result<Vec<String>, String> {
    match t.get(key) {
        None => Ok(Vec::new()),
        Some(v) => v
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|x| x.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| format!("`{key}` must be an array of strings")),
    }
}

/// Counts of each outcome.
#[derive(Default)]
pub struct Tally {
    passed: usize,
    /// Cases that failed.
    pub failed: usize,
    skipped: usize,
    expected_failure: usize,
    /// `known_failure` cases that passed.
    pub unexpected_pass: usize,
}

impl Tally {
    /// Counts one outcome.
    pub fn count(&mut self, o: &Outcome) {
        match o {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::ExpectedFailure(_) => self.expected_failure += 1,
            Outcome::UnexpectedPass(_) => self.unexpected_pass += 1,
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped, {} xfail (known failures), {} xpass",
            self.passed, self.failed, self.skipped, self.expected_failure, self.unexpected_pass
        )
    }
}

/// The per-case wall times as a Markdown table: the median of each side over the timed
/// runs, the ratio of the medians (flagged over 3×), and each side's fastest run.
pub fn times_table(times: &[(String, Times)]) -> String {
    let mut s = String::from(
        "| case | runs | native median (s) | arbiter median (s) | ratio of medians | native min (s) | arbiter min (s) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (name, t) in times {
        let (native, sandboxed) = t.medians();
        let ratio = sandboxed.as_secs_f64() / native.as_secs_f64().max(1e-6);
        let flag = if ratio > 3.0 { " **> 3×**" } else { "" };
        let min = |d: &[Duration]| d.iter().min().copied().unwrap_or_default().as_secs_f64();
        s += &format!(
            "| {name} | {} | {:.4} | {:.4} | {ratio:.2}×{flag} | {:.4} | {:.4} |\n",
            t.native.len(),
            native.as_secs_f64(),
            sandboxed.as_secs_f64(),
            min(&t.native),
            min(&t.arbiter),
        );
    }
    s
}

/// A loopback HTTP/1.0 server for the network-client cases: `/hello.txt` is [`HELLO`],
/// anything else is 404. It serves until the test process ends.
pub struct HttpServer {
    port: u16,
}

impl HttpServer {
    /// Binds 127.0.0.1 on a free port and serves from a thread.
    pub fn start() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the corpus HTTP server");
        let port = listener.local_addr().expect("local address").port();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&req);
                    let path = line.split_whitespace().nth(1).unwrap_or("");
                    let (status, body) = match path {
                        "/hello.txt" => ("200 OK", HELLO),
                        _ => ("404 Not Found", "not found\n"),
                    };
                    let _ = write!(
                        conn,
                        "HTTP/1.0 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        HttpServer { port }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}
