//! The external decider's JSON-lines protocol, version 1 (specified in docs/master.md,
//! "An external decider"): what arbiter writes (a hello line, then one request per check)
//! and how an answer line is read, checked once here into a typed [`Reply`].

use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use arbiter_policies::{Access, RIGHTS};
use serde_json::{json, Map, Value};

use crate::audit::event::DeciderSubject;
use crate::audit::record::path_json;
use crate::core::decider::{Question, Subject};
use crate::core::errno::{errno_name, Errno};

/// The protocol version written in the hello line's `v`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest answer line read (bytes, without the newline); a longer one is garbage.
pub const MAX_LINE: usize = 64 * 1024;

/// What applies when the decider does not answer in time or answers nonsense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DefaultAnswer {
    /// The check is allowed.
    Allow,
    /// The check is refused as the policy's default would refuse it.
    Deny,
}

impl DefaultAnswer {
    /// The word used in the hello line and audit records.
    pub fn word(self) -> &'static str {
        match self {
            DefaultAnswer::Allow => "allow",
            DefaultAnswer::Deny => "deny",
        }
    }
}

/// The first line arbiter writes.
pub fn hello(timeout: Duration, default: DefaultAnswer) -> String {
    let v = json!({
        "v": PROTOCOL_VERSION,
        "type": "hello",
        "arbiter": env!("CARGO_PKG_VERSION"),
        "timeout_ms": u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        "default": default.word(),
    });
    let mut line = v.to_string();
    line.push('\n');
    line
}

/// The access words of `a` (`["read", "write"]`), as policies name rights.
pub fn access_words(a: Access) -> Vec<&'static str> {
    RIGHTS
        .iter()
        .filter(|(bit, _)| a.contains(*bit))
        .map(|(_, w)| *w)
        .collect()
}

/// The `subject` object of a request: `{"path", "access"}`, `{"endpoint"}` or `{"name"}`.
pub fn subject_json(subject: &Subject<'_>) -> Value {
    match subject {
        Subject::Path { path, access } => json!({
            "path": path_json(path.as_os_str().as_bytes()),
            "access": access_words(*access),
        }),
        Subject::Endpoint(ep) => json!({ "endpoint": ep }),
        Subject::Name(name) => json!({ "name": name }),
    }
}

/// The `subject` of a `decider_error` audit record: the request's, typed.
pub fn subject_record(subject: &Subject<'_>) -> DeciderSubject {
    match subject {
        Subject::Path { path, access } => DeciderSubject::Path {
            path: path_json(path.as_os_str().as_bytes()),
            access: access_words(*access),
        },
        Subject::Endpoint(ep) => DeciderSubject::Endpoint {
            endpoint: (*ep).to_string(),
        },
        Subject::Name(name) => DeciderSubject::Name {
            name: (*name).to_string(),
        },
    }
}

/// The caller's executable: as the transport recorded it, else `/proc/PID/exe` (the caller
/// waits for the answer, so its pid is still its own).
pub fn exe_of(caller: &crate::core::Caller) -> Option<std::path::PathBuf> {
    match &caller.exe {
        Some(exe) => Some(exe.to_path_buf()),
        None => std::fs::read_link(format!("/proc/{}/exe", caller.pid)).ok(),
    }
}

/// One request line (with its newline) for the check `q`, numbered `id`.
pub fn request(id: u64, q: &Question<'_>) -> String {
    let caller = q.caller;
    let mut o = Map::new();
    o.insert("v".into(), json!(PROTOCOL_VERSION));
    o.insert("type".into(), json!("request"));
    o.insert("id".into(), json!(id));
    o.insert("call".into(), json!(q.call));
    o.insert(
        "args".into(),
        q.args.cloned().unwrap_or_else(|| Value::Object(Map::new())),
    );
    o.insert("subject".into(), subject_json(&q.subject));
    match q.subject {
        Subject::Path { path, .. } => {
            o.insert(
                "paths".into(),
                json!([path_json(path.as_os_str().as_bytes())]),
            );
        }
        Subject::Endpoint(ep) => {
            o.insert("endpoint".into(), json!(ep));
        }
        Subject::Name(name) => {
            o.insert("endpoint".into(), json!(format!("name:{name}")));
        }
    }
    o.insert("pid".into(), json!(caller.pid));
    if let Some(tid) = caller.tid {
        o.insert("tid".into(), json!(tid));
    }
    o.insert("uid".into(), json!(caller.uid));
    o.insert("gid".into(), json!(caller.gid));
    if let Some(exe) = exe_of(caller) {
        o.insert("exe".into(), path_json(exe.as_os_str().as_bytes()));
    }
    o.insert("transport".into(), json!(caller.transport.name()));
    o.insert(
        "policy_default".into(),
        match q.default_errno {
            Some(e) => json!({ "decision": "deny", "errno": Errno(e).name() }),
            None => json!({ "decision": "allow" }),
        },
    );
    let mut line = Value::Object(o).to_string();
    line.push('\n');
    line
}

/// A decider's answer to one request, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// `"allow"`.
    Allow,
    /// `"deny"`, with the errno (EACCES unless named).
    Deny(i32),
}

/// One line read from the decider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A well-formed answer to request `id`.
    Answer {
        /// The request answered.
        id: u64,
        /// The answer.
        decision: Decision,
    },
    /// A line naming request `id` whose answer is malformed (an unknown `decision`, an
    /// errno name arbiter does not know): that request gets the default answer.
    Bad {
        /// The request it names.
        id: u64,
        /// What is wrong.
        error: String,
    },
    /// A line that names no request: not JSON, not an object, no numeric `id`.
    Garbage(String),
}

/// The errno numbered by `name` (`"EACCES"`), among those the audit log names.
pub fn errno_by_name(name: &str) -> Option<i32> {
    (1..4096).find(|&e| errno_name(e) == Some(name))
}

/// Reads one answer line (without its newline).
pub fn parse(line: &[u8]) -> Reply {
    let v: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return Reply::Garbage(format!("not JSON: {e}")),
    };
    let Some(o) = v.as_object() else {
        return Reply::Garbage("not a JSON object".into());
    };
    let Some(id) = o.get("id").and_then(Value::as_u64) else {
        return Reply::Garbage("no numeric \"id\"".into());
    };
    let bad = |error: String| Reply::Bad { id, error };
    match o.get("decision").and_then(Value::as_str) {
        Some("allow") => Reply::Answer {
            id,
            decision: Decision::Allow,
        },
        Some("deny") => match o.get("errno") {
            None | Some(Value::Null) => Reply::Answer {
                id,
                decision: Decision::Deny(libc::EACCES),
            },
            Some(Value::String(name)) => match errno_by_name(name) {
                Some(e) => Reply::Answer {
                    id,
                    decision: Decision::Deny(e),
                },
                None => bad(format!("unknown errno name {name:?}")),
            },
            Some(other) => bad(format!("\"errno\" is not a name: {other}")),
        },
        Some(other) => bad(format!(
            "unknown decision {other:?} (expected \"allow\" or \"deny\")"
        )),
        None => bad("no \"decision\" string".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Caller, Transport};
    use std::path::Path;

    #[test]
    fn answers_are_read_once_into_types() {
        assert_eq!(
            parse(br#"{"id":3,"decision":"allow","extra":1}"#),
            Reply::Answer {
                id: 3,
                decision: Decision::Allow
            }
        );
        assert_eq!(
            parse(br#"{"id":4,"decision":"deny"}"#),
            Reply::Answer {
                id: 4,
                decision: Decision::Deny(libc::EACCES)
            }
        );
        assert_eq!(
            parse(br#"{"decision":"deny","id":5,"errno":"ENOENT"}"#),
            Reply::Answer {
                id: 5,
                decision: Decision::Deny(libc::ENOENT)
            }
        );
        assert!(matches!(
            parse(br#"{"id":6,"decision":"deny","errno":"EWHAT"}"#),
            Reply::Bad { id: 6, .. }
        ));
        assert!(matches!(
            parse(br#"{"id":6,"decision":"deny","errno":13}"#),
            Reply::Bad { id: 6, .. }
        ));
        assert!(matches!(
            parse(br#"{"id":7,"decision":"maybe"}"#),
            Reply::Bad { id: 7, .. }
        ));
        assert!(matches!(
            parse(br#"{"id":"7","decision":"allow"}"#),
            Reply::Garbage(_)
        ));
        assert!(matches!(
            parse(br#"{"id":-1,"decision":"allow"}"#),
            Reply::Garbage(_)
        ));
        assert!(matches!(parse(b"[1]"), Reply::Garbage(_)));
        assert!(matches!(parse(b"allow"), Reply::Garbage(_)));
        assert!(matches!(parse(b"\xff\xfe"), Reply::Garbage(_)));
    }

    #[test]
    fn a_request_names_the_call_as_the_audit_log_does() {
        let caller = Caller {
            pid: 42,
            tid: None,
            exe: Some(Path::new("/usr/bin/cat").into()),
            uid: 1000,
            gid: 1000,
            transport: Transport::Shim,
        };
        let args = json!({"path": "/srv/x", "flags": ["O_RDONLY"]});
        let q = Question {
            caller: &caller,
            call: "open",
            subject: Subject::Path {
                path: Path::new("/srv/x"),
                access: Access::READ,
            },
            default_errno: Some(libc::EACCES),
            args: Some(&args),
        };
        let line = request(9, &q);
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["type"], "request");
        assert_eq!(v["id"], 9);
        assert_eq!(v["call"], "open");
        assert_eq!(v["args"], args);
        assert_eq!(v["subject"], json!({"path": "/srv/x", "access": ["read"]}));
        assert_eq!(v["paths"], json!(["/srv/x"]));
        assert_eq!(v["pid"], 42);
        assert_eq!(v["exe"], "/usr/bin/cat");
        assert_eq!(
            v["policy_default"],
            json!({"decision": "deny", "errno": "EACCES"})
        );
        let h: Value =
            serde_json::from_str(&hello(Duration::from_secs(10), DefaultAnswer::Deny)).unwrap();
        assert_eq!(
            (
                h["v"].as_u64(),
                h["type"].as_str(),
                h["timeout_ms"].as_u64()
            ),
            (Some(1), Some("hello"), Some(10_000))
        );
    }
}
