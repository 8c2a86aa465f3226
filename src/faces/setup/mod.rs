//! `tokenfob setup`: a profile written into the configuration without writing TOML by hand, then proved by one login.
//!
//! Every answer comes from its flag, else from the person at the terminal (`ask`), else it is an error naming the
//! flag; so a script and a person go through the same steps. The kind decides the questions (`kinds`); an OAuth 2.0
//! issuer is checked by fetching its metadata (`discover`). Secrets are written as sources (`{ env = ... }`, ...,
//! the forms of [`crate::secret::SETUP_SOURCES`]), and as text only when typed on the terminal and confirmed, or
//! given with `--<secret>-stdin`. The profile is added to the file keeping the rest byte for byte
//! (`config::edit`), and the whole result is checked as `tokenfob get` would read it before anything is written.

mod ask;
mod discover;
mod kinds;

use std::io::{IsTerminal, Read, Write};

use self::ask::{Asker, missing};
use super::{App, write_out};
use crate::cli::{SecretFlag, SetupArgs};
use crate::config::edit::{self, EditError, Field, NewProfile};
use crate::environment;
use crate::error::{Error, Result};
use crate::secret::{SETUP_SOURCES, Secret};

/// How long a setup waits for another one writing the same configuration (it holds the lock only to edit and
/// write, never while asking).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One run of `setup`: the flags not used yet, who answers, and where the profile goes.
pub(super) struct Setup<'a> {
    app: &'a App,
    args: SetupArgs,
    ask: Asker,
    name: String,
    out: &'a mut dyn Write,
    literal: bool,
}

/// `tokenfob setup`.
pub(crate) fn run(app: &App, args: SetupArgs, out: &mut dyn Write) -> Result<()> {
    let prompts = !app.no_input && !app.env.flag(environment::NO_INPUT) && std::io::stdin().is_terminal();
    let ask = Asker::new(if prompts { crate::sys::tty::Tty::open() } else { None });
    let path = crate::store::paths::config_file(app.config_flag.as_deref(), &app.env)?;
    let (text, target) = edit::read(&path)?;
    let mut s = Setup { app, args, ask, name: String::new(), out, literal: false };
    s.ask.say(&format!("Setting up a tokenfob profile in {}\n", path.display()));
    let kind = s.kind()?;
    s.name = s.profile_name(kind)?;
    let replace = s.may_replace(&text, &path)?;
    let profile = NewProfile { name: s.name.clone(), fields: kinds::fields(kind, &mut s)? };
    // The questions are answered: from here to the rename, the file is locked and read again, so that a setup
    // running at the same time is not lost (it lands before or after this one).
    let held = edit::lock(&target, LOCK_WAIT)?;
    let (text, target) = edit::read(&path)?;
    let new_text = edit::with_profile(&text, &profile, replace).map_err(|e| edit_error(e, &path))?;
    // What `get` will read, checked before a byte is written: a setup never leaves a configuration that fails.
    let checked = crate::profile::parse(&new_text, &path)
        .map_err(|e| Error::Config(format!("the profile does not check, so nothing was written: {e}")))?;
    // A file that holds a secret as text (this profile's, or one written before) is made private to its owner.
    let secret = checked.profiles.values().any(|p| p.literal_secret);
    let tightened = edit::write(&target, &new_text, secret)?;
    drop(held);
    let verb = if replace { "replaced" } else { "wrote" };
    s.tell(&format!("{verb} profile {} in {}\n", s.name, path.display()))?;
    if s.literal || tightened.is_some() {
        let made = tightened.map_or(String::new(), |how| format!("; others could read it, so setup {how}"));
        crate::log::warn(format_args!(
            "{} holds a secret as text: anyone who can read the file can use it (keep it private to you{made})",
            path.display()
        ));
    }
    if s.args.no_login {
        return s.tell(&format!("not logging in (--no-login); try it with `tokenfob login {}`\n", s.name));
    }
    let (name, out) = (s.name.clone(), s.out);
    super::shell::login(app, Some(&name), out).inspect_err(|_| {
        crate::log::warn(format_args!(
            "the profile is saved in {}: fix what the error says (`tokenfob check {name}` helps), then run \
             `tokenfob login {name}`",
            path.display()
        ));
    })?;
    super::shell::status(app, Some(&name), false, out)
}

impl Setup<'_> {
    /// Tells what happened, on stdout (once the profile is written: a failure prints nothing there).
    fn tell(&mut self, text: &str) -> Result<()> {
        write_out(self.out, text)
    }

    /// Tells what was found on the way: on the terminal, else on stderr.
    fn note(&mut self, text: &str) {
        if self.ask.interactive() {
            self.ask.say(text);
        } else {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }

    fn kind(&mut self) -> Result<crate::cli::SetupKind> {
        let given = self.args.kind.map(|k| kinds::KINDS.iter().position(|(x, ..)| *x == k).unwrap_or(0));
        let options: Vec<(&str, &str)> = kinds::KINDS.iter().map(|(_, n, a)| (*n, *a)).collect();
        let i = self.ask.choose(given, "kind", "What kind of login is it?", &options, 0)?;
        Ok(kinds::KINDS[i].0)
    }

    /// The profile's name: the argument, else asked (the kind's name by default), checked as a cache file name.
    fn profile_name(&mut self, kind: crate::cli::SetupKind) -> Result<String> {
        let default = kinds::KINDS.iter().find(|(k, ..)| *k == kind).map_or("default", |(_, n, _)| n);
        loop {
            let given = self.args.profile.take().or_else(|| (!self.ask.interactive()).then(|| default.to_owned()));
            let name = self.ask.text(given, "profile", "Profile name", Some(default))?;
            match crate::store::check_name(&name) {
                Ok(()) => return Ok(name),
                Err(why) if self.ask.interactive() => self.ask.say(&format!("  ({why})\n")),
                Err(why) => return Err(Error::Config(format!("profile name {name:?}: {why}"))),
            }
        }
    }

    /// Whether an existing profile of this name may be replaced: `--force`, or a yes at the terminal.
    fn may_replace(&mut self, text: &str, path: &std::path::Path) -> Result<bool> {
        if !edit::has_profile(text, &self.name).map_err(|e| edit_error(e, path))? {
            return Ok(false);
        }
        let question = format!("{} already has a profile {}. Replace it?", path.display(), self.name);
        if self.args.force || self.ask.confirm(&question, false)? {
            return Ok(true);
        }
        Err(Error::Config(format!(
            "{} already has a profile {:?}; kept it (pass --force to replace it, or choose another name)",
            path.display(),
            self.name
        )))
    }

    /// True when a flag gives the secret `key`.
    fn has_secret(&self, key: &str) -> bool {
        self.args.secrets.given.iter().any(|f| f.key == key)
    }

    /// The secret `key` as a profile field: from its flag, else chosen at the terminal; `None` when not `required`
    /// and not given.
    fn secret(&mut self, key: &'static str, required: bool) -> Result<Option<(&'static str, Field)>> {
        if let Some(i) = self.args.secrets.given.iter().position(|f| f.key == key) {
            let flag = self.args.secrets.given.remove(i);
            return self.secret_from_flag(flag).map(|f| Some((key, f)));
        }
        if !self.ask.interactive() {
            if !required {
                return Ok(None);
            }
            let flag = key.replace('_', "-");
            let forms: Vec<String> =
                SETUP_SOURCES.iter().map(|f| format!("--{flag}-{} {}", f.key, f.value_name)).collect();
            return Err(Error::Config(format!(
                "setup needs the {} here: give {} or --{flag}-stdin (there is no terminal to ask, or prompting is off)",
                key.replace('_', " "),
                forms.join(", ")
            )));
        }
        self.secret_asked(key).map(|f| Some((key, f)))
    }

    fn secret_from_flag(&mut self, flag: SecretFlag) -> Result<Field> {
        let Some(source) = flag.source else {
            let mut line = String::new();
            std::io::stdin().lock().take(64 * 1024).read_to_string(&mut line).map_err(Error::Input)?;
            let secret = Secret::new(line.lines().next().unwrap_or("").to_owned());
            zeroize::Zeroize::zeroize(&mut line);
            if secret.expose().is_empty() {
                return Err(Error::Config(format!("--{}-stdin: stdin held no secret", flag.key.replace('_', "-"))));
            }
            self.literal = true;
            return Ok(Field::Literal(secret));
        };
        let form = SETUP_SOURCES.iter().find(|f| f.key == source).expect("flags come from SETUP_SOURCES");
        if let Some((extra, _)) = form.extra.iter().find(|(e, _)| !flag.values.iter().any(|(k, _)| k == e)) {
            return Err(missing(&format!("{}-{source}-{extra}", flag.key.replace('_', "-"))));
        }
        Ok(Field::Source(flag.values))
    }

    /// The secret `key`, its source chosen at the terminal (or typed, and confirmed to be written as text).
    fn secret_asked(&mut self, key: &'static str) -> Result<Field> {
        let shown = key.replace('_', " ");
        let mut options: Vec<(&str, &str)> = SETUP_SOURCES.iter().map(|f| (f.key, f.about)).collect();
        options.push(("text", "typed now and written into the file (not recommended)"));
        loop {
            let i = self.ask.choose(None, "", &format!("Where does the {shown} come from?"), &options, 0)?;
            let Some(form) = SETUP_SOURCES.get(i) else {
                let secret = self.ask.hidden(&format!("The {shown} (not shown)"))?;
                let warning = "It will be written into the configuration file as text: anyone who can read the file \
                               can use it. Write it anyway?";
                if self.ask.confirm(warning, false)? {
                    self.literal = true;
                    return Ok(Field::Literal(secret));
                }
                continue;
            };
            let default = self.source_default(key, form.key);
            let value = self.ask.text(None, "", &format!("  {} {}", form.key, form.value_name), default.as_deref())?;
            if form.key == "env" && self.app.env.get(&value).is_none() {
                self.ask.say(&format!("  ({value} is not set here: set it before the login below, or it will fail)\n"));
            }
            let mut values = vec![(form.key, value)];
            for (extra, value_name) in form.extra {
                values.push((*extra, self.ask.text(None, "", &format!("  {extra} {value_name}"), None)?));
            }
            return Ok(Field::Source(values));
        }
    }

    /// What a source's value defaults to: `<PROFILE>_<KEY>` for a variable, a label naming the profile for a prompt.
    fn source_default(&self, key: &str, source: &str) -> Option<String> {
        match source {
            "env" => Some(
                format!("{}_{key}", self.name)
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
                    .collect(),
            ),
            "prompt" => Some(format!("{} for {}", key.replace('_', " "), self.name)),
            _ => None,
        }
    }
}

fn edit_error(e: EditError, path: &std::path::Path) -> Error {
    match e {
        EditError::Exists => {
            Error::Config(format!("{}: the profile exists (pass --force to replace it)", path.display()))
        }
        EditError::Invalid(why) => Error::Config(format!(
            "{}: {why} (fix the file first; `tokenfob check` shows what is wrong)",
            path.display()
        )),
    }
}
