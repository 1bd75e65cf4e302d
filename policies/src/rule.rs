//! Rules: the model every source is parsed into, merged, and compiled from.

use crate::access::Access;
use crate::error::Location;
use crate::glob::PathPattern;
use crate::net::{HostPattern, NetTarget};
use std::fmt::{self, Write as _};

/// The kinds of decision a policy makes; each has its own rules and default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Paths: `[[fs]]` rules, decided by [`Policy::decide_path`](crate::Policy::decide_path).
    Fs,
    /// Outgoing connections: `[[connect]]` rules.
    Connect,
    /// Listening addresses: `[[bind]]` rules.
    Bind,
    /// Name lookups: `[[resolve]]` rules.
    Resolve,
}

impl Family {
    /// The TOML key of this family's rules (`fs`, `connect`, `bind`, `resolve`).
    pub fn key(self) -> &'static str {
        match self {
            Family::Fs => "fs",
            Family::Connect => "connect",
            Family::Bind => "bind",
            Family::Resolve => "resolve",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// What the audit log does with decisions made by a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuditSetting {
    /// Follow the run's audit level (`--audit-level`, by default `deny`: denials are
    /// recorded, allows are not).
    #[default]
    Default,
    /// Record every decision this rule makes, allows included (`audit = "all"`, or its older
    /// spelling `"log"`): for rules you want to watch. Such rules are never granted by the
    /// kernel floor or the shim's fast paths, so each use reaches the broker.
    All,
    /// Record this rule's denials only (`audit = "deny"`), whatever the run's level.
    Deny,
    /// Record nothing (`audit = "silent"`): for expected, noisy denials.
    Silent,
}

impl AuditSetting {
    /// Parses `default`, `all` (or `log`), `deny` or `silent`.
    pub fn parse(s: &str) -> Option<AuditSetting> {
        match s {
            "default" => Some(AuditSetting::Default),
            "all" | "log" => Some(AuditSetting::All),
            "deny" => Some(AuditSetting::Deny),
            "silent" => Some(AuditSetting::Silent),
            _ => None,
        }
    }

    /// Whether a decision under this setting is recorded, when the run records every call
    /// (`level_all`) or only denials.
    pub fn records(self, level_all: bool, allowed: bool) -> bool {
        match self {
            AuditSetting::Silent => false,
            AuditSetting::All => true,
            AuditSetting::Deny => !allowed,
            AuditSetting::Default => level_all || !allowed,
        }
    }

    /// The word, as written in a policy.
    pub fn name(self) -> &'static str {
        match self {
            AuditSetting::Default => "default",
            AuditSetting::All => "all",
            AuditSetting::Deny => "deny",
            AuditSetting::Silent => "silent",
        }
    }
}

/// Identifies a rule of a compiled policy: an index into its rules, stable for that policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

/// What a policy knows about one of its rules, for audit records and `arbiter explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule's family.
    pub family: Family,
    /// Where the rule was written: the source (a file path, `builtin:NAME`, or a text
    /// source's origin), line and column of its table (`[[fs]]` or `{`).
    pub origin: Location,
    /// One line describing the rule after expansion, e.g.
    /// `fs /home/u/.ssh (written "~/.ssh"): deny errno=ENOENT`.
    pub text: String,
    /// For path rules and unix-socket rules, the index of the rule's root in
    /// [`Policy::roots`](crate::Policy::roots).
    pub root: Option<usize>,
    /// True if the rule allows something.
    pub allows: bool,
}

/// What a rule is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Path(PathPattern),
    Net(NetTarget),
    Name(HostPattern),
}

/// A rule after parsing and expansion, before compilation.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub family: Family,
    pub target: Target,
    /// The path or pattern as written, when it differs from its expansion.
    pub written: Option<String>,
    /// Rights granted; for network rules `ALL` (allow) or `NONE` (deny).
    pub access: Access,
    pub errno: Option<i32>,
    pub audit: AuditSetting,
    pub mode: Option<u32>,
    pub replace_stale: bool,
    pub origin: Location,
    pub builtin: bool,
}

impl Rule {
    pub fn allows(&self) -> bool {
        !self.access.is_empty()
    }

    /// The merge key: a later source's rules with the same key replace an earlier one's.
    pub fn key(&self) -> Vec<u8> {
        let mut k = self.family.key().as_bytes().to_vec();
        k.push(0);
        match &self.target {
            Target::Path(p) => p.key(&mut k),
            Target::Net(NetTarget::Unix(p)) => {
                k.extend_from_slice(b"unix\0");
                p.key(&mut k);
            }
            Target::Net(NetTarget::Abstract(n)) => {
                k.extend_from_slice(b"abstract\0");
                n.key(&mut k);
            }
            Target::Net(t) => k.extend_from_slice(t.to_string().as_bytes()),
            Target::Name(h) => k.extend_from_slice(h.to_string().as_bytes()),
        }
        k
    }

    /// One line with everything that affects decisions (the digest hashes this).
    pub fn canonical(&self) -> String {
        self.render(false)
    }

    /// [`Rule::canonical`] with the path as written, for people.
    pub fn text(&self) -> String {
        self.render(true)
    }

    fn render(&self, written: bool) -> String {
        let mut s = format!("{} ", self.family);
        match &self.target {
            Target::Path(p) => write!(s, "{p}"),
            Target::Net(t) => write!(s, "{t}"),
            Target::Name(h) => write!(s, "{h}"),
        }
        .expect("writing to a String");
        if let (true, Some(w)) = (written, &self.written) {
            write!(s, " (written {w:?})").expect("writing to a String");
        }
        s.push_str(": ");
        match (self.family, self.allows()) {
            (Family::Fs, true) => write!(s, "allow {}", self.access),
            (_, true) => write!(s, "allow"),
            (_, false) => write!(s, "deny"),
        }
        .expect("writing to a String");
        if let Some(e) = self.errno {
            write!(s, " errno={}", crate::errno::name(e)).expect("writing to a String");
        }
        if self.audit != AuditSetting::Default {
            write!(s, " audit={}", self.audit.name()).expect("writing to a String");
        }
        if let Some(m) = self.mode {
            write!(s, " mode={m:04o}").expect("writing to a String");
        }
        if self.replace_stale {
            s.push_str(" replace_stale");
        }
        s
    }
}
