//! Removing secrets from server text before it is shown: a server may echo what it was sent, raw or encoded.
//!
//! A secret is looked for in every form a server is likely to echo it in: as is, percent-encoded (upper- or
//! lower-case hex; form encoding with `+` for spaces), JSON-escaped (with `\/` and `\uXXXX`), and base64 (standard
//! and URL-safe, which covers a Basic header built from it). Redaction runs on the whole text before it is cut to a
//! readable length, and a text that ends in the start of a secret (a server that cut its own echo) loses that end
//! too, so no prefix of a secret is ever shown (issue #10). A secret shorter than [`MIN_LEN`] cannot be replaced
//! without mangling the text ("HTTP 4***"), so a message that contains one is hidden entirely: failing closed.

use crate::secret::Secret;

/// Secrets shorter than this hide the whole message they appear in instead of being replaced.
const MIN_LEN: usize = 4;

/// What replaces a secret.
const MASK: &str = "***";

/// What a message containing a short secret becomes.
const HIDDEN: &str = "(the server's message is hidden: it contains a value too short to redact safely)";

/// `text` without any form of any of `secrets`.
pub(crate) fn redact(text: &str, secrets: &[Secret]) -> String {
    let mut forms: Vec<String> = secrets.iter().flat_map(|s| encoded_forms(s.expose())).collect();
    forms.retain(|f| !f.is_empty());
    // Longest first, so that a secret inside another leaves no part of the longer one behind.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    if forms.iter().any(|f| f.chars().count() < MIN_LEN && text.contains(f.as_str())) {
        return HIDDEN.into();
    }
    let mut out = text.to_owned();
    for form in &forms {
        if out.contains(form.as_str()) {
            out = out.replace(form.as_str(), MASK);
        }
    }
    let tail = forms.iter().filter_map(|f| trailing_prefix(&out, f)).max().unwrap_or(0);
    if tail > 0 {
        out.truncate(out.len() - tail);
        out.push_str(MASK);
    }
    out
}

/// The length in bytes of the longest end of `text` (at least [`MIN_LEN`] characters) that starts `form`.
fn trailing_prefix(text: &str, form: &str) -> Option<usize> {
    form.char_indices()
        .map(|(i, _)| i)
        .chain([form.len()])
        .filter(|&end| form[..end].chars().count() >= MIN_LEN)
        .filter(|&end| text.ends_with(&form[..end]))
        .max()
}

/// Every form in which `secret` is likely to come back from a server.
fn encoded_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    let percent = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string();
    let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let unreserved = percent_encoding::utf8_percent_encode(secret, crate::template::URL_VALUE).to_string();
    for encoded in [percent, form, unreserved] {
        forms.push(lower_hex(&encoded));
        forms.push(encoded);
    }
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.get(1..json.len().saturating_sub(1)).unwrap_or_default().to_owned();
    let ascii = |upper: bool| -> String {
        json.chars().map(|c| if c.is_ascii() { c.to_string() } else { json_unicode_escape(c, upper) }).collect()
    };
    let (lower, upper) = (ascii(false), ascii(true));
    for escaped in [json, lower, upper] {
        forms.push(escaped.replace('/', "\\/"));
        forms.push(escaped);
    }
    let b64 = crate::jwt::base64_encode(secret.as_bytes());
    forms.push(b64.trim_end_matches('=').to_owned());
    forms.push(crate::jwt::base64url_encode(secret.as_bytes()));
    forms.push(b64);
    forms
}

/// `%2F` -> `%2f`: percent-encoding's hex digits may come back in either case.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut after_percent = 0;
    for c in encoded.chars() {
        if c == '%' {
            after_percent = 2;
            out.push(c);
        } else if after_percent > 0 {
            after_percent -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `ñ` -> `\u00f1`; characters outside the basic plane become a surrogate pair, as JSON writes them.
fn json_unicode_escape(c: char, upper: bool) -> String {
    let mut units = [0u16; 2];
    c.encode_utf16(&mut units)
        .iter()
        .map(|u| if upper { format!("\\u{u:04X}") } else { format!("\\u{u:04x}") })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter().map(|s| Secret::new((*s).to_owned())).collect()
    }

    #[test]
    fn every_encoded_form_is_masked() {
        let s = secrets(&["pa/ss wörd+1\"😀"]);
        for echo in [
            "pa/ss wörd+1\"😀",
            "pa%2Fss%20w%C3%B6rd%2B1%22%F0%9F%98%80",
            "pa%2fss%20w%c3%b6rd%2b1%22%f0%9f%98%80",
            "pa%2Fss+w%C3%B6rd%2B1%22%F0%9F%98%80",
            "pa\\/ss wörd+1\\\"😀",
            "pa\\/ss w\\u00f6rd+1\\\"\\ud83d\\ude00",
            "pa\\/ss w\\u00F6rd+1\\\"\\uD83D\\uDE00",
            &crate::jwt::base64_encode("pa/ss wörd+1\"😀".as_bytes()),
        ] {
            let out = redact(&format!("got <{echo}> here"), &s);
            assert_eq!(out, "got <***> here", "{echo}");
        }
    }

    #[test]
    fn the_start_of_a_secret_at_the_end_is_masked_and_short_secrets_hide_the_text() {
        let s = secrets(&["abcdef123456"]);
        assert_eq!(redact("you sent abcdef12", &s), "you sent ***");
        assert_eq!(redact("you sent abc", &s), "you sent abc", "three characters are not a prefix worth masking");
        assert_eq!(redact("nothing here", &s), "nothing here");
        assert_eq!(redact("wrong password x7z", &secrets(&["x7z"])), HIDDEN);
        assert_eq!(redact("wrong password", &secrets(&["x7z", ""])), "wrong password");
    }
}
