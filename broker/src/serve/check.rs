//! `arbiter serve --check-config FILE`: validate a daemon configuration without serving.
//!
//! Prints every problem as `file:line:column: message`, like `arbiter check` prints a
//! policy's: the config's own (TOML syntax, unknown keys, bad limits, entries without a
//! name), then each profile file it names, checked by the policy checker, then the checks
//! across both (a profile an entry allows that exists nowhere, a default outside its
//! `allow` list). Exit status 0 when valid (warnings allowed), 1 otherwise.

use std::path::Path;
use std::process::ExitCode;

use super::config::Config;

/// Checks `file` and prints what it finds; the exit status says whether it is valid.
pub fn run(file: &Path) -> ExitCode {
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            println!("{shown}: cannot read: {e}");
            println!("invalid: 1 error(s), 0 warning(s)");
            return ExitCode::from(1);
        }
    };
    let cfg = match Config::parse(&text, file.parent().unwrap_or(Path::new("/"))) {
        Ok(c) => c,
        Err(e) => {
            println!("{}", e.render(&shown, &text));
            println!("invalid: 1 error(s), 0 warning(s)");
            return ExitCode::from(1);
        }
    };
    let (mut errors, mut warnings) = (0, 0);
    let vars = Config::check_vars();
    for (_, source) in cfg.profile_files() {
        for d in arbiter_policies::check(std::slice::from_ref(source), &vars) {
            println!("{d}");
            if d.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
        }
    }
    if errors == 0 {
        for e in cfg.problems() {
            println!("{}", e.render(&shown, &text));
            errors += 1;
        }
    }
    if errors > 0 {
        println!("invalid: {errors} error(s), {warnings} warning(s)");
        return ExitCode::from(1);
    }
    let (users, groups) = cfg.entries();
    println!(
        "ok: {users} user and {groups} group entr(ies), {} profile file(s), limits {}, {warnings} warning(s)",
        cfg.profile_files().count(),
        cfg.limits.to_json()
    );
    ExitCode::SUCCESS
}
