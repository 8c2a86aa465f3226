//! The command line's own documentation: shell completion scripts (clap_complete) and the manual page
//! (clap_mangen), both made from the clap definitions in `cli`, so they cannot drift from what tokenfob accepts.
//! Only `tokenfob completions` and `tokenfob man` reach this code: a cache hit never parses the command line with
//! clap at all (docs/performance.md), and the release archive (`.ci/package`) ships what these print.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};

/// Writes the completion script for `shell` to `out`.
pub(crate) fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tokenfob", &mut script);
    crate::faces::write_bytes(out, &script)
}

/// Writes the manual page, in roff, to `out`: tokenfob(1), or with `subcommand` tokenfob-SUBCOMMAND(1), the pages
/// tokenfob(1) names under SUBCOMMANDS.
pub(crate) fn man(subcommand: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let command = Cli::command();
    let page = match subcommand {
        None => command,
        Some(name) => {
            let known = || command.get_subcommands().map(|c| c.get_name().to_owned()).collect::<Vec<_>>().join(", ");
            let sub = command
                .find_subcommand(name)
                .ok_or_else(|| Error::Config(format!("no subcommand named {name:?} (subcommands: {})", known())))?;
            let name = sub.get_name().to_owned();
            // clap takes owned names only with its `string` feature; this runs once per process.
            let (page, usage): (&'static str, &'static str) =
                (format!("tokenfob-{name}").leak(), format!("tokenfob {name}").leak());
            sub.clone().name(page).bin_name(usage).version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut text = Vec::new();
    clap_mangen::Man::new(page).render(&mut text).map_err(Error::Output)?;
    crate::faces::write_bytes(out, &text)
}
