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
            .with_context(|| format!("invalid daemon config {}", path.display()))?;
        cfg.validate()
            .with_context(|| format!("invalid daemon config {}", path.display()))?;
        Ok(cfg)
    }

    /// Parses config text; relative profile paths are relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config> {
        let doc = ImDocument::parse(text).map_err(|e| anyhow!("{e}"))?;
        let root = doc.as_table();
        let mut profiles = BTreeMap::new();
        let mut users = Vec::new();
        let mut groups = Vec::new();
        let mut limits = Limits::default();
        for (key, item) in root.iter() {
            match key {
                "limits" => {
                    let t = item
                        .as_table_like()
                        .ok_or_else(|| anyhow!("`limits` must be a table"))?;
                    for (name, v) in t.iter() {
                        let n = v
                            .as_integer()
                            .and_then(|n| usize::try_from(n).ok())
                            .filter(|&n| n > 0)
                            .ok_or_else(|| anyhow!("limits.{name}: expected a positive integer"))?;
                        if !limits.set(name, n) {
                            let keys: Vec<&str> = LIMITS.iter().map(|s| s.key).collect();
                            bail!(
                                "limits.{name}: unknown limit (expected one of {})",
                                keys.join(", ")
                            );
                        }
                    }
                }
                "profiles" => {
                    let t = item
                        .as_table_like()
                        .ok_or_else(|| anyhow!("`profiles` must be a table"))?;
                    for (name, v) in t.iter() {
                        let file = v
                            .as_str()
                            .ok_or_else(|| anyhow!("profiles.{name}: expected a file path"))?;
                        let file = base.join(file);
                        let text = std::fs::read_to_string(&file).with_context(|| {
                            format!("profiles.{name}: cannot read {}", file.display())
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
                    let list = item
                        .as_array_of_tables()
                        .ok_or_else(|| anyhow!("`{key}` must be an array of tables ([[{key}]])"))?;
                    for (i, t) in list.iter().enumerate() {
                        let e = entry(t, key).with_context(|| format!("[[{key}]] #{}", i + 1))?;
                        if key == "user" {
                            users.push(e);
                        } else {
                            groups.push(e);
                        }
                    }
                }
                other => bail!("unknown key `{other}` (expected profiles, user, group, limits)"),
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

    /// Checks that every named profile exists and compiles.
    pub fn validate(&self) -> Result<()> {
        let vars = Vars {
            home: Some(PathBuf::from("/nonexistent")),
            pwd: PathBuf::from("/"),
            tmpdir: PathBuf::from("/tmp"),
            xdg_config_home: None,
            xdg_cache_home: None,
            xdg_data_home: None,
            xdg_runtime_dir: None,
        };
        for e in self.users.iter().chain(&self.groups) {
            for name in e.allow.iter().chain(&e.default) {
                let source = self.source(name)?;
                Policy::load(&[source], &vars)
                    .with_context(|| format!("profile `{name}` is invalid"))?;
            }
            if let Some(d) = &e.default {
                if !e.allow.contains(d) {
                    bail!("default profile `{d}` is not in its entry's `allow` list");
                }
            }
        }
        Ok(())
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

fn entry(t: &Table, kind: &str) -> Result<Entry> {
    let id_key = if kind == "user" { "uid" } else { "gid" };
    let mut who = None;
    let mut allow = Vec::new();
    let mut default = None;
    for (k, item) in t.iter() {
        let v = item
            .as_value()
            .ok_or_else(|| anyhow!("`{k}` must be a value"))?;
        match k {
            "name" => who = Some(Who::Name(str_of(v, k)?)),
            k if k == id_key => {
                let n = v
                    .as_integer()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| anyhow!("`{k}` must be a non-negative integer"))?;
                who = Some(Who::Id(n));
            }
            "allow" => {
                let arr = v
                    .as_array()
                    .ok_or_else(|| anyhow!("`allow` must be an array of profile names"))?;
                for p in arr.iter() {
                    allow.push(str_of(p, "allow")?);
                }
            }
            "default" => default = Some(str_of(v, k)?),
            other => bail!("unknown key `{other}` (expected name, {id_key}, allow, default)"),
        }
    }
    let who = who.ok_or_else(|| anyhow!("needs `name` or `{id_key}`"))?;
    if allow.is_empty() {
        bail!("`allow` must name at least one profile");
    }
    Ok(Entry {
        who,
        allow,
        default,
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
