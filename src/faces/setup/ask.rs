//! Getting one answer: from its flag when given, else from the person at the terminal, else an error naming the
//! flag (exit 2). Questions and answers go through `/dev/tty`, never stdout, and a secret typed here is not echoed.

use std::path::Path;

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::sys::tty::Tty;

/// Who answers: the terminal, or nobody (flags only).
pub(super) struct Asker {
    tty: Option<Tty>,
}

impl Asker {
    /// Asks at `tty` when there is one.
    pub(super) fn new(tty: Option<Tty>) -> Asker {
        Asker { tty }
    }

    /// True when someone can be asked.
    pub(super) fn interactive(&self) -> bool {
        self.tty.is_some()
    }

    /// Shows `text` on the terminal (nothing without one).
    pub(super) fn say(&mut self, text: &str) {
        if let Some(tty) = &mut self.tty {
            let _ = std::io::Write::write_all(tty, text.as_bytes());
        }
    }

    /// A required value: `given`, else asked (an empty answer takes `default`), else an error naming `--flag`.
    pub(super) fn text(
        &mut self,
        given: Option<String>,
        flag: &str,
        question: &str,
        default: Option<&str>,
    ) -> Result<String> {
        if let Some(value) = given {
            return Ok(value);
        }
        if self.tty.is_none() {
            return Err(missing(flag));
        }
        loop {
            let shown = default.map_or(format!("{question}: "), |d| format!("{question} [{d}]: "));
            let answer = self.line(&shown)?;
            match (answer.trim(), default) {
                ("", Some(d)) => return Ok(d.to_owned()),
                ("", None) => self.say("  (an answer is needed here)\n"),
                (text, _) => return Ok(text.to_owned()),
            }
        }
    }

    /// An optional value: `given`, else asked (an empty answer is none), else none.
    pub(super) fn optional(&mut self, given: Option<String>, question: &str) -> Result<Option<String>> {
        if given.is_some() || self.tty.is_none() {
            return Ok(given);
        }
        let answer = self.line(&format!("{question} (optional, Enter to skip): "))?;
        Ok(Some(answer.trim().to_owned()).filter(|a| !a.is_empty()))
    }

    /// One of `options` (name, meaning): `given`, else chosen by number or name (Enter takes `default`).
    pub(super) fn choose(
        &mut self,
        given: Option<usize>,
        flag: &str,
        question: &str,
        options: &[(&str, &str)],
        default: usize,
    ) -> Result<usize> {
        if let Some(i) = given {
            return Ok(i);
        }
        if self.tty.is_none() {
            return Err(missing(flag));
        }
        let mut menu = format!("{question}\n");
        for (i, (name, about)) in options.iter().enumerate() {
            menu.push_str(&format!("  {}) {name:<18} {about}\n", i + 1));
        }
        self.say(&menu);
        loop {
            let answer = self.line(&format!("Choose 1-{} [{}]: ", options.len(), default + 1))?;
            let answer = answer.trim();
            if answer.is_empty() {
                return Ok(default);
            }
            let by_number = answer.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).filter(|&i| i < options.len());
            if let Some(i) = by_number.or_else(|| options.iter().position(|(name, _)| *name == answer)) {
                return Ok(i);
            }
            self.say("  (a number from the list, or a name)\n");
        }
    }

    /// Yes or no (Enter takes `default`); without a terminal, `default`.
    pub(super) fn confirm(&mut self, question: &str, default: bool) -> Result<bool> {
        if self.tty.is_none() {
            return Ok(default);
        }
        let hint = if default { "Y/n" } else { "y/N" };
        loop {
            match self.line(&format!("{question} [{hint}]: "))?.trim().to_ascii_lowercase().as_str() {
                "" => return Ok(default),
                "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                _ => self.say("  (y or n)\n"),
            }
        }
    }

    /// A secret typed with echo off.
    pub(super) fn hidden(&mut self, question: &str) -> Result<Secret> {
        let tty = self.tty.as_mut().ok_or_else(|| missing("<secret>-stdin"))?;
        let line = tty.read_hidden(&format!("{question}: ")).map_err(tty_error)?;
        Ok(Secret::new(line))
    }

    fn line(&mut self, prompt: &str) -> Result<String> {
        let tty = self.tty.as_mut().ok_or_else(|| missing("?"))?;
        match tty.read_line(prompt).map_err(tty_error)? {
            Some(line) => Ok(line),
            None => Err(Error::Other("setup cancelled: the terminal closed its input (nothing was written)".into())),
        }
    }
}

/// The error for a value no flag gave and nobody can be asked for.
pub(super) fn missing(flag: &str) -> Error {
    Error::Config(format!(
        "setup needs --{flag} here: there is no terminal to ask (or prompting is off); see `tokenfob setup --help`"
    ))
}

fn tty_error(e: std::io::Error) -> Error {
    Error::io("reading", Path::new("/dev/tty"), e)
}
