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
}

/// Prints every diagnostic of the files; succeeds only if the policy is valid.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let vars = Vars::from_env();
    let sources: Vec<Source> = args
        .files
        .iter()
        .map(|f| crate::policy_lookup::source(f))
        .collect();
    let diagnostics = arbiter_policies::check(&sources, &vars);
    for d in &diagnostics {
        println!("{d}");
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
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
