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

/// Writes the manual page, in roff, to `out`.
pub(crate) fn man(out: &mut dyn Write) -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page).map_err(Error::Output)?;
    crate::faces::write_bytes(out, &page)
}
