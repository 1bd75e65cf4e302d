//! `arbiter run --ask`: the program shares the terminal the question is asked on and can make
//! the terminal write replies into its input (red team s6 finding 13: tmux answers the
//! XTVERSION query `ESC [ > q` with `ESC P >|tmux 3.3a ESC \`, whose `a` arbiter took for
//! "allow once"). A reply never answers a question; the person's own key press, sent through
//! `tmux send-keys`, still allows and denies as chosen (the native control). Run in a
//! detached tmux, a dynamic and a static helper (`tests/helpers/ask_reply.c`), as root and
//! as uid 65534.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arbiter_tests::{arbiter, compile_dynamic_and_static, have, is_root, outside_file, Sandbox};
use serde_json::Value;

/// A detached tmux server of its own running one command in one pane.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(socket: String, command: &str) -> Tmux {
        let t = Tmux { socket };
        let out = t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "200",
            "-y",
            "50",
            command,
        ]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .env_remove("LD_LIBRARY_PATH")
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// The pane's text, wrapped lines joined.
    fn screen(&self) -> String {
        String::from_utf8_lossy(
            &self
                .tmux(&["capture-pane", "-p", "-J", "-S", "-200", "-t", "t"])
                .stdout,
        )
        .into_owned()
    }

    /// Waits until the pane shows one of `texts`; returns the screen. A watchdog (not a
    /// timing assertion: nothing here is expected to take long) turns a hang into a failure.
    fn until(&self, texts: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if texts.iter().any(|t| s.contains(t)) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the pane never showed {texts:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `key` as the person would.
    fn press(&self, key: &str) {
        assert!(self
            .tmux(&["send-keys", "-t", "t", "-l", key])
            .status
            .success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn decisions(log: &Path, secret: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "call" && v["paths"][0] == secret.to_str().unwrap())
        .map(|v| {
            (
                v["decision"].as_str().unwrap_or("").to_owned(),
                v["decided_by"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn quoted(p: &Path) -> String {
    format!("'{}'", p.display())
}

/// What the program does while its question is up, and what the person does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Native control: no query; the person presses `a` and the file is read.
    Control,
    /// One round of queries while the question is up; the reply is ignored (said so), and
    /// the person's `d` denies.
    Query,
    /// Queries every 10 ms, then the program exits with its question up: nobody pressed a
    /// key, the question ends with the run (the policy's default, deny).
    Flood,
    /// The person presses `a`; then the program provokes replies and exits once they are in
    /// the terminal's input: the end of the run flushes them (native control: without
    /// arbiter they stay there for the shell).
    Late,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Control => "none",
            Mode::Query => "query",
            Mode::Flood => "flood",
            Mode::Late => "late",
        }
    }
}

#[test]
fn a_terminal_reply_the_program_provokes_never_answers_a_question() {
    if !have("tmux") {
        eprintln!(
            "SKIP: tmux is not installed (its replies to the program's queries are the attack)"
        );
        return;
    }
    if !have("setpriv") && is_root() {
        eprintln!("SKIP: setpriv is not installed");
        return;
    }
    let users = if is_root() {
        vec![false, true]
    } else {
        vec![false]
    };
    let (_outside, secret) = outside_file("secret.txt", "TOP-SECRET-13\n");
    let bins = Sandbox::new();
    let helpers = compile_dynamic_and_static("ask_reply", &bins.dir, &["-pthread"]);
    for nobody in users {
        for helper in &helpers {
            let name = helper.file_name().unwrap().to_string_lossy().into_owned();
            for mode in [Mode::Control, Mode::Query, Mode::Flood, Mode::Late] {
                let sb = Sandbox::new();
                let go = sb.path("go");
                let log = sb.log("audit.jsonl");
                let who = if nobody {
                    "setpriv --reuid=65534 --regid=65534 --clear-groups -- "
                } else {
                    ""
                };
                let native = if mode == Mode::Late {
                    // Native control: the replies stay in the terminal's input.
                    format!(
                        "{who}{helper} {secret} {go} late >/dev/null 2>&1; printf NATIVE; {who}{helper} - - pending; ",
                        helper = quoted(helper),
                        secret = quoted(&secret),
                        go = quoted(&go),
                    )
                } else {
                    String::new()
                };
                let command = format!(
                    "cd {dir}; {native}{who}{arbiter} run --ask --audit {log} --audit-level all -- {helper} {secret} {go} {mode}; echo RC=$?; {who}{helper} - - pending; sleep 600",
                    dir = quoted(&sb.dir),
                    arbiter = quoted(&arbiter()),
                    log = quoted(&log),
                    helper = quoted(helper),
                    secret = quoted(&secret),
                    go = quoted(&go),
                    mode = mode.arg(),
                );
                let what = format!("{name} nobody={nobody} {mode:?}");
                let tmux = Tmux::start(
                    format!(
                        "arbiter-test-ask-{}-{}",
                        std::process::id(),
                        sb.dir.file_name().unwrap().to_string_lossy()
                    ),
                    &command,
                );
                let s = tmux.until(&["deny always? ", "RC="]);
                assert!(!s.contains("RC="), "{what}: no question:\n{s}");
                match mode {
                    Mode::Control | Mode::Late => tmux.press("a"),
                    Mode::Query => {
                        // The question is on screen: the program sends its queries now.
                        std::fs::write(&go, "").unwrap();
                        let s = tmux.until(&["was ignored", "RC="]);
                        assert!(
                            !s.contains("RC="),
                            "{what}: the terminal's reply answered the question:\n{s}"
                        );
                        tmux.press("d");
                    }
                    Mode::Flood => std::fs::write(&go, "").unwrap(),
                }
                let s = tmux.until(&["\nPENDING="]);
                assert!(s.contains("RC=0"), "{what}:\n{s}");
                let d = decisions(&log, &secret);
                let person_allowed = d.iter().any(|(dec, by)| dec == "allow" && by == "person");
                match mode {
                    Mode::Control | Mode::Late => {
                        assert!(s.contains("OPENED content: TOP-SECRET-13"), "{what}:\n{s}");
                        assert!(person_allowed, "{what}: {d:?}\n{s}");
                    }
                    Mode::Query => {
                        assert!(s.contains("REFUSED: Permission denied"), "{what}:\n{s}");
                        assert!(s.contains("arbiter: denied once: pid "), "{what}:\n{s}");
                        assert!(
                            !d.is_empty()
                                && d.iter().all(|(dec, by)| dec == "deny" && by == "person"),
                            "{what}: {d:?}\n{s}"
                        );
                    }
                    Mode::Flood => {
                        assert!(s.contains("FLOODED"), "{what}:\n{s}");
                        assert!(s.contains("no answer (the run ended)"), "{what}:\n{s}");
                        assert!(!person_allowed, "{what}: {d:?}\n{s}");
                    }
                }
                if mode != Mode::Control && mode != Mode::Late {
                    assert!(!s.contains("TOP-SECRET"), "{what}:\n{s}");
                }
                if mode == Mode::Late {
                    assert!(s.contains("REPLIED"), "{what}:\n{s}");
                    let native = s.split("NATIVEPENDING=").nth(1).unwrap_or("");
                    assert!(
                        !native.starts_with('0') && !native.starts_with('-'),
                        "{what}: native control: the replies did not stay in the input:\n{s}"
                    );
                    assert!(
                        s.lines().any(|l| l.trim() == "PENDING=0"),
                        "{what}: the replies the program provoked were left for the shell:\n{s}"
                    );
                }
            }
        }
    }
}
