//! Secrets: a type that cannot be printed, and the places a secret can come from.
//!
//! A [`Secret`] has no `Display`, a redacting `Debug`, and is zeroed when dropped; [`Secret::expose`] marks every
//! place a secret leaves the type. A [`SecretSource`] is how the configuration says where a secret lives: a literal
//! string, an environment variable, the first line of a file, the output of a shell command, or a prompt on the
//! terminal (issue #2).

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use zeroize::Zeroizing;

use crate::environment::Env;
use crate::error::{Error, Result};

/// A secret string: never printed, zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }

    /// The secret text; every call site is a place where the secret leaves on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Serde helpers for the few places (the cache file, the faces) that write a secret out on purpose.
pub mod exposed {
    use super::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the secret text.
    pub fn serialize<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(secret.expose())
    }

    /// Reads a secret text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }

    /// The same for an optional secret.
    pub mod option {
        use super::Secret;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes the secret text, or nothing.
        pub fn serialize<S: Serializer>(secret: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
            match secret {
                Some(secret) => s.serialize_some(secret.expose()),
                None => s.serialize_none(),
            }
        }

        /// Reads an optional secret text.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
            Option::<String>::deserialize(d).map(|o| o.map(Secret::new))
        }
    }
}

/// Where a secret comes from, as written in the configuration.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `"text"`: the secret itself, written in the file.
    Literal(Secret),
    /// `{ env = "VAR" }`.
    Env(String),
    /// `{ file = "~/path" }`: the first line.
    File(String),
    /// `{ command = "shell command" }`: its standard output, trimmed.
    Command(String),
    /// `{ prompt = "Password for od" }`: typed on the terminal.
    Prompt(String),
}

impl fmt::Debug for SecretSource {
    // The fingerprint of a profile is built from Debug text, so this names the source but never a literal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Literal(_) => f.write_str("literal"),
            SecretSource::Env(v) => write!(f, "env:{v}"),
            SecretSource::File(p) => write!(f, "file:{p}"),
            SecretSource::Command(c) => write!(f, "command:{c}"),
            SecretSource::Prompt(p) => write!(f, "prompt:{p}"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SecretSource, D::Error> {
        d.deserialize_any(SourceVisitor)
    }
}

struct SourceVisitor;

impl<'de> Visitor<'de> for SourceVisitor {
    type Value = SecretSource;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, or a table with one of env, file, command, prompt")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretSource, E> {
        Ok(SecretSource::Literal(Secret::new(v.to_owned())))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretSource, A::Error> {
        let Some((key, value)) = map.next_entry::<String, String>()? else {
            return Err(de::Error::custom("empty secret source: expected one of env, file, command, prompt"));
        };
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom("a secret source has exactly one key: env, file, command or prompt"));
        }
        match key.as_str() {
            "env" => Ok(SecretSource::Env(value)),
            "file" => Ok(SecretSource::File(value)),
            "command" => Ok(SecretSource::Command(value)),
            "prompt" => Ok(SecretSource::Prompt(value)),
            other => Err(de::Error::unknown_field(other, &["env", "file", "command", "prompt"])),
        }
    }
}

/// The largest `{ file = ... }` secret file read (only its first line is used).
const MAX_SECRET_FILE: u64 = 1 << 20;

/// What resolving a secret may use: the environment, whether a prompt is allowed, and who asks.
pub struct Resolver<'a> {
    /// The environment for `{ env = ... }` and `~`.
    pub env: &'a Env,
    /// False under `--no-input` or `TOKENFOB_NO_INPUT=1`.
    pub may_prompt: bool,
    /// The profile, named in errors.
    pub profile: &'a str,
    /// How long a `{ command = ... }` may run (the profile's `timeout`).
    pub timeout: std::time::Duration,
}

impl Resolver<'_> {
    /// Reads the secret that `source` points at; `what` names it in errors ("password").
    pub fn resolve(&self, source: &SecretSource, what: &str) -> Result<Secret> {
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
                let (bytes, _) = crate::paths::read_regular(Path::new(&path), MAX_SECRET_FILE)
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
        }
    }

    fn prompt(&self, label: &str, what: &str) -> Result<Secret> {
        let needs = |why: &str| Error::InteractionRequired {
            what: format!("asking for the {what} of profile {:?}", self.profile),
            why: why.to_owned(),
            profile: self.profile.to_owned(),
        };
        if !self.may_prompt {
            return Err(needs("prompting is turned off (--no-input or TOKENFOB_NO_INPUT)"));
        }
        let mut tty = crate::tty::Tty::open().ok_or_else(|| needs("there is no terminal"))?;
        let line =
            tty.read_hidden(&format!("{label}: ")).map_err(|e| Error::Other(format!("reading /dev/tty: {e}")))?;
        Ok(Secret::new(line))
    }
}

/// The most a `{ command = ... }` may print.
const MAX_SECRET_OUTPUT: usize = 64 * 1024;

/// Runs `cmd` with `sh -c` (bounded by `timeout`, see [`crate::child`]) and returns its trimmed standard output.
fn run_command(cmd: &str, timeout: std::time::Duration) -> Result<Secret, String> {
    let mut command = Command::new("sh");
    command.arg("-c").arg(cmd);
    let out = crate::child::output(command, timeout, MAX_SECRET_OUTPUT).map_err(|e| format!("`{cmd}` {e}"))?;
    let text = std::str::from_utf8(&out).map_err(|_| format!("`{cmd}` printed something that is not UTF-8"))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(format!("`{cmd}` printed nothing"));
    }
    Ok(Secret::new(value.to_owned()))
}

/// Expands a leading `~/` with `$HOME`.
pub fn expand_home(path: &str, env: &Env) -> String {
    match (path.strip_prefix("~/"), env.get("HOME")) {
        (Some(rest), Some(home)) => format!("{}/{rest}", home.trim_end_matches('/')),
        _ => path.to_owned(),
    }
}

/// Writes `text` to the terminal (never stdout); used for prompts and device-code instructions.
pub fn say_on_tty(text: &str) -> bool {
    match crate::tty::Tty::open() {
        Some(mut tty) => tty.write_all(text.as_bytes()).is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(env: &Env) -> Resolver<'_> {
        Resolver { env, may_prompt: false, profile: "p", timeout: std::time::Duration::from_secs(5) }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let src = SecretSource::Literal(s);
        assert_eq!(format!("{src:?}"), "literal");
    }

    #[test]
    fn parses_every_source_form() {
        #[derive(serde::Deserialize)]
        struct T {
            a: SecretSource,
            b: SecretSource,
            c: SecretSource,
            d: SecretSource,
            e: SecretSource,
        }
        let t: T = toml::from_str(
            "a = \"lit\"\nb = { env = \"X\" }\nc = { file = \"~/f\" }\nd = { command = \"echo hi\" }\ne = { prompt = \"P\" }",
        )
        .unwrap();
        assert_eq!(t.a, SecretSource::Literal(Secret::new("lit".into())));
        assert_eq!(t.b, SecretSource::Env("X".into()));
        assert_eq!(t.c, SecretSource::File("~/f".into()));
        assert_eq!(t.d, SecretSource::Command("echo hi".into()));
        assert_eq!(t.e, SecretSource::Prompt("P".into()));
    }

    #[test]
    fn rejects_unknown_and_double_keys() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            a: SecretSource,
        }
        let err = toml::from_str::<T>("a = { vault = \"x\" }").unwrap_err().to_string();
        assert!(err.contains("vault"), "{err}");
        let err = toml::from_str::<T>("a = { env = \"X\", file = \"y\" }").unwrap_err().to_string();
        assert!(err.contains("exactly one key"), "{err}");
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
        let cmd = SecretSource::Command("printf '  out \\n'".into());
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
