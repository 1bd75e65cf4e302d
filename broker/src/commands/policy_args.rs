//! The options that choose a policy and add rules to it, shared by `run` and `explain` so
//! that `explain` decides exactly as the same `run` command line would.

use std::path::PathBuf;

use arbiter_policies::{Additions, Source};

use arbiter::policy_lookup;
use arbiter::sandbox::canonical::canonical;

/// `--policy` and the command-line additions.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyArgs {
    /// Policy file, or a name looked up in ~/.config/arbiter/NAME.toml, /etc/arbiter/NAME.toml,
    /// then the built-in profiles (`arbiter profiles`); repeatable, later ones merge over
    /// earlier. Without one, `default` applies.
    #[arg(long = "policy", value_name = "FILE|NAME")]
    pub policy: Vec<String>,
    /// Also allow reading PATH (file or tree), merged over the policy.
    #[arg(long, value_name = "PATH")]
    pub ro: Vec<PathBuf>,
    /// Also allow reading and executing PATH (file or tree) as an installation prefix: the
    /// kernel floor lets the program execute from it too (say, the interpreter a script in
    /// the working directory names, which arbiter does not grant by itself).
    #[arg(long, value_name = "PATH")]
    pub rx: Vec<PathBuf>,
    /// Also allow reading and writing PATH.
    #[arg(long, value_name = "PATH")]
    pub rw: Vec<PathBuf>,
    /// Deny PATH and beneath it, except where a more specific rule beneath it decides; also
    /// stops the implicit mkdir of directories at or beneath PATH.
    #[arg(long, value_name = "PATH")]
    pub deny: Vec<PathBuf>,
    /// Also allow connecting to HOST:PORT, [V6]:PORT or unix:PATH (prefix `udp:` for UDP).
    #[arg(long, value_name = "ENDPOINT")]
    pub connect: Vec<String>,
    /// Also allow binding ADDR:PORT or unix:PATH.
    #[arg(long, value_name = "ENDPOINT")]
    pub bind: Vec<String>,
    /// Also allow resolving host names matching PATTERN (e.g. `*.example.com`).
    #[arg(long, value_name = "PATTERN")]
    pub resolve: Vec<String>,
}

impl PolicyArgs {
    /// The policy sources, in order; the `default` profile when none is given.
    pub fn sources(&self) -> Vec<Source> {
        if self.policy.is_empty() {
            return vec![policy_lookup::source("default")];
        }
        self.policy
            .iter()
            .map(|p| policy_lookup::source(p))
            .collect()
    }

    /// The same options with every path (`--ro`, `--rx`, `--rw`, `--deny`, and the
    /// `unix:PATH` of `--connect`/`--bind`) made canonical the way the kernel resolves it,
    /// relative to the working directory (`sandbox::canonical`): rules match real paths, so
    /// `--rw ../x` or `--ro ./a/../b` must become the real path they name. A path that
    /// cannot be (`..` after a missing directory, a file where a directory must be) is an
    /// error naming the option and its value.
    pub fn canonical(&self) -> anyhow::Result<PolicyArgs> {
        use anyhow::Context;
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let paths = |flag: &str, list: &[PathBuf]| -> anyhow::Result<Vec<PathBuf>> {
            list.iter()
                .map(|p| canonical(p, &cwd).with_context(|| format!("--{flag} {}", p.display())))
                .collect()
        };
        let endpoints = |flag: &str, list: &[String]| -> anyhow::Result<Vec<String>> {
            list.iter()
                .map(|e| match e.strip_prefix("unix:") {
                    Some(p) if !p.is_empty() && !p.starts_with('@') => {
                        let real = canonical(std::path::Path::new(p), &cwd)
                            .with_context(|| format!("--{flag} {e}"))?;
                        let real = real
                            .to_str()
                            .with_context(|| format!("--{flag} {e}: the real path is not UTF-8"))?;
                        Ok(format!("unix:{real}"))
                    }
                    _ => Ok(e.clone()),
                })
                .collect()
        };
        Ok(PolicyArgs {
            policy: self.policy.clone(),
            ro: paths("ro", &self.ro)?,
            rx: paths("rx", &self.rx)?,
            rw: paths("rw", &self.rw)?,
            deny: paths("deny", &self.deny)?,
            connect: endpoints("connect", &self.connect)?,
            bind: endpoints("bind", &self.bind)?,
            resolve: self.resolve.clone(),
        })
    }

    /// The command-line additions, with `extra_rx` added to `--rx`.
    pub fn additions(&self, extra_rx: Vec<PathBuf>) -> Additions {
        let mut rx = self.rx.clone();
        rx.extend(extra_rx);
        self.additions_with_rx(rx)
    }

    /// The command-line additions with exactly `rx` as the read-and-exec rules (`arbiter run`
    /// turns `--rx` into installation prefixes and adds a rule only where the policy does not
    /// already let the program read).
    pub fn additions_with_rx(&self, rx: Vec<PathBuf>) -> Additions {
        Additions {
            ro: self.ro.clone(),
            rw: self.rw.clone(),
            deny: self.deny.clone(),
            connect: self.connect.clone(),
            bind: self.bind.clone(),
            resolve: self.resolve.clone(),
            rx,
        }
    }
}
