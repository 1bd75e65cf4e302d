//! The "always" answers of `arbiter run --ask`: remembered for the rest of the run, and
//! written by `--save FILE` as a policy that extends the run's own policy sources.
//!
//! Each answer is about exactly one subject, and is saved so that it covers no more:
//!
//! | answer about | saved as |
//! |---|---|
//! | a path, allow (rights R, the union of every "allow always" there) | `[[fs]] path = P, allow = R`, plus `[[fs]] path = "P/**", deny = true` so nothing beneath P is granted (a rule on P would otherwise cover P's subtree) |
//! | a path, deny only | `[[fs]] path = P, deny = true` (which covers P's subtree, as the policy language does) |
//! | an endpoint of `connect`/`send` | `[[connect]]` with `ip` + `ports` + `proto`, or `unix` (a path or `@name`); an allowed socket path also gets `unix = "P/**", deny = true`, since a `unix` path rule covers P's subtree |
//! | an endpoint of `bind`/`listen` | `[[bind]]` likewise |
//! | a name (`getaddrinfo`, `getnameinfo`) | `[[resolve]] name = N`; a name with `*` is not saved (the language has no escape for its patterns `*`, `*.suffix`) |
//!
//! Paths are written literally (`$` doubled, `*`, `?`, `[` escaped); a subject the policy
//! language cannot spell (a path that is not UTF-8, an endpoint it has no rule for) is
//! remembered for the run but not saved, and [`Remembered::policy_text`] names it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use arbiter_policies::{Access, Policy, Source, Vars};

use super::wire::access_words;
use crate::core::decider::{Question, Subject};
use crate::core::net::name_bytes;
use crate::learn::generate::toml_string;

/// Which rule family an endpoint's check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// `connect`, and sends with a destination.
    Connect,
    /// `bind` and `listen`.
    Bind,
}

impl Family {
    /// The family of the check a call named `call` makes about an endpoint.
    pub fn of(call: &str) -> Family {
        match call {
            "bind" | "listen" => Family::Bind,
            _ => Family::Connect,
        }
    }

    fn table(self) -> &'static str {
        match self {
            Family::Connect => "connect",
            Family::Bind => "bind",
        }
    }
}

#[derive(Debug, Default)]
struct PathEntry {
    allow: Access,
    deny: bool,
    calls: BTreeSet<&'static str>,
}

/// The "always" answers given so far.
#[derive(Debug, Default)]
pub struct Remembered {
    paths: BTreeMap<PathBuf, PathEntry>,
    endpoints: BTreeMap<(Family, String), (bool, &'static str)>,
    names: BTreeMap<String, bool>,
}

impl Remembered {
    /// The remembered answer to `q` (`Some(true)` allow, `Some(false)` deny), if any: a
    /// path's "allow always" covers the rights it was given for, its "deny always" every
    /// other right; endpoints and names match exactly.
    pub fn lookup(&self, q: &Question<'_>) -> Option<bool> {
        match q.subject {
            Subject::Path { path, access } => {
                let e = self.paths.get(path)?;
                if e.allow.contains(access) {
                    Some(true)
                } else if e.deny {
                    Some(false)
                } else {
                    None
                }
            }
            Subject::Endpoint(ep) => self
                .endpoints
                .get(&(Family::of(q.call), ep.to_owned()))
                .map(|(allow, _)| *allow),
            Subject::Name(name) => self.names.get(name).copied(),
        }
    }

    /// Remembers an "always" answer to `q`.
    pub fn remember(&mut self, q: &Question<'_>, allow: bool) {
        match q.subject {
            Subject::Path { path, access } => {
                let e = self.paths.entry(path.to_path_buf()).or_default();
                if allow {
                    e.allow |= access;
                } else {
                    e.deny = true;
                }
                e.calls.insert(q.call);
            }
            Subject::Endpoint(ep) => {
                self.endpoints
                    .insert((Family::of(q.call), ep.to_owned()), (allow, q.call));
            }
            Subject::Name(name) => {
                self.names.insert(name.to_owned(), allow);
            }
        }
    }

    /// Whether nothing was answered "always".
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.endpoints.is_empty() && self.names.is_empty()
    }

    /// The saved policy: a header naming `command`, `extends` = `extends` (the run's policy
    /// sources, so that `--policy FILE` alone replays the run), then one rule per answer.
    /// Also returns a note for each answer that could not be written (its subject escaped
    /// as comments are: the notes go to the terminal).
    pub fn policy_text(&self, extends: &[String], command: &str) -> (String, Vec<String>) {
        let command = comment(command);
        let mut out = format!(
            "# Written by `arbiter run --ask --save` from the \"always\" answers of a run of: {command}\n\
             # Replay with `arbiter run --policy THIS_FILE -- ...` (docs/master.md, \"Asking a person\").\n\
             version = 1\n"
        );
        let list: Vec<String> = extends.iter().map(|e| toml_string(e)).collect();
        let _ = writeln!(out, "extends = [{}]", list.join(", "));
        let mut skipped = Vec::new();
        for (path, e) in &self.paths {
            let calls: Vec<&str> = e.calls.iter().copied().collect();
            let calls = calls.join(", ");
            let Some(text) = path.to_str() else {
                skipped.push(format!(
                    "{} (not UTF-8)",
                    comment(&path.display().to_string())
                ));
                continue;
            };
            let lit = literal(text);
            let rule = if e.allow.is_empty() {
                format!(
                    "\n# deny always ({calls})\n[[fs]]\npath = {}\ndeny = true\n",
                    toml_string(&lit)
                )
            } else {
                let words: Vec<String> =
                    access_words(e.allow).into_iter().map(toml_string).collect();
                let beneath = if lit.ends_with('/') {
                    format!("{lit}**")
                } else {
                    format!("{lit}/**")
                };
                format!(
                    "\n# allow always ({calls}); nothing beneath it\n[[fs]]\npath = {}\nallow = [{}]\n[[fs]]\npath = {}\ndeny = true\n",
                    toml_string(&lit),
                    words.join(", "),
                    toml_string(&beneath)
                )
            };
            push_valid(&mut out, &mut skipped, rule, &path.display().to_string());
        }
        for ((family, ep), (allow, call)) in &self.endpoints {
            match endpoint_fields(ep) {
                Some(fields) => {
                    let verb = if *allow { "allow" } else { "deny" };
                    let mut rule = format!(
                        "\n# {verb} always ({call} {})\n[[{}]]\n",
                        comment(ep),
                        family.table()
                    );
                    let mut beneath = None;
                    for (k, v) in fields {
                        let _ = writeln!(rule, "{k} = {}", toml_string(&v));
                        // A `unix` path rule covers the path's subtree, as an fs rule does:
                        // an allowed socket path grants nothing beneath it.
                        if k == "unix" && *allow && v.starts_with('/') {
                            let sep = if v.ends_with('/') { "" } else { "/" };
                            beneath = Some(format!("{v}{sep}**"));
                        }
                    }
                    if !allow {
                        rule.push_str("deny = true\n");
                    }
                    if let Some(b) = beneath {
                        let _ = write!(
                            rule,
                            "[[{}]]\nunix = {}\ndeny = true\n",
                            family.table(),
                            toml_string(&b)
                        );
                    }
                    push_valid(&mut out, &mut skipped, rule, ep);
                }
                None => skipped.push(format!("{} (no rule spells this endpoint)", comment(ep))),
            }
        }
        for (name, allow) in &self.names {
            // `*` and `*.suffix` are patterns in a resolve rule, and the language has no
            // escape for `*`: such a name the program looked up is not saved at all.
            if name.contains('*') {
                skipped.push(format!(
                    "{} (a `*` in a resolve rule's name is a pattern)",
                    comment(name)
                ));
                continue;
            }
            let verb = if *allow { "allow" } else { "deny" };
            let mut rule = format!(
                "\n# {verb} always (name lookup)\n[[resolve]]\nname = {}\n",
                toml_string(name)
            );
            if !allow {
                rule.push_str("deny = true\n");
            }
            push_valid(&mut out, &mut skipped, rule, name);
        }
        (out, skipped)
    }
}

/// `s` as text for a `#` comment: printable ASCII as is (a backslash doubled), `\n`, `\r`,
/// `\t` spelled so, every other byte as `\xNN` — so that nothing in `s` ends the comment
/// or reaches the terminal of whoever reads the file.
fn comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b' '..=b'~' => out.push(char::from(b)),
            b => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// Appends `rule` when it compiles on its own; otherwise notes `what` as skipped.
fn push_valid(out: &mut String, skipped: &mut Vec<String>, rule: String, what: &str) {
    let text = format!("version = 1\n{rule}");
    let ok = Policy::load(
        &[Source::Text {
            origin: "--save".into(),
            text,
        }],
        &Vars::default(),
    )
    .is_ok();
    if ok {
        out.push_str(&rule);
    } else {
        skipped.push(format!(
            "{} (the policy language cannot spell it)",
            comment(what)
        ));
    }
}

/// A path as policy text that means exactly that path: `$` doubled, wildcards escaped.
fn literal(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    for c in path.chars() {
        match c {
            '$' => out.push_str("$$"),
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

/// The keys of a network rule naming exactly the endpoint `ep` as the audit log writes it
/// (`tcp:127.0.0.1:80`, `udp:[::1]:53`, `unix:/run/x`, `unix:@name`).
fn endpoint_fields(ep: &str) -> Option<Vec<(&'static str, String)>> {
    let (proto, rest) = ep.split_once(':')?;
    if proto == "unix" {
        // The endpoint text spells a backslash and bytes that are not UTF-8 escaped
        // (core::net::name_text); a rule holds the name itself, and only UTF-8.
        let plain = |t: &str| String::from_utf8(name_bytes(t)?).ok();
        let value = match rest.strip_prefix('@') {
            Some(name) => format!("@{}", literal(&plain(name)?)),
            None => literal(&plain(rest)?),
        };
        return Some(vec![("unix", value)]);
    }
    if proto != "tcp" && proto != "udp" {
        return None;
    }
    let addr: std::net::SocketAddr = rest.parse().ok()?;
    Some(vec![
        ("ip", addr.ip().to_string()),
        ("ports", addr.port().to_string()),
        ("proto", proto.to_owned()),
    ])
}

/// The `extends` entries that reproduce a run's policy sources: built-in profiles by name,
/// files by absolute path.
pub fn extends_of(sources: &[Source]) -> Vec<String> {
    sources
        .iter()
        .filter_map(|s| match s {
            Source::Builtin(name) => Some(format!("builtin:{name}")),
            Source::File(path) => Some(
                path.canonicalize()
                    .unwrap_or_else(|_| path.clone())
                    .display()
                    .to_string(),
            ),
            Source::Text { .. } => None,
        })
        .collect()
}

/// Writes `text` to `file` (through a temporary file beside it, renamed over it).
pub fn write(file: &Path, text: &str) -> std::io::Result<()> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Caller, Transport};

    /// The saved policy `text`, loaded as a rerun would (a failure shows the text).
    fn load_saved(text: &str) -> Policy {
        Policy::load(
            &[Source::Text {
                origin: "saved".into(),
                text: text.to_string(),
            }],
            &Vars::default(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }
    fn caller() -> Caller {
        Caller {
            pid: 1,
            tid: None,
            exe: None,
            uid: 0,
            gid: 0,
            transport: Transport::Shim,
        }
    }

    fn q<'a>(c: &'a Caller, call: &'static str, subject: Subject<'a>) -> Question<'a> {
        Question {
            caller: c,
            call,
            subject,
            default_errno: Some(libc::EACCES),
            args: None,
        }
    }

    #[test]
    fn saved_answers_decide_exactly_what_was_answered() {
        let c = caller();
        let mut r = Remembered::default();
        let f = Path::new("/srv/da$ta/f*le");
        let d = Path::new("/srv/secret");
        r.remember(
            &q(
                &c,
                "open",
                Subject::Path {
                    path: f,
                    access: Access::READ,
                },
            ),
            true,
        );
        r.remember(
            &q(
                &c,
                "open",
                Subject::Path {
                    path: f,
                    access: Access::STAT,
                },
            ),
            true,
        );
        r.remember(
            &q(
                &c,
                "open",
                Subject::Path {
                    path: d,
                    access: Access::READ,
                },
            ),
            false,
        );
        r.remember(
            &q(&c, "connect", Subject::Endpoint("tcp:127.0.0.1:8080")),
            true,
        );
        r.remember(&q(&c, "bind", Subject::Endpoint("tcp:[::1]:9000")), false);
        r.remember(&q(&c, "connect", Subject::Endpoint("unix:@my*sock")), true);
        r.remember(&q(&c, "getaddrinfo", Subject::Name("example.com")), true);
        assert_eq!(
            r.lookup(&q(
                &c,
                "stat",
                Subject::Path {
                    path: f,
                    access: Access::STAT | Access::READ
                }
            )),
            Some(true)
        );
        assert_eq!(
            r.lookup(&q(
                &c,
                "open",
                Subject::Path {
                    path: f,
                    access: Access::WRITE
                }
            )),
            None
        );
        assert_eq!(
            r.lookup(&q(
                &c,
                "open",
                Subject::Path {
                    path: d,
                    access: Access::STAT
                }
            )),
            Some(false)
        );

        let (text, skipped) = r.policy_text(&["builtin:runtime".into()], "prog");
        assert!(skipped.is_empty(), "{skipped:?}");
        let policy = load_saved(&text);
        assert!(
            policy
                .decide_path(f, Access::READ | Access::STAT)
                .decision
                .allow,
            "{text}"
        );
        assert!(!policy.decide_path(f, Access::WRITE).decision.allow);
        // Nothing beneath an allowed path, nor a path that merely looks like the pattern.
        assert!(
            !policy
                .decide_path(&f.join("x"), Access::READ)
                .decision
                .allow
        );
        assert!(
            !policy
                .decide_path(Path::new("/srv/da$ta/file"), Access::READ)
                .decision
                .allow
        );
        assert!(!policy.decide_path(d, Access::READ).decision.allow);
        assert_eq!(
            policy.decide_path(d, Access::READ).decision.by,
            arbiter_policies::DecidedBy::Rule
        );
        assert!(policy.decide_resolve("example.com").allow);
        assert!(!policy.decide_resolve("other.example.com").allow);
        // Endpoints: exactly the address, port and protocol answered, in the right family.
        use arbiter_policies::Endpoint;
        let tcp = |a: &str| Endpoint::Tcp(a.parse().unwrap());
        assert!(policy.decide_connect(&tcp("127.0.0.1:8080"), &[]).allow);
        assert!(!policy.decide_connect(&tcp("127.0.0.1:8081"), &[]).allow);
        assert!(
            !policy
                .decide_connect(&Endpoint::Udp("127.0.0.1:8080".parse().unwrap()), &[])
                .allow
        );
        assert!(!policy.decide_bind(&tcp("127.0.0.1:8080")).decision.allow);
        let bind = policy.decide_bind(&tcp("[::1]:9000")).decision;
        assert_eq!(
            (bind.allow, bind.by),
            (false, arbiter_policies::DecidedBy::Rule)
        );
        assert!(
            policy
                .decide_connect(&Endpoint::Abstract(b"my*sock".to_vec()), &[])
                .allow
        );
        assert!(
            !policy
                .decide_connect(&Endpoint::Abstract(b"myXsock".to_vec()), &[])
                .allow
        );
    }

    #[test]
    fn endpoint_names_cannot_write_policy_through_comments() {
        let c = caller();
        let mut r = Remembered::default();
        let inject = "\n[[fs]]\npath = \"/\"\nallow = \"rwx\"\n#";
        let abs = format!("unix:@x{inject}");
        let path = format!("unix:/srv/s{inject}");
        r.remember(&q(&c, "connect", Subject::Endpoint(&abs)), false);
        r.remember(&q(&c, "bind", Subject::Endpoint(&path)), false);
        let (text, skipped) = r.policy_text(&["builtin:runtime".into()], "prog\n[[fs]]\x1b");
        assert!(skipped.is_empty(), "{skipped:?}");
        // Every line is a comment, the header, or a key of the two answered rules.
        for line in text.lines() {
            assert!(
                line.is_empty()
                    || line.starts_with('#')
                    || line.starts_with("version = ")
                    || line.starts_with("extends = ")
                    || line.starts_with("unix = ")
                    || ["[[connect]]", "[[bind]]", "deny = true"].contains(&line),
                "unexpected line {line:?} in\n{text}"
            );
            assert!(line.bytes().all(|b| (b' '..=b'~').contains(&b)), "{line:?}");
        }
        let policy = load_saved(&text);
        let fs = policy
            .decide_path(Path::new("/srv/secret"), Access::READ)
            .decision;
        assert!(!fs.allow, "{text}");
        use arbiter_policies::{DecidedBy, Endpoint};
        let name = format!("x{inject}").into_bytes();
        let d = policy.decide_connect(&Endpoint::Abstract(name), &[]);
        assert_eq!((d.allow, d.by), (false, DecidedBy::Rule), "{text}");
        let unix = Endpoint::Unix(PathBuf::from(format!("/srv/s{inject}")));
        let d = policy.decide_bind(&unix).decision;
        assert_eq!((d.allow, d.by), (false, DecidedBy::Rule), "{text}");
    }

    #[test]
    fn comments_escape_every_byte_outside_printable_ascii() {
        assert_eq!(
            comment("a\\b\n\r\t\x1b\u{7f}é"),
            "a\\\\b\\n\\r\\t\\x1b\\x7f\\xc3\\xa9"
        );
    }

    #[test]
    fn an_allowed_socket_path_grants_nothing_beneath_it() {
        let c = caller();
        let mut r = Remembered::default();
        r.remember(&q(&c, "connect", Subject::Endpoint("unix:/srv/svc")), true);
        r.remember(&q(&c, "bind", Subject::Endpoint("unix:/")), true);
        let (text, skipped) = r.policy_text(&[], "prog");
        assert!(skipped.is_empty(), "{skipped:?}");
        let policy = load_saved(&text);
        use arbiter_policies::Endpoint;
        let unix = |p: &str| Endpoint::Unix(PathBuf::from(p));
        assert!(
            policy.decide_connect(&unix("/srv/svc"), &[]).allow,
            "{text}"
        );
        assert!(
            !policy
                .decide_connect(&unix("/srv/svc/other.sock"), &[])
                .allow,
            "{text}"
        );
        assert!(policy.decide_bind(&unix("/")).decision.allow, "{text}");
        assert!(
            !policy.decide_bind(&unix("/run/docker.sock")).decision.allow,
            "{text}"
        );
    }

    #[test]
    fn names_with_a_wildcard_are_not_saved_as_patterns() {
        let c = caller();
        let mut r = Remembered::default();
        for name in ["*", "*.com", "a*b.example"] {
            r.remember(&q(&c, "getaddrinfo", Subject::Name(name)), true);
        }
        r.remember(&q(&c, "getaddrinfo", Subject::Name("example.org")), true);
        // Within the run, the literal name only.
        assert_eq!(
            r.lookup(&q(&c, "getaddrinfo", Subject::Name("*.com"))),
            Some(true)
        );
        assert_eq!(
            r.lookup(&q(&c, "getaddrinfo", Subject::Name("x.com"))),
            None
        );
        let (text, skipped) = r.policy_text(&[], "prog");
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        let policy = load_saved(&text);
        assert!(policy.decide_resolve("example.org").allow, "{text}");
        assert!(!policy.decide_resolve("x.com").allow, "{text}");
        assert!(!policy.decide_resolve("other.example").allow, "{text}");
    }

    #[test]
    fn escaped_socket_names_are_saved_as_the_name_or_not_at_all() {
        use crate::core::net::name_text;
        let c = caller();
        let mut r = Remembered::default();
        let ff = format!("unix:@x{}", name_text(b"\xff"));
        let fe = format!("unix:@x{}", name_text(b"\xfe"));
        assert_ne!(ff, fe);
        let back = format!("unix:@{}", name_text(b"a\\b"));
        r.remember(&q(&c, "connect", Subject::Endpoint(&ff)), true);
        r.remember(&q(&c, "connect", Subject::Endpoint(&back)), true);
        // "always" for one name does not answer the other.
        assert_eq!(r.lookup(&q(&c, "connect", Subject::Endpoint(&fe))), None);
        let esc = format!("unix:@{}", name_text(b"\x1b]0;x\x07\xff"));
        r.remember(&q(&c, "connect", Subject::Endpoint(&esc)), true);
        let (text, skipped) = r.policy_text(&[], "prog");
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        // The notes (printed on stderr) carry no control character.
        assert!(
            skipped.iter().all(|s| !s.chars().any(char::is_control)),
            "{skipped:?}"
        );
        let policy = load_saved(&text);
        use arbiter_policies::Endpoint;
        let abs = |n: &[u8]| Endpoint::Abstract(n.to_vec());
        assert!(policy.decide_connect(&abs(b"a\\b"), &[]).allow, "{text}");
        assert!(!policy.decide_connect(&abs(b"x\xfe"), &[]).allow, "{text}");
        assert!(!policy.decide_connect(&abs(b"x\xff"), &[]).allow, "{text}");
    }
}
