//! Loading: reading sources, following `extends`, and merging. This is the thin edge that
//! does I/O (reading and canonicalising policy files); everything it calls is pure.
//!
//! Merging: sources are applied in order, each after what it extends. Rules with the same
//! target (the same expanded path or pattern; the same address, ports and protocol; the same
//! name) form a group: a later source's group replaces an earlier source's, so a user file
//! can loosen or tighten any rule of a profile it extends. Within one source, several rules
//! on the same target all stay, and a request must satisfy all of them. Each source is
//! applied once, where it first appears; a source that includes itself, directly or not, is
//! an error.

use crate::access::Access;
use crate::error::{suggest, Diagnostic, ErrorKind, Location, PolicyError, Severity};
use crate::expand::{expand, Mode};
use crate::profiles;
use crate::rule::{AuditSetting, Family, Rule};
use crate::source::{Source, Vars};
use crate::syntax::{self, DefaultSetting, Doc, Str};
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// What no rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Defaults {
    pub fs: Access,
    pub connect: bool,
    pub bind: bool,
    pub resolve: bool,
    pub errno: i32,
    pub audit: AuditSetting,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults {
            fs: Access::NONE,
            connect: false,
            bind: false,
            resolve: false,
            errno: libc::EACCES,
            audit: AuditSetting::Default,
        }
    }
}

impl Defaults {
    pub fn allows(&self, family: Family) -> bool {
        match family {
            Family::Fs => !self.fs.is_empty(),
            Family::Connect => self.connect,
            Family::Bind => self.bind,
            Family::Resolve => self.resolve,
        }
    }

    fn apply(&mut self, s: DefaultSetting) {
        match s {
            DefaultSetting::Fs(a) => self.fs = a,
            DefaultSetting::Allow(Family::Connect, b) => self.connect = b,
            DefaultSetting::Allow(Family::Bind, b) => self.bind = b,
            DefaultSetting::Allow(Family::Resolve, b) => self.resolve = b,
            DefaultSetting::Allow(Family::Fs, _) => {}
            DefaultSetting::Errno(e) => self.errno = e,
            DefaultSetting::Audit(a) => self.audit = a,
        }
    }

    /// One line with every setting, for the digest.
    pub fn canonical(&self) -> String {
        format!(
            "defaults fs={} connect={} bind={} resolve={} errno={} audit={}",
            self.fs,
            self.connect,
            self.bind,
            self.resolve,
            crate::errno::name(self.errno),
            self.audit.name()
        )
    }
}

/// The merged result of a list of sources.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub rules: Vec<Rule>,
    pub defaults: Defaults,
    /// Errors (and nothing else) found while loading.
    pub diags: Vec<Diagnostic>,
    /// The first top-level file that could not be read.
    pub read_error: Option<PolicyError>,
}

/// How deep `extends` may nest.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Builtin(String),
    File(PathBuf),
    Text(usize),
}

/// The merge state: sources are added one at a time (see [`crate::Loading`]).
pub(crate) struct Loader<'v> {
    vars: &'v Vars,
    /// Top-level sources added so far (the index of a [`Source::Text`]'s key).
    tops: usize,
    diags: Vec<Diagnostic>,
    read_error: Option<PolicyError>,
    /// Sources being loaded, outermost first, with their origins.
    stack: Vec<(Key, String)>,
    done: HashSet<Key>,
    units: u32,
    slots: Vec<Option<Rule>>,
    groups: HashMap<Vec<u8>, (u32, Vec<usize>)>,
    defaults: Defaults,
}

/// Loads and merges `sources`. Never fails outright: problems are in the result.
pub(crate) fn load(sources: &[Source], vars: &Vars) -> Loaded {
    let mut l = Loader::new(vars);
    for source in sources {
        l.add(source);
    }
    Loaded {
        rules: l.slots.into_iter().flatten().collect(),
        defaults: l.defaults,
        diags: l.diags,
        read_error: l.read_error,
    }
}

/// A copy of an I/O error: the same OS error, or the same kind and message.
fn copy_io_error(e: &std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::new(e.kind(), e.to_string()),
    }
}

impl<'v> Loader<'v> {
    /// Nothing loaded yet.
    pub(crate) fn new(vars: &'v Vars) -> Loader<'v> {
        Loader {
            vars,
            tops: 0,
            diags: Vec::new(),
            read_error: None,
            stack: Vec::new(),
            done: HashSet::new(),
            units: 0,
            slots: Vec::new(),
            groups: HashMap::new(),
            defaults: Defaults::default(),
        }
    }

    /// Merges one more top-level source over everything added before.
    pub(crate) fn add(&mut self, source: &Source) {
        let i = self.tops;
        self.tops += 1;
        self.top(i, source);
    }

    /// What [`load`] would return for the sources added so far.
    pub(crate) fn loaded(&self) -> Loaded {
        Loaded {
            rules: self.slots.iter().flatten().cloned().collect(),
            defaults: self.defaults,
            diags: self.diags.clone(),
            read_error: self.read_error.as_ref().map(|e| match e {
                PolicyError::Read { path, source } => PolicyError::Read {
                    path: path.clone(),
                    source: copy_io_error(source),
                },
                PolicyError::Invalid(d) => PolicyError::Invalid(d.clone()),
            }),
        }
    }
}

/// The largest policy file arbiter reads.
const MAX_FILE: u64 = 4 << 20;

/// Reads a policy file: a regular file (never a fifo or a device, which could block or never
/// end) of at most [`MAX_FILE`] bytes of UTF-8.
fn read(path: &Path) -> std::io::Result<(PathBuf, String)> {
    use std::io::{Error, ErrorKind, Read};
    let canonical = std::fs::canonicalize(path)?;
    let meta = std::fs::metadata(&canonical)?;
    if !meta.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    let mut text = String::new();
    std::fs::File::open(&canonical)?
        .take(MAX_FILE + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE {
        return Err(Error::new(ErrorKind::InvalidData, "larger than 4 MiB"));
    }
    Ok((canonical, text))
}

fn whole(origin: String, kind: ErrorKind, message: String, hint: Option<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        kind,
        at: Location::whole(origin),
        message,
        text: String::new(),
        hint,
    }
}

fn unknown_profile_hint(name: &str) -> String {
    let names: Vec<&str> = profiles::list().iter().map(|(n, _)| *n).collect();
    format!(
        "{} (a file is written with a `/`, as in `./{name}.toml`)",
        suggest(name, &names)
    )
}

impl Loader<'_> {
    fn top(&mut self, i: usize, source: &Source) {
        match source {
            Source::Builtin(name) => match profiles::text(name) {
                Some(text) => self.unit(
                    Key::Builtin(name.clone()),
                    source.origin(),
                    text,
                    None,
                    true,
                ),
                None => self.diags.push(whole(
                    source.origin(),
                    ErrorKind::UnknownProfile,
                    format!("unknown built-in profile `{name}`"),
                    Some(unknown_profile_hint(name)),
                )),
            },
            Source::File(path) => match read(path) {
                Ok((canonical, text)) => {
                    let dir = match path.parent() {
                        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                        _ => PathBuf::from("."),
                    };
                    self.unit(
                        Key::File(canonical),
                        source.origin(),
                        &text,
                        Some(dir),
                        false,
                    );
                }
                Err(e) => {
                    self.diags.push(whole(
                        source.origin(),
                        ErrorKind::Unreadable,
                        format!("cannot read policy file: {e}"),
                        None,
                    ));
                    if self.read_error.is_none() {
                        self.read_error = Some(PolicyError::Read {
                            path: path.clone(),
                            source: e,
                        });
                    }
                }
            },
            Source::Text { origin, text } => {
                let dir = Some(self.vars.pwd.clone());
                self.unit(Key::Text(i), origin.clone(), text, dir, false);
            }
        }
    }

    fn unit(&mut self, key: Key, origin: String, text: &str, dir: Option<PathBuf>, builtin: bool) {
        if self.done.contains(&key) {
            return;
        }
        self.stack.push((key.clone(), origin.clone()));
        let doc = Doc::new(&origin, text, builtin);
        // A built-in profile's tree was made at build time (crate::tree): not parsed again.
        let built = match &key {
            Key::Builtin(name) => profiles::tree(name),
            _ => None,
        };
        let parsed = syntax::parse(&doc, built, self.vars, &mut self.diags);
        for entry in &parsed.extends {
            self.include(&doc, entry, dir.as_deref());
        }
        self.stack.pop();
        self.done.insert(key);
        let unit = self.units;
        self.units += 1;
        for rule in parsed.rules {
            let slot = self.slots.len();
            match self.groups.get_mut(&rule.key()) {
                Some((u, slots)) if *u != unit => {
                    for &s in slots.iter() {
                        self.slots[s] = None;
                    }
                    slots.clear();
                    slots.push(slot);
                    *u = unit;
                }
                Some((_, slots)) => slots.push(slot),
                None => {
                    self.groups.insert(rule.key(), (unit, vec![slot]));
                }
            }
            self.slots.push(Some(rule));
        }
        for setting in parsed.defaults {
            self.defaults.apply(setting);
        }
    }

    /// Follows one `extends` entry of `doc`.
    fn include(&mut self, doc: &Doc<'_>, entry: &Str, dir: Option<&Path>) {
        let value = entry.value.as_str();
        let diags = &mut self.diags;
        let mut err = |kind, message: String, hint: Option<String>| {
            diags.push(doc.diag(&entry.span, kind, message, hint));
        };
        if self.stack.len() >= MAX_DEPTH {
            err(
                ErrorKind::Cycle,
                format!("`extends` nested more than {MAX_DEPTH} deep"),
                Some("flatten the chain of included files".into()),
            );
            return;
        }
        let as_builtin = value
            .strip_prefix("builtin:")
            .or_else(|| (!value.contains('/') && !value.ends_with(".toml")).then_some(value));
        let (key, origin, text, dir, builtin) = if let Some(name) = as_builtin {
            let Some(text) = profiles::text(name) else {
                err(
                    ErrorKind::UnknownProfile,
                    format!("unknown built-in profile `{name}`"),
                    Some(unknown_profile_hint(name)),
                );
                return;
            };
            (
                Key::Builtin(name.to_owned()),
                format!("builtin:{name}"),
                text.to_owned(),
                None,
                true,
            )
        } else {
            if doc.builtin {
                err(
                    ErrorKind::Unreadable,
                    format!("built-in profile includes the file `{value}`"),
                    Some("built-in profiles can only extend built-in profiles".into()),
                );
                return;
            }
            let expanded = match expand(value, self.vars, Mode::Raw) {
                Ok(b) => PathBuf::from(OsString::from_vec(b)),
                Err(e) => {
                    err(e.kind, e.message, e.hint);
                    return;
                }
            };
            let path = if expanded.is_absolute() {
                expanded
            } else {
                dir.map_or_else(|| self.vars.pwd.clone(), Path::to_path_buf)
                    .join(expanded)
            };
            match read(&path) {
                Ok((canonical, text)) => {
                    let dir = path.parent().map(Path::to_path_buf);
                    (
                        Key::File(canonical),
                        path.display().to_string(),
                        text,
                        dir,
                        false,
                    )
                }
                Err(e) => {
                    err(
                        ErrorKind::Unreadable,
                        format!("cannot read `{}`: {e}", path.display()),
                        Some(
                            "relative paths in `extends` are relative to the including file".into(),
                        ),
                    );
                    return;
                }
            }
        };
        if let Some(pos) = self.stack.iter().position(|(k, _)| *k == key) {
            let chain: Vec<&str> = self.stack[pos..].iter().map(|(_, o)| o.as_str()).collect();
            self.diags.push(doc.diag(
                &entry.span,
                ErrorKind::Cycle,
                format!("`extends` cycle: {} → {origin}", chain.join(" → ")),
                Some("remove one of the `extends` entries".into()),
            ));
            return;
        }
        self.unit(key, origin, &text, dir, builtin);
    }
}
