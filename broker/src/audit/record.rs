//! Audit records and their JSON form (the schema lives in `docs/audit.md`).
//!
//! Every record is one JSON object on one line with an envelope: `type` (`"call"`,
//! `"start"`, `"exit"`, `"protocol_error"`, …), `v` (the schema version), `time` (RFC 3339,
//! UTC, microseconds) and `sandbox` (hex id). Readers must ignore fields they do not know.
//! Paths that are not UTF-8 are written as `{"bytes": "<base64>"}`.

use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime};

use arbiter_protocol::{Call, NetDbQuery, PathArg, SockAddr};
use base64::Engine;
use serde_json::{json, Value};

use crate::audit::flags;
use crate::core::errno::Errno;
use crate::core::{Caller, Done, Notes};

/// The audit schema version written in every record's `v`.
pub const AUDIT_VERSION: u32 = 1;

/// What the policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed by the policy.
    Allow,
    /// Denied by the policy.
    Deny,
}

/// A path as JSON: a string when UTF-8, else `{"bytes": base64}`.
pub fn path_json(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => json!({ "bytes": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

/// One attempted call, as the broker holds it: built on the calling thread with copies and
/// moves only (the call's arguments stay in their compact wire encoding), turned into JSON by
/// the audit writer thread ([`CallRecord::into_value`]), off the program's path.
pub struct CallRecord {
    time: SystemTime,
    caller: Caller,
    /// The call, postcard-encoded (it borrows the request buffer, which goes away).
    call: Vec<u8>,
    notes: Notes,
    /// The return value, or the errno.
    result: Result<i64, i32>,
    took: Duration,
    hint: Option<String>,
}

impl CallRecord {
    /// Adds the `hint` field: the `arbiter run` option that would allow a denied call.
    pub fn set_hint(&mut self, hint: String) {
        self.hint = Some(hint);
    }

    /// Builds the record of `call` made by `caller`, taking the call's notes.
    pub fn new(
        caller: &Caller,
        call: &Call<'_>,
        notes: Notes,
        result: &Result<Done, Errno>,
        took: Duration,
    ) -> CallRecord {
        CallRecord {
            time: SystemTime::now() - took,
            caller: caller.clone(),
            // A Call always encodes (postcard into a Vec cannot fail for these types).
            call: postcard::to_allocvec(call).unwrap_or_default(),
            notes,
            result: match result {
                Ok(done) => Ok(done.value),
                Err(e) => Err(e.0),
            },
            took,
            hint: None,
        }
    }

    /// The record's JSON object (without the envelope).
    fn body(&self) -> Value {
        let caller = &self.caller;
        let notes = &self.notes;
        let call: Option<Call<'_>> = postcard::from_bytes(&self.call).ok();
        let mut v = json!({
            "pid": caller.pid,
            "uid": caller.uid,
            "gid": caller.gid,
            "transport": caller.transport.name(),
            "call": call.as_ref().map_or("?", Call::name),
        });
        let o = v.as_object_mut().expect("json! object");
        if let Some(tid) = caller.tid {
            o.insert("tid".into(), json!(tid));
        }
        if let Some(exe) = &caller.exe {
            o.insert("exe".into(), path_json(exe.as_os_str().as_bytes()));
        }
        let mut args = serde_json::Map::new();
        if let Some(call) = &call {
            describe_args(call, &mut args);
        }
        o.insert("args".into(), Value::Object(args));
        if let Some(ep) = &notes.endpoint {
            o.insert("endpoint".into(), Value::String(ep.clone()));
        }
        if !notes.addresses.is_empty() {
            o.insert("addresses".into(), json!(notes.addresses));
        }
        if !notes.paths.is_empty() {
            o.insert(
                "paths".into(),
                Value::Array(
                    notes
                        .paths
                        .iter()
                        .map(|p| path_json(p.as_os_str().as_bytes()))
                        .collect(),
                ),
            );
        }
        o.insert(
            "decision".into(),
            Value::String(
                match notes.verdict {
                    Some(Verdict::Allow) => "allow",
                    Some(Verdict::Deny) => "deny",
                    None => "none",
                }
                .into(),
            ),
        );
        if let Some(rule) = &notes.rule {
            o.insert("rule".into(), Value::String(rule.clone()));
        }
        if let Some(by) = notes.decided_by {
            o.insert("decided_by".into(), Value::String(by.into()));
        }
        if let Some(hint) = &self.hint {
            o.insert("hint".into(), Value::String(hint.clone()));
        }
        o.insert(
            "result".into(),
            match self.result {
                Ok(value) => json!({ "value": value }),
                Err(e) => json!({ "errno": Errno(e).name() }),
            },
        );
        o.insert("duration_us".into(), json!(self.took.as_micros() as u64));
        v
    }

    /// The record for sandbox `sandbox`, envelope first (run on the writer thread).
    pub fn into_value(self, sandbox: u64) -> Value {
        let mut head = serde_json::Map::new();
        head.insert("type".into(), json!("call"));
        head.insert("v".into(), json!(AUDIT_VERSION));
        head.insert(
            "time".into(),
            json!(humantime::format_rfc3339_micros(self.time).to_string()),
        );
        head.insert("sandbox".into(), json!(format!("{sandbox:016x}")));
        if let Value::Object(mut body) = self.body() {
            head.append(&mut body);
        }
        Value::Object(head)
    }
}

fn path_arg(p: &PathArg<'_>) -> Value {
    path_json(p.path)
}

/// The `args` object of `call`'s audit record (what an external decider is sent as the
/// request's `args`: one vocabulary for both).
pub fn args_json(call: &Call<'_>) -> Value {
    let mut args = serde_json::Map::new();
    describe_args(call, &mut args);
    Value::Object(args)
}

fn describe_args(call: &Call<'_>, a: &mut serde_json::Map<String, Value>) {
    match call {
        Call::Open {
            path, flags, mode, ..
        } => {
            a.insert("path".into(), path_arg(path));
            a.insert("flags".into(), json!(flags::open_flags(*flags)));
            if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
                a.insert("mode".into(), json!(format!("{mode:04o}")));
            }
        }
        Call::Stat { path, flags } | Call::Unlink { path, flags } => {
            a.insert("path".into(), path_arg(path));
            a.insert("flags".into(), json!(flags::at_flags(*flags, false)));
        }
        Call::Access { path, mode, flags } => {
            a.insert("path".into(), path_arg(path));
            a.insert("mode".into(), json!(flags::access_mode(*mode)));
            a.insert("flags".into(), json!(flags::at_flags(*flags, true)));
        }
        Call::Mkdir { path, mode, .. }
        | Call::Mknod { path, mode, .. }
        | Call::Chmod { path, mode, .. } => {
            a.insert("path".into(), path_arg(path));
            a.insert("mode".into(), json!(format!("{mode:04o}")));
        }
        Call::Rename { from, to, .. } | Call::Link { from, to, .. } => {
            a.insert("from".into(), path_arg(from));
            a.insert("to".into(), path_arg(to));
        }
        Call::Symlink { target, path } => {
            a.insert("target".into(), path_json(target));
            a.insert("path".into(), path_arg(path));
        }
        Call::Readlink { path } | Call::Utimens { path, .. } => {
            a.insert("path".into(), path_arg(path));
        }
        Call::Truncate { path, length } => {
            a.insert("path".into(), path_arg(path));
            a.insert("length".into(), json!(length));
        }
        Call::Chown { path, uid, gid, .. } => {
            a.insert("path".into(), path_arg(path));
            a.insert("uid".into(), json!(uid));
            a.insert("gid".into(), json!(gid));
        }
        Call::Connect { addr } | Call::Bind { addr, .. } => {
            a.insert("addr".into(), sockaddr_json(addr));
        }
        Call::Listen { backlog } => {
            a.insert("backlog".into(), json!(backlog));
        }
        Call::Send {
            addr, data, flags, ..
        } => {
            a.insert(
                "addr".into(),
                addr.as_ref().map_or(Value::Null, sockaddr_json),
            );
            a.insert("len".into(), json!(data.len()));
            a.insert("flags".into(), json!(flags));
        }
        Call::GetNameInfo { addr, flags } => {
            a.insert("addr".into(), sockaddr_json(addr));
            a.insert("flags".into(), json!(flags));
        }
        Call::GetAddrInfo { node, service, .. } => {
            a.insert("node".into(), node.map_or(Value::Null, path_json));
            a.insert("service".into(), service.map_or(Value::Null, path_json));
        }
        Call::NetDb(q) => match *q {
            NetDbQuery::ServByName { name, proto } => {
                a.insert("name".into(), path_json(name));
                a.insert("proto".into(), proto.map_or(Value::Null, path_json));
            }
            NetDbQuery::ServByPort { port, proto } => {
                // Host byte order; an argument no port has, as passed.
                a.insert(
                    "port".into(),
                    json!(NetDbQuery::port(port).map_or(port, i32::from)),
                );
                a.insert("proto".into(), proto.map_or(Value::Null, path_json));
            }
            NetDbQuery::ProtoByName { name } => {
                a.insert("name".into(), path_json(name));
            }
            NetDbQuery::ProtoByNumber { number } => {
                a.insert("number".into(), json!(number));
            }
        },
        Call::FastPaths => {}
    }
}

fn sockaddr_json(addr: &SockAddr<'_>) -> Value {
    match addr {
        SockAddr::Unix(p) => json!({ "unix": path_arg(p) }),
        SockAddr::Abstract(n) => json!({ "abstract": path_json(n) }),
        SockAddr::UnixUnnamed => json!({ "unix": null }),
        SockAddr::Inet { addr, port } => {
            json!({ "ip": std::net::Ipv4Addr::from(*addr).to_string(), "port": port })
        }
        SockAddr::Inet6 { addr, port, .. } => {
            json!({ "ip": std::net::Ipv6Addr::from(*addr).to_string(), "port": port })
        }
        SockAddr::Unspec => json!({ "unspec": true }),
    }
}
