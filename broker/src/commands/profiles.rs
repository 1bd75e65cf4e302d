//! `arbiter profiles`: list the built-in profiles; `arbiter profiles show NAME`: print one.

use anyhow::bail;
use arbiter_policies::profiles;
use std::process::ExitCode;

use arbiter::policy_lookup;

/// Arguments of `arbiter profiles`.
#[derive(Debug, clap::Args)]
pub struct ProfilesArgs {
    /// Without an action, lists the profiles.
    #[command(subcommand)]
    pub action: Option<ProfilesAction>,
}

/// What `arbiter profiles` can do besides listing.
#[derive(Debug, clap::Subcommand)]
pub enum ProfilesAction {
    /// Print a built-in profile's policy file.
    Show {
        /// The profile's name (`arbiter profiles` lists them).
        name: String,
    },
}

/// Lists the profiles, or prints one.
pub fn run(args: ProfilesArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        None => {
            let all = policy_lookup::all();
            let width = all.iter().map(|n| n.name.len()).max().unwrap_or(0);
            for named in &all {
                let what = match (&named.file, named.description) {
                    (Some(file), _) if named.shadows_builtin => {
                        format!("{} (replaces the built-in profile)", file.display())
                    }
                    (Some(file), _) => file.display().to_string(),
                    (None, Some(description)) => description.to_owned(),
                    (None, None) => String::new(),
                };
                println!("{:width$}  {what}", named.name);
            }
            let dirs: Vec<String> = policy_lookup::directories()
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            println!(
                "(`--policy NAME` looks in {}, then the built-in profiles)",
                dirs.join(", ")
            );
        }
        Some(ProfilesAction::Show { name }) => match policy_lookup::find_file(&name) {
            Some(file) => print!(
                "{}",
                std::fs::read_to_string(&file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
            ),
            None => match profiles::text(name.strip_prefix("builtin:").unwrap_or(&name)) {
                Some(text) => print!("{text}"),
                None => {
                    let known: Vec<&str> = profiles::list().iter().map(|(n, _)| *n).collect();
                    bail!(
                        "unknown profile `{name}`; the built-in profiles are: {}",
                        known.join(", ")
                    );
                }
            },
        },
    }
    Ok(ExitCode::SUCCESS)
}
