//! Human-readable audit lines (`--audit-format text`) and syslog framing.
//!
//! A call reads as
//! `20:41:07.123456 pid 4242 cat open /etc/shadow [O_RDONLY] → deny (builtin:default:19:1) EACCES`:
//! the UTC time of day, the pid (and `/tid` when the kernel told it), the executable's
//! name, the call, its main argument, its flags or mode, the decision, the rule when one
//! decided, and the errno or `= value`; a call the shim reported (not the broker) ends in
//! `(reported)`. Other records read as the time, the type and their fields as `key=value`.
//! The text form is for people; tools read the JSON form.

use serde_json::Value;

/// The time of day of a record's RFC 3339 `time` (`20:41:07.123456`).
fn time_of_day(rec: &Value) -> &str {
    let t = rec["time"].as_str().unwrap_or("");
    let t = t.split_once('T').map_or(t, |(_, rest)| rest);
    t.strip_suffix('Z').unwrap_or(t)
}

/// A JSON value as a short word: strings bare, `{"bytes": …}` paths as `bytes:…`.
fn word(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("bytes") => format!("bytes:{}", word(&o["bytes"])),
        Value::Object(o) if o.contains_key("ip") => {
            let ip = word(&o["ip"]);
            if ip.contains(':') {
                format!("[{ip}]:{}", o["port"])
            } else {
                format!("{ip}:{}", o["port"])
            }
        }
        Value::Object(o) if o.contains_key("unix") => format!("unix:{}", word(&o["unix"])),
        Value::Object(o) if o.contains_key("abstract") => format!("unix:@{}", word(&o["abstract"])),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn call_line(rec: &Value) -> String {
    let mut s = match (rec.get("pid"), rec.get("ns_pid")) {
        // A reported call's pid the broker could not translate from the sandbox's pid
        // namespace: said so, never shown as a host pid.
        (None, Some(n)) => format!("{} ns_pid {n}", time_of_day(rec)),
        _ => format!("{} pid {}", time_of_day(rec), rec["pid"]),
    };
    if let Some(tid) = rec.get("tid") {
        s.push_str(&format!("/{tid}"));
    }
    let exe = rec["exe"].as_str().map_or_else(
        || "?".to_owned(),
        |e| super::process::short_name(std::path::Path::new(e)),
    );
    s.push_str(&format!(" {exe} {}", word(&rec["call"])));
    let args = &rec["args"];
    for key in ["path", "from", "to", "target", "addr", "node", "service"] {
        if let Some(v) = args.get(key) {
            s.push(' ');
            s.push_str(&word(v));
        }
    }
    let mut bits: Vec<String> = Vec::new();
    for key in ["flags", "mode"] {
        match args.get(key) {
            Some(Value::Array(a)) => bits.extend(a.iter().map(word)),
            Some(v) => bits.push(word(v)),
            None => {}
        }
    }
    if !bits.is_empty() {
        s.push_str(&format!(" [{}]", bits.join("|")));
    }
    if let Some(ep) = rec["endpoint"].as_str() {
        s.push_str(&format!(" ({ep})"));
    }
    s.push_str(&format!(" → {}", word(&rec["decision"])));
    if let Some(rule) = rec["rule"].as_str() {
        s.push_str(&format!(" ({rule})"));
    }
    match (rec["result"].get("errno"), rec["result"].get("value")) {
        (Some(e), _) => s.push_str(&format!(" {}", word(e))),
        (None, Some(v)) => s.push_str(&format!(" = {v}")),
        _ => {}
    }
    if rec["reported"] == true {
        s.push_str(" (reported)");
    }
    s
}

/// `s` with every control character (C0, DEL, C1, and the Unicode line and paragraph
/// separators, the bidirectional overrides) and the backslash written as an escape (`\n`, `\r`, `\t`, `\e`, `\\`,
/// `\xNN`, `\u{NNNN}`): whatever a field holds (a client's claimed cwd, a path, an
/// argument), one record stays one line and no terminal control sequence reaches a reader.
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// One human line for a record; control characters in any field are escaped
/// ([`escape_controls`]).
pub fn line(rec: &Value) -> String {
    escape_controls(&raw_line(rec))
}

fn raw_line(rec: &Value) -> String {
    let kind = rec["type"].as_str().unwrap_or("?");
    if kind == "call" {
        return call_line(rec);
    }
    let mut s = format!("{} {kind}", time_of_day(rec));
    if let Some(o) = rec.as_object() {
        for (k, v) in o {
            if matches!(k.as_str(), "type" | "v" | "time") {
                continue;
            }
            s.push_str(&format!(" {k}={}", word(v)));
        }
    }
    s
}

/// The syslog priority: facility `user`, `notice` for denials and protocol errors,
/// `info` otherwise.
/// The syslog priority of a record: facility `user`, `notice` for denials and protocol
/// errors, `info` otherwise.
pub fn priority(rec: &Value) -> u8 {
    const USER: u8 = 1 << 3;
    let notice = rec["decision"] == "deny" || rec["type"] == "protocol_error";
    USER | if notice { 5 } else { 6 }
}

/// An RFC 3164 message as `syslog(3)` sends it to `/dev/log`:
/// `<PRI>Mmm dd hh:mm:ss arbiter[PID]: MESSAGE`, the time local as that RFC wants.
pub fn syslog_message(rec: &Value, message: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: time with a null pointer only returns the time.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: tm is plain old data.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: now and tm are valid for the call; localtime_r is thread safe.
    unsafe { libc::localtime_r(&now, &mut tm) };
    format!(
        "<{}>{} {:2} {:02}:{:02}:{:02} arbiter[{}]: {message}",
        priority(rec),
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_denied_open_reads_as_one_line() {
        let rec = json!({
            "type": "call", "v": 1, "time": "2026-11-21T20:41:07.123456Z", "sandbox": "00",
            "pid": 4242, "exe": "/usr/bin/cat", "call": "open",
            "args": { "path": "/etc/shadow", "flags": ["O_RDONLY"] },
            "decision": "deny", "rule": "builtin:default:19:1",
            "result": { "errno": "EACCES" },
        });
        assert_eq!(
            line(&rec),
            "20:41:07.123456 pid 4242 cat open /etc/shadow [O_RDONLY] → deny (builtin:default:19:1) EACCES"
        );
    }

    #[test]
    fn an_untranslated_namespace_pid_reads_as_ns_pid() {
        let rec = json!({
            "type": "call", "v": 1, "time": "2026-11-21T20:41:07.123456Z", "sandbox": "00",
            "reported": true, "ns_pid": 3, "transport": "shim", "call": "stat",
            "args": { "path": "/usr/x" }, "decision": "allow", "result": { "errno": "ENOENT" },
        });
        assert!(
            line(&rec).starts_with("20:41:07.123456 ns_pid 3 ? stat /usr/x"),
            "{}",
            line(&rec)
        );
    }

    #[test]
    fn lifecycle_records_read_as_key_value() {
        let rec = json!({ "type": "exit", "v": 1, "time": "2026-11-21T20:41:07.5Z", "pid": 7, "status": 0 });
        assert_eq!(line(&rec), "20:41:07.5 exit pid=7 status=0");
    }

    #[test]
    fn syslog_messages_carry_a_priority_and_tag() {
        let rec = json!({ "type": "call", "decision": "deny" });
        let m = syslog_message(&rec, "x");
        assert!(m.starts_with("<13>"), "{m}");
        assert!(
            m.ends_with(&format!(" arbiter[{}]: x", std::process::id())),
            "{m}"
        );
    }
}
