//! `arbiter check FILE…`: validate policy files.
//!
//! The files are loaded in order as one policy, exactly as `arbiter run --policy A --policy B`
//! would load them, and every diagnostic is printed (errors and warnings, one per line, as
//! `file:line:column: message (hint: …)`). Exit status: 0 when there is no error (warnings
//! allowed), 1 otherwise.

use arbiter_policies::{Policy, Source, Vars};
use std::process::ExitCode;

/// Arguments of `arbiter check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Policy files or names (looked up as `run --policy` does), loaded in order as one policy.
    #[arg(required = true, value_name = "FILE|NAME")]
    pub files: Vec<String>,
    /// One JSON object instead of text: `{"valid": bool, "errors": N, "warnings": N,
    /// "diagnostics": [{"severity", "kind", "origin", "line", "column", "message", "text",
    /// "hint"}], "rules": N, "digest": "…"}` (`rules` and `digest` only when valid).
    #[arg(long)]
    pub json: bool,
}

/// Prints every diagnostic of the files; succeeds only if the policy is valid.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let vars = Vars::from_env();
    let sources: Vec<Source> = args
        .files
        .iter()
        .map(|f| arbiter::policy_lookup::source(f))
        .collect();
    let diagnostics = arbiter_policies::check(&sources, &vars);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if args.json {
        let list: Vec<serde_json::Value> = diagnostics
            .iter()
            .map(|d| {
                serde_json::json!({
                    "severity": if d.is_error() { "error" } else { "warning" },
                    "kind": format!("{:?}", d.kind),
                    "origin": d.at.origin,
                    "line": d.at.line,
                    "column": d.at.column,
                    "message": d.message,
                    "text": d.text,
                    "hint": d.hint,
                })
            })
            .collect();
        let mut out = serde_json::json!({
            "valid": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "diagnostics": list,
        });
        if errors == 0 {
            let policy = Policy::load(&sources, &vars)?;
            out["rules"] = policy.rules().len().into();
            out["digest"] = policy.digest().to_string().into();
        }
        println!("{out}");
        return Ok(if errors == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    for d in &diagnostics {
        println!("{d}");
    }
    if errors > 0 {
        println!("invalid: {errors} error(s), {warnings} warning(s)");
        return Ok(ExitCode::from(1));
    }
    let policy = Policy::load(&sources, &vars)?;
    println!(
        "ok: {} rule(s), {warnings} warning(s), digest {}",
        policy.rules().len(),
        policy.digest()
    );
    Ok(ExitCode::SUCCESS)
}
