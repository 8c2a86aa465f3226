//! Placeholders in recipe strings: `{name}`, `{name?}` (optional) and `{{`/`}}` for literal braces.
//!
//! Parsing is separate from filling in values, so a template is checked without a network and fuzzed on bytes.

/// What a value put into a URL path or query is encoded with: everything but RFC 3986's unreserved characters.
pub(crate) const URL_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Literal text.
    Text(std::borrow::Cow<'a, str>),
    /// A placeholder.
    Var {
        /// The variable's name.
        name: &'a str,
        /// Written `{name?}`: may be left out when unset.
        optional: bool,
    },
}

/// Splits `template` into text and placeholders.
pub(crate) fn parse(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        text.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            text.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(format!("unmatched '}}' in {template:?} (write '}}}}' for a literal brace)"));
        }
        let end = tail.find('}').ok_or_else(|| format!("unclosed '{{' in {template:?}"))?;
        let inner = &tail[1..end];
        let (name, optional) = match inner.strip_suffix('?') {
            Some(n) => (n, true),
            None => (inner, false),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad placeholder {{{inner}}} in {template:?} (names are letters, digits and _)"));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text).into()));
        }
        pieces.push(Piece::Var { name, optional });
        rest = &tail[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text.into()));
    }
    Ok(pieces)
}

/// The placeholder when `template` is exactly one placeholder and nothing else (so a JSON value keeps its type).
pub(crate) fn sole_var(template: &str) -> Option<(&str, bool)> {
    match parse(template).ok()?.as_slice() {
        [Piece::Var { name, optional }] => Some((name, *optional)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_placeholders() {
        let p = parse("{url}/users/{user_id?}/x{{y}}").unwrap();
        assert_eq!(
            p,
            vec![
                Piece::Var { name: "url", optional: false },
                Piece::Text("/users/".into()),
                Piece::Var { name: "user_id", optional: true },
                Piece::Text("/x{y}".into()),
            ]
        );
        assert_eq!(sole_var("{account_id?}"), Some(("account_id", true)));
        assert_eq!(sole_var("Bearer {t}"), None);
    }

    #[test]
    fn rejects_malformed_templates() {
        for bad in ["{", "}", "{a b}", "{}", "{?}", "x{y"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
