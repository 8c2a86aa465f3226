//! Every unknown key of a configuration at once, each with its line and the known key it most likely meant.
//!
//! The parser stops at the first unknown key (`deny_unknown_fields`); `tokenfob check` wants them all, with a "did
//! you mean". The known keys are not listed twice: [`fields_of`] asks each schema type's own `Deserialize` for them,
//! so a key added to the schema is known here at once.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml_edit::{Item, TableLike};

use crate::config::{RawConfig, RawProfile};
use crate::recipe::{CallSpec, LookupSpec, ReplySpec};

/// A key the schema does not know.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unknown {
    /// Where it is: `profiles.od.pasword`.
    pub(crate) path: String,
    /// The same, key by key (a profile name may hold a dot).
    pub(crate) keys: Vec<String>,
    /// Its line in the file (from 1).
    pub(crate) line: usize,
    /// The known key it most likely meant.
    pub(crate) suggestion: Option<&'static str>,
}

/// The unknown keys of the configuration `text` (which must be TOML: the error says where it is not, as
/// `line:col: message`, never quoting the line: it may hold a secret).
pub(crate) fn unknown_keys(text: &str) -> Result<Vec<Unknown>, String> {
    let doc = text.parse::<toml_edit::Document<String>>().map_err(|e| super::edit_error_located(&e, text))?;
    let mut walk = Walk { text, found: Vec::new() };
    let root = doc.as_table();
    walk.table(root, &[], fields_of::<RawConfig>());
    let Some(profiles) = root.get("profiles").and_then(Item::as_table_like) else { return Ok(walk.found) };
    for (name, profile) in profiles.iter() {
        let Some(profile) = profile.as_table_like() else { continue };
        let at =
            |more: &[&str]| -> Vec<String> { ["profiles", name].iter().chain(more).map(|k| (*k).to_owned()).collect() };
        walk.table(profile, &at(&[]), fields_of::<RawProfile>());
        for call in ["login", "refresh", "logout"] {
            if let Some(t) = profile.get(call).and_then(Item::as_table_like) {
                walk.table(t, &at(&[call]), fields_of::<CallSpec>());
            }
        }
        if let Some(t) = profile.get("reply").and_then(Item::as_table_like) {
            walk.table(t, &at(&["reply"]), fields_of::<ReplySpec>());
        }
        for (var, lookup) in profile.get("lookup").and_then(Item::as_table_like).into_iter().flat_map(|t| t.iter()) {
            if let Some(t) = lookup.as_table_like() {
                walk.table(t, &at(&["lookup", var]), fields_of::<LookupSpec>());
            }
        }
    }
    Ok(walk.found)
}

/// The profile `name` of `doc` as a configuration of its own, without the `unknown` keys: checked alone, its
/// errors are its own.
pub(crate) fn profile_alone(doc: &toml_edit::DocumentMut, name: &str, unknown: &[Unknown]) -> String {
    let mut item = doc.get("profiles").and_then(|p| p.get(name)).cloned().unwrap_or_default();
    for u in unknown.iter().filter(|u| u.keys.len() > 2 && u.keys[1] == name) {
        let (last, parents) = u.keys[2..].split_last().expect("a key below the profile");
        let mut table = item.as_table_like_mut();
        for key in parents {
            table = table.and_then(|t| t.get_mut(key)).and_then(Item::as_table_like_mut);
        }
        if let Some(t) = table {
            t.remove(last);
        }
    }
    let mut alone = toml_edit::DocumentMut::new();
    let mut profiles = toml_edit::Table::new();
    profiles.set_implicit(true);
    profiles.insert(name, item);
    alone.insert("profiles", Item::Table(profiles));
    alone.to_string()
}

/// An error message about a profile checked alone, without its `label:line:col: ` (lines of the text made for it,
/// not of the file) or `label: ` start.
pub(crate) fn unlocated(message: &str, label: &str) -> String {
    let Some(rest) = message.strip_prefix(label).and_then(|r| r.strip_prefix(':')) else { return message.to_owned() };
    let located = rest.split(':').take(2).all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let rest = if located { rest.splitn(3, ':').nth(2).unwrap_or(rest) } else { rest };
    format!("{label}: {}", rest.trim_start())
}

struct Walk<'a> {
    text: &'a str,
    found: Vec<Unknown>,
}

impl Walk<'_> {
    fn table(&mut self, table: &dyn TableLike, at: &[String], known: &'static [&'static str]) {
        for (key, _) in table.iter() {
            if known.contains(&key) {
                continue;
            }
            let start = table.get_key_value(key).and_then(|(k, _)| k.span()).map_or(0, |s| s.start);
            let line = self.text[..start.min(self.text.len())].matches('\n').count() + 1;
            let keys: Vec<String> = at.iter().cloned().chain([key.to_owned()]).collect();
            self.found.push(Unknown { path: keys.join("."), keys, line, suggestion: closest(key, known) });
        }
    }
}

/// The field names a schema type's derived `Deserialize` knows (`match` for `match_prefixes`: the names as written).
pub(crate) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = T::deserialize(Capture(&mut fields));
    fields.unwrap_or(&[])
}

/// A deserializer that only notes the field list a struct's `Deserialize` hands to `deserialize_struct`.
struct Capture<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for Capture<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("fields noted"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// The known key closest to `key`: the same once `-` is read as `_` and case is ignored, else at most a third of its
/// letters (at least one) away by edits (insert, delete, change, swap two neighbours).
pub(crate) fn closest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    let key = key.replace('-', "_").to_ascii_lowercase();
    let limit = (key.chars().count() / 3).max(1);
    known.iter().map(|k| (distance(&key, k), *k)).filter(|(d, _)| *d <= limit).min_by_key(|(d, _)| *d).map(|(_, k)| k)
}

/// The optimal-string-alignment distance between `a` and `b`.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_its_own_keys() {
        let profile = fields_of::<RawProfile>();
        assert!(profile.contains(&"match") && profile.contains(&"password") && profile.contains(&"issuer"));
        assert_eq!(fields_of::<RawConfig>(), ["default_profile", "store", "profiles"]);
        assert!(fields_of::<ReplySpec>().contains(&"token_pointer"));
    }

    #[test]
    fn finds_every_unknown_key_with_its_line_and_likely_meaning() {
        let text = "default_profil = \"od\"\n[profiles.od]\nkind = \"onedata\"\npasword = { env = \"P\" }\n\
                    login-url = \"x\"\ncolour = 1\n[profiles.od.reply]\ntoken_pionter = \"/t\"\n\
                    [profiles.od.lookup.u]\nurl = \"x\"\npointr = \"/u\"\n";
        let found = unknown_keys(text).unwrap();
        let got: Vec<(&str, usize, Option<&str>)> =
            found.iter().map(|u| (u.path.as_str(), u.line, u.suggestion)).collect();
        assert_eq!(
            got,
            [
                ("default_profil", 1, Some("default_profile")),
                ("profiles.od.pasword", 4, Some("password")),
                ("profiles.od.login-url", 5, Some("login_url")),
                ("profiles.od.colour", 6, None),
                ("profiles.od.reply.token_pionter", 8, Some("token_pointer")),
                ("profiles.od.lookup.u.pointr", 11, Some("pointer")),
            ]
        );
        assert!(unknown_keys("a = ").is_err());
    }

    #[test]
    fn distances() {
        assert_eq!(distance("pasword", "password"), 1);
        assert_eq!(distance("tokne", "token"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(closest("URL", &["url", "kind"]), Some("url"));
    }
}
