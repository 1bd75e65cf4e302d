//! Denials a person can act on: one line on stderr per distinct denial, naming the call, its
//! target, the deciding rule (or "no rule"), and the `arbiter run` option that would allow it.
//!
//! ```text
//! arbiter: denied open /etc/shadow (read) by builtin:default:19:1; to allow: --ro /etc/shadow
//! arbiter: denied connect tcp:127.0.0.1:8080 (no rule); to allow: --connect tcp:127.0.0.1:8080
//! ```
//! Each line is written with one `write(2)` (a whole line, never split inside the program's
//! own output lines when both write whole lines to a pipe or terminal), by the writer thread
//! of [`crate::stderr_lines`], never by the thread answering the call; the same denial is
//! shown once; after [`MAX_LINES`] lines the rest are only counted. Metadata probes
//! (`stat`, `access`, `readlink`: programs probe many paths that do not matter, such as
//! every `$PATH` entry) are counted but not shown line by line. At exit, `arbiter run`
//! prints [`Denials::summary`]. The audit record of a denied call carries the same hint.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::audit::text::escape_controls;
use arbiter_policies::Access;

/// Lines printed at most; later denials are counted for the summary.
pub const MAX_LINES: usize = 20;

/// What was denied, as the core noted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A path, with the rights asked for.
    Path(PathBuf, Access),
    /// An endpoint as the audit log writes it: `tcp:ADDR:PORT`, `udp:…`, `unix:PATH`,
    /// `unix:@NAME`, or `name:HOST` for a lookup.
    Endpoint(String),
}

/// One denial.
#[derive(Debug, Clone)]
pub struct Denial<'a> {
    /// The call's name (`open`, `connect`, …).
    pub call: &'a str,
    /// What it was denied on.
    pub target: &'a Target,
    /// The deciding rule's origin (`file:line:column`), or `None` when no rule matched.
    pub rule: Option<&'a str>,
}

/// The option of `arbiter run` that allows a path access.
fn path_option(access: Access) -> &'static str {
    let writes = Access::WRITE | Access::CREATE | Access::REMOVE | Access::RENAME | Access::SETATTR;
    if !access.intersection(writes).is_empty() {
        "--rw"
    } else if access.contains(Access::EXEC) {
        "--rx"
    } else {
        "--ro"
    }
}

/// Quotes an argument for a POSIX shell when it needs it. A name holding anything but
/// printable ASCII (a newline, an escape sequence, a bidirectional override: names the
/// program chose) is written in bash's `$'…'` form with every such byte as `\xNN`, so the
/// line stays one line, drives no terminal, and still pastes into bash as the same name
/// (bytes that are not UTF-8 included).
fn shell_word(s: &[u8]) -> String {
    let plain = !s.is_empty()
        && s.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:@[]+=,%".contains(b));
    let printable = s.iter().all(|b| (0x20..0x7f).contains(b));
    if plain {
        String::from_utf8_lossy(s).into_owned()
    } else if printable {
        format!("'{}'", String::from_utf8_lossy(s).replace('\'', "'\\''"))
    } else {
        let mut out = String::from("$'");
        for &b in s {
            match b {
                b'\'' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                0x20..=0x7e => out.push(b as char),
                _ => out.push_str(&format!("\\x{b:02x}")),
            }
        }
        out.push('\'');
        out
    }
}

impl Denial<'_> {
    /// The `arbiter run` option (with its argument) that would allow this call.
    pub fn hint(&self) -> String {
        match self.target {
            Target::Path(path, access) => {
                format!(
                    "{} {}",
                    path_option(*access),
                    shell_word(path.as_os_str().as_bytes())
                )
            }
            Target::Endpoint(ep) => match ep.strip_prefix("name:") {
                Some(name) => format!("--resolve {}", shell_word(name.as_bytes())),
                None if self.call == "bind" || self.call == "listen" => {
                    format!("--bind {}", shell_word(ep.as_bytes()))
                }
                None => format!("--connect {}", shell_word(ep.as_bytes())),
            },
        }
    }

    /// The stderr line (without the newline).
    pub fn line(&self) -> String {
        // The names are the program's choice: escaped, so that one denial is one line and
        // no terminal control sequence reaches the user's terminal.
        let what = match self.target {
            Target::Path(path, access) => {
                format!("{} ({access})", escape_controls(&path_text(path)))
            }
            Target::Endpoint(ep) => escape_controls(ep),
        };
        let by = match self.rule {
            Some(rule) => format!("by {rule}"),
            None => "(no rule)".to_owned(),
        };
        format!(
            "arbiter: denied {} {what} {by}; to allow: {}",
            self.call,
            self.hint()
        )
    }
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[derive(Default)]
struct State {
    seen: HashSet<String>,
    total: u64,
    shown: usize,
    probes: u64,
    first_hint: Option<String>,
}

/// Calls that only look at a path's metadata: counted, not shown line by line.
fn is_probe(call: &str) -> bool {
    matches!(call, "stat" | "access" | "readlink")
}

/// The per-sandbox denial reporter.
pub struct Denials {
    on: bool,
    state: Mutex<State>,
}

impl Denials {
    /// A reporter; `on` false counts nothing and prints nothing (`--quiet`, the daemon).
    pub fn new(on: bool) -> Denials {
        Denials {
            on,
            state: Mutex::new(State::default()),
        }
    }

    /// Counts a denial and prints its line the first time it is seen (up to [`MAX_LINES`]).
    pub fn report(&self, denial: &Denial<'_>) {
        if !self.on {
            return;
        }
        let line = denial.line();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.total += 1;
        if is_probe(denial.call) {
            state.probes += 1;
            return;
        }
        if state.first_hint.is_none() {
            state.first_hint = Some(denial.hint());
        }
        if state.shown >= MAX_LINES || !state.seen.insert(line.clone()) {
            return;
        }
        state.shown += 1;
        let more = if state.shown == MAX_LINES {
            " (further denials are only counted)"
        } else {
            ""
        };
        write_line(&format!("{line}{more}\n"));
    }

    /// The line `arbiter run` prints at exit, when anything was denied.
    pub fn summary(&self) -> Option<String> {
        let state = self.state.lock().ok()?;
        if state.total == 0 {
            return None;
        }
        let mut line = format!("arbiter: {} call(s) denied", state.total);
        if state.probes > 0 {
            line.push_str(&format!(
                " ({} of them stat/access/readlink probes, not shown; `--audit -` lists every call)",
                state.probes
            ));
        }
        if let Some(hint) = &state.first_hint {
            line.push_str(&format!(
                "; `arbiter explain {}` shows what decides one",
                explain_example(hint)
            ));
        }
        Some(line)
    }
}

/// The `arbiter explain` request matching a hint (`--ro P` → `open P read`): explained
/// without the addition, it shows the rule, or the absence of one, that denies.
fn explain_example(hint: &str) -> String {
    let Some((option, arg)) = hint.split_once(' ') else {
        return String::new();
    };
    match option {
        "--ro" => format!("open {arg} read"),
        "--rx" => format!("open {arg} exec"),
        "--rw" => format!("open {arg} rw"),
        "--connect" => format!("connect {arg}"),
        "--bind" => format!("bind {arg}"),
        "--resolve" => format!("resolve {arg}"),
        _ => String::new(),
    }
}

/// Queues a whole line (ending with its newline) for stderr, where the writer thread of
/// [`crate::stderr_lines`] writes it with one system call, and waits for it at most
/// [`crate::stderr_lines::ORDER_WAIT`]: the calling thread, often one answering the
/// program's call, never waits long on a terminal or pipe the program can stall.
pub fn write_line(line: &str) {
    crate::stderr_lines::say_in_order(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_program_chose_cannot_break_the_line_or_drive_the_terminal() {
        use std::ffi::OsStr;
        // A newline that would forge a second line, an escape sequence, a bidirectional
        // override, a quote, and a byte that is not UTF-8.
        let raw: &[u8] = b"/w/a\narbiter: allowed\x1b[2K\xe2\x80\xaeb'\xff";
        let target = Target::Path(Path::new(OsStr::from_bytes(raw)).into(), Access::READ);
        let d = Denial {
            call: "open",
            target: &target,
            rule: None,
        };
        let line = d.line();
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{line:?}"
        );
        assert_eq!(
            d.hint(),
            "--ro $'/w/a\\x0aarbiter: allowed\\x1b[2K\\xe2\\x80\\xaeb\\'\\xff'"
        );
        assert!(line.ends_with(&d.hint()), "{line}");
        // bash reads the hint's argument back as the very bytes of the name.
        let arg = d.hint().split_once(' ').unwrap().1.to_owned();
        match std::process::Command::new("bash")
            .args(["-c", &format!("printf %s {arg}")])
            .output()
        {
            Ok(out) => assert_eq!(out.stdout, raw),
            Err(e) => println!("SKIP: bash round trip of the hint: {e}"),
        }
    }

    #[test]
    fn hints_name_the_option_that_allows_the_call() {
        let read = Target::Path("/srv/data/x.txt".into(), Access::READ);
        let d = Denial {
            call: "open",
            target: &read,
            rule: None,
        };
        assert_eq!(d.hint(), "--ro /srv/data/x.txt");
        assert_eq!(
            d.line(),
            "arbiter: denied open /srv/data/x.txt (read) (no rule); to allow: --ro /srv/data/x.txt"
        );
        let write = Target::Path("/srv/a b".into(), Access::WRITE | Access::CREATE);
        let d = Denial {
            call: "open",
            target: &write,
            rule: Some("p.toml:3:1"),
        };
        assert_eq!(d.hint(), "--rw '/srv/a b'");
        let exec = Target::Path("/opt/t".into(), Access::EXEC);
        assert_eq!(
            Denial {
                call: "execve",
                target: &exec,
                rule: None
            }
            .hint(),
            "--rx /opt/t"
        );
        let ep = Target::Endpoint("tcp:127.0.0.1:80".into());
        assert_eq!(
            Denial {
                call: "connect",
                target: &ep,
                rule: None
            }
            .hint(),
            "--connect tcp:127.0.0.1:80"
        );
        assert_eq!(
            Denial {
                call: "bind",
                target: &ep,
                rule: None
            }
            .hint(),
            "--bind tcp:127.0.0.1:80"
        );
        let name = Target::Endpoint("name:example.com".into());
        assert_eq!(
            Denial {
                call: "getaddrinfo",
                target: &name,
                rule: None
            }
            .hint(),
            "--resolve example.com"
        );
    }

    #[test]
    fn each_denial_counts_and_the_summary_says_so() {
        let r = Denials::new(true);
        let t = Target::Endpoint("udp:10.0.0.1:53".into());
        let d = Denial {
            call: "connect",
            target: &t,
            rule: None,
        };
        r.report(&d);
        r.report(&d);
        let s = r.summary().unwrap();
        assert!(s.starts_with("arbiter: 2 call(s) denied;"), "{s}");
        assert!(s.contains("arbiter explain connect udp:10.0.0.1:53"), "{s}");
        let p = Target::Path("/x".into(), Access::STAT);
        r.report(&Denial {
            call: "stat",
            target: &p,
            rule: None,
        });
        let s = r.summary().unwrap();
        assert!(s.contains("3 call(s) denied (1 of them stat"), "{s}");
        assert!(Denials::new(false).summary().is_none());
    }
}
