//! `arbiter profiles`: list the built-in profiles; `arbiter profiles show NAME`: print one.

use anyhow::bail;
use arbiter_policies::profiles;
use std::process::ExitCode;

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
            let width = profiles::list()
                .iter()
                .map(|(n, _)| n.len())
                .max()
                .unwrap_or(0);
            for (name, description) in profiles::list() {
                println!("{name:width$}  {description}");
            }
        }
        Some(ProfilesAction::Show { name }) => match profiles::text(&name) {
            Some(text) => print!("{text}"),
            None => {
                let known: Vec<&str> = profiles::list().iter().map(|(n, _)| *n).collect();
                bail!(
                    "unknown profile `{name}`; the built-in profiles are: {}",
                    known.join(", ")
                );
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
