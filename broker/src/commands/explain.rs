//! `arbiter explain`: what a policy decides about one request, and which rule decides it.
//!
//! ```text
//! arbiter explain [--policy P]… open PATH [RIGHTS]
//! arbiter explain [--policy P]… mkdir PATH
//! arbiter explain [--policy P]… connect HOST:PORT | [tcp:|udp:]ADDR:PORT | unix:PATH | unix:@NAME
//! arbiter explain [--policy P]… bind ADDR:PORT | unix:PATH | unix:@NAME
//! arbiter explain [--policy P]… resolve NAME
//! ```
//! `--policy` takes a file, `builtin:NAME` or a built-in profile's name; without it, the
//! `default` profile. Paths are made canonical as the broker does before deciding: an
//! existing path with `realpath`, a path that does not exist yet as its parent's real path
//! plus its name. A `connect` to a host name shows the lookup's decision, then the connect
//! decision for each address the name resolves to here (or, when it does not resolve, for an
//! address from the documentation range 192.0.2.0/24 that no real rule names).
//!
//! With `--json`, one object: `allow` (the whole request), `policy.digest`, `decisions` (one
//! per decision made: `request`, `allow`, `errno` when denied, `rule` as `file:line:column` or
//! null when no rule matched, `explanation`), and `notes` (canonicalisation and lookups).
//!
//! Exit status: 0 when allowed, 1 when denied.

use anyhow::{bail, Context};
use arbiter_policies::{Access, Endpoint, Policy, Source, Vars};

use crate::commands::policy_args::PolicyArgs;
use arbiter::audit::text::escape_controls;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `arbiter explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The policy and the rules added to it, exactly as `arbiter run` takes them.
    #[command(flatten)]
    pub rules: PolicyArgs,
    /// One JSON object on stdout instead of text: `{"allow": bool, "policy": {"digest"},
    /// "decisions": [{"request", "allow", "errno", "rule", "explanation"}], "notes": [..]}`.
    #[arg(long, global = true)]
    pub json: bool,
    /// The request to explain.
    #[command(subcommand)]
    pub request: Request,
}

/// A request to explain.
#[derive(Debug, clap::Subcommand)]
pub enum Request {
    /// Using a path with some rights.
    Open {
        /// The path (made canonical before deciding).
        path: PathBuf,
        /// Rights in the policy vocabulary: read, write, create, remove, rename, list, stat,
        /// exec, setattr, ro, rw, rx, … (comma-separated).
        #[arg(default_value = "read")]
        rights: String,
    },
    /// Making the directory PATH (`mkdir`): as `open PATH create`, except that a directory on
    /// the way to a rule granting `create` may be made (an implicit mkdir) unless a deny rule
    /// decides it or one of its ancestors.
    Mkdir {
        /// The directory (made canonical before deciding).
        path: PathBuf,
    },
    /// Connecting to HOST:PORT, [tcp:|udp:]ADDR:PORT, [IPV6]:PORT, unix:PATH or unix:@NAME.
    Connect {
        /// The destination.
        destination: String,
    },
    /// Binding ADDR:PORT, [IPV6]:PORT, unix:PATH or unix:@NAME.
    Bind {
        /// The local address.
        address: String,
    },
    /// Looking up a name.
    Resolve {
        /// The name.
        name: String,
    },
}

/// The path as the broker would ask about it: absolute, symlinks resolved. A path that does
/// not exist is its parent's real path plus its name; when the parent does not exist either,
/// the absolute path as written (with a note).
fn canonical(path: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(path) {
        return Ok(real);
    }
    let absolute = std::path::absolute(path).context("cannot make the path absolute")?;
    if let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) {
        if let Ok(real) = std::fs::canonicalize(parent) {
            return Ok(real.join(name));
        }
    }
    eprintln!(
        "({} and its parent do not exist; deciding on the path as written)",
        escape_controls(&path.display().to_string())
    );
    Ok(absolute)
}

/// A parsed destination: a socket endpoint, or a host name with a port to look up.
enum Destination {
    Endpoint(Endpoint),
    Name { host: String, port: u16, udp: bool },
}

fn destination(text: &str) -> anyhow::Result<Destination> {
    if let Some(path) = text.strip_prefix("unix:") {
        return Ok(Destination::Endpoint(match path.strip_prefix('@') {
            Some(name) => Endpoint::Abstract(name.as_bytes().to_vec()),
            None => Endpoint::Unix(canonical(Path::new(path))?),
        }));
    }
    let (udp, rest) = match text.split_once(':') {
        Some(("udp", rest)) => (true, rest),
        Some(("tcp", rest)) => (false, rest),
        _ => (false, text),
    };
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (host, after) = inner.split_once(']').context("unclosed `[`")?;
        (
            host,
            after
                .strip_prefix(':')
                .context("no port after the address")?,
        )
    } else {
        rest.rsplit_once(':')
            .context("expected HOST:PORT, [IPV6]:PORT or unix:PATH")?
    };
    let port: u16 = port.parse().with_context(|| format!("bad port {port:?}"))?;
    let host = if host.is_empty() || host == "*" {
        "0.0.0.0"
    } else {
        host
    };
    Ok(match host.parse::<IpAddr>() {
        Ok(ip) => {
            let addr = SocketAddr::new(ip, port);
            Destination::Endpoint(if udp {
                Endpoint::Udp(addr)
            } else {
                Endpoint::Tcp(addr)
            })
        }
        Err(_) => Destination::Name {
            host: host.to_owned(),
            port,
            udp,
        },
    })
}

/// What explain found: notes and decisions, printed as text or, with `--json`, as one
/// object (see the module documentation).
#[derive(Default)]
struct Report {
    notes: Vec<String>,
    decisions: Vec<serde_json::Value>,
    lines: Vec<String>,
}

impl Report {
    fn note(&mut self, text: String) {
        self.lines.push(text.clone());
        self.notes.push(text);
    }

    fn decision(&mut self, policy: &Policy, what: &str, d: &arbiter_policies::Decision) {
        let explanation = policy.explain(d);
        self.lines.push(format!("{what}: {explanation}"));
        self.decisions.push(serde_json::json!({
            "request": what,
            "allow": d.allow,
            "errno": (!d.allow).then(|| errno_name(d.errno)),
            "rule": d.rule.map(|r| policy.rule(r).origin.to_string()),
            "explanation": explanation,
        }));
    }

    fn line(&mut self, text: String) {
        self.lines.push(text);
    }
}

fn errno_name(errno: i32) -> String {
    arbiter::core::errno::Errno(errno).name()
}

/// Prints the decision and the rule behind it.
pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let vars = Vars::from_env();
    let mut sources: Vec<Source> = args.rules.sources();
    let additions = args.rules.canonical()?.additions(Vec::new());
    if !additions.is_empty() {
        sources.push(
            additions
                .to_source()
                .context("invalid command-line addition")?,
        );
    }
    let policy = Policy::load(&sources, &vars)?;
    let mut out = Report::default();
    let allowed = match args.request {
        Request::Open { path, rights } => {
            let access = Access::parse(&rights).map_err(|(_, word)| {
                anyhow::anyhow!(
                    "unknown right {word:?}; rights are: {}",
                    Access::WORDS.join(", ")
                )
            })?;
            let real = canonical(&path)?;
            if real != path {
                out.note(format!("{} is {}", path.display(), real.display()));
            }
            let d = policy.decide_path(&real, access);
            out.decision(
                &policy,
                &format!("open {} ({access})", real.display()),
                &d.decision,
            );
            out.lines.pop();
            out.line(format!(
                "open {} ({access}): {}",
                real.display(),
                policy.explain_path(&d)
            ));
            d.decision.allow
        }
        Request::Mkdir { path } => {
            let real = canonical(&path)?;
            if real != path {
                out.note(format!("{} is {}", path.display(), real.display()));
            }
            let d = policy.decide_mkdir(&real);
            out.decision(&policy, &format!("mkdir {}", real.display()), &d.decision);
            out.lines.pop();
            out.line(format!(
                "mkdir {}: {}",
                real.display(),
                policy.explain_path(&d)
            ));
            d.decision.allow
        }
        Request::Connect { destination: text } => match destination(&text)? {
            Destination::Endpoint(ep) => {
                let d = policy.decide_connect(&ep, &[]);
                out.decision(&policy, &format!("connect {text}"), &d);
                d.allow
            }
            Destination::Name { host, port, udp } => {
                let r = policy.decide_resolve(&host);
                out.decision(&policy, &format!("resolve {host}"), &r);
                let mut addrs: Vec<SocketAddr> = (host.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default();
                if addrs.is_empty() {
                    out.note(format!("{host} does not resolve here; deciding for 192.0.2.1, an address no rule should name"));
                    addrs.push(SocketAddr::from(([192, 0, 2, 1], port)));
                }
                let mut all = r.allow;
                for addr in addrs {
                    let ep = if udp {
                        Endpoint::Udp(addr)
                    } else {
                        Endpoint::Tcp(addr)
                    };
                    let d = policy.decide_connect(&ep, &[host.as_str()]);
                    out.decision(&policy, &format!("connect {addr} (as {host})"), &d);
                    all &= d.allow;
                }
                all
            }
        },
        Request::Bind { address } => {
            let ep = match destination(&address)? {
                Destination::Endpoint(ep) => ep,
                Destination::Name { host, .. } => {
                    bail!("bind takes a local address, not the name {host:?}")
                }
            };
            let b = policy.decide_bind(&ep);
            out.decision(&policy, &format!("bind {address}"), &b.decision);
            if let Some(mode) = b.mode {
                out.note(format!("socket mode {mode:04o}"));
            }
            if b.replace_stale {
                out.note("a stale socket file in the way may be replaced".into());
            }
            b.decision.allow
        }
        Request::Resolve { name } => {
            let d = policy.decide_resolve(&name);
            out.decision(&policy, &format!("resolve {name}"), &d);
            d.allow
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "allow": allowed,
                "policy": { "digest": policy.digest() },
                "decisions": out.decisions,
                "notes": out.notes,
            })
        );
    } else {
        // Paths come back from realpath: names a program may have chosen, escaped so
        // that they cannot forge lines or drive the terminal.
        for line in &out.lines {
            println!("{}", escape_controls(line));
        }
    }
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
