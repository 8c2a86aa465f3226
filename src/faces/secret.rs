//! `tokenfob secret set|delete PROFILE FIELD`: puts a secret into the system keyring item that the profile's
//! `FIELD = { keyring = "SERVICE", user = "NAME" }` source names, or deletes it (issue #14).
//!
//! The value never comes from an argument (every user of the machine can read a process's arguments): it is typed
//! at a hidden prompt on the terminal, or, when stdin is not a terminal, read from stdin (`pass show x | tokenfob
//! secret set p password`), one trailing newline dropped.

use std::io::{IsTerminal, Read, Write};

use super::{App, write_out as write};
use crate::cli::SecretAction;
use crate::error::{Error, Result};
use crate::profile::{Profile, Source};
use crate::recipe::VarSpec;
use crate::secret::{Secret, SecretSource};
use crate::sys::keyring::{Advice, Item, KeyringError, MAX_ITEM};

/// `tokenfob secret`.
pub(crate) fn run(app: &App, action: SecretAction, out: &mut dyn Write) -> Result<()> {
    let (SecretAction::Set { profile, field } | SecretAction::Delete { profile, field }) = &action;
    let (broker, profile) = app.open_profile(Some(profile), None)?;
    let item = keyring_item(&profile, field)?;
    let may_prompt = broker.may_prompt;
    let may_unlock = crate::sys::keyring::may_unlock(may_prompt);
    let timeout = profile.net.timeout;
    let instead = format!("or take the {field} from {{ env = ... }}, {{ file = ... }} or {{ command = ... }} instead");
    let failed = |verb: &str, e: KeyringError| {
        let command = if verb == "storing" { "set" } else { "delete" };
        e.into_error(&Advice {
            doing: &format!("{verb} the {field} of profile {:?} in the system keyring", profile.name),
            retry: &format!("tokenfob secret {command} {} {field}", profile.name),
            instead: &instead,
            may_unlock,
        })
    };
    let shown = format!("service {:?}, user {:?}", item.service, item.user);
    match action {
        SecretAction::Set { .. } => {
            let value = read_value(may_prompt, &format!("The {field} of profile {}: ", profile.name))?;
            item.set(value.expose().as_bytes(), timeout, may_unlock).map_err(|e| failed("storing", e))?;
            write(out, &format!("stored the {field} of profile {} in the system keyring ({shown})\n", profile.name))
        }
        SecretAction::Delete { .. } => {
            let deleted = item.delete(timeout, may_unlock).map_err(|e| failed("deleting", e))?;
            let what = if deleted { "deleted" } else { "found no item for" };
            write(out, &format!("{what} the {field} of profile {} in the system keyring ({shown})\n", profile.name))
        }
    }
}

/// The keyring item that `field` of `profile` names; an error when the field is no secret of the profile, or not
/// one read from the keyring.
fn keyring_item(profile: &Profile, field: &str) -> Result<Item> {
    let source = match &profile.source {
        Source::Static(source) if field == "token" => Some(source),
        Source::Recipe(recipe) => match recipe.vars.get(field) {
            Some(VarSpec::Secret(source)) => Some(source),
            _ => None,
        },
        _ => None,
    };
    match source {
        Some(SecretSource::Keyring { service, user }) => Ok(Item { service: service.clone(), user: user.clone() }),
        Some(other) => Err(Error::Config(format!(
            "the {field} of profile {:?} comes from {other:?}, not from the keyring (write `{field} = {{ keyring = \
             \"SERVICE\", user = \"NAME\" }}` in the profile first)",
            profile.name
        ))),
        None => Err(Error::Config(format!(
            "profile {:?} has no secret named {field:?} (fields that take a secret: password, client_secret, \
             bootstrap_token, token, and a recipe's secret vars)",
            profile.name
        ))),
    }
}

/// The value: typed at a hidden prompt when stdin is a terminal, else read from stdin.
fn read_value(may_prompt: bool, prompt: &str) -> Result<Secret> {
    let stdin = std::io::stdin();
    let text = if stdin.is_terminal() {
        if !may_prompt {
            return Err(Error::Config(
                "prompting is turned off (--no-input or TOKENFOB_NO_INPUT): pipe the value into stdin instead".into(),
            ));
        }
        let mut tty = crate::sys::tty::Tty::open()
            .ok_or_else(|| Error::Config("there is no terminal to type the value at: pipe it into stdin".into()))?;
        tty.read_hidden(prompt).map_err(|e| Error::io("reading", std::path::Path::new("/dev/tty"), e))?
    } else {
        piped(&mut stdin.lock())?
    };
    let value = Secret::new(text);
    if value.expose().is_empty() {
        return Err(Error::Config("the value is empty: nothing stored".into()));
    }
    Ok(value)
}

/// The value piped in: one line, at most [`MAX_ITEM`] bytes, its one line end dropped. More lines, or more bytes, are
/// refused rather than stored cut short.
fn piped(input: &mut dyn Read) -> Result<String> {
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    // The value, its line end (two bytes at most), and one byte more to see that nothing else follows.
    let limit = u64::try_from(MAX_ITEM).unwrap_or(u64::MAX).saturating_add(3);
    input.take(limit).read_to_end(&mut bytes).map_err(Error::Input)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::Config("the value on stdin is not UTF-8".into()))?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    if text.contains(['\n', '\r']) {
        return Err(Error::Config(
            "the value on stdin has more than one line (a secret is one line; only its line end is dropped): nothing \
             stored"
                .into(),
        ));
    }
    if text.len() > MAX_ITEM {
        return Err(Error::Config(format!(
            "the value on stdin is longer than the system keyring stores in one item ({MAX_ITEM} bytes): nothing stored"
        )));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<String> {
        piped(&mut &bytes[..])
    }

    #[test]
    fn one_line_end_is_dropped() {
        assert_eq!(read(b"s3cret\r\n").unwrap(), "s3cret");
        assert_eq!(read(b"s3cret\n").unwrap(), "s3cret");
        assert_eq!(read(b"s3cret").unwrap(), "s3cret");
    }

    #[test]
    fn more_lines_are_refused() {
        for input in [&b"one\ntwo"[..], b"one\r\ntwo\n", b"one\n\n", b"one\rtwo"] {
            let err = read(input).unwrap_err().to_string();
            assert!(err.contains("more than one line"), "{err}");
        }
    }

    #[test]
    fn a_value_too_long_is_refused_not_cut() {
        let mut full = vec![b'x'; MAX_ITEM];
        assert_eq!(read(&full).unwrap().len(), MAX_ITEM);
        full.extend_from_slice(b"\r\nMORE\n");
        assert!(read(&full).unwrap_err().to_string().contains("more than one line"));
        let err = read(&vec![b'x'; 100_000]).unwrap_err().to_string();
        assert!(err.contains("longer than") && !err.contains("65538"), "{err}");
    }
}
