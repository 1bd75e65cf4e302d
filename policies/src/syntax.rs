//! The TOML shape of a policy, walked by hand so every diagnostic has a line and column.
//!
//! ```toml
//! version = 1                       # optional; only 1 exists
//! description = "…"                 # optional, for `arbiter profiles`
//! extends = ["runtime", "./base.toml"]
//!
//! [defaults]                        # optional; these are the defaults
//! fs = "deny"                       # or rights for paths no rule matches, e.g. "ro"
//! connect = "deny"                  # "allow" | "deny", likewise bind, resolve
//! errno = "EACCES"                  # errno of denials whose rule names none
//! audit = "default"
//!
//! [[fs]]
//! path = "$PWD"
//! allow = "rw"                      # or deny = true
//!
//! [[connect]]
//! host = "*.example.com"            # or ip = "10.0.0.0/8", or unix = "/run/x.sock" / "@name"
//! ports = "443"
//!
//! [[bind]]
//! unix = "$PWD/app.sock"
//! mode = "0600"
//!
//! [[resolve]]
//! name = "*.example.com"
//! ```
//! Rule lists may also be written inline: `fs = [{ path = "/srv", allow = "ro" }]`.

use crate::access::Access;
use crate::error::{closest, suggest, Diagnostic, ErrorKind, Location, Severity};
use crate::expand::{expand, Mode};
use crate::glob::{NamePattern, PathPattern};
use crate::net::{parse_ip, Addr, HostPattern, NetTarget, Ports, Proto};
use crate::rule::{AuditSetting, Family, Rule, Target};
use crate::source::Vars;
use crate::tree::{self, Item, Table, Value};
use std::ops::Range;
use toml_edit::ImDocument;

/// One source's text, with what is needed to turn byte offsets into lines and columns.
pub(crate) struct Doc<'a> {
    pub origin: &'a str,
    pub text: &'a str,
    pub builtin: bool,
    line_starts: Vec<usize>,
}

impl<'a> Doc<'a> {
    pub fn new(origin: &'a str, text: &'a str, builtin: bool) -> Doc<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Doc {
            origin,
            text,
            builtin,
            line_starts,
        }
    }

    /// Line and column (1-based, columns in characters) of a byte offset.
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts[line];
        let column = match self.text.get(start..offset) {
            Some(s) => s.chars().count(),
            None => offset - start,
        };
        Location {
            origin: self.origin.to_owned(),
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }

    /// An error diagnostic at `span`.
    pub fn diag(
        &self,
        span: &Range<usize>,
        kind: ErrorKind,
        message: String,
        hint: Option<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            kind,
            at: self.location(span.start),
            message,
            text: self.snippet(span),
            hint,
        }
    }

    /// The text of a span: its first line, at most 120 characters.
    fn snippet(&self, span: &Range<usize>) -> String {
        let s = self.text.get(span.clone()).unwrap_or("");
        let s = s.lines().next().unwrap_or("");
        s.chars().take(120).collect()
    }
}

/// A string value with where it was written. `inner` is the offset of its first character
/// in the source when the written form maps byte for byte (no escapes), so errors inside the
/// string can point at the culprit.
#[derive(Debug, Clone)]
pub(crate) struct Str {
    pub value: String,
    pub span: Range<usize>,
    pub inner: Option<usize>,
}

impl Str {
    /// The source span of `value[offset..offset+len]`, or the whole value's.
    fn sub(&self, offset: usize, len: usize) -> Range<usize> {
        match self.inner {
            Some(start) if offset + len <= self.value.len() => {
                start + offset..start + offset + len.max(1)
            }
            _ => self.span.clone(),
        }
    }
}

/// One setting of a `[defaults]` table.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DefaultSetting {
    Fs(Access),
    Allow(Family, bool),
    Errno(i32),
    Audit(AuditSetting),
}

/// A parsed source: what it extends, its defaults and its rules, in order.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub extends: Vec<Str>,
    pub defaults: Vec<DefaultSetting>,
    pub rules: Vec<Rule>,
}

const ROOT_KEYS: &[&str] = &[
    "version",
    "description",
    "extends",
    "defaults",
    "fs",
    "connect",
    "bind",
    "resolve",
];
const FS_KEYS: &[&str] = &["path", "allow", "deny", "errno", "audit"];
const CONNECT_KEYS: &[&str] = &[
    "host", "ip", "unix", "ports", "proto", "deny", "errno", "audit",
];
const BIND_KEYS: &[&str] = &[
    "ip",
    "unix",
    "ports",
    "proto",
    "mode",
    "replace_stale",
    "deny",
    "errno",
    "audit",
];
const RESOLVE_KEYS: &[&str] = &["name", "deny", "errno", "audit"];
const DEFAULT_KEYS: &[&str] = &["fs", "connect", "bind", "resolve", "errno", "audit"];

/// Keys people are likely to write in the wrong place, with what to say.
const MISPLACED: &[(&str, &str, &str, &str)] = &[
    (
        "fs",
        "access",
        "unknown key `access` in an fs rule",
        "write the rights as `allow = \"rw\"`, or `deny = true`",
    ),
    (
        "connect",
        "allow",
        "network rules have no `allow` key",
        "a rule allows unless it says `deny = true`; remove `allow`",
    ),
    (
        "bind",
        "allow",
        "network rules have no `allow` key",
        "a rule allows unless it says `deny = true`; remove `allow`",
    ),
    (
        "resolve",
        "allow",
        "resolve rules have no `allow` key",
        "a rule allows unless it says `deny = true`; remove `allow`",
    ),
    (
        "bind",
        "host",
        "bind rules name local addresses, not host names",
        "use `ip = \"127.0.0.1\"`, or leave it out for any local address",
    ),
    (
        "connect",
        "mode",
        "`mode` belongs to bind rules",
        "a socket's mode is set when it is bound: move it to a `[[bind]]` rule",
    ),
    (
        "resolve",
        "host",
        "resolve rules name the looked-up name with `name`",
        "write `name = \"…\"`",
    ),
];

/// Parses one source. Problems go to `diags`; what could be understood is returned.
/// `built` is the text's tree when it is already known ([`tree::from_toml`] of `doc.text`,
/// made at build time for a built-in profile); `None` parses the text.
pub(crate) fn parse(
    doc: &Doc<'_>,
    built: Option<Table>,
    vars: &Vars,
    diags: &mut Vec<Diagnostic>,
) -> Parsed {
    let first = diags.len();
    let mut p = Parser {
        doc,
        vars,
        diags,
        out: Parsed::default(),
    };
    let root = match built {
        Some(root) => Ok(root),
        None => ImDocument::parse(doc.text).map(|toml| tree::from_toml(&toml)),
    };
    match root {
        Ok(root) => p.root(&root),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().replace('\n', ", ");
            p.err(
                &span,
                ErrorKind::Toml,
                format!("invalid TOML: {message}"),
                None,
            );
        }
    }
    let out = p.out;
    diags[first..].sort_by_key(|d| (d.at.line, d.at.column));
    out
}

struct Parser<'p, 'a> {
    doc: &'p Doc<'a>,
    vars: &'p Vars,
    diags: &'p mut Vec<Diagnostic>,
    out: Parsed,
}

/// The keys of one table that this place knows, with their spans.
struct Fields<'d> {
    table_span: Range<usize>,
    items: Vec<(&'d str, Range<usize>, &'d Item)>,
}

impl<'d> Fields<'d> {
    fn get(&self, key: &str) -> Option<(Range<usize>, &'d Item)> {
        self.items
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, s, i)| (s.clone(), *i))
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "a table",
        },
    }
}

impl<'d> Parser<'_, '_> {
    fn err(&mut self, span: &Range<usize>, kind: ErrorKind, message: String, hint: Option<String>) {
        self.diags.push(self.doc.diag(span, kind, message, hint));
    }

    fn span_of(&self, item: &Item, fallback: &Range<usize>) -> Range<usize> {
        item.span().unwrap_or_else(|| fallback.clone())
    }

    /// Collects a table's keys, reporting the ones not in `allowed`.
    fn fields(
        &mut self,
        table: &'d Table,
        table_span: Range<usize>,
        family: &str,
        allowed: &[&str],
        what: &str,
    ) -> Fields<'d> {
        let mut items = Vec::new();
        for (key, key_span, item) in table.iter() {
            let key_span = key_span.clone().unwrap_or_else(|| table_span.clone());
            if allowed.contains(&key) {
                items.push((key, key_span, item));
            } else if let Some((_, _, message, hint)) =
                MISPLACED.iter().find(|m| m.0 == family && m.1 == key)
            {
                self.err(
                    &key_span,
                    ErrorKind::UnknownKey,
                    (*message).to_owned(),
                    Some((*hint).to_owned()),
                );
            } else {
                let misplaced: Vec<&str> = MISPLACED
                    .iter()
                    .filter(|m| m.0 == family)
                    .map(|m| m.1)
                    .collect();
                let hint = match (closest(key, allowed), closest(key, &misplaced)) {
                    (None, Some(near)) => MISPLACED
                        .iter()
                        .find(|m| m.0 == family && m.1 == near)
                        .map_or_else(|| suggest(key, allowed), |m| m.3.to_owned()),
                    _ => suggest(key, allowed),
                };
                self.err(
                    &key_span,
                    ErrorKind::UnknownKey,
                    format!("unknown key `{key}` in {what}"),
                    Some(hint),
                );
            }
        }
        Fields { table_span, items }
    }

    fn wrong_type(&mut self, key: &str, item: &Item, span: &Range<usize>, expected: &str) {
        let span = self.span_of(item, span);
        self.err(
            &span,
            ErrorKind::WrongType,
            format!("`{key}` must be {expected}, not {}", type_name(item)),
            None,
        );
    }

    fn str_value(&self, v: &Value) -> Option<Str> {
        let Value::String(f) = v else { return None };
        let value = f.value.clone();
        let span = f.span.clone().unwrap_or(0..0);
        let raw = self.doc.text.get(span.clone()).unwrap_or("");
        let inner = (raw.len() == value.len() + 2 && raw.get(1..raw.len() - 1) == Some(&value))
            .then_some(span.start + 1);
        Some(Str { value, span, inner })
    }

    fn string(&mut self, f: &Fields<'d>, key: &str) -> Option<Str> {
        let (span, item) = f.get(key)?;
        match item.as_value().and_then(|v| self.str_value(v)) {
            Some(s) => Some(s),
            None => {
                self.wrong_type(key, item, &span, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, f: &Fields<'d>, key: &str) -> Option<bool> {
        let (span, item) = f.get(key)?;
        match item.as_bool() {
            Some(b) => Some(b),
            None => {
                self.wrong_type(key, item, &span, "`true` or `false`");
                None
            }
        }
    }

    fn missing(&mut self, f: &Fields<'d>, message: String, hint: Option<String>) {
        self.err(&f.table_span, ErrorKind::MissingKey, message, hint);
    }

    fn root(&mut self, root: &'d Table) {
        let whole = 0..self.doc.text.len();
        let f = self.fields(root, whole.clone(), "", ROOT_KEYS, "a policy");
        if let Some((span, item)) = f.get("version") {
            match item.as_integer() {
                Some(1) => {}
                Some(n) => {
                    let span = self.span_of(item, &span);
                    self.err(
                        &span,
                        ErrorKind::UnsupportedVersion,
                        format!("policy version {n} is not supported"),
                        Some("this arbiter reads `version = 1`".into()),
                    );
                }
                None => self.wrong_type("version", item, &span, "an integer"),
            }
        }
        if let Some((span, item)) = f.get("description") {
            if !item.is_str() {
                self.wrong_type("description", item, &span, "a string");
            }
        }
        if let Some((span, item)) = f.get("extends") {
            self.extends(item, &span);
        }
        if let Some((span, item)) = f.get("defaults") {
            match item.as_table_like() {
                Some(t) => {
                    let tspan = self.span_of(item, &span);
                    self.defaults(t, tspan);
                }
                None => self.wrong_type("defaults", item, &span, "a table"),
            }
        }
        for family in [Family::Fs, Family::Connect, Family::Bind, Family::Resolve] {
            if let Some((span, item)) = f.get(family.key()) {
                for (table, tspan) in self.tables(family, item, &span) {
                    if let Some(rule) = match family {
                        Family::Fs => self.fs_rule(table, tspan),
                        Family::Connect | Family::Bind => self.net_rule(family, table, tspan),
                        Family::Resolve => self.resolve_rule(table, tspan),
                    } {
                        self.out.rules.push(rule);
                    }
                }
            }
        }
    }

    fn extends(&mut self, item: &'d Item, span: &Range<usize>) {
        if let Some(s) = item.as_value().and_then(|v| self.str_value(v)) {
            self.out.extends.push(s);
            return;
        }
        let Some(array) = item.as_array() else {
            self.wrong_type("extends", item, span, "an array of names");
            return;
        };
        for v in array.iter() {
            match self.str_value(v) {
                Some(s) => self.out.extends.push(s),
                None => {
                    let vspan = v.span().unwrap_or_else(|| span.clone());
                    self.err(
                        &vspan,
                        ErrorKind::WrongType,
                        "each `extends` entry must be a string".into(),
                        Some(
                            "write a profile name (`\"default\"`) or a file (`\"./base.toml\"`)"
                                .into(),
                        ),
                    );
                }
            }
        }
    }

    /// The tables of a rule list: `[[fs]]` blocks or an inline array of tables.
    fn tables(
        &mut self,
        family: Family,
        item: &'d Item,
        span: &Range<usize>,
    ) -> Vec<(&'d Table, Range<usize>)> {
        let key = family.key();
        match item {
            Item::ArrayOfTables(a) => a
                .tables
                .iter()
                .map(|t| (t, t.span.clone().unwrap_or_else(|| span.clone())))
                .collect(),
            Item::Value(Value::Array(array)) => {
                let mut out = Vec::new();
                for v in array.iter() {
                    match v {
                        Value::InlineTable(t) => {
                            out.push((t, t.span.clone().unwrap_or_else(|| span.clone())))
                        }
                        other => {
                            let vspan = other.span().unwrap_or_else(|| span.clone());
                            self.err(
                                &vspan,
                                ErrorKind::WrongType,
                                format!("each `{key}` rule must be a table"),
                                Some(format!("write `{{ … }}` or a `[[{key}]]` block")),
                            );
                        }
                    }
                }
                out
            }
            Item::Table(_) => {
                let tspan = self.span_of(item, span);
                self.err(
                    &tspan,
                    ErrorKind::WrongType,
                    format!("`[{key}]` is a single table, not a list of rules"),
                    Some(format!("write `[[{key}]]` (two brackets) before each rule")),
                );
                Vec::new()
            }
            other => {
                self.wrong_type(key, other, span, "a list of rules (`[[…]]` blocks)");
                Vec::new()
            }
        }
    }

    fn defaults(&mut self, t: &'d Table, span: Range<usize>) {
        let f = self.fields(t, span, "defaults", DEFAULT_KEYS, "`[defaults]`");
        if let Some(s) = self.string(&f, "fs") {
            match s.value.as_str() {
                "deny" => self.out.defaults.push(DefaultSetting::Fs(Access::NONE)),
                "allow" => self.err(
                    &s.span,
                    ErrorKind::BadDefault,
                    "`fs = \"allow\"` does not say which rights".into(),
                    Some(
                        "write the rights paths get when no rule matches, e.g. \"ro\", or \"deny\""
                            .into(),
                    ),
                ),
                _ => {
                    if let Some(a) = self.access_words(&s) {
                        self.out.defaults.push(DefaultSetting::Fs(a));
                    }
                }
            }
        }
        for family in [Family::Connect, Family::Bind, Family::Resolve] {
            if let Some(s) = self.string(&f, family.key()) {
                match s.value.as_str() {
                    "allow" => self.out.defaults.push(DefaultSetting::Allow(family, true)),
                    "deny" => self.out.defaults.push(DefaultSetting::Allow(family, false)),
                    other => self.err(
                        &s.span,
                        ErrorKind::BadDefault,
                        format!(
                            "the default for {family} must be \"allow\" or \"deny\", not {other:?}"
                        ),
                        None,
                    ),
                }
            }
        }
        if let Some(e) = self.errno(&f) {
            self.out.defaults.push(DefaultSetting::Errno(e));
        }
        if let Some(a) = self.audit(&f) {
            self.out.defaults.push(DefaultSetting::Audit(a));
        }
    }

    fn access_words(&mut self, s: &Str) -> Option<Access> {
        match Access::parse(&s.value) {
            Ok(a) => Some(a),
            Err((_, w)) if w.is_empty() => {
                self.err(
                    &s.span,
                    ErrorKind::UnknownAccess,
                    "no access rights named".into(),
                    Some(format!("name rights such as \"ro\" or \"read,write\", or write `deny = true`; words: {}", Access::WORDS.join(", "))),
                );
                None
            }
            Err((offset, word)) => {
                let span = s.sub(offset, word.len());
                self.err(
                    &span,
                    ErrorKind::UnknownAccess,
                    format!("unknown access right {word:?}"),
                    Some(suggest(&word, Access::WORDS)),
                );
                None
            }
        }
    }

    fn allow(&mut self, f: &Fields<'d>) -> Option<Access> {
        let (span, item) = f.get("allow")?;
        if let Some(s) = item.as_value().and_then(|v| self.str_value(v)) {
            return self.access_words(&s);
        }
        let Some(array) = item.as_array() else {
            self.wrong_type("allow", item, &span, "a string of rights such as \"rw\"");
            return None;
        };
        let mut set = Access::NONE;
        let mut ok = true;
        for v in array.iter() {
            match self.str_value(v) {
                Some(s) => match self.access_words(&s) {
                    Some(a) => set |= a,
                    None => ok = false,
                },
                None => {
                    let vspan = v.span().unwrap_or_else(|| span.clone());
                    self.err(
                        &vspan,
                        ErrorKind::WrongType,
                        "each right must be a string".into(),
                        None,
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(set)
    }

    fn errno(&mut self, f: &Fields<'d>) -> Option<i32> {
        let s = self.string(f, "errno")?;
        match crate::errno::parse(&s.value) {
            Some(e) => Some(e),
            None => {
                let names = crate::errno::names();
                self.err(
                    &s.span,
                    ErrorKind::BadErrno,
                    format!("unknown errno {:?}", s.value),
                    Some(suggest(&s.value.to_ascii_uppercase(), &names)),
                );
                None
            }
        }
    }

    fn audit(&mut self, f: &Fields<'d>) -> Option<AuditSetting> {
        let s = self.string(f, "audit")?;
        let a = AuditSetting::parse(&s.value);
        if a.is_none() {
            self.err(
                &s.span,
                ErrorKind::BadAudit,
                format!("unknown audit setting {:?}", s.value),
                Some(suggest(&s.value, &["default", "all", "deny", "silent"])),
            );
        }
        a
    }

    /// Expands and parses a path or pattern; `None` after reporting.
    fn path(&mut self, s: &Str) -> Option<PathPattern> {
        let bytes = match expand(&s.value, self.vars, Mode::Pattern) {
            Ok(b) => b,
            Err(e) => {
                let span = s.sub(e.offset, e.len);
                self.err(&span, e.kind, e.message, e.hint);
                return None;
            }
        };
        match PathPattern::parse(&bytes) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(
                    &s.span,
                    e.kind,
                    format!("{}: {:?}", e.message, s.value),
                    e.hint,
                );
                None
            }
        }
    }

    fn new_rule(
        &self,
        family: Family,
        target: Target,
        written: Option<String>,
        span: &Range<usize>,
    ) -> Rule {
        Rule {
            family,
            target,
            written,
            access: Access::ALL,
            errno: None,
            audit: AuditSetting::Default,
            mode: None,
            replace_stale: false,
            origin: self.doc.location(span.start),
            builtin: self.doc.builtin,
        }
    }

    fn written(value: &str, p: &PathPattern) -> Option<String> {
        (p.to_string() != value).then(|| value.to_owned())
    }

    fn fs_rule(&mut self, t: &'d Table, span: Range<usize>) -> Option<Rule> {
        let f = self.fields(t, span.clone(), "fs", FS_KEYS, "an fs rule");
        let path = self.string(&f, "path");
        let pattern = path.as_ref().and_then(|p| self.path(p));
        let allow = self.allow(&f);
        let deny = self.boolean(&f, "deny");
        let errno = self.errno(&f);
        let audit = self.audit(&f);
        if !f.has("path") {
            self.missing(
                &f,
                "an fs rule needs `path`".into(),
                Some("for example `path = \"$PWD\"`".into()),
            );
        }
        let access = match (f.has("allow"), deny) {
            (true, Some(true)) => {
                let (dspan, _) = f.get("deny").expect("has deny");
                self.err(
                    &dspan,
                    ErrorKind::ConflictingKeys,
                    "a rule with both `allow` and `deny = true`".into(),
                    Some("a rule either allows some rights (`allow = \"ro\"`) or denies (`deny = true`)".into()),
                );
                return None;
            }
            (true, _) => allow?,
            (false, Some(true)) => Access::NONE,
            (false, _) => {
                self.missing(
                    &f,
                    "an fs rule needs `allow = \"…\"` or `deny = true`".into(),
                    Some(
                        "for example `allow = \"ro\"` (read, list, stat) or `allow = \"rw\"`"
                            .into(),
                    ),
                );
                return None;
            }
        };
        let (path, pattern) = (path?, pattern?);
        let written = Self::written(&path.value, &pattern);
        let mut rule = self.new_rule(Family::Fs, Target::Path(pattern), written, &span);
        rule.access = access;
        rule.errno = errno;
        rule.audit = audit.unwrap_or_default();
        Some(rule)
    }

    fn net_rule(&mut self, family: Family, t: &'d Table, span: Range<usize>) -> Option<Rule> {
        let (keys, what) = match family {
            Family::Connect => (CONNECT_KEYS, "a connect rule"),
            _ => (BIND_KEYS, "a bind rule"),
        };
        let f = self.fields(t, span.clone(), family.key(), keys, what);
        // Every field is checked, so that `check` reports all problems at once.
        let deny = self.boolean(&f, "deny");
        let errno = self.errno(&f);
        let audit = self.audit(&f);
        let replace_stale = self.boolean(&f, "replace_stale");
        let mode = self.mode(&f);
        let ports = self.ports(&f);
        let proto = self.proto(&f);
        let mut ok = (f.has("deny") <= deny.is_some())
            && (f.has("errno") <= errno.is_some())
            && (f.has("audit") <= audit.is_some())
            && (f.has("replace_stale") <= replace_stale.is_some())
            && (f.has("mode") <= mode.is_some())
            && ports.is_some()
            && proto.is_some();

        let named: Vec<&str> = ["host", "ip", "unix"]
            .into_iter()
            .filter(|k| f.has(k))
            .collect();
        if named.len() > 1 {
            let (kspan, _) = f.get(named[1]).expect("present");
            self.err(
                &kspan,
                ErrorKind::ConflictingKeys,
                format!("a rule with both `{}` and `{}`", named[0], named[1]),
                Some("write one rule per destination".into()),
            );
            return None;
        }
        let mut conflict =
            |p: &mut Self, keys: &[&str], message: &dyn Fn(&str) -> String, hint: &str| {
                for key in keys {
                    if let Some((kspan, _)) = f.get(key) {
                        p.err(
                            &kspan,
                            ErrorKind::ConflictingKeys,
                            message(key),
                            Some(hint.to_owned()),
                        );
                        ok = false;
                    }
                }
            };
        let mut written = None;
        let target = if let Some(s) = self.string(&f, "unix") {
            conflict(
                self,
                &["ports", "proto"],
                &|k| format!("`{k}` in a unix socket rule"),
                "unix sockets have no ports or protocol; remove it",
            );
            if let Some(name) = s.value.strip_prefix('@') {
                conflict(
                    self,
                    &["mode", "replace_stale"],
                    &|k| format!("`{k}` for an abstract socket"),
                    "abstract sockets have no file: only socket paths take it",
                );
                if name.is_empty() {
                    self.err(
                        &s.span,
                        ErrorKind::BadPath,
                        "an empty abstract socket name".into(),
                        Some("write `@name`, or `@*` for any abstract name".into()),
                    );
                    None
                } else {
                    match NamePattern::parse(name.as_bytes()) {
                        Ok(n) => Some(NetTarget::Abstract(n)),
                        Err(e) => {
                            self.err(
                                &s.span,
                                e.kind,
                                format!("{}: {:?}", e.message, s.value),
                                e.hint,
                            );
                            None
                        }
                    }
                }
            } else {
                self.path(&s).map(|p| {
                    written = Self::written(&s.value, &p);
                    NetTarget::Unix(p)
                })
            }
        } else {
            conflict(
                self,
                &["mode", "replace_stale"],
                &|k| format!("`{k}` without `unix = \"/path\"`"),
                "only unix socket paths have a mode and can be stale",
            );
            let addr = if let Some(s) = self.string(&f, "host") {
                self.host(&s)
            } else if let Some(s) = self.string(&f, "ip") {
                match parse_ip(&s.value) {
                    Ok(a) => Some(a),
                    Err((message, hint)) => {
                        self.err(&s.span, ErrorKind::BadAddress, message, Some(hint));
                        None
                    }
                }
            } else if named.is_empty() {
                Some(Addr::Any)
            } else {
                None // wrong type, reported
            };
            match (addr, ports, proto) {
                (Some(addr), Some(ports), Some(proto)) => {
                    Some(NetTarget::Inet { addr, ports, proto })
                }
                _ => None,
            }
        };
        let target = target.filter(|_| ok)?;
        let mut rule = self.new_rule(family, Target::Net(target), written, &span);
        rule.access = if deny == Some(true) {
            Access::NONE
        } else {
            Access::ALL
        };
        rule.errno = errno;
        rule.audit = audit.unwrap_or_default();
        rule.mode = mode;
        rule.replace_stale = replace_stale.unwrap_or(false);
        Some(rule)
    }

    fn proto(&mut self, f: &Fields<'d>) -> Option<Proto> {
        if !f.has("proto") {
            return Some(Proto::Tcp);
        }
        let s = self.string(f, "proto")?;
        let p = Proto::parse(&s.value);
        if p.is_none() {
            self.err(
                &s.span,
                ErrorKind::BadProto,
                format!("unknown protocol {:?}", s.value),
                Some(suggest(&s.value, &["tcp", "udp", "any"])),
            );
        }
        p
    }

    fn host(&mut self, s: &Str) -> Option<Addr> {
        if let Ok(ip) = s.value.parse::<std::net::IpAddr>() {
            return Some(Addr::Ip(crate::net::canonical_ip(ip)));
        }
        if s.value.contains('/') {
            self.err(
                &s.span,
                ErrorKind::BadHost,
                format!("{:?} is not a host name", s.value),
                Some(format!("CIDR blocks go in `ip`: `ip = {:?}`", s.value)),
            );
            return None;
        }
        match HostPattern::parse(&s.value) {
            Ok(HostPattern::Any) => Some(Addr::Any),
            Ok(h) => Some(Addr::Host(h)),
            Err((message, hint)) => {
                self.err(&s.span, ErrorKind::BadHost, message, Some(hint));
                None
            }
        }
    }

    fn ports(&mut self, f: &Fields<'d>) -> Option<Ports> {
        let Some((span, item)) = f.get("ports") else {
            return Some(Ports::any());
        };
        if let Some(n) = item.as_integer() {
            return match u16::try_from(n) {
                Ok(p) => Some(Ports::one(p)),
                Err(_) => {
                    let vspan = self.span_of(item, &span);
                    self.err(
                        &vspan,
                        ErrorKind::BadPorts,
                        format!("port {n} is out of range"),
                        Some("ports are 0 to 65535".into()),
                    );
                    None
                }
            };
        }
        let Some(s) = item.as_value().and_then(|v| self.str_value(v)) else {
            self.wrong_type(
                "ports",
                item,
                &span,
                "a port or a string such as \"80,443\" or \"8000-8100\"",
            );
            return None;
        };
        match Ports::parse(&s.value) {
            Ok(p) => Some(p),
            Err(piece) => {
                let offset = s.value.find(piece.as_str()).unwrap_or(0);
                let pspan = if piece.is_empty() {
                    s.span.clone()
                } else {
                    s.sub(offset, piece.len())
                };
                self.err(
                    &pspan,
                    ErrorKind::BadPorts,
                    format!("bad port {piece:?} in {:?}", s.value),
                    Some(
                        "write a port (443), a list (\"80,443\"), a range (\"8000-8100\") or \"*\""
                            .into(),
                    ),
                );
                None
            }
        }
    }

    fn mode(&mut self, f: &Fields<'d>) -> Option<u32> {
        let (span, item) = f.get("mode")?;
        let vspan = self.span_of(item, &span);
        let raw = self.doc.text.get(vspan.clone()).unwrap_or("");
        let parsed = match item.as_value() {
            Some(Value::String(s)) => {
                let t = s.value.as_str();
                let t = t.strip_prefix("0o").unwrap_or(t);
                u32::from_str_radix(t, 8).ok()
            }
            Some(Value::Integer(n)) if raw.starts_with("0o") => u32::try_from(n.value).ok(),
            _ => None,
        };
        match parsed {
            Some(m) if m <= 0o777 => Some(m),
            _ => {
                self.err(
                    &vspan,
                    ErrorKind::BadMode,
                    format!("bad socket mode {raw}"),
                    Some(
                        "write permission bits in octal: `mode = \"0600\"` or `mode = 0o600`"
                            .into(),
                    ),
                );
                None
            }
        }
    }

    fn resolve_rule(&mut self, t: &'d Table, span: Range<usize>) -> Option<Rule> {
        let f = self.fields(t, span.clone(), "resolve", RESOLVE_KEYS, "a resolve rule");
        let deny = self.boolean(&f, "deny").unwrap_or(false);
        let errno = self.errno(&f);
        let audit = self.audit(&f);
        let Some(name) = self.string(&f, "name") else {
            if !f.has("name") {
                self.missing(
                    &f,
                    "a resolve rule needs `name`".into(),
                    Some(
                        "for example `name = \"*.example.com\"`, or `name = \"*\"` for any".into(),
                    ),
                );
            }
            return None;
        };
        let pattern = match HostPattern::parse(&name.value) {
            Ok(p) => p,
            Err((message, hint)) => {
                self.err(&name.span, ErrorKind::BadHost, message, Some(hint));
                return None;
            }
        };
        let mut rule = self.new_rule(Family::Resolve, Target::Name(pattern), None, &span);
        rule.access = if deny { Access::NONE } else { Access::ALL };
        rule.errno = errno;
        rule.audit = audit.unwrap_or_default();
        Some(rule)
    }
}
