//! The faces: what callers see. The shell face prints plain text, the JSON face speaks a line protocol.
//!
//! Both render tokens through [`render`] and [`token_json`], so `get -o json` and the protocol's answer carry the
//! same fields. Only the faces write to stdout.

pub mod git;
pub mod kubectl;
pub mod protocol;
pub mod shell;

use serde_json::{Value, json};

use crate::broker::Served;
use crate::cli::Format;

/// The `Authorization` header line for `token`.
pub fn header_line(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

/// The token in `format`, with a trailing newline.
pub fn render(format: Format, served: &Served) -> String {
    let token = served.token().expose();
    match format {
        Format::Token => format!("{token}\n"),
        Format::Header => format!("{}\n", header_line(token)),
        Format::Json => format!("{}\n", Value::Object(token_json(served))),
        // curl's config syntax: inside double quotes, backslash and quote are escaped.
        Format::Curl => format!("header = \"{}\"\n", header_line(token).replace('\\', "\\\\").replace('"', "\\\"")),
    }
}

/// `{"profile","token","token_type","expires_at","header"}`.
pub fn token_json(served: &Served) -> serde_json::Map<String, Value> {
    let token = served.token().expose();
    let object = json!({
        "profile": served.profile(),
        "token": token,
        "token_type": "Bearer",
        "expires_at": served.expires_at().map(crate::clock::rfc3339),
        "header": header_line(token),
    });
    match object {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn served() -> Served {
        Served::new("od", Secret::new("a\"b\\c".into()), crate::clock::parse_rfc3339("2026-01-01T00:00:00Z")).unwrap()
    }

    #[test]
    fn renders_every_format_exactly() {
        let s = served();
        assert_eq!(render(Format::Token, &s), "a\"b\\c\n");
        assert_eq!(render(Format::Header, &s), "Authorization: Bearer a\"b\\c\n");
        assert_eq!(render(Format::Curl, &s), "header = \"Authorization: Bearer a\\\"b\\\\c\"\n");
        assert_eq!(
            render(Format::Json, &s),
            "{\"expires_at\":\"2026-01-01T00:00:00Z\",\"header\":\"Authorization: Bearer a\\\"b\\\\c\",\
             \"profile\":\"od\",\"token\":\"a\\\"b\\\\c\",\"token_type\":\"Bearer\"}\n"
        );
    }
}
