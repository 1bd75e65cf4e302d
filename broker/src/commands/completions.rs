//! `arbiter completions SHELL` and `arbiter man`: shell completions and the man page,
//! generated from the same command-line definition the parser uses, so they cannot drift.

use std::process::ExitCode;

use clap::CommandFactory;

/// Arguments of `arbiter completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Writes the completion script for `shell` on stdout.
pub fn completions<C: CommandFactory>(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = C::command();
    clap_complete::generate(args.shell, &mut cmd, "arbiter", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `arbiter man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `arbiter.1` and one `arbiter-SUBCOMMAND.1` per subcommand into DIR, instead of
    /// `arbiter.1` on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

/// Writes the man pages (roff, section 1).
pub fn man<C: CommandFactory>(args: ManArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let cmd = C::command().name("arbiter");
    let render = |cmd: clap::Command| -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut out)?;
        Ok(out)
    };
    let Some(dir) = args.dir else {
        std::io::Write::write_all(&mut std::io::stdout(), &render(cmd)?)?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut pages = vec![("arbiter".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("arbiter-{}", sub.get_name());
        let page = sub.clone().name(name.clone());
        pages.push((name, page));
    }
    for (name, page) in pages {
        let file = dir.join(format!("{name}.1"));
        std::fs::write(&file, render(page)?)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
