//! Turning a run's needs into a minimal, readable policy built on the `runtime` profile.
//!
//! * Needs the implicit policy already covers (the `runtime` profile and the program's
//!   installation prefixes, which `arbiter run` adds by itself) are left out.
//! * Everything under the working directory becomes one `$PWD` rule, everything under the
//!   private temporary directory one `$TMPDIR` rule (its name changes every run), and paths
//!   under the home directory are written with `~`.
//! * Other paths fold into their directory where that is clearly intended: a directory
//!   (at least two levels deep, never the home directory itself) whose entries the run used
//!   three or more of. Otherwise each file gets its own rule.
//! * Connections go by host name when the program resolved that name to the address.
//! * Each rule has a comment saying which calls needed it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use arbiter_policies::{Access, Policy, Vars};

use crate::learn::needs::{words, Needs, PathNeed};

/// A rule to write: its family, its key = value lines, and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `fs`, `connect`, `bind` or `resolve`.
    pub family: &'static str,
    /// Keys and TOML values, in order.
    pub fields: Vec<(&'static str, String)>,
    /// Why the rule exists.
    pub comment: String,
}

impl Rule {
    /// The rule as a TOML table.
    pub fn render(&self) -> String {
        let mut out = format!("# {}\n[[{}]]\n", self.comment, self.family);
        for (k, v) in &self.fields {
            let _ = writeln!(out, "{k} = {v}");
        }
        out
    }
}

fn quoted(s: &str) -> String {
    toml_string(s)
}

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn access_list(a: Access) -> String {
    let w: Vec<String> = words(a).into_iter().map(quoted).collect();
    format!("[{}]", w.join(", "))
}

fn calls_comment(calls: &BTreeSet<String>, n: usize) -> String {
    let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
    if n > 1 {
        format!("needed by {} of {n} paths", calls.join(", "))
    } else {
        format!("needed by {}", calls.join(", "))
    }
}

/// Rights in `need` that `implicit` does not already grant on `path`.
fn uncovered(implicit: &Policy, path: &Path, need: Access) -> Access {
    let mut left = Access::NONE;
    for (bit, _) in arbiter_policies::RIGHTS {
        if need.contains(bit) && !implicit.decide_path(path, bit).decision.allow {
            left |= bit;
        }
    }
    left
}

/// How a path is written in the policy, and whether it is folded whole into a variable.
fn spelled(path: &Path, vars: &Vars) -> (String, bool) {
    if path.starts_with(&vars.tmpdir) {
        return ("$TMPDIR".into(), true);
    }
    if path.starts_with(&vars.pwd) {
        return ("$PWD".into(), true);
    }
    if let Some(home) = &vars.home {
        if let Ok(rest) = path.strip_prefix(home) {
            if !rest.as_os_str().is_empty() {
                return (format!("~/{}", rest.display()), false);
            }
        }
    }
    (path.display().to_string(), false)
}

/// The real path a spelled rule path names.
fn unspell(path: &str, vars: &Vars) -> PathBuf {
    if path == "$TMPDIR" {
        return vars.tmpdir.clone();
    }
    if path == "$PWD" {
        return vars.pwd.clone();
    }
    match (path.strip_prefix("~/"), &vars.home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// Whether `path` is an executable regular file that starts with `#!`.
fn is_script(path: &Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let executable =
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    let mut head = [0u8; 2];
    executable
        && std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
        && &head == b"#!"
}

/// Whether `path` is a directory: it is one now, or the run used paths beneath it (a
/// `$TMPDIR` that is gone once the run ended).
fn is_directory(path: &Path, needs: &Needs) -> bool {
    path.is_dir()
        || needs
            .paths
            .range(path.to_path_buf()..)
            .skip_while(|(q, _)| q.as_path() == path)
            .take_while(|(q, _)| q.starts_with(path))
            .next()
            .is_some()
}

/// The directory a path folds into, if any.
fn fold_dir(
    path: &Path,
    counts: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
    vars: &Vars,
) -> Option<PathBuf> {
    let mut best = None;
    for anc in path.ancestors().skip(1) {
        let depth = anc.components().count() - 1;
        if depth < 2 || Some(anc) == vars.home.as_deref() {
            break;
        }
        if counts.get(anc).is_some_and(|c| c.len() >= 3) {
            best = Some(anc.to_path_buf());
            break; // the deepest qualifying directory: the narrowest fold
        }
    }
    best
}

/// The rules a run needs beyond `implicit`.
pub fn rules(needs: &Needs, implicit: &Policy, vars: &Vars) -> Vec<Rule> {
    // 1. What is left once the implicit policy is applied.
    let mut left: BTreeMap<PathBuf, PathNeed> = BTreeMap::new();
    for (p, need) in &needs.paths {
        // The broker decides a read-only open of a directory as `list` (the record shows
        // only the flags): a directory read in the run needs `list` in the next.
        let mut access = need.access;
        if access.contains(Access::READ) && is_directory(p, needs) {
            access |= Access::LIST;
        }
        // A `#!` script the run read may have been executed: the kernel reads it, not the
        // shim. Executing a script confers nothing reading it does not (its interpreter is
        // granted or not on its own).
        if access.contains(Access::READ) && is_script(p) {
            access |= Access::EXEC;
        }
        let a = uncovered(implicit, p, access);
        if a != Access::NONE {
            left.insert(
                p.clone(),
                PathNeed {
                    access: a,
                    calls: need.calls.clone(),
                },
            );
        }
    }
    // 2. Distinct children used under each directory.
    let mut counts: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for p in left.keys() {
        let mut child = p.as_path();
        while let Some(parent) = child.parent() {
            counts
                .entry(parent.to_path_buf())
                .or_default()
                .insert(child.to_path_buf());
            child = parent;
        }
    }
    // 3. Group into rules.
    let mut groups: BTreeMap<String, (Access, BTreeSet<String>, usize)> = BTreeMap::new();
    let mut ancestors_of_rules: Vec<PathBuf> = Vec::new();
    // The directories paths fold into: a need on such a directory itself (listing it)
    // belongs to its own rule, which is narrower than any fold above it.
    let fold_targets: BTreeSet<PathBuf> = left
        .keys()
        .filter_map(|p| fold_dir(p, &counts, vars))
        .collect();
    for (p, need) in &left {
        let (text, whole) = spelled(p, vars);
        // An executed file keeps a rule of its own: the kernel floor grants exec only where
        // one rule decides alone (docs/default-policy.md), which a folded directory with
        // narrower rules beneath does not.
        let executed = need.access.contains(Access::EXEC) && !is_directory(p, needs);
        let key = if whole || executed || fold_targets.contains(p) {
            if !whole {
                ancestors_of_rules.push(p.clone());
            }
            text
        } else if let Some(dir) = fold_dir(p, &counts, vars) {
            ancestors_of_rules.push(dir.clone());
            spelled(&dir, vars).0
        } else {
            ancestors_of_rules.push(p.clone());
            text
        };
        let g = groups
            .entry(key)
            .or_insert((Access::NONE, BTreeSet::new(), 0));
        g.0 |= need.access;
        g.1.extend(need.calls.iter().cloned());
        g.2 += 1;
    }
    let mut out = Vec::new();
    for (path, (mut access, calls, n)) in groups {
        // Most specific wins: a new rule must also grant what the implicit policy already
        // granted there, or it would take that away.
        let real = unspell(&path, vars);
        for (bit, _) in arbiter_policies::RIGHTS {
            if implicit.decide_path(&real, bit).decision.allow {
                access |= bit;
            }
        }
        // A directory the run executed from is granted read, list and exec whole: the
        // kernel floor grants exec only on a subtree one rule grants all three
        // (docs/default-policy.md), so the next run can execute there too.
        if access.contains(Access::EXEC) && is_directory(&real, needs) {
            access |= Access::READ | Access::LIST;
        }
        // A stat-only need on an ancestor of another rule is implicit (ancestors are stat-able).
        if access == Access::STAT
            && ancestors_of_rules
                .iter()
                .any(|r| spelled(r, vars).0.starts_with(&format!("{path}/")))
        {
            continue;
        }
        out.push(Rule {
            family: "fs",
            fields: vec![("path", quoted(&path)), ("allow", access_list(access))],
            comment: calls_comment(&calls, n),
        });
    }
    // 4. Network.
    for name in needs.names.keys() {
        out.push(Rule {
            family: "resolve",
            fields: vec![("name", quoted(name))],
            comment: "looked up by getaddrinfo".into(),
        });
    }
    for (family, eps) in [("connect", &needs.connect), ("bind", &needs.bind)] {
        for ep in eps {
            if let Some(rule) = endpoint_rule(family, ep, needs) {
                out.push(rule);
            }
        }
    }
    out
}

fn endpoint_rule(family: &'static str, ep: &str, needs: &Needs) -> Option<Rule> {
    let (proto, rest) = ep.split_once(':')?;
    if proto == "unix" {
        // The log escapes a backslash and non-UTF-8 bytes (core::net::name_text).
        let rest = String::from_utf8(crate::core::net::name_bytes(rest)?).ok()?;
        return Some(Rule {
            family,
            fields: vec![("unix", quoted(&rest))],
            comment: format!("{family} to a unix socket"),
        });
    }
    let addr: std::net::SocketAddr = rest.parse().ok()?;
    let ip = addr.ip().to_string();
    let mut fields = Vec::new();
    match needs.name_of(&ip) {
        Some(name) if family == "connect" => fields.push(("host", quoted(name))),
        _ => fields.push(("ip", quoted(&ip))),
    }
    fields.push(("ports", quoted(&addr.port().to_string())));
    fields.push(("proto", quoted(proto)));
    let comment = match needs.name_of(&ip) {
        Some(name) if family == "connect" => format!("{family} to {rest} ({name})"),
        _ => format!("{family} to {rest}"),
    };
    Some(Rule {
        family,
        fields,
        comment,
    })
}

/// A whole new policy file.
pub fn policy_text(rules: &[Rule], command: &str) -> String {
    let command = command.replace('\n', "\\n").replace('\r', "\\r");
    let mut out = format!(
        "# Generated by `arbiter learn` from a run of: {command}\n# Review it: every rule below was needed by that run and nothing else.\nversion = 1\nextends = [\"runtime\"]\n"
    );
    for r in rules {
        out.push('\n');
        out.push_str(&r.render());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fs_rules(rules: &[Rule]) -> Vec<(String, String)> {
        rules
            .iter()
            .filter(|r| r.family == "fs")
            .map(|r| (r.fields[0].1.clone(), r.fields[1].1.clone()))
            .collect()
    }

    #[test]
    fn executed_programs_and_scripts_get_exec_in_rules_of_their_own() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let tool = h.join("tools/v1/bin");
        std::fs::create_dir_all(&tool).unwrap();
        let script = h.join("tools/shims/run");
        std::fs::create_dir_all(script.parent().unwrap()).unwrap();
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let data = h.join("tools/v1/share");
        std::fs::create_dir_all(&data).unwrap();
        let open = |path: &Path, exe: &Path| {
            json!({"type": "call", "call": "open", "decision": "allow", "pid": 7,
                   "exe": exe, "paths": [path], "args": {"flags": ["O_RDONLY"]}})
        };
        let exe = tool.join("prog");
        let records = [
            // The program made calls: it was executed.
            open(&data.join("a"), &exe),
            open(&data.join("b"), &exe),
            open(&data.join("c"), &exe),
            // The shell read the script it executed; and listed the data directory.
            open(&script, Path::new("/usr/bin/sh")),
            open(&data, &exe),
        ];
        let needs = Needs::from_records(&records);
        let vars = Vars {
            home: Some(h.to_path_buf()),
            pwd: "/nonexistent/pwd".into(),
            tmpdir: "/nonexistent/tmp".into(),
            ..Vars::default()
        };
        let implicit = Policy::load(&[], &vars).unwrap();
        let rules = fs_rules(&rules(&needs, &implicit, &vars));
        let rule = |p: &str| {
            rules
                .iter()
                .find(|(path, _)| path == &format!("\"~/{p}\""))
                .map(|(_, a)| a.clone())
                .unwrap_or_else(|| panic!("no rule for {p}: {rules:?}"))
        };
        assert!(rule("tools/v1/bin/prog").contains("\"exec\""), "{rules:?}");
        assert!(rule("tools/shims/run").contains("\"exec\""), "{rules:?}");
        // The data directory the files fold into keeps its own listing need.
        let share = rule("tools/v1/share");
        assert!(
            share.contains("\"list\"") && !share.contains("\"exec\""),
            "{share}"
        );
    }
}
