//! The JSON-lines serializer of the writer thread. Every record goes through
//! [`super::event`]'s one serializer, except the hot kind: a call the shim reported
//! ([`ReportedCallRecord`], thousands per second at `--audit-level all`), whose line is
//! written here by hand into a reused buffer, with the date of the current second kept
//! formatted. The two give the same JSON object; a test compares them for every shape a
//! reported call can take, and falls back to the serde serializer for a path or rule that
//! is not UTF-8.

use std::collections::HashMap;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use arbiter_protocol::ring::ReportedCall;

use super::event::{write_json_line, Event, ReportedCallRecord};
use super::flags;
use super::record::AUDIT_VERSION;
use crate::core::errno::Errno;

/// Writes records as JSON lines, reusing its buffers between records.
#[derive(Default)]
pub struct JsonLines {
    /// The line being built.
    line: Vec<u8>,
    /// The last second formatted (`YYYY-MM-DDTHH:MM:SS`), and which second it is.
    second: Option<(u64, [u8; 19])>,
    /// The last sandbox id formatted (16 hex digits), and which it is.
    sandbox: Option<(u64, [u8; 16])>,
    /// The `args` fields after the path (`,"flags":[…]`, and `"mode"` for access), by call
    /// and flags: the flags a fast path answers are few, so this stays small (and is
    /// cleared should it not).
    flags: HashMap<(u8, i32), Vec<u8>>,
}

/// Entries of [`JsonLines::flags`] before it is cleared.
const FLAGS_CACHED: usize = 64;

impl JsonLines {
    /// Writes `event` of `sandbox` at `time` as one line to `out`.
    pub fn write(
        &mut self,
        out: &mut impl Write,
        event: &Event,
        sandbox: u64,
        time: SystemTime,
    ) -> std::io::Result<()> {
        if let Event::Call(rec) = event {
            if self.reported_call(rec, sandbox, time) {
                return out.write_all(&self.line);
            }
        }
        write_json_line(out, event, sandbox, time)
    }

    /// Builds the line of a reported call in `self.line`; false (nothing built) when the
    /// record needs the general serializer (a path that is not UTF-8, a time before 1970).
    fn reported_call(&mut self, r: &ReportedCallRecord, sandbox: u64, time: SystemTime) -> bool {
        let Ok(since) = time.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let Ok(path) = std::str::from_utf8(r.path()) else {
            return false;
        };
        let secs = since.as_secs();
        let date = match self.second {
            Some((s, d)) if s == secs => d,
            _ => {
                let mut d = [0u8; 19];
                let whole = UNIX_EPOCH + std::time::Duration::from_secs(secs);
                let text = humantime::format_rfc3339_seconds(whole).to_string();
                if text.len() != 20 {
                    return false; // a year past 9999: not the hot path's business
                }
                d.copy_from_slice(&text.as_bytes()[..19]);
                self.second = Some((secs, d));
                d
            }
        };
        let hex = match self.sandbox {
            Some((s, h)) if s == sandbox => h,
            _ => {
                let mut h = [0u8; 16];
                for (i, b) in h.iter_mut().enumerate() {
                    *b = b"0123456789abcdef"[((sandbox >> (60 - 4 * i)) & 0xf) as usize];
                }
                self.sandbox = Some((sandbox, h));
                h
            }
        };
        if self.flags.len() >= FLAGS_CACHED {
            self.flags.clear();
        }
        let args = self
            .flags
            .entry((r.call as u8, r.flags))
            .or_insert_with(|| args_after_path(r.call, r.flags));
        let l = &mut self.line;
        l.clear();
        l.extend_from_slice(b"{\"v\":");
        int(l, i64::from(AUDIT_VERSION));
        l.extend_from_slice(b",\"time\":\"");
        l.extend_from_slice(&date);
        l.push(b'.');
        let micros = since.subsec_micros();
        for shift in [100_000, 10_000, 1_000, 100, 10, 1] {
            l.push(b'0' + (micros / shift % 10) as u8);
        }
        l.extend_from_slice(b"Z\",\"sandbox\":\"");
        l.extend_from_slice(&hex);
        l.extend_from_slice(b"\",\"type\":\"call\",\"reported\":true,\"");
        l.extend_from_slice(r.pid_key().as_bytes());
        l.extend_from_slice(b"\":");
        int(l, i64::from(r.pid));
        l.extend_from_slice(b",\"transport\":\"shim\",\"call\":");
        string(l, r.call.name());
        l.extend_from_slice(b",\"args\":{\"path\":");
        string(l, path);
        l.extend_from_slice(args);
        l.extend_from_slice(b"},\"decision\":\"allow\"");
        if let Some(rule) = &r.rule {
            l.extend_from_slice(b",\"rule\":");
            string(l, rule);
        }
        if r.unchecked() {
            l.extend_from_slice(b",\"unchecked\":true");
        }
        match r.result {
            Ok(v) => {
                l.extend_from_slice(b",\"result\":{\"value\":");
                int(l, i64::from(v));
                l.extend_from_slice(b"}}");
            }
            Err(e) => {
                l.extend_from_slice(b",\"result\":{\"errno\":");
                match crate::core::errno::errno_name(e) {
                    Some(name) => string(l, name),
                    None => string(l, &Errno(e).name()),
                }
                l.extend_from_slice(b"}}");
            }
        }
        l.push(b'\n');
        true
    }
}

/// The `args` fields of a reported call after its path.
fn args_after_path(call: ReportedCall, at_or_open: i32) -> Vec<u8> {
    let mut l = Vec::new();
    match call {
        ReportedCall::Open => {
            l.extend_from_slice(b",\"flags\":");
            names(&mut l, &flags::open_flags(at_or_open));
        }
        ReportedCall::Stat => {
            l.extend_from_slice(b",\"flags\":");
            names(&mut l, &flags::at_flags(at_or_open, false));
        }
        ReportedCall::Access => {
            l.extend_from_slice(b",\"mode\":");
            names(&mut l, &flags::access_mode(libc::F_OK));
            l.extend_from_slice(b",\"flags\":");
            names(&mut l, &flags::at_flags(at_or_open, true));
        }
    }
    l
}

/// A decimal integer.
fn int(l: &mut Vec<u8>, v: i64) {
    if v < 0 {
        l.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    l.extend_from_slice(&digits[i..]);
}

/// A JSON array of names (flag and mode names: plain ASCII words, escaped all the same).
fn names(l: &mut Vec<u8>, names: &[&str]) {
    l.push(b'[');
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            l.push(b',');
        }
        string(l, n);
    }
    l.push(b']');
}

/// A JSON string: `"`, `\` and control characters escaped, everything else as it is.
fn string(l: &mut Vec<u8>, s: &str) {
    l.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0..=0x1f => 0,
            _ => continue,
        };
        l.extend_from_slice(&bytes[start..i]);
        if short == 0 {
            let _ = write!(l, "\\u{:04x}", b);
        } else {
            l.extend_from_slice(&[b'\\', short]);
        }
        start = i + 1;
    }
    l.extend_from_slice(&bytes[start..]);
    l.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    use arbiter_protocol::ring::Report;
    use serde_json::Value;

    fn line_of(lines: &mut JsonLines, ev: &Event, sandbox: u64, t: SystemTime) -> Value {
        let mut out = Vec::new();
        lines.write(&mut out, ev, sandbox, t).expect("write");
        assert_eq!(out.last(), Some(&b'\n'), "one line");
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        serde_json::from_slice(&out).expect("valid JSON")
    }

    /// Every shape of a reported call: the hand-written line is the general serializer's
    /// object, field for field.
    #[test]
    fn reported_calls_are_written_as_the_general_serializer_writes_them() {
        let paths: &[&[u8]] = &[
            b"/etc/ld.so.cache",
            b"relative/name.txt",
            b"/tmp/quote\"back\\slash",
            b"/tmp/ctl\x01\x1f\n\r\t\x08\x0c\x7f",
            "/tmp/unicode-\u{e9}\u{2028}\u{1f600}".as_bytes(),
            b"/tmp/not-utf8-\xff\xfe",
        ];
        let rules = [
            None,
            Some(Arc::<str>::from("builtin:runtime:56:1")),
            Some(Arc::<str>::from("/etc/arbiter/\"odd\"\\rule.toml:3:1")),
        ];
        let calls = [
            (ReportedCall::Open, libc::O_RDONLY | libc::O_CLOEXEC, Ok(3)),
            (
                ReportedCall::Open,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                Err(libc::ENOENT),
            ),
            (ReportedCall::Stat, 0, Ok(0)),
            (ReportedCall::Open, libc::O_RDONLY, Ok(i32::MAX)),
            (ReportedCall::Open, libc::O_RDONLY, Ok(-7)), // not a result the ring lets through
            (ReportedCall::Open, libc::O_RDONLY, Err(i32::MIN)),
            (
                ReportedCall::Stat,
                libc::AT_SYMLINK_NOFOLLOW,
                Err(libc::ENOTDIR),
            ),
            (ReportedCall::Access, libc::AT_EACCESS, Ok(0)),
            (ReportedCall::Access, 0, Err(4095)), // no name: E4095
        ];
        let times = [
            UNIX_EPOCH + Duration::from_nanos(1_764_500_000_000_000_000),
            UNIX_EPOCH + Duration::from_nanos(1_764_500_000_000_999_999),
            UNIX_EPOCH + Duration::from_nanos(1_764_500_001_123_456_789),
            UNIX_EPOCH + Duration::from_secs(951_782_400), // 2000-02-29
        ];
        let mut lines = JsonLines::default();
        let mut n = 0;
        for path in paths {
            for rule in &rules {
                for &(call, flags, result) in &calls {
                    for &time in &times {
                        for sandbox in [0u64, 0xab, u64::MAX] {
                            let report = Report {
                                time_ns: time.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64,
                                pid: [1, 4242, i32::MAX][n % 3],
                                call,
                                flags,
                                result,
                                path,
                            };
                            let mut rec = ReportedCallRecord::new(&report, rule.clone());
                            // An untranslated namespace pid is written as `ns_pid`.
                            rec.ns_pid = n % 2 == 1;
                            let ev = Event::Call(rec);
                            let got = line_of(&mut lines, &ev, sandbox, time);
                            let want = super::super::event::to_value(&ev, sandbox, time);
                            assert_eq!(got, want, "{report:?} rule {rule:?} sandbox {sandbox}");
                            let (key, other) = if n % 2 == 1 {
                                ("ns_pid", "pid")
                            } else {
                                ("pid", "ns_pid")
                            };
                            assert!(got.get(key).is_some() && got.get(other).is_none(), "{got}");
                            n += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(n, paths.len() * rules.len() * calls.len() * times.len() * 3);
    }

    #[test]
    fn other_records_take_the_general_serializer() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ev = Event::Exit(super::super::event::Exit {
            pid: 4,
            status: Some(0),
            dropped: None,
        });
        let mut lines = JsonLines::default();
        assert_eq!(
            line_of(&mut lines, &ev, 1, t),
            super::super::event::to_value(&ev, 1, t)
        );
    }
}
