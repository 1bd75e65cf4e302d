//! The daemon's configuration: which users and groups may use which profiles.
//!
//! ```toml
//! # Profiles defined by files (read when the config is loaded or reloaded); any other name
//! # is a built-in profile.
//! [profiles]
//! build = "/etc/arbiter/build.toml"
//!
//! [[user]]
//! name = "alice"          # or: uid = 1000
//! allow = ["default", "build"]
//! default = "build"       # optional; the first of `allow` otherwise
//!
//! [[group]]
//! name = "developers"     # or: gid = 100 (primary or supplementary group)
//! allow = ["default"]
//!
//! [limits]                # optional; see `super::limits::LIMITS` for every key
//! sandboxes_per_uid = 4
//! ```
//!
//! A client's allowed profiles are the union of the `allow` lists of every entry that
//! matches it; its default is that of the first matching `[[user]]` entry, else of the
//! first matching `[[group]]` entry. A client may ask for one of its allowed profiles and
//! nothing else; a client no entry matches is refused. Without a config file the daemon
//! serves its own uid with the built-in `default` profile and refuses every other uid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use arbiter_policies::{profiles, Policy, Source, Vars};
use toml_edit::{ImDocument, Table, Value};

use super::limits::{Limits, LIMITS};

/// A problem in a config file, at a byte offset of its text when one is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where in the text (a byte offset).
    pub offset: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// `file:line:column: message`, as `arbiter check` prints a policy's problems.
    pub fn render(&self, file: &str, text: &str) -> String {
        match self.offset {
            Some(off) => {
                let before = &text[..off.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("{file}:{line}:{col}: {}", self.message)
            }
            None => format!("{file}: {}", self.message),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Who matches an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    Id(u32),
    Name(String),
}

#[derive(Debug, Clone)]
struct Entry {
    who: Who,
    allow: Vec<String>,
    default: Option<String>,
    /// Where the entry names its profiles (the `allow` key), for diagnostics.
    at: Option<usize>,
}

/// A loaded, validated configuration. Profile files are snapshotted: a reload (SIGHUP) is
/// the only way a change reaches new sandboxes.
#[derive(Debug, Clone)]
pub struct Config {
    users: Vec<Entry>,
    groups: Vec<Entry>,
    profiles: BTreeMap<String, Source>,
    /// No config file: own uid, `default` profile.
    implicit_uid: Option<u32>,
    /// How much each uid and all clients together may hold.
    pub limits: Limits,
}

/// The identity of a client, from the kernel (`SO_PEERCRED`, `SO_PEERGROUPS`).
#[derive(Debug, Clone)]
pub struct Client {
    /// Real uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// User name, when the uid has one.
    pub user: Option<String>,
    /// Names of the primary and supplementary groups that have one, with their gid.
    pub group_names: Vec<(u32, String)>,
}

/// The profile chosen for a client.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The profile's name.
    pub name: String,
    /// Where its rules come from.
    pub source: Source,
}

impl Config {
    /// The configuration used without `--config`.
    pub fn implicit(own_uid: u32) -> Config {
        Config {
            users: Vec::new(),
            groups: Vec::new(),
            profiles: BTreeMap::new(),
            implicit_uid: Some(own_uid),
            limits: Limits::default(),
        }
    }

    /// Reads, parses and validates `path`, including every profile it names.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let cfg = Config::parse(&text, path.parent().unwrap_or(Path::new("/")))
            .map_err(|e| anyhow!("{}", e.render(&path.display().to_string(), &text)))
            .with_context(|| format!("invalid daemon config {}", path.display()))?;
        cfg.validate()
            .with_context(|| format!("invalid daemon config {}", path.display()))?;
        Ok(cfg)
    }

    /// Parses config text; relative profile paths are relative to `base`. An error names
    /// the place in `text` where it was found.
    pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
        let doc = ImDocument::parse(text).map_err(|e| ConfigError {
            offset: e.span().map(|s| s.start),
            message: e.message().trim().replace('\n', "; "),
        })?;
        let root = doc.as_table();
        let mut profiles = BTreeMap::new();
        let mut users = Vec::new();
        let mut groups = Vec::new();
        let mut limits = Limits::default();
        for (key, item) in root.iter() {
            let key_at = root.key(key).and_then(|k| k.span()).map(|s| s.start);
            let err = |at: Option<usize>, message: String| ConfigError {
                offset: at.or(key_at),
                message,
            };
            match key {
                "limits" | "profiles" => {
                    let t = item
                        .as_table_like()
                        .ok_or_else(|| err(None, format!("`{key}` must be a table")))?;
                    for (name, v) in t.iter() {
                        let at = t
                            .get_key_value(name)
                            .and_then(|(k, _)| k.span())
                            .map(|s| s.start);
                        if key == "limits" {
                            let n = v
                                .as_integer()
                                .and_then(|n| usize::try_from(n).ok())
                                .filter(|&n| n > 0)
                                .ok_or_else(|| {
                                    err(at, format!("limits.{name}: expected a positive integer"))
                                })?;
                            if !limits.set(name, n) {
                                let keys: Vec<&str> = LIMITS.iter().map(|s| s.key).collect();
                                return Err(err(
                                    at,
                                    format!(
                                        "limits.{name}: unknown limit (expected one of {})",
                                        keys.join(", ")
                                    ),
                                ));
                            }
                            continue;
                        }
                        let file = v.as_str().ok_or_else(|| {
                            err(at, format!("profiles.{name}: expected a file path"))
                        })?;
                        let file = base.join(file);
                        let text = std::fs::read_to_string(&file).map_err(|e| {
                            err(
                                at,
                                format!("profiles.{name}: cannot read {}: {e}", file.display()),
                            )
                        })?;
                        profiles.insert(
                            name.to_owned(),
                            Source::Text {
                                origin: file.display().to_string(),
                                text,
                            },
                        );
                    }
                }
                "user" | "group" => {
                    let list = item.as_array_of_tables().ok_or_else(|| {
                        err(
                            None,
                            format!("`{key}` must be an array of tables ([[{key}]])"),
                        )
                    })?;
                    for (i, t) in list.iter().enumerate() {
                        let e = entry(t, key).map_err(|mut e| {
                            e.offset = e.offset.or(t.span().map(|s| s.start));
                            e.message = format!("[[{key}]] #{}: {}", i + 1, e.message);
                            e
                        })?;
                        if key == "user" {
                            users.push(e);
                        } else {
                            groups.push(e);
                        }
                    }
                }
                other => {
                    return Err(err(
                        None,
                        format!("unknown key `{other}` (expected profiles, user, group, limits)"),
                    ))
                }
            }
        }
        Ok(Config {
            users,
            groups,
            profiles,
            implicit_uid: None,
            limits,
        })
    }

    /// The variables profiles are checked with when the config is loaded (the real ones
    /// are each client's).
    pub fn check_vars() -> Vars {
        Vars {
            home: Some(PathBuf::from("/nonexistent")),
            pwd: PathBuf::from("/"),
            tmpdir: PathBuf::from("/tmp"),
            xdg_config_home: None,
            xdg_cache_home: None,
            xdg_data_home: None,
            xdg_runtime_dir: None,
        }
    }

    /// The profiles the `[profiles]` table defines, by name.
    pub fn profile_files(&self) -> impl Iterator<Item = (&str, &Source)> {
        self.profiles.iter().map(|(n, s)| (n.as_str(), s))
    }

    /// How many `[[user]]` and `[[group]]` entries there are.
    pub fn entries(&self) -> (usize, usize) {
        (self.users.len(), self.groups.len())
    }

    /// Checks that every named profile exists and compiles.
    pub fn validate(&self) -> Result<()> {
        match self.problems().into_iter().next() {
            Some(e) => Err(anyhow!("{}", e.message)),
            None => Ok(()),
        }
    }

    /// Every problem across entries and profiles: a profile that exists nowhere or does
    /// not compile, a default outside its entry's `allow` list; each at its entry.
    pub fn problems(&self) -> Vec<ConfigError> {
        let vars = Config::check_vars();
        let mut out = Vec::new();
        for e in self.users.iter().chain(&self.groups) {
            let err = |message: String| ConfigError {
                offset: e.at,
                message,
            };
            for name in e.allow.iter().chain(&e.default) {
                match self.source(name) {
                    Err(why) => out.push(err(why.to_string())),
                    Ok(source) => {
                        if let Err(why) = Policy::load(&[source], &vars) {
                            out.push(err(format!("profile `{name}` is invalid: {why}")));
                        }
                    }
                }
            }
            if let Some(d) = &e.default {
                if !e.allow.contains(d) {
                    out.push(err(format!(
                        "default profile `{d}` is not in its entry's `allow` list"
                    )));
                }
            }
        }
        out
    }

    fn source(&self, name: &str) -> Result<Source> {
        if let Some(s) = self.profiles.get(name) {
            return Ok(s.clone());
        }
        if profiles::text(name).is_some() {
            return Ok(Source::Builtin(name.to_owned()));
        }
        bail!("unknown profile `{name}` (neither in [profiles] nor built in)")
    }

    /// Chooses the profile for `client`, who asked for `asked` (or the default).
    /// The error is the reason shown to the client.
    pub fn grant(&self, client: &Client, asked: Option<&str>) -> Result<Grant, String> {
        let who = match &client.user {
            Some(n) => format!("uid {} ({n})", client.uid),
            None => format!("uid {}", client.uid),
        };
        if let Some(own) = self.implicit_uid {
            if client.uid != own {
                return Err(format!(
                    "{who} is not served: without a config file this daemon serves only uid {own}"
                ));
            }
            return match asked {
                None | Some("default") => Ok(Grant {
                    name: "default".into(),
                    source: Source::Builtin("default".into()),
                }),
                Some(p) => Err(format!(
                    "profile `{p}` is not allowed for {who} (allowed: default)"
                )),
            };
        }
        let user_hits = self.users.iter().filter(|e| match &e.who {
            Who::Id(id) => *id == client.uid,
            Who::Name(n) => client.user.as_deref() == Some(n),
        });
        let all_gids: Vec<u32> = std::iter::once(client.gid)
            .chain(client.groups.iter().copied())
            .collect();
        let group_hits = self.groups.iter().filter(|e| match &e.who {
            Who::Id(id) => all_gids.contains(id),
            Who::Name(n) => client.group_names.iter().any(|(_, g)| g == n),
        });
        let hits: Vec<&Entry> = user_hits.chain(group_hits).collect();
        if hits.is_empty() {
            return Err(format!("{who} is not allowed by the daemon's config"));
        }
        let mut allowed: Vec<&str> = Vec::new();
        for e in &hits {
            for a in &e.allow {
                if !allowed.contains(&a.as_str()) {
                    allowed.push(a);
                }
            }
        }
        let name = match asked {
            Some(p) if allowed.contains(&p) => p.to_owned(),
            Some(p) => {
                return Err(format!(
                    "profile `{p}` is not allowed for {who} (allowed: {})",
                    allowed.join(", ")
                ))
            }
            None => match hits.iter().find_map(|e| e.default.clone()) {
                Some(d) => d,
                None => match allowed.first() {
                    Some(first) => (*first).to_owned(),
                    None => return Err(format!("no profile is allowed for {who}")),
                },
            },
        };
        let source = self.source(&name).map_err(|e| e.to_string())?;
        Ok(Grant { name, source })
    }
}

fn entry(t: &Table, kind: &str) -> Result<Entry, ConfigError> {
    let id_key = if kind == "user" { "uid" } else { "gid" };
    let mut who = None;
    let mut allow = Vec::new();
    let mut default = None;
    let mut allow_at = None;
    for (k, item) in t.iter() {
        let at = t.key(k).and_then(|k| k.span()).map(|s| s.start);
        if k == "allow" {
            allow_at = at;
        }
        let err = |message: String| ConfigError {
            offset: at,
            message,
        };
        let v = item
            .as_value()
            .ok_or_else(|| err(format!("`{k}` must be a value")))?;
        match k {
            "name" => who = Some(Who::Name(str_of(v, k).map_err(|e| err(e.to_string()))?)),
            k if k == id_key => {
                let n = v
                    .as_integer()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| err(format!("`{k}` must be a non-negative integer")))?;
                who = Some(Who::Id(n));
            }
            "allow" => {
                let arr = v
                    .as_array()
                    .ok_or_else(|| err("`allow` must be an array of profile names".into()))?;
                for p in arr.iter() {
                    allow.push(str_of(p, "allow").map_err(|e| err(e.to_string()))?);
                }
            }
            "default" => default = Some(str_of(v, k).map_err(|e| err(e.to_string()))?),
            other => {
                return Err(err(format!(
                    "unknown key `{other}` (expected name, {id_key}, allow, default)"
                )))
            }
        }
    }
    let missing = |message: String| ConfigError {
        offset: None,
        message,
    };
    let who = who.ok_or_else(|| missing(format!("needs `name` or `{id_key}`")))?;
    if allow.is_empty() {
        return Err(missing("`allow` must name at least one profile".into()));
    }
    Ok(Entry {
        who,
        allow,
        default,
        at: allow_at.or(t.span().map(|s| s.start)),
    })
}

fn str_of(v: &Value, key: &str) -> Result<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("`{key}` must be a string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uid: u32, user: &str, gid: u32, groups: &[(u32, &str)]) -> Client {
        Client {
            uid,
            gid,
            groups: groups.iter().map(|g| g.0).collect(),
            user: Some(user.into()),
            group_names: groups.iter().map(|(g, n)| (*g, (*n).to_owned())).collect(),
        }
    }

    const CFG: &str = r#"
[[user]]
uid = 1000
allow = ["default", "runtime"]
default = "runtime"

[[group]]
name = "dev"
allow = ["default"]
"#;

    #[test]
    fn a_user_gets_its_default_and_may_ask_only_for_allowed_profiles() {
        let c = Config::parse(CFG, Path::new("/")).unwrap();
        let alice = client(1000, "alice", 1000, &[]);
        assert_eq!(c.grant(&alice, None).unwrap().name, "runtime");
        assert_eq!(c.grant(&alice, Some("default")).unwrap().name, "default");
        let e = c.grant(&alice, Some("net")).unwrap_err();
        assert!(e.contains("not allowed"), "{e}");
    }

    #[test]
    fn a_group_member_matches_by_supplementary_group_name() {
        let c = Config::parse(CFG, Path::new("/")).unwrap();
        let bob = client(1001, "bob", 1001, &[(50, "dev")]);
        assert_eq!(c.grant(&bob, None).unwrap().name, "default");
        let eve = client(1002, "eve", 1002, &[]);
        assert!(c.grant(&eve, None).unwrap_err().contains("not allowed"));
    }

    #[test]
    fn without_config_only_the_own_uid_is_served_with_default() {
        let c = Config::implicit(7);
        assert_eq!(
            c.grant(&client(7, "me", 7, &[]), None).unwrap().name,
            "default"
        );
        assert!(c.grant(&client(7, "me", 7, &[]), Some("x")).is_err());
        assert!(c.grant(&client(8, "you", 8, &[]), None).is_err());
    }

    #[test]
    fn limits_are_read_and_checked() {
        let c = Config::parse("[limits]\nsandboxes_per_uid = 3\n", Path::new("/")).unwrap();
        assert_eq!(c.limits.get("sandboxes_per_uid"), Some(3));
        assert_eq!(c.limits.get("sandboxes"), Some(64));
        let e = Config::parse("[limits]\nsandbox = 3\n", Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("unknown limit"), "{e}");
        assert!(Config::parse("[limits]\nchannels = 0\n", Path::new("/")).is_err());
        assert!(Config::parse("[limits]\nchannels = \"x\"\n", Path::new("/")).is_err());
    }

    #[test]
    fn unknown_keys_and_missing_names_are_errors() {
        assert!(Config::parse("[[user]]\nallow=[\"default\"]\n", Path::new("/")).is_err());
        assert!(Config::parse("bogus = 1\n", Path::new("/")).is_err());
        assert!(Config::parse("[[user]]\nuid=1\nallow=[]\n", Path::new("/")).is_err());
    }
}
