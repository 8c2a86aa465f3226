//! The configuration file: read it (a regular file, bounded in size), stamp it, and parse its TOML into the
//! [`schema`], with errors that name file, line and column and never repeat a value (it may be a secret).
//!
//! Checks across keys and profiles, and the choice of a profile, are `profile`'s: this module knows TOML only.

pub(crate) mod edit;
pub(crate) mod keys;
pub(crate) mod schema;

use std::path::Path;

use crate::environment;
use crate::error::{Error, Result};
use crate::fileid::{ConfigStamp, MAX_CONFIG};
pub(crate) use schema::*;

/// The configuration file as read: its identity when read, whether others may read it, and its tables.
pub(crate) struct Document {
    /// The file's identity, made from the very bytes parsed.
    pub(crate) stamp: Option<ConfigStamp>,
    /// True when another user or account may read it.
    pub(crate) readable_by_others: bool,
    /// Its tables.
    pub(crate) raw: RawConfig,
}

/// Reads and parses the configuration at `path`; its stamp is made from the very bytes parsed.
pub(crate) fn read(path: &Path) -> Result<Document> {
    let unreadable = |why: String| {
        Error::Config(format!(
            "reading configuration {}: {why} (create it, or point --config or {} at one; see docs/configuration.md)",
            path.display(),
            environment::CONFIG
        ))
    };
    let (bytes, meta) = crate::sys::fs::read_regular(path, MAX_CONFIG).map_err(|e| unreadable(e.to_string()))?;
    let stamp = ConfigStamp::new(path, &meta, &bytes);
    let text = std::str::from_utf8(&bytes).map_err(|_| unreadable("it is not UTF-8 text".into()))?;
    let raw = parse(text, path)?;
    let readable_by_others = crate::sys::protect::config_readable_by_others(path, &meta);
    Ok(Document { stamp, readable_by_others, raw })
}

/// Parses configuration text; `path` is only used in messages.
pub(crate) fn parse(text: &str, path: &Path) -> Result<RawConfig> {
    toml::from_str(text).map_err(|e| toml_error(&e, text, path))
}

/// One line: `file:line:col: message`, from a TOML error and its span.
fn toml_error(err: &toml::de::Error, text: &str, path: &Path) -> Error {
    Error::Config(format!("{}:{}", path.display(), located(err.message(), err.span(), text)))
}

/// `line:col: message` (or ` message` without a span) for a TOML syntax or type error: the parser's message alone,
/// never the quoted source line its `Display` shows (that line may hold a secret), and no quoted value.
pub(crate) fn located(message: &str, span: Option<std::ops::Range<usize>>, text: &str) -> String {
    let message = without_value(&message.trim().replace(['\n', '\r'], " "));
    match span {
        Some(span) => {
            let mut start = span.start.min(text.len());
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let before = &text[..start];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{line}:{column}: {message}")
        }
        None => format!(" {message}"),
    }
}

/// [`located`] for toml_edit's errors (the editor's and `check`'s parser).
pub(crate) fn edit_error_located(err: &toml_edit::TomlError, text: &str) -> String {
    located(err.message(), err.span(), text)
}

/// Drops the quoted value from "invalid type/value" messages (`integer \`5\``, `string "abc"`): the value may be a
/// secret typed in the wrong form or put under the wrong key (`password = 48151623`, `headers = "Bearer ..."`), and
/// the line and column already say where it is.
fn without_value(message: &str) -> String {
    let Some(prefix) = ["invalid type: ", "invalid value: "].into_iter().find(|p| message.starts_with(p)) else {
        return message.to_owned();
    };
    let rest = &message[prefix.len()..];
    let end = rest.rfind(", expected").unwrap_or(rest.len());
    let what = &rest[..end];
    let kind = what.find(['`', '"']).map_or(what, |at| &what[..at]).trim_end();
    format!("{prefix}{kind}{}", &rest[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_error_never_shows_the_value() {
        assert_eq!(
            without_value("invalid type: integer `48151623`, expected a string"),
            "invalid type: integer, expected a string"
        );
        assert_eq!(
            without_value("invalid type: string \"Bearer s3cr3t, expected x\", expected a sequence"),
            "invalid type: string, expected a sequence"
        );
        assert_eq!(without_value("invalid value: string \"x\""), "invalid value: string");
        assert_eq!(without_value("unknown field `nope`"), "unknown field `nope`");
    }
}
