//! Where a secret comes from: resolving a [`SecretSource`] (a literal, an environment variable, the first line of a
//! file, a command's output, a prompt on the terminal, or an item of the system keyring) into a [`Secret`], bounded
//! in size and time.

use std::path::Path;

use zeroize::Zeroizing;

use crate::environment::Env;
use crate::error::{Error, Result};
use crate::secret::{Secret, SecretSource};
use crate::sys::keyring::{Advice, Item, KeyringError};
use crate::sys::tty::Tty;

/// The largest `{ file = ... }` secret file read (only its first line is used).
const MAX_SECRET_FILE: u64 = 1 << 20;

/// What resolving a secret may use: the environment, whether a prompt is allowed, and who asks.
pub(crate) struct Resolver<'a> {
    /// The environment for `{ env = ... }` and `~`.
    pub(crate) env: &'a Env,
    /// False under `--no-input` or `TOKENFOB_NO_INPUT=1`.
    pub(crate) may_prompt: bool,
    /// The profile, named in errors.
    pub(crate) profile: &'a str,
    /// How long a `{ command = ... }` may run (the profile's `timeout`).
    pub(crate) timeout: std::time::Duration,
}

impl Resolver<'_> {
    /// Reads the secret that `source` points at; `what` names it in errors ("password").
    pub(crate) fn resolve(&self, source: &SecretSource, what: &str) -> Result<Secret> {
        let fail = |why: String| Error::Config(format!("reading the {what} of profile {:?}: {why}", self.profile));
        match source {
            SecretSource::Literal(s) => Ok(s.clone()),
            SecretSource::Env(var) => match self.env.get(var) {
                Some(v) => Ok(Secret::new(v.to_owned())),
                None => Err(fail(format!("environment variable {var} is not set (export it, or change the source)"))),
            },
            SecretSource::File(path) => {
                let path = expand_home(path, self.env);
                // Never blocks on a FIFO or reads a device: only a regular file, at most 1 MiB (issue #10).
                let (bytes, _) = crate::sys::fs::read_regular(Path::new(&path), MAX_SECRET_FILE)
                    .map_err(|e| fail(format!("{path}: {e}")))?;
                let bytes = Zeroizing::new(bytes);
                let text = std::str::from_utf8(&bytes).map_err(|_| fail(format!("{path}: it is not UTF-8 text")))?;
                let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
                if line.is_empty() {
                    return Err(fail(format!("{path}: the first line is empty")));
                }
                Ok(Secret::new(line.to_owned()))
            }
            SecretSource::Command(cmd) => run_command(cmd, self.timeout).map_err(fail),
            SecretSource::Prompt(label) => self.prompt(label, what),
            SecretSource::Keyring { service, user } => self.read_keyring(service, user, what),
        }
    }

    /// The item `service`/`user` of the system keyring (put there by `tokenfob secret set`), bounded by the
    /// profile's `timeout`. A locked keyring is unlocked only when someone can answer its prompt.
    fn read_keyring(&self, service: &str, user: &str, what: &str) -> Result<Secret> {
        let item = Item { service: service.to_owned(), user: user.to_owned() };
        let may_unlock = crate::sys::keyring::may_unlock(self.may_prompt);
        let doing = format!("reading the {what} of profile {:?} from the system keyring", self.profile);
        let field = what.replace(' ', "_");
        let fail = |why: String| Error::Config(format!("{doing}: {why}"));
        let bytes = match item.get(self.timeout, may_unlock) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(fail(format!(
                    "it holds no item for service {service:?} and user {user:?} (store one with `tokenfob secret set \
                     {} {field}`)",
                    self.profile
                )));
            }
            Err(e @ KeyringError::Locked) => {
                return Err(e.into_error(&Advice {
                    doing: &doing,
                    retry: &format!("tokenfob login {}", self.profile),
                    instead: &format!(
                        "or take the {what} from {{ env = ... }}, {{ file = ... }} or {{ command = ... }}"
                    ),
                    may_unlock,
                }));
            }
            Err(e) => {
                return Err(fail(format!(
                    "{e} (or take the {what} from {{ env = ... }}, {{ file = ... }} or {{ command = ... }} instead)"
                )));
            }
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| fail("the item is not UTF-8 text".into()))?;
        if text.is_empty() {
            return Err(fail(format!("the item for service {service:?} and user {user:?} is empty")));
        }
        Ok(Secret::new(text.to_owned()))
    }

    fn prompt(&self, label: &str, what: &str) -> Result<Secret> {
        let mut tty = self.terminal(&format!("asking for the {what} of profile {:?}", self.profile))?;
        let line = tty
            .read_hidden(&format!("{label}: "))
            .map_err(|e| Error::io("reading", Path::new(crate::sys::tty::NAME), e))?;
        Ok(Secret::new(line))
    }

    /// The terminal, for `what` (a prompt, a device code, a browser login), when someone may be asked there: prompts
    /// are allowed and there is a terminal. Otherwise the error says which is missing and to run `tokenfob login`.
    pub(crate) fn terminal(&self, what: &str) -> Result<Tty> {
        let needs = |why: &str| Error::InteractionRequired {
            what: what.to_owned(),
            why: why.to_owned(),
            profile: self.profile.to_owned(),
        };
        if !self.may_prompt {
            return Err(needs(
                "prompting is turned off (--no-input, TOKENFOB_NO_INPUT, or kubectl without a terminal)",
            ));
        }
        Tty::open().ok_or_else(|| needs("there is no terminal"))
    }
}

/// The most a `{ command = ... }` may print.
const MAX_SECRET_OUTPUT: usize = 64 * 1024;

/// Runs `cmd` with the system's shell (`sh -c`; `cmd /C` on Windows; bounded by `timeout`, see
/// [`crate::sys::child`]) and returns its trimmed standard output.
fn run_command(cmd: &str, timeout: std::time::Duration) -> Result<Secret, String> {
    let command = crate::sys::child::command(&crate::sys::child::shell_argv(cmd));
    let out = crate::sys::child::output(command, timeout, MAX_SECRET_OUTPUT).map_err(|e| format!("`{cmd}` {e}"))?;
    let text = std::str::from_utf8(&out).map_err(|_| format!("`{cmd}` printed something that is not UTF-8"))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(format!("`{cmd}` printed nothing"));
    }
    Ok(Secret::new(value.to_owned()))
}

/// Expands a leading `~/` with `$HOME`.
pub(crate) fn expand_home(path: &str, env: &Env) -> String {
    match (path.strip_prefix("~/"), env.get("HOME")) {
        (Some(rest), Some(home)) => format!("{}/{rest}", home.trim_end_matches('/')),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(env: &Env) -> Resolver<'_> {
        Resolver { env, may_prompt: false, profile: "p", timeout: std::time::Duration::from_secs(5) }
    }

    #[test]
    fn resolves_env_file_and_command() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "first\nsecond\n").unwrap();
        let home = dir.path().to_str().unwrap();
        let env = Env::from_pairs([("PW", "from-env"), ("HOME", home)]);
        let r = resolver(&env);
        assert_eq!(r.resolve(&SecretSource::Env("PW".into()), "password").unwrap().expose(), "from-env");
        assert_eq!(r.resolve(&SecretSource::File("~/pw".into()), "password").unwrap().expose(), "first");
        // The system's shell: `sh -c`, or `cmd /C` on Windows.
        let line = if cfg!(windows) { "echo   out " } else { "printf '  out \\n'" };
        let cmd = SecretSource::Command(line.into());
        assert_eq!(r.resolve(&cmd, "password").unwrap().expose(), "out");
    }

    #[test]
    fn failures_are_clear_errors() {
        let env = Env::default();
        let r = resolver(&env);
        let e = r.resolve(&SecretSource::Env("NOPE".into()), "password").unwrap_err();
        assert!(e.to_string().contains("NOPE is not set"), "{e}");
        let e = r.resolve(&SecretSource::Command("exit 3".into()), "password").unwrap_err();
        assert!(e.to_string().contains("failed"), "{e}");
        let e = r.resolve(&SecretSource::Prompt("P".into()), "password").unwrap_err();
        assert_eq!(e.code(), "interaction_required");
        assert!(e.to_string().contains("tokenfob login p"), "{e}");
    }
}
