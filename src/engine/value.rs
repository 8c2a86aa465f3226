//! A placeholder's value: plain (kept with the entry, for logout) or secret (never kept, and redacted from whatever
//! a server says back); and where an expanded template goes.

use crate::secret::Secret;

/// A placeholder's value.
#[derive(Clone)]
pub(super) enum Value {
    Plain(serde_json::Value),
    Secret(Secret),
}

impl Value {
    pub(super) fn text(&self) -> String {
        match self {
            Value::Plain(serde_json::Value::String(s)) => s.clone(),
            Value::Plain(other) => other.to_string(),
            Value::Secret(s) => s.expose().to_owned(),
        }
    }
}

/// Where an expanded string goes: URLs must not carry secrets and get their values percent-encoded.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Place {
    Url,
    Header,
}
