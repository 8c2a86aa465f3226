//! cargo's configuration as text: the `[registries.NAME]` edit that `wire cargo --apply` makes, keeping every other
//! line, comment and layout as it was, and the TOML and JSON forms of the values it writes. Pure: `steps` reads and
//! writes the file, `tools` prints the same values.

/// `text` as a JSON (and TOML basic) string.
pub(crate) fn json(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// A TOML (and JSON) array of strings.
pub(crate) fn toml_array(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_default().replace("\",\"", "\", \"")
}

/// `text`, a cargo configuration, with `[registries.NAME]` holding `credential-provider` (and `index` when it has
/// none), everything else kept as it was; an error when the table is not written as a `[registries.NAME]` header.
pub(crate) fn cargo_edit(text: &str, registry: &str, index: &str, provider: &[String]) -> Result<String, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e: toml::de::Error| {
        format!("not valid TOML at {}", crate::config::located(e.message(), e.span(), text).trim_start())
    })?;
    let provider_line = format!("credential-provider = {}\n", toml_array(provider));
    let index_line = format!("index = {}\n", json(index));
    let existing = table.get("registries").and_then(|r| r.get(registry));
    let mut new = text.to_owned();
    match existing {
        None => {
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            if !new.is_empty() {
                new.push('\n');
            }
            new.push_str(&format!("[registries.{registry}]\n{index_line}{provider_line}"));
        }
        Some(entry) => {
            let header = format!("[registries.{registry}]");
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            // A header may end in a comment (`[registries.corp] # mine`).
            let bare = |l: &str| l.split('#').next().unwrap_or("").trim().to_owned();
            let at =
                lines.iter().position(|l| bare(l) == header).ok_or("the registry is not a [registries.NAME] table")?;
            let end = lines[at + 1..]
                .iter()
                .position(|l| l.trim_start().starts_with('['))
                .map_or(lines.len(), |e| at + 1 + e);
            // The key as cargo may write it: bare or quoted.
            let key = |l: &&str| {
                let l = l.trim_start();
                ["credential-provider", "\"credential-provider\"", "'credential-provider'"]
                    .iter()
                    .any(|k| l.strip_prefix(k).is_some_and(|r| r.trim_start().starts_with('=')))
            };
            let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            match lines[at + 1..end].iter().position(key) {
                Some(i) => out[at + 1 + i] = provider_line,
                None => out.insert(at + 1, provider_line),
            }
            if entry.get("index").is_none() {
                out.insert(at + 1, index_line);
            }
            if !out[at].ends_with('\n') {
                out[at].push('\n');
            }
            new = out.concat();
        }
    }
    let check: toml::Table = toml::from_str(&new)
        .map_err(|_| "the edit would not read back as TOML (is the entry written over several lines, or twice?)")?;
    let wanted: Vec<toml::Value> = provider.iter().map(|p| toml::Value::String(p.clone())).collect();
    match check.get("registries").and_then(|r| r.get(registry)).and_then(|r| r.get("credential-provider")) {
        Some(toml::Value::Array(a)) if *a == wanted => Ok(new),
        _ => Err("the edit would not read back as written".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Vec<String> {
        vec!["tokenfob".into(), "corp".into()]
    }

    #[test]
    fn cargo_edit_adds_a_registry_and_keeps_the_rest() {
        let text = "# mine\n[net]\nretry = 3 # comment\n";
        let new = cargo_edit(text, "corp", "sparse+https://c.example/index/", &provider()).unwrap();
        assert!(new.starts_with(text), "{new}");
        assert!(new.ends_with(
            "\n\n[registries.corp]\nindex = \"sparse+https://c.example/index/\"\ncredential-provider = [\"tokenfob\", \"corp\"]\n"
        ));
    }

    #[test]
    fn cargo_edit_sets_the_provider_of_an_existing_registry() {
        let text =
            "[registries.corp]  \nindex = \"sparse+https://old/\"\ncredential-provider = [\"x\"]\n\n[net]\nretry = 1\n";
        let new = cargo_edit(text, "corp", "sparse+https://new/", &provider()).unwrap();
        assert_eq!(
            new,
            "[registries.corp]  \nindex = \"sparse+https://old/\"\ncredential-provider = [\"tokenfob\", \"corp\"]\n\n[net]\nretry = 1\n"
        );
        let text = "[registries.corp]\nindex = \"sparse+https://old/\"";
        assert!(cargo_edit(text, "corp", "i", &provider()).unwrap().contains("credential-provider = [\"tokenfob\""));
    }

    #[test]
    fn cargo_edit_takes_a_quoted_key_and_a_commented_header() {
        let text = "[registries.corp] # mine\nindex = \"sparse+https://old/\"\n\"credential-provider\" = [\"x\"]\n";
        let new = cargo_edit(text, "corp", "i", &provider()).unwrap();
        assert_eq!(
            new,
            "[registries.corp] # mine\nindex = \"sparse+https://old/\"\ncredential-provider = [\"tokenfob\", \"corp\"]\n"
        );
    }

    #[test]
    fn cargo_edit_never_quotes_a_line_it_cannot_read() {
        let why = cargo_edit("[registries.corp]\ntoken = \"SEKRIT\\q\"\n", "corp", "i", &provider()).unwrap_err();
        assert!(why.contains("2:") && !why.contains("SEKRIT"), "{why}");
    }

    #[test]
    fn cargo_edit_refuses_what_it_cannot_edit_line_by_line() {
        assert!(cargo_edit("registries.corp.index = \"x\"\n", "corp", "i", &provider()).is_err());
        let multi = "[registries.corp]\ncredential-provider = [\n \"x\",\n]\n";
        assert!(cargo_edit(multi, "corp", "i", &provider()).is_err());
        assert!(cargo_edit("[broken", "corp", "i", &provider()).is_err());
    }
}
