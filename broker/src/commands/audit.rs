//! `arbiter audit summary FILE`: what a logged run tried, per call family — allowed and
//! denied counts, the most frequent denied paths and endpoints, and the rules that fired.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::Value;

/// `arbiter audit` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Summarise an audit log.
    Summary {
        /// The audit log (JSON lines, as written by `--audit FILE`), or `-` for stdin.
        file: PathBuf,
        /// How many denied targets to list.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// One JSON object instead of text: `{"families": {CALL: {"allowed", "denied",
        /// "undecided"}}, "most_denied": [{"target", "count"}], "rules": [{"rule", "allowed",
        /// "denied"}], "protocol_errors", "unreadable_lines"}`.
        #[arg(long)]
        json: bool,
    },
}

/// Counts of one call family.
#[derive(Default)]
struct Family {
    allowed: u64,
    denied: u64,
    other: u64,
}

/// The summary of a log.
#[derive(Default)]
pub struct Summary {
    families: BTreeMap<String, Family>,
    denied_targets: BTreeMap<String, u64>,
    rules: BTreeMap<String, (u64, u64)>,
    protocol_errors: u64,
    unreadable_lines: u64,
}

impl Summary {
    /// Adds one record.
    pub fn add(&mut self, rec: &Value) {
        match rec["type"].as_str() {
            Some("call") => {}
            Some("protocol_error") => {
                self.protocol_errors += 1;
                return;
            }
            _ => return,
        }
        let call = rec["call"].as_str().unwrap_or("?").to_owned();
        let f = self.families.entry(call).or_default();
        let denied = rec["decision"] == "deny";
        match rec["decision"].as_str() {
            Some("allow") => f.allowed += 1,
            Some("deny") => f.denied += 1,
            _ => f.other += 1,
        }
        if denied {
            let target = rec["endpoint"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| rec["paths"][0].as_str().map(str::to_owned))
                .or_else(|| rec["args"]["path"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "?".into());
            *self.denied_targets.entry(target).or_default() += 1;
        }
        if !matches!(rec["decision"].as_str(), Some("allow" | "deny")) {
            // Undecided (the call failed before any decision): no rule fired.
            return;
        }
        let rule = rec["rule"]
            .as_str()
            .unwrap_or("(family default)")
            .to_owned();
        let r = self.rules.entry(rule).or_default();
        if denied {
            r.1 += 1;
        } else {
            r.0 += 1;
        }
    }

    /// The summary as one JSON object (the `--json` form).
    pub fn to_json(&self, top: usize) -> Value {
        let families: serde_json::Map<String, Value> = self
            .families
            .iter()
            .map(|(name, f)| {
                (
                    name.clone(),
                    serde_json::json!({ "allowed": f.allowed, "denied": f.denied, "undecided": f.other }),
                )
            })
            .collect();
        let mut denied: Vec<_> = self.denied_targets.iter().collect();
        denied.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        serde_json::json!({
            "families": families,
            "most_denied": denied.into_iter().take(top).map(|(t, n)| serde_json::json!({"target": t, "count": n})).collect::<Vec<_>>(),
            "rules": self.rules.iter().map(|(r, (a, d))| serde_json::json!({"rule": r, "allowed": a, "denied": d})).collect::<Vec<_>>(),
            "protocol_errors": self.protocol_errors,
            "unreadable_lines": self.unreadable_lines,
        })
    }

    /// The summary as text.
    pub fn render(&self, top: usize) -> String {
        let mut out = String::from("calls by family:\n");
        out.push_str(&format!(
            "  {:<14} {:>9} {:>9} {:>9}\n",
            "call", "allowed", "denied", "undecided"
        ));
        for (name, f) in &self.families {
            out.push_str(&format!(
                "  {:<14} {:>9} {:>9} {:>9}\n",
                name, f.allowed, f.denied, f.other
            ));
        }
        let mut denied: Vec<_> = self.denied_targets.iter().collect();
        denied.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        out.push_str("\nmost denied:\n");
        if denied.is_empty() {
            out.push_str("  (nothing was denied)\n");
        }
        for (target, n) in denied.into_iter().take(top) {
            out.push_str(&format!("  {n:>6}  {target}\n"));
        }
        out.push_str("\nrules that fired (allowed / denied):\n");
        for (rule, (a, d)) in &self.rules {
            out.push_str(&format!("  {a:>6} / {d:<6} {rule}\n"));
        }
        if self.protocol_errors > 0 {
            out.push_str(&format!("\nprotocol errors: {}\n", self.protocol_errors));
        }
        if self.unreadable_lines > 0 {
            out.push_str(&format!(
                "\nlines that are not audit records: {}\n",
                self.unreadable_lines
            ));
        }
        out
    }
}

/// Runs an `arbiter audit` subcommand.
pub fn run(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Summary { file, top, json } => {
            let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                let f = std::fs::File::open(&file)
                    .with_context(|| format!("cannot open {}", file.display()))?;
                Box::new(std::io::BufReader::new(f))
            };
            let mut summary = Summary::default();
            let mut records = 0u64;
            for line in reader.lines() {
                let line = line.with_context(|| format!("cannot read {}", file.display()))?;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(&line) {
                    Ok(rec) if rec.is_object() => {
                        records += 1;
                        summary.add(&rec)
                    }
                    _ => summary.unreadable_lines += 1,
                }
            }
            if records == 0 && summary.unreadable_lines > 0 {
                anyhow::bail!(
                    "{} holds no JSON audit records ({} lines of something else): `audit summary` reads the JSON-lines format (`--audit-format json`, the default), not the text format",
                    file.display(),
                    summary.unreadable_lines
                );
            }
            if json {
                println!("{}", summary.to_json(top));
            } else {
                print!("{}", summary.render(top));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_families_denials_and_rules() {
        let mut s = Summary::default();
        for line in [
            r#"{"type":"call","call":"open","decision":"deny","paths":["/etc/shadow"],"rule":"builtin:default:40:1"}"#,
            r#"{"type":"call","call":"open","decision":"deny","paths":["/etc/shadow"],"rule":"builtin:default:40:1"}"#,
            r#"{"type":"call","call":"open","decision":"allow","paths":["/etc/hostname"],"rule":"builtin:runtime:3:1"}"#,
            r#"{"type":"call","call":"connect","decision":"deny","endpoint":"tcp:127.0.0.1:80"}"#,
            r#"{"type":"start"}"#,
        ] {
            s.add(&serde_json::from_str(line).unwrap());
        }
        let text = s.render(5);
        assert!(
            text.contains("open                   1         2"),
            "{text}"
        );
        assert!(text.contains("     2  /etc/shadow"), "{text}");
        assert!(text.contains("tcp:127.0.0.1:80"), "{text}");
        assert!(text.contains("(family default)"), "{text}");
    }
}
