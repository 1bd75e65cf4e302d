//! Rules added on the command line (`--ro`, `--rw`, `--connect`, …), turned into a policy
//! source that is merged last.

use crate::error::{Diagnostic, Diagnostics, ErrorKind, Location, PolicyError, Severity};
use crate::net::{parse_ip, HostPattern, Ports};
use crate::source::Source;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Rules given on the command line. [`Additions::to_source`] makes them a [`Source`] with
/// origin `command line`; load it after every other source, so that it is merged last and
/// replaces any rule on the same target.
///
/// | field | each value | becomes |
/// |---|---|---|
/// | `ro` | a path | `allow = "ro"` |
/// | `rx` | a path | `allow = "rx"` (the broker adds the program's install prefix here) |
/// | `rw` | a path | `allow = "rw"` |
/// | `deny` | a path | `deny = true` |
/// | `connect` | `HOST:PORTS`, `IP:PORTS`, `[V6]:PORTS`, `*:PORTS`, `unix:PATH`, `unix:@NAME`, optionally prefixed `tcp:` or `udp:` | a connect rule; for a host name also a resolve rule for that name |
/// | `bind` | `IP:PORTS`, `[V6]:PORTS`, `*:PORTS`, `unix:PATH`, `unix:@NAME`, optionally prefixed `tcp:` or `udp:` | a bind rule |
/// | `resolve` | a name or `*.suffix` pattern | a resolve rule |
///
/// PORTS is a port, a list (`80,443`) or a range (`8000-8100`). Paths are taken literally
/// (no `~`, `$` or wildcards); a relative path is relative to `$PWD`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Additions {
    /// Paths to allow read-only (`--ro`).
    pub ro: Vec<PathBuf>,
    /// Paths to allow read-write (`--rw`).
    pub rw: Vec<PathBuf>,
    /// Paths to deny (`--deny`).
    pub deny: Vec<PathBuf>,
    /// Destinations to allow connecting to (`--connect`).
    pub connect: Vec<String>,
    /// Local addresses to allow binding (`--bind`).
    pub bind: Vec<String>,
    /// Names to allow resolving (`--resolve`).
    pub resolve: Vec<String>,
    /// Paths to allow read and exec (`rx`): the program's install prefix.
    pub rx: Vec<PathBuf>,
}

/// The origin of the source [`Additions::to_source`] makes.
pub const ADDITIONS_ORIGIN: &str = "command line";

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                write!(out, "\\u{:04X}", u32::from(c)).expect("writing to a String")
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path as policy text that means exactly that path: `$` doubled, wildcards escaped,
/// relative paths put under `$PWD`.
fn literal_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    if !path.starts_with('/') {
        out.push_str("$PWD/");
    }
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

struct Spec {
    proto: Option<&'static str>,
    key: &'static str,
    value: String,
    ports: Option<String>,
    resolve: Option<String>,
}

/// Parses a `--connect`/`--bind` value; the error is a message and a hint.
fn endpoint(value: &str, bind: bool) -> Result<Spec, (String, &'static str)> {
    let form = if bind {
        "expected IP:PORT, [IPV6]:PORT, *:PORT or unix:PATH"
    } else {
        "expected HOST:PORT, IP:PORT, [IPV6]:PORT or unix:PATH"
    };
    if let Some(path) = value.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(("no socket path after `unix:`".into(), form));
        }
        let value = match path.strip_prefix('@') {
            Some(name) => format!("@{name}"),
            None => literal_path(path),
        };
        return Ok(Spec {
            proto: None,
            key: "unix",
            value,
            ports: None,
            resolve: None,
        });
    }
    let (proto, rest) = match value.split_once(':') {
        Some(("tcp", rest)) => (Some("tcp"), rest),
        Some(("udp", rest)) => (Some("udp"), rest),
        _ => (None, value),
    };
    let (addr, ports) = if let Some(inner) = rest.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err(("unclosed `[`".into(), form));
        };
        let Some(ports) = after.strip_prefix(':') else {
            return Err(("no port after the address".into(), form));
        };
        (addr, ports)
    } else {
        let Some((addr, ports)) = rest.rsplit_once(':') else {
            return Err(("no port".into(), form));
        };
        if addr.contains(':') {
            return Err((
                "an IPv6 address without brackets".into(),
                "write IPv6 addresses in brackets, as in [::1]:8080",
            ));
        }
        (addr, ports)
    };
    if ports.is_empty() {
        return Err(("no port".into(), form));
    }
    Ports::parse(ports).map_err(|p| {
        (
            format!("bad port {p:?}"),
            "a port is 0-65535; also `80,443` or `8000-8100`",
        )
    })?;
    let (key, value, resolve) = if addr.is_empty() || addr == "*" {
        ("", String::new(), None)
    } else if addr.contains('/') || addr.parse::<std::net::IpAddr>().is_ok() {
        parse_ip(addr).map_err(|(m, _)| (m, form))?;
        ("ip", addr.to_owned(), None)
    } else if bind {
        return Err((
            format!("{addr:?} is not an IP address"),
            "bind takes a local address, such as 127.0.0.1:8080 or *:8080",
        ));
    } else {
        HostPattern::parse(addr).map_err(|(m, _)| (m, form))?;
        ("host", addr.to_owned(), Some(addr.to_owned()))
    };
    Ok(Spec {
        proto,
        key,
        value,
        ports: Some(ports.to_owned()),
        resolve,
    })
}

impl Additions {
    /// True if there is nothing to add.
    pub fn is_empty(&self) -> bool {
        self == &Additions::default()
    }

    /// The additions as a policy source (origin `command line`). Every bad value is reported,
    /// each naming its option and value; paths that are not UTF-8 are refused (policies are
    /// text).
    pub fn to_source(&self) -> Result<Source, PolicyError> {
        let mut text = String::from("# arbiter: rules from the command line\n");
        let mut errors = Vec::new();
        let mut error = |flag: &str, value: &str, message: String, hint: &str| {
            errors.push(Diagnostic {
                severity: Severity::Error,
                kind: ErrorKind::BadAddition,
                at: Location::whole(ADDITIONS_ORIGIN),
                message: format!("--{flag} {value:?}: {message}"),
                text: value.to_owned(),
                hint: Some(hint.to_owned()),
            });
        };
        let paths: [(&str, &[PathBuf], &str); 4] = [
            ("ro", &self.ro, "allow = \"ro\""),
            ("rx", &self.rx, "allow = \"rx\""),
            ("rw", &self.rw, "allow = \"rw\""),
            ("deny", &self.deny, "deny = true"),
        ];
        for (flag, list, effect) in paths {
            for path in list {
                let Some(p) = path.to_str() else {
                    let shown = Path::new(path).display().to_string();
                    error(
                        flag,
                        &shown,
                        "not UTF-8".into(),
                        "policies are UTF-8 text; rename the file or use a parent directory",
                    );
                    continue;
                };
                writeln!(
                    text,
                    "\n[[fs]] # --{flag} {p}\npath = {}\n{effect}",
                    quote(&literal_path(p))
                )
                .expect("writing to a String");
            }
        }
        for (flag, list) in [("connect", &self.connect), ("bind", &self.bind)] {
            for value in list {
                match endpoint(value, flag == "bind") {
                    Err((message, hint)) => error(flag, value, message, hint),
                    Ok(spec) => {
                        write!(text, "\n[[{flag}]] # --{flag} {value}\n")
                            .expect("writing to a String");
                        if !spec.key.is_empty() {
                            writeln!(text, "{} = {}", spec.key, quote(&spec.value))
                                .expect("writing to a String");
                        }
                        if let Some(ports) = spec.ports {
                            writeln!(text, "ports = {}", quote(&ports))
                                .expect("writing to a String");
                        }
                        if let Some(proto) = spec.proto {
                            writeln!(text, "proto = {}", quote(proto))
                                .expect("writing to a String");
                        }
                        if let Some(name) = spec.resolve {
                            write!(
                                text,
                                "\n[[resolve]] # --{flag} {value}\nname = {}\n",
                                quote(&name)
                            )
                            .expect("writing to a String");
                        }
                    }
                }
            }
        }
        for name in &self.resolve {
            match HostPattern::parse(name) {
                Err((message, hint)) => error("resolve", name, message, &hint),
                Ok(_) => write!(
                    text,
                    "\n[[resolve]] # --resolve {name}\nname = {}\n",
                    quote(name)
                )
                .expect("writing to a String"),
            }
        }
        if errors.is_empty() {
            Ok(Source::Text {
                origin: ADDITIONS_ORIGIN.to_owned(),
                text,
            })
        } else {
            Err(PolicyError::Invalid(Diagnostics(errors)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let s = endpoint("example.com:443", false).unwrap();
        assert_eq!(
            (s.key, s.value.as_str(), s.ports.as_deref()),
            ("host", "example.com", Some("443"))
        );
        let s = endpoint("[::1]:8080", false).unwrap();
        assert_eq!((s.key, s.value.as_str()), ("ip", "::1"));
        let s = endpoint("udp:10.0.0.0/8:53", false).unwrap();
        assert_eq!(
            (s.proto, s.key, s.value.as_str()),
            (Some("udp"), "ip", "10.0.0.0/8")
        );
        let s = endpoint("*:8000-8100", true).unwrap();
        assert_eq!((s.key, s.ports.as_deref()), ("", Some("8000-8100")));
        let s = endpoint("unix:/run/a b.sock", false).unwrap();
        assert_eq!((s.key, s.value.as_str()), ("unix", "/run/a b.sock"));
        assert!(endpoint("::1:80", false).is_err());
        assert!(endpoint("example.com", false).is_err());
        assert!(endpoint("example.com:http", false).is_err());
        assert!(endpoint("example.com:80", true).is_err());
        assert!(endpoint("unix:", false).is_err());
    }

    #[test]
    fn paths_are_literal() {
        assert_eq!(literal_path("/a/$x/*"), "/a/$$x/[*]");
        assert_eq!(literal_path("rel"), "$PWD/rel");
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
    }
}
