//! What a recorded run needed: the access each real path was used with, the endpoints it
//! connected to and bound, and the names it resolved — read back from audit records.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use arbiter_policies::{Access, RIGHTS};
use serde_json::Value;

/// One path's needs.
#[derive(Debug, Default, Clone)]
pub struct PathNeed {
    /// Every right the run used on the path.
    pub access: Access,
    /// Which calls needed it (`open`, `stat`…), for the rule's comment.
    pub calls: BTreeSet<String>,
}

/// Everything a run needed.
#[derive(Debug, Default)]
pub struct Needs {
    /// Real paths and their needs.
    pub paths: BTreeMap<PathBuf, PathNeed>,
    /// Connected endpoints (`tcp:1.2.3.4:443`, `udp:…`, `unix:/p`, `unix:@name`).
    pub connect: BTreeSet<String>,
    /// Bound endpoints.
    pub bind: BTreeSet<String>,
    /// Names resolved, and the addresses each resolved to.
    pub names: BTreeMap<String, BTreeSet<String>>,
}

fn flags(rec: &Value) -> Vec<&str> {
    rec["args"]["flags"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The rights a recorded call used.
fn access_of(rec: &Value) -> Access {
    let call = rec["call"].as_str().unwrap_or("");
    match call {
        "open" => {
            let f = flags(rec);
            let mut a = if f.contains(&"O_PATH") {
                Access::STAT
            } else if f.contains(&"O_WRONLY") {
                Access::WRITE
            } else if f.contains(&"O_RDWR") {
                Access::READ | Access::WRITE
            } else if f.contains(&"O_DIRECTORY") {
                Access::LIST
            } else {
                Access::READ
            };
            if f.contains(&"O_CREAT") || f.contains(&"O_TMPFILE") {
                a |= Access::CREATE;
            }
            if f.contains(&"O_TRUNC") {
                a |= Access::WRITE;
            }
            a
        }
        "stat" | "readlink" => Access::STAT,
        "access" => {
            let modes: Vec<&str> = rec["args"]["mode"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut a = Access::STAT;
            if modes.contains(&"R_OK") {
                a |= Access::READ;
            }
            if modes.contains(&"W_OK") {
                a |= Access::WRITE;
            }
            if modes.contains(&"X_OK") {
                a |= Access::EXEC;
            }
            a
        }
        "mkdir" | "mknod" | "symlink" => Access::CREATE,
        "unlink" | "rmdir" => Access::REMOVE,
        "rename" => Access::RENAME,
        "link" => Access::CREATE | Access::READ,
        "truncate" => Access::WRITE,
        "chmod" | "chown" | "utimens" => Access::SETATTR,
        // A lookup in the services or protocols database reads its file (the record's path).
        "getservbyname" | "getservbyport" | "getprotobyname" | "getprotobynumber" => Access::READ,
        _ => Access::NONE,
    }
}

/// A path as a rule that holds for the next run of the same program spells it: the
/// caller's own `/proc/PID` is `/proc/self` (the broker decides it so), and a file named
/// after the caller's pid (`/tmp/hsperfdata_USER/PID`, a pid file) is its directory, since
/// the next run's process has another pid.
fn per_process(path: PathBuf, pid: Option<u64>) -> PathBuf {
    let Some(pid) = pid.map(|p| p.to_string()) else {
        return path;
    };
    let own = Path::new("/proc").join(&pid);
    if let Ok(rest) = path.strip_prefix(&own) {
        return Path::new("/proc/self").join(rest);
    }
    match (path.file_name(), path.parent()) {
        (Some(name), Some(dir)) if name == pid.as_str() && !dir.starts_with("/proc") => {
            dir.to_path_buf()
        }
        _ => path,
    }
}

/// An absolute path as the broker spells it when resolution fails: `.` and empty components
/// dropped, `..` taking the previous one away (`core::fs::lexical_path`).
fn lexical(p: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for comp in std::path::Path::new(p).components() {
        match comp {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(c) => out.push(c),
            _ => {}
        }
    }
    out
}

impl Needs {
    /// Reads the call records of an audit log (other record types are skipped).
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a Value>) -> Needs {
        let mut needs = Needs::default();
        for rec in records {
            if rec["type"] != "call" || rec["decision"] == "deny" {
                continue;
            }
            // The program that made the call was executed in the run: the kernel executes
            // it (no call record says so), and the next run needs to as well.
            if let Some(exe) = rec["exe"].as_str().filter(|e| e.starts_with('/')) {
                let need = needs.paths.entry(PathBuf::from(exe)).or_default();
                need.access |= Access::READ | Access::EXEC;
                need.calls.insert("exec".into());
            }
            let call = rec["call"].as_str().unwrap_or("").to_owned();
            let endpoint = rec["endpoint"].as_str().map(str::to_owned);
            match call.as_str() {
                "connect" | "bind" if endpoint.is_none() => {
                    // A unix socket path that did not resolve (glibc probing nscd's socket
                    // through the seccomp transport, say) has no endpoint: the broker checks
                    // `stat` on the path as given, so the run needed exactly that.
                    if let Some(p) = rec["args"]["addr"]["unix"]
                        .as_str()
                        .filter(|p| p.starts_with('/'))
                    {
                        let need = needs.paths.entry(PathBuf::from(p)).or_default();
                        need.access |= Access::STAT;
                        need.calls.insert(call.clone());
                    }
                    // Where its lookup failed (`/run/nscd` for `/var/run/nscd/socket`): the
                    // broker checks `stat` there too (no existence oracle).
                    for p in rec["paths"].as_array().into_iter().flatten() {
                        if let Some(p) = p.as_str() {
                            let need = needs.paths.entry(PathBuf::from(p)).or_default();
                            need.access |= Access::STAT;
                            need.calls.insert(call.clone());
                        }
                    }
                }
                // A send with a destination is decided as a connect, a listen on an unbound
                // socket as a bind; without an endpoint (a connected or bound socket) they
                // needed nothing more.
                "send" | "listen" if endpoint.is_none() => {}
                "connect" | "send" => {
                    if let Some(ep) = endpoint {
                        needs.connect.insert(ep);
                    }
                }
                "bind" | "listen" => {
                    if let Some(ep) = endpoint {
                        needs.bind.insert(ep);
                    }
                }
                // A reverse name needs a resolve rule, but is never tied to its address
                // (a PTR record is not evidence for host-name connect rules).
                "getnameinfo" => {
                    if let Some(name) = endpoint.as_deref().and_then(|e| e.strip_prefix("name:")) {
                        needs.names.entry(name.to_owned()).or_default();
                    }
                }
                "getaddrinfo" => {
                    if let Some(name) = endpoint.as_deref().and_then(|e| e.strip_prefix("name:")) {
                        let addrs = needs.names.entry(name.to_owned()).or_default();
                        for a in rec["addresses"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                        {
                            addrs.insert(a.to_owned());
                        }
                    }
                }
                _ => {
                    let mut access = access_of(rec);
                    // For two-path calls (rename, link) both real paths need the right. A
                    // call that failed while resolving (a probe of a missing directory) has
                    // no real path: its absolute path as given is what the policy decides on.
                    let paths: Vec<&str> = rec["paths"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    // A call that failed may have failed while resolving: the broker then
                    // checks `stat` on the path as given and on where the lookup failed (the
                    // record's paths), so that a denied tree answers EACCES instead of
                    // revealing what is missing.
                    let mut paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
                    if paths.is_empty() || rec["result"]["errno"].is_string() {
                        paths.extend(
                            rec["args"]["path"]
                                .as_str()
                                .filter(|p| p.starts_with('/'))
                                .map(lexical),
                        );
                        access |= Access::STAT;
                    }
                    let pid = rec["pid"].as_u64();
                    let mut paths: Vec<PathBuf> =
                        paths.into_iter().map(|p| per_process(p, pid)).collect();
                    paths.sort();
                    paths.dedup();
                    for p in paths {
                        let need = needs.paths.entry(p).or_default();
                        need.access |= access;
                        need.calls.insert(call.clone());
                    }
                }
            }
        }
        needs
    }

    /// The name an address was resolved from in this run, if any.
    pub fn name_of(&self, ip: &str) -> Option<&str> {
        self.names
            .iter()
            .find(|(_, addrs)| addrs.contains(ip))
            .map(|(n, _)| n.as_str())
    }
}

/// The access words of a set, for a rule.
pub fn words(a: Access) -> Vec<&'static str> {
    RIGHTS
        .iter()
        .filter(|(bit, _)| a.contains(*bit))
        .map(|(_, w)| *w)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sends_listens_and_reverse_names_become_connect_bind_and_resolve_needs() {
        let records = [
            json!({"type": "call", "call": "send", "decision": "allow", "endpoint": "udp:127.0.0.1:53"}),
            json!({"type": "call", "call": "send", "decision": "allow"}),
            json!({"type": "call", "call": "listen", "decision": "allow", "endpoint": "tcp:0.0.0.0:0"}),
            json!({"type": "call", "call": "getnameinfo", "decision": "allow",
                   "endpoint": "name:host.test", "addresses": ["10.0.0.1"]}),
        ];
        let needs = Needs::from_records(&records);
        assert_eq!(
            needs.connect,
            BTreeSet::from(["udp:127.0.0.1:53".to_owned()])
        );
        assert_eq!(needs.bind, BTreeSet::from(["tcp:0.0.0.0:0".to_owned()]));
        assert_eq!(needs.names.get("host.test"), Some(&BTreeSet::new()));
        assert!(needs.paths.is_empty());
    }

    #[test]
    fn the_callers_own_proc_entries_and_pid_named_files_are_spelled_for_the_next_run() {
        let records = [
            json!({"type": "call", "call": "open", "decision": "allow", "pid": 4242,
                   "paths": ["/proc/4242/status"], "args": {"flags": ["O_RDONLY"]}}),
            json!({"type": "call", "call": "open", "decision": "allow", "pid": 4242,
                   "paths": ["/tmp/hsperfdata_u/4242"], "args": {"flags": ["O_RDWR", "O_CREAT"]}}),
            // Another process's entries and a file merely containing digits stay as they are.
            json!({"type": "call", "call": "open", "decision": "allow", "pid": 4242,
                   "paths": ["/proc/1/status", "/srv/4242.log"], "args": {"flags": ["O_RDONLY"]}}),
        ];
        let needs = Needs::from_records(&records);
        let paths: Vec<&Path> = needs.paths.keys().map(PathBuf::as_path).collect();
        assert_eq!(
            paths,
            [
                Path::new("/proc/1/status"),
                Path::new("/proc/self/status"),
                Path::new("/srv/4242.log"),
                Path::new("/tmp/hsperfdata_u"),
            ]
        );
        assert!(needs.paths[Path::new("/tmp/hsperfdata_u")]
            .access
            .contains(Access::CREATE));
    }
}
