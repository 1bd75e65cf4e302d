//! `arbiter run`'s options for deciding outside the policy: `--decider CMD` (an external
//! process, JSON lines) or `--ask` (a person at the terminal, `--save FILE` for the
//! "always" answers). docs/master.md specifies both.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use arbiter_policies::Source;

use arbiter::audit::Audit;
use arbiter::core::decider::Decider;
use arbiter::decide::ask::Asker;
use arbiter::decide::external::{self, External};
use arbiter::decide::save;
use arbiter::decide::wire::DefaultAnswer;
use arbiter::decide::words;

/// The deciding options of `arbiter run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DecideArgs {
    /// Ask the external program CMD about every check the policy leaves to its default,
    /// over a JSON-lines protocol on its stdin and stdout (docs/master.md). CMD is a path,
    /// or a command line split into words as a shell splits them (no shell runs).
    #[arg(long, value_name = "CMD", conflicts_with_all = ["ask", "daemon"])]
    pub decider: Option<String>,
    /// How long one check waits for the decider's answer before the default applies
    /// (`500ms`, `10s`, `1m`).
    #[arg(long, value_name = "DURATION", requires = "decider", value_parser = parse_timeout)]
    pub decider_timeout: Option<Duration>,
    /// The answer when the decider gives none (timeout, garbage, exit): `deny` keeps the
    /// policy's own default denial, `allow` allows.
    #[arg(long, value_enum, value_name = "ANSWER", requires = "decider")]
    pub decider_default: Option<DefaultAnswer>,
    /// Ask on the terminal (/dev/tty) about every check the policy leaves to its default:
    /// a = allow once, A = allow always, d = deny once, D = deny always. Refuses to start
    /// without a terminal.
    #[arg(long, conflicts_with = "daemon")]
    pub ask: bool,
    /// With --ask: when the command ends, write the "always" answers to FILE as a policy
    /// that extends this run's policy (`arbiter run --policy FILE` replays them).
    #[arg(long, value_name = "FILE", requires = "ask")]
    pub save: Option<PathBuf>,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 500ms, 10s)"))?;
    if d.is_zero() {
        return Err("the timeout must be longer than 0".into());
    }
    Ok(d)
}

/// The decider of one run, started.
pub enum Deciding {
    /// `--decider CMD`.
    External(Arc<External>),
    /// `--ask`, and where to save the "always" answers.
    Ask(Arc<Asker>, Option<PathBuf>),
}

impl DecideArgs {
    /// Opens the terminal (`--ask`) or starts the decider process (`--decider`), if asked.
    pub fn start(&self, audit: &Audit) -> Result<Option<Deciding>> {
        if self.ask {
            let asker = Asker::open()?;
            return Ok(Some(Deciding::Ask(Arc::new(asker), self.save.clone())));
        }
        let Some(cmd) = &self.decider else {
            return Ok(None);
        };
        let command = words::command(cmd).with_context(|| format!("--decider {cmd:?}"))?;
        let opts = external::Options {
            command,
            timeout: self.decider_timeout.unwrap_or(external::DEFAULT_TIMEOUT),
            default: self.decider_default.unwrap_or(DefaultAnswer::Deny),
        };
        let ext = External::start(&opts, audit.clone())?;
        Ok(Some(Deciding::External(Arc::new(ext))))
    }
}

impl Deciding {
    /// The request core's decider.
    pub fn decider(&self) -> Arc<dyn Decider> {
        match self {
            Deciding::External(e) => e.clone(),
            Deciding::Ask(a, _) => a.clone(),
        }
    }

    /// arbiter's children that are not part of the sandbox.
    pub fn besides(&self) -> Vec<libc::pid_t> {
        match self {
            Deciding::External(e) => vec![e.pid()],
            Deciding::Ask(..) => Vec::new(),
        }
    }

    /// Ends the decider; with `--save`, writes the "always" answers as a policy extending
    /// `sources`.
    pub fn finish(&self, sources: &[Source], command: &[std::ffi::OsString]) -> Result<()> {
        match self {
            Deciding::External(e) => e.finish(),
            Deciding::Ask(asker, save_to) => {
                asker.finish();
                if let Some(file) = save_to {
                    let command: Vec<String> = command
                        .iter()
                        .map(|a| a.to_string_lossy().into_owned())
                        .collect();
                    let (text, skipped) = asker
                        .remembered()
                        .policy_text(&save::extends_of(sources), &command.join(" "));
                    for s in skipped {
                        eprintln!("arbiter: --save: not saved (remembered for the run only): {s}");
                    }
                    save::write(file, &text)
                        .with_context(|| format!("--save {}: cannot write it", file.display()))?;
                }
            }
        }
        Ok(())
    }
}
