//! Secrets: a type that cannot be printed, and the places a secret can come from.
//!
//! A [`Secret`] has no `Display`, a redacting `Debug`, and is zeroed when dropped; [`Secret::expose`] marks every
//! place a secret leaves the type. A [`SecretSource`] is how the configuration says where a secret lives: a literal
//! string, an environment variable, the first line of a file, the output of a shell command, a prompt on the
//! terminal (issue #2), or an item of the system keyring (issue #14).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use zeroize::Zeroizing;

use crate::error::Result;

/// A secret string: never printed, zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `value`.
    pub(crate) fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }

    /// The secret text; every call site is a place where the secret leaves on purpose.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Serde helpers for the few places (the cache file, the faces) that write a secret out on purpose.
pub(crate) mod exposed {
    use super::Secret;

    /// An optional secret, written as its text (or nothing) and read back.
    pub(crate) mod option {
        use super::Secret;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes the secret text, or nothing.
        pub(crate) fn serialize<S: Serializer>(secret: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
            match secret {
                Some(secret) => s.serialize_some(secret.expose()),
                None => s.serialize_none(),
            }
        }

        /// Reads an optional secret text.
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
            Option::<String>::deserialize(d).map(|o| o.map(Secret::new))
        }
    }
}

/// The keys of a profile that hold a secret source; `tokenfob setup` has flags for each (`--password-env`, ...).
pub(crate) const SECRET_KEYS: &[&str] = &["password", "bootstrap_token", "token", "client_secret"];

/// A form of secret source that `tokenfob setup` offers: the key it is written with, what its value names, what it
/// means, and any further keys it needs (each one more flag, `--password-<key>-<extra>`, and one more question).
pub(crate) struct SourceForm {
    /// The key in the file: `{ env = ... }`.
    pub(crate) key: &'static str,
    /// What the value is, for help and prompts (`VAR`).
    pub(crate) value_name: &'static str,
    /// What it means, for the menu.
    pub(crate) about: &'static str,
    /// Further keys of the same inline table, with their value names.
    pub(crate) extra: &'static [(&'static str, &'static str)],
}

/// The secret sources `tokenfob setup` offers, in its menu's order. A new source (the keyring, issue #14:
/// `SourceForm { key: "keyring", value_name: "SERVICE", about: "...", extra: &[("user", "NAME")] }`) is one line here;
/// its flags and question follow from it.
pub(crate) const SETUP_SOURCES: &[SourceForm] = &[
    SourceForm { key: "env", value_name: "VAR", about: "an environment variable (recommended)", extra: &[] },
    SourceForm { key: "file", value_name: "PATH", about: "the first line of a file", extra: &[] },
    SourceForm { key: "command", value_name: "COMMAND", about: "what a command prints (pass, op, vault)", extra: &[] },
    SourceForm { key: "prompt", value_name: "LABEL", about: "typed on the terminal at each login", extra: &[] },
    SourceForm {
        key: "keyring",
        value_name: "SERVICE",
        about: "an item of the system keyring (put it there with `tokenfob secret set`)",
        extra: &[("user", "NAME")],
    },
];

/// Where a secret comes from, as written in the configuration.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum SecretSource {
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
    /// `{ keyring = "SERVICE", user = "NAME" }`: an item of the system keyring.
    Keyring { service: String, user: String },
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
            SecretSource::Keyring { service, user } => write!(f, "keyring:{service}:{user}"),
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
        f.write_str("a string, or a table with one of env, file, command, prompt, or keyring and user")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretSource, E> {
        Ok(SecretSource::Literal(Secret::new(v.to_owned())))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretSource, A::Error> {
        const KEYS: &[&str] = &["env", "file", "command", "prompt", "keyring"];
        let mut keys = std::collections::BTreeMap::new();
        while let Some((key, value)) = map.next_entry::<String, String>()? {
            if keys.len() == 2 || keys.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format!("a secret source has one key too many: {key}")));
            }
        }
        let user = keys.remove("user");
        let mut rest = keys.into_iter();
        let (Some((key, value)), None) = (rest.next(), rest.next()) else {
            return Err(de::Error::custom(
                "a secret source has exactly one key: env, file, command or prompt (or keyring with user)",
            ));
        };
        match (key.as_str(), user) {
            ("keyring", Some(user)) => Ok(SecretSource::Keyring { service: value, user }),
            ("keyring", None) => {
                Err(de::Error::custom("a keyring source also needs `user`: { keyring = \"SERVICE\", user = \"NAME\" }"))
            }
            (_, Some(_)) if KEYS.contains(&key.as_str()) => Err(de::Error::custom(format!(
                "a secret source has exactly one key: `user` goes only with `keyring`, not `{key}`"
            ))),
            ("env", None) => Ok(SecretSource::Env(value)),
            ("file", None) => Ok(SecretSource::File(value)),
            ("command", None) => Ok(SecretSource::Command(value)),
            ("prompt", None) => Ok(SecretSource::Prompt(value)),
            (other, _) => Err(de::Error::unknown_field(other, KEYS)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            f: SecretSource,
        }
        let t: T = toml::from_str(
            "a = \"lit\"\nb = { env = \"X\" }\nc = { file = \"~/f\" }\nd = { command = \"echo hi\" }\ne = { prompt = \"P\" }\n\
             f = { user = \"me\", keyring = \"svc\" }",
        )
        .unwrap();
        assert_eq!(t.f, SecretSource::Keyring { service: "svc".into(), user: "me".into() });
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
        for wrong in [
            "a = { keyring = \"s\" }",
            "a = { env = \"X\", user = \"u\" }",
            "a = { keyring = \"s\", user = \"u\", file = \"f\" }",
        ] {
            let err = toml::from_str::<T>(wrong).unwrap_err().to_string();
            assert!(err.contains("user") || err.contains("too many"), "{wrong}: {err}");
        }
    }
}
