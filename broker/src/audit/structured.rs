//! Records for a host's log pipeline: RFC 5424 syslog with structured data (to a collector
//! over UDP, RFC 5426) and the systemd journal's native protocol with indexed fields.
//!
//! Both carry the same fields, taken from the JSON record ([`fields`]): `type`, `sandbox`,
//! `decision`, `call`, `pid` (or `ns_pid`), `uid`, `transport`, `path` (the first decided path or the
//! argument), `endpoint`, `rule`, `errno`, `hint`. In syslog they are SD-PARAMs of the
//! SD-ELEMENT `arbiter@32473` (32473 is the private enterprise number RFC 5612 reserves for
//! documentation: arbiter has none of its own); in the journal they are `ARBITER_TYPE=`,
//! `ARBITER_DECISION=`, … (upper-case), which journald indexes (`journalctl
//! ARBITER_DECISION=deny`). The message itself is the JSON (or text) line.

use serde_json::Value;

use super::text;

/// The SD-ID of arbiter's structured data.
pub const SD_ID: &str = "arbiter@32473";

/// The fields both sinks carry, as (name, value) pairs, in a fixed order.
pub fn fields(rec: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut put = |name: &'static str, v: &Value| {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return,
        };
        out.push((name, s));
    };
    put("type", &rec["type"]);
    put("sandbox", &rec["sandbox"]);
    put("decision", &rec["decision"]);
    put("call", &rec["call"]);
    put("pid", &rec["pid"]);
    // A reported call's untranslated pid in the sandbox's namespace (docs/audit.md).
    put("ns_pid", &rec["ns_pid"]);
    put("uid", &rec["uid"]);
    put("transport", &rec["transport"]);
    let path = if rec["paths"][0].is_string() {
        &rec["paths"][0]
    } else {
        &rec["args"]["path"]
    };
    put("path", path);
    put("endpoint", &rec["endpoint"]);
    put("rule", &rec["rule"]);
    put("errno", &rec["result"]["errno"]);
    put("hint", &rec["hint"]);
    out
}

/// Escapes an SD-PARAM value (RFC 5424 §6.3.3: `"`, `\` and `]`).
fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The host name for the HOSTNAME field (`-` when unknown).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for buf.len() bytes; gethostname NUL-terminates within it.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
    match std::str::from_utf8(&buf[..len]) {
        Ok(h) if ok && !h.is_empty() && h.is_ascii() && !h.contains(' ') => h.to_owned(),
        _ => "-".into(),
    }
}

/// An RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME arbiter PROCID MSGID [arbiter@32473 …]
/// MSG`, MSGID the record's type, TIMESTAMP the record's own `time` (UTC).
pub fn rfc5424(rec: &Value, message: &str) -> String {
    let time = rec["time"].as_str().unwrap_or("-");
    let msgid = rec["type"].as_str().unwrap_or("-");
    let mut sd = format!("[{SD_ID}");
    for (name, value) in fields(rec) {
        sd.push_str(&format!(" {name}=\"{}\"", sd_escape(&value)));
    }
    sd.push(']');
    format!(
        "<{}>1 {time} {} arbiter {} {msgid} {sd} {message}",
        text::priority(rec),
        hostname(),
        std::process::id()
    )
}

/// A journal entry in the native protocol: `KEY=value` lines, or for a value holding a
/// newline `KEY\n<64-bit little-endian length>value\n`.
pub fn journal_entry(rec: &Value, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 256);
    let mut field = |key: &str, value: &str| {
        if value.contains('\n') {
            out.extend_from_slice(key.as_bytes());
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        } else {
            out.extend_from_slice(key.as_bytes());
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        }
    };
    field("MESSAGE", message);
    field("PRIORITY", &(text::priority(rec) & 7).to_string());
    field("SYSLOG_IDENTIFIER", "arbiter");
    field("SYSLOG_FACILITY", "1");
    for (name, value) in fields(rec) {
        field(&format!("ARBITER_{}", name.to_ascii_uppercase()), &value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn denied() -> Value {
        json!({
            "type": "call", "v": 1, "time": "2026-11-30T08:00:00.000001Z", "sandbox": "00ab",
            "pid": 42, "uid": 1000, "transport": "shim", "call": "open",
            "args": { "path": "/etc/sha\"dow]" }, "decision": "deny",
            "rule": "builtin:default:19:1", "result": { "errno": "EACCES" },
        })
    }

    #[test]
    fn rfc5424_has_structured_data_escaped() {
        let m = rfc5424(&denied(), "msg");
        assert!(m.starts_with("<13>1 2026-11-30T08:00:00.000001Z "), "{m}");
        assert!(m.contains(" arbiter "), "{m}");
        assert!(
            m.contains(" call [arbiter@32473 type=\"call\" sandbox=\"00ab\" decision=\"deny\""),
            "{m}"
        );
        assert!(m.contains("path=\"/etc/sha\\\"dow\\]\""), "{m}");
        assert!(m.ends_with("] msg"), "{m}");
    }

    #[test]
    fn journal_entries_carry_indexed_fields_and_binary_safe_values() {
        let e = journal_entry(&denied(), "two\nlines");
        let text = String::from_utf8_lossy(&e);
        assert!(text.contains("ARBITER_DECISION=deny\n"), "{text}");
        assert!(text.contains("ARBITER_SANDBOX=00ab\n"), "{text}");
        assert!(text.contains("PRIORITY=5\n"), "{text}");
        assert!(
            e.starts_with(b"MESSAGE\n\x09\0\0\0\0\0\0\0two\nlines\n"),
            "{text}"
        );
    }
}
