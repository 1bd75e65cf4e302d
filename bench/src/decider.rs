//! `arbiter-bench decider`: the external decider the `decider_*` rows measure with. It
//! speaks arbiter's JSON-lines protocol (docs/master.md) and allows every request, so a row
//! times arbiter's side of the protocol (the request line, the writer and reader threads,
//! the wake-ups) plus one fast decider, not a slow script.

use std::io::{BufRead, Write};

use anyhow::Result;

/// Answers every request on stdin with an allow on stdout, until the end of stdin.
pub fn serve() -> Result<()> {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let line = line?;
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if msg["type"] != "request" {
            continue;
        }
        let Some(id) = msg["id"].as_u64() else {
            continue;
        };
        writeln!(stdout, "{{\"id\":{id},\"decision\":\"allow\"}}")?;
        stdout.flush()?;
    }
    Ok(())
}
