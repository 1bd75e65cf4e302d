//! `arbiter run --ask`: a person at the terminal answers the checks the policy leaves to its
//! default. Driven through a pseudo-terminal that is arbiter's controlling terminal (python3's
//! `pty.fork`), as root and as an unprivileged user: "always" answers are not asked again,
//! `--save` writes them as a policy `arbiter check` accepts and a rerun without `--ask`
//! obeys. Without a terminal `--ask` refuses to start.

use std::path::Path;
use std::process::{Command, Stdio};

use arbiter_tests::{
    arbiter, compile_helper, compile_libc_and_raw, have, is_root, outside_dir, outside_file,
    stderr, stdout, Sandbox,
};
use serde_json::Value;

/// Runs argv[2:] on a new pseudo-terminal; answers each question with the key of the first
/// entry of the JSON map argv[1] (substring → key) its text contains, else `d` (a key
/// `touch:FILE` answers nothing and creates FILE instead); prints a JSON summary. A watchdog turns a hang into a failure.
const DRIVER: &str = r#"
import json, os, pty, signal, sys, time
signal.alarm(120)
answers = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
pending, transcript, questions = b"", b"", []
mark = b"deny always? "
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    transcript += data
    pending += data
    while mark in pending:
        before, _, pending = pending.partition(mark)
        q = before.decode(errors="replace").split("asks: ")[-1].splitlines()[0]
        key = next((k for s, k in answers.items() if s in q), "d")
        questions.append(q)
        if key.startswith("touch:"):
            open(key[len("touch:"):], "w").close()
        else:
            # A NUL separates writes made 0.3 s apart (a reply, then a person's key).
            for i, part in enumerate(key.split("\0")):
                if i:
                    time.sleep(0.3)
                os.write(fd, part.encode())
_, status = os.waitpid(pid, 0)
print(json.dumps({"status": os.waitstatus_to_exitcode(status), "questions": questions,
                  "transcript": transcript.decode(errors="replace")}))
"#;

struct Asked {
    status: i64,
    questions: Vec<String>,
    transcript: String,
}

/// `arbiter ARGS…` on a pseudo-terminal, answering questions from `answers`.
fn on_terminal(sb: &Sandbox, nobody: bool, answers: &[(&str, &str)], args: &[&str]) -> Asked {
    let driver = sb.path("driver.py");
    std::fs::write(&driver, DRIVER).unwrap();
    let map: serde_json::Map<String, Value> = answers
        .iter()
        .map(|(s, k)| ((*s).to_owned(), Value::from(*k)))
        .collect();
    let mut argv: Vec<String> = Vec::new();
    if nobody {
        argv.extend(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
            ]
            .map(String::from),
        );
    }
    argv.push(arbiter().to_str().unwrap().to_owned());
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let mut c = Command::new("python3");
    c.arg(&driver)
        .arg(Value::Object(map).to_string())
        .args(&argv)
        .current_dir(&sb.dir)
        .env("PWD", &sb.dir)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null());
    if nobody {
        c.env("HOME", "/nonexistent");
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "driver failed: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Asked {
        status: v["status"].as_i64().unwrap(),
        questions: v["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q.as_str().unwrap().to_owned())
            .collect(),
        transcript: v["transcript"].as_str().unwrap().to_owned(),
    }
}

fn records(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn open_of<'a>(records: &'a [Value], path: &Path) -> Vec<&'a Value> {
    let p = path.to_str().unwrap();
    records
        .iter()
        .filter(|v| v["type"] == "call" && v["call"] == "open" && v["paths"][0] == p)
        .collect()
}

#[test]
fn ask_remembers_always_answers_and_saves_a_policy_a_rerun_obeys() {
    if !have("python3") {
        eprintln!("SKIP: python3 is not installed (it drives the pseudo-terminal)");
        return;
    }
    let users = if is_root() {
        vec![false, true]
    } else {
        vec![false]
    };
    for nobody in users {
        let dir = outside_dir();
        let out = dir.path().canonicalize().unwrap();
        for n in ["alpha", "bravo", "charlie"] {
            std::fs::write(out.join(n), format!("{n}\n")).unwrap();
        }
        let sb = Sandbox::new();
        let saved = sb.path("saved.toml");
        let log = sb.log("ask.log");
        let script = format!(
            "cat {0}/alpha; cat {0}/alpha; cat {0}/bravo; cat {0}/charlie; cat {0}/bravo; cat {0}/charlie; exit 0",
            out.display()
        );
        let asked = on_terminal(
            &sb,
            nobody,
            &[("/alpha", "A"), ("/bravo", "D"), ("/charlie", "a")],
            &[
                "run",
                "--ask",
                "--save",
                saved.to_str().unwrap(),
                "--audit",
                log.to_str().unwrap(),
                "--audit-level",
                "all",
                "--",
                "sh",
                "-c",
                &script,
            ],
        );
        let t = &asked.transcript;
        assert_eq!(asked.status, 0, "{t}");
        // alpha and bravo were answered "always": asked once each; charlie "once": twice.
        let about = |n: &str| asked.questions.iter().filter(|q| q.contains(n)).count();
        assert_eq!(
            (about("/alpha"), about("/bravo"), about("/charlie")),
            (1, 1, 2),
            "{:#?}\n{t}",
            asked.questions
        );
        let alpha = format!("open {}/alpha (read)", out.display());
        assert!(
            asked.questions.iter().any(|q| q.starts_with(&alpha)),
            "{:?}",
            asked.questions
        );
        assert!(t.contains("(/usr/bin/cat)"), "the program is shown: {t}");
        // The decision is re-stated with its subject after the key (a repainted question
        // shows up there).
        let restated = |said: &str, what: &str| {
            t.lines().any(|l| {
                l.starts_with(&format!("arbiter: {said}: pid "))
                    && l.trim_end().ends_with(&format!(" {what}"))
            })
        };
        assert!(restated("allowed always", &alpha), "{t}");
        let bravo = format!("open {}/bravo (read)", out.display());
        assert!(restated("denied always", &bravo), "{t}");
        assert_eq!(t.matches("alpha\r\n").count(), 2, "{t}");
        assert_eq!(t.matches("charlie\r\n").count(), 2, "{t}");
        assert_eq!(t.matches("bravo: Permission denied").count(), 2, "{t}");
        let recs = records(&log);
        for r in open_of(&recs, &out.join("alpha")) {
            assert_eq!(
                (r["decision"].as_str(), r["decided_by"].as_str()),
                (Some("allow"), Some("person"))
            );
        }
        assert!(open_of(&recs, &out.join("bravo"))
            .iter()
            .all(|r| r["decision"] == "deny" && r["decided_by"] == "person"));

        // The saved policy is valid and replays the "always" answers, and only those.
        let text = std::fs::read_to_string(&saved).unwrap();
        let check = Command::new(arbiter())
            .arg("check")
            .arg(&saved)
            .output()
            .unwrap();
        assert!(check.status.success(), "{}\n{text}", stderr(&check));
        let replay_log = sb.log("replay.log");
        let mut c = Command::new(arbiter());
        c.arg("run")
            .arg("--policy")
            .arg(&saved)
            .arg("--audit")
            .arg(&replay_log)
            .args(["--audit-level", "all", "--", "sh", "-c"])
            .arg(format!(
                "cat {0}/alpha; cat {0}/bravo; cat {0}/charlie; exit 0",
                out.display()
            ))
            .current_dir(&sb.dir)
            .env("PATH", "/usr/bin:/bin")
            .env_remove("LD_LIBRARY_PATH")
            .stdin(Stdio::null());
        let replay = c.output().unwrap();
        assert_eq!(stdout(&replay), "alpha\n", "{}\n{text}", stderr(&replay));
        let recs = records(&replay_log);
        let rule_of = |n: &str| open_of(&recs, &out.join(n))[0]["rule"].clone();
        let saved_origin = saved.to_str().unwrap();
        assert!(
            rule_of("alpha").as_str().unwrap().starts_with(saved_origin),
            "{text}"
        );
        assert!(
            rule_of("bravo").as_str().unwrap().starts_with(saved_origin),
            "{text}"
        );
        assert!(
            rule_of("charlie").is_null(),
            "charlie was allowed once only: {text}"
        );
    }
}

#[test]
fn ask_without_a_terminal_refuses_to_start() {
    if !have("setsid") {
        eprintln!("SKIP: setsid is not installed");
        return;
    }
    let sb = Sandbox::new();
    let marker = sb.path("ran");
    // setsid: a new session has no controlling terminal, so /dev/tty cannot be opened.
    let out = Command::new("setsid")
        .arg("-w")
        .arg(arbiter())
        .args(["run", "--ask", "--", "touch"])
        .arg(&marker)
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--ask needs a terminal"),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists());
    // Control: the same command without --ask runs.
    let out = Command::new("setsid")
        .arg("-w")
        .arg(arbiter())
        .args(["run", "--", "touch"])
        .arg(&marker)
        .current_dir(&sb.dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(marker.exists());
}

#[test]
fn ask_about_a_connection_saves_a_connect_rule_a_rerun_obeys() {
    if !have("python3") {
        eprintln!("SKIP: python3 is not installed (it drives the pseudo-terminal)");
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || for _ in listener.incoming() {});
    // Control: the port accepts connections natively.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let users = if is_root() {
        vec![false, true]
    } else {
        vec![false]
    };
    let program = format!(
        "import socket\nfor _ in range(2):\n    socket.create_connection(('127.0.0.1', {port})).close()\n    print('connected', flush=True)\n"
    );
    for nobody in users {
        let sb = Sandbox::new();
        let saved = sb.path("net.toml");
        let endpoint = format!("tcp:127.0.0.1:{port}");
        let asked = on_terminal(
            &sb,
            nobody,
            &[(endpoint.as_str(), "A")],
            &[
                "run",
                "--ask",
                "--save",
                saved.to_str().unwrap(),
                "--",
                "python3",
                "-c",
                &program,
            ],
        );
        let t = &asked.transcript;
        assert_eq!(asked.status, 0, "{t}");
        assert_eq!(t.matches("connected\r\n").count(), 2, "{t}");
        let about: Vec<&String> = asked
            .questions
            .iter()
            .filter(|q| q.contains(&endpoint))
            .collect();
        assert_eq!(about.len(), 1, "asked once: {:#?}", asked.questions);
        assert!(about[0].starts_with("connect "), "{about:?}");
        let text = std::fs::read_to_string(&saved).unwrap();
        assert!(
            text.contains("[[connect]]") && text.contains(&format!("ports = \"{port}\"")),
            "{text}"
        );
        // Replayed without --ask: the connection is allowed by the saved rule; the default
        // profile alone refuses it.
        let replay = |policy: &[&str]| {
            let mut c = Command::new(arbiter());
            c.arg("run")
                .args(policy)
                .args(["--", "python3", "-c", &program])
                .current_dir(&sb.dir)
                .env("PATH", "/usr/bin:/bin")
                .env_remove("LD_LIBRARY_PATH")
                .stdin(Stdio::null());
            c.output().unwrap()
        };
        let o = replay(&["--policy", saved.to_str().unwrap()]);
        assert_eq!(
            stdout(&o),
            "connected\nconnected\n",
            "{}\n{text}",
            stderr(&o)
        );
        let o = replay(&[]);
        assert_eq!(
            stdout(&o),
            "",
            "the default policy refuses it: {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_question_pending_when_the_command_ends_is_abandoned_and_not_saved() {
    if !have("python3") {
        eprintln!("SKIP: python3 is not installed (it drives the pseudo-terminal)");
        return;
    }
    let users = if is_root() {
        vec![false, true]
    } else {
        vec![false]
    };
    for nobody in users {
        let dir = outside_dir();
        let out = dir.path().canonicalize().unwrap();
        std::fs::write(out.join("secret"), "TOPSECRET\n").unwrap();
        let sb = Sandbox::new();
        let mark = sb.path("mark");
        std::fs::create_dir(&mark).unwrap();
        std::fs::set_permissions(&mark, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        // The command ends (status 3) once the driver has seen cat's question on screen,
        // and nobody ever answers it.
        let script = format!(
            "cat {}/secret & while [ ! -e {1}/seen ]; do sleep 0.1; done; exit 3",
            out.display(),
            mark.display()
        );
        let seen = format!("touch:{}/seen", mark.display());
        for save in [false, true] {
            let _ = std::fs::remove_file(mark.join("seen"));
            let saved = sb.path("pending.toml");
            let mut args = vec!["run", "--ask", "--ro", mark.to_str().unwrap()];
            if save {
                // Without --save (the control) the run already ended with the command.
                args.extend(["--save", saved.to_str().unwrap()]);
            }
            args.extend(["--", "sh", "-c", &script]);
            let asked = on_terminal(&sb, nobody, &[("/secret", seen.as_str())], &args);
            let t = &asked.transcript;
            assert_eq!(asked.status, 3, "save {save}: {t}");
            assert!(
                asked.questions.iter().any(|q| q.contains("/secret")),
                "{:?}\n{t}",
                asked.questions
            );
            assert!(!t.contains("TOPSECRET"), "{t}");
            if save {
                assert!(t.contains("no answer (the run ended)"), "{t}");
                let text = std::fs::read_to_string(&saved).unwrap();
                assert!(
                    !text.contains("[["),
                    "nothing answered, nothing saved: {text}"
                );
            }
        }
    }
}

#[test]
fn a_socket_name_cannot_write_rules_into_the_saved_policy() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
    if !have("python3") || !have("cc") {
        eprintln!(
            "SKIP: python3 (drives the pseudo-terminal) or cc (builds the helper) is missing"
        );
        return;
    }
    let sb = Sandbox::new();
    let (libc_build, raw_build) = compile_libc_and_raw("abstract_connect", &sb);
    let users = if is_root() {
        vec![false, true]
    } else {
        vec![false]
    };
    for nobody in users {
        for (kind, helper) in [("libc", &libc_build), ("raw", &raw_build)] {
            let tag = format!("{kind}-{}", if nobody { "nobody" } else { "root" });
            // The name leaves a `# …` comment at its newline if written raw, and grants
            // everything as a rule.
            let name = format!(
                "arbiter-rtc03-{}-{tag}\n[[fs]]\npath = \"/\"\nallow = \"rwx\"\n#",
                std::process::id()
            );
            let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            let listener = UnixListener::bind_addr(&addr).unwrap();
            // The native control: the name is reachable.
            assert!(UnixStream::connect_addr(&addr).is_ok());
            let native = Command::new(helper).arg(&name).output().unwrap();
            assert_eq!(stdout(&native), "connected\n", "{tag}: {}", stderr(&native));
            let saved = sb.path(&format!("rtc03-{tag}.toml"));
            let asked = on_terminal(
                &sb,
                nobody,
                &[("unix:@arbiter-rtc03", "D")],
                &[
                    "run",
                    "--ask",
                    "--save",
                    saved.to_str().unwrap(),
                    "--",
                    helper.to_str().unwrap(),
                    &name,
                ],
            );
            let t = &asked.transcript;
            assert_eq!(asked.status, 0, "{tag}: {t}");
            assert!(t.contains("connect: Permission denied"), "{tag}: {t}");
            assert!(
                asked
                    .questions
                    .iter()
                    .any(|q| q.contains("unix:@arbiter-rtc03")),
                "{tag}: {:?}",
                asked.questions
            );
            drop(listener);
            let text = std::fs::read_to_string(&saved).unwrap();
            // Exactly the answered rule: one [[connect]] table, no other.
            let tables: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
            assert_eq!(tables, ["[[connect]]"], "{tag}: {text}");
            assert!(
                text.lines()
                    .all(|l| l.bytes().all(|b| (b' '..=b'~').contains(&b))),
                "{tag}: {text}"
            );
            let check = Command::new(arbiter())
                .arg("check")
                .arg(&saved)
                .output()
                .unwrap();
            assert!(check.status.success(), "{tag}: {}\n{text}", stderr(&check));
            let explain = |what: &[&str]| {
                let o = Command::new(arbiter())
                    .args(["explain", "--policy", saved.to_str().unwrap()])
                    .args(what)
                    .output()
                    .unwrap();
                stdout(&o)
            };
            // The replay denies the name by the saved rule, and grants nothing on /srv.
            let ep = format!("unix:@{name}");
            let e = explain(&["connect", &ep]);
            assert!(
                e.contains(": deny (EACCES) by ") && e.contains(saved.to_str().unwrap()),
                "{tag}: {e}\n{text}"
            );
            let e = explain(&["open", "/srv/rtc03", "rw"]);
            assert!(!e.contains(saved.to_str().unwrap()), "{tag}: {e}\n{text}");
        }
    }
}

/// Red team s6 finding 13: the program sends the terminal a query (`ESC [ > q`, XTVERSION)
/// whose reply the terminal writes into its input (`ESC P >|tmux 3.3a ESC \`); read byte by
/// byte, the reply's `a` answered arbiter's question "allow once" while nobody pressed a
/// key. The driver plays the terminal: it writes that reply, in one write as a terminal
/// does, then, 0.3 s later, the person's `d`: the reply is ignored and the key denies. A key
/// alone (`a`) still allows the same read (the control).
#[test]
fn a_terminal_reply_does_not_answer_a_question() {
    if !have("python3") || !have("cc") {
        eprintln!(
            "SKIP: python3 (drives the pseudo-terminal) or cc (builds the helper) is missing"
        );
        return;
    }
    let sb = Sandbox::new();
    let raw_dir = sb.path("raw");
    std::fs::create_dir(&raw_dir).unwrap();
    let raw = compile_helper("raw_open", &raw_dir, &["-static"]);
    std::fs::set_permissions(
        &raw_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (_outside, secret) = outside_file("secret", "TOP-SECRET-rt13\n");
    let secret = secret.to_str().unwrap();
    // The native control: the static raw open reads the file.
    let native = Command::new(&raw).arg(secret).output().unwrap();
    assert_eq!(stdout(&native), "TOP-SECRET-rt13\n", "{}", stderr(&native));
    let reply = "\x1bP>|tmux 3.3a\x1b\\\0d";
    let users = if is_root() {
        vec![false, true]
    } else {
        vec![false]
    };
    for nobody in users {
        for (kind, program) in [("libc", "cat"), ("raw", raw.to_str().unwrap())] {
            let tag = format!("{kind}-{}", if nobody { "nobody" } else { "root" });
            for (answer, allowed) in [("a", true), (reply, false)] {
                let log = sb.log(&format!("rt13-{tag}-{allowed}.log"));
                let asked = on_terminal(
                    &sb,
                    nobody,
                    &[("/secret", answer)],
                    &[
                        "run",
                        "--ask",
                        "--audit",
                        log.to_str().unwrap(),
                        "--audit-level",
                        "all",
                        "--",
                        program,
                        secret,
                    ],
                );
                let t = &asked.transcript;
                assert!(
                    asked.questions.iter().any(|q| q.contains("/secret")),
                    "{tag}: {:?}\n{t}",
                    asked.questions
                );
                assert_eq!(
                    t.contains("TOP-SECRET-rt13"),
                    allowed,
                    "{tag} {answer:?}: {t}"
                );
                assert_eq!(asked.status == 0, allowed, "{tag} {answer:?}: {t}");
                let recs = records(&log);
                let opens: Vec<&Value> = recs
                    .iter()
                    .filter(|v| v["type"] == "call" && v["args"]["path"] == secret)
                    .collect();
                assert!(!opens.is_empty(), "{tag}: {recs:?}");
                let want = if allowed { "allow" } else { "deny" };
                assert!(
                    opens
                        .iter()
                        .all(|r| r["decision"] == want && r["decided_by"] == "person"),
                    "{tag} {answer:?}: {opens:?}"
                );
                if !allowed {
                    assert!(t.contains("not a single key press"), "{tag}: {t}");
                }
            }
        }
    }
}
