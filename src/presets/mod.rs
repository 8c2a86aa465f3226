//! Presets: each HTTP kind but `http` is a recipe filled in from a few profile keys, so one engine runs them all
//! (issue #2: "the three seed kinds must be presets of this one engine"). One file per kind: `onedata`, `session`,
//! `gooddata`, `oauth2`, and `http`, which takes the recipe as written.

mod gooddata;
mod http;
mod oauth2;
mod onedata;
mod session;

use std::collections::BTreeMap;

use crate::config::{Kind, RawProfile};
use crate::recipe::{Recipe, VarSpec};

/// Builds the recipe of a profile of any HTTP kind.
pub(crate) fn from_profile(raw: &RawProfile) -> Result<Recipe, String> {
    let mut vars = common_vars(raw);
    let recipe = match raw.kind {
        Kind::Onedata => onedata::preset(raw)?,
        Kind::Session => session::preset(raw)?,
        Kind::Gooddata => gooddata::preset(raw, &mut vars)?,
        Kind::Http => http::preset(raw)?,
        Kind::Oauth2 => oauth2::preset(raw, &mut vars)?,
        Kind::Static | Kind::Command => {
            return Err(format!("kind {} has no recipe", raw.kind.name()));
        }
    };
    for (name, value) in &raw.vars {
        vars.insert(name.clone(), value.clone());
    }
    Ok(Recipe { vars, ..recipe })
}

/// The profile keys every recipe can use as placeholders.
fn common_vars(raw: &RawProfile) -> BTreeMap<String, VarSpec> {
    let mut vars = BTreeMap::new();
    let plain = [
        ("url", raw.url.as_deref()),
        ("login_url", raw.login_url.as_deref()),
        ("refresh_url", raw.refresh_url.as_deref()),
        ("username", raw.username.as_deref()),
        ("user_id", raw.user_id.as_deref()),
        ("token_id", raw.token_id.as_deref()),
    ];
    for (name, value) in plain {
        if let Some(v) = value {
            // `{url}/api/...` must not become `//api` when the URL was written with a trailing slash.
            let v = if name.ends_with("url") { v.trim_end_matches('/') } else { v };
            vars.insert(name.to_owned(), VarSpec::Plain(v.to_owned().into()));
        }
    }
    if let Some(id) = &raw.account_id {
        vars.insert("account_id".into(), VarSpec::Plain(id.clone()));
    }
    for (name, source) in [("password", &raw.password), ("bootstrap_token", &raw.bootstrap_token)] {
        if let Some(s) = source {
            vars.insert(name.into(), VarSpec::Secret(s.clone()));
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Source, parse};
    use crate::secret::SecretSource;
    use std::path::Path;
    use std::time::Duration;

    fn recipe_of(toml: &str) -> Recipe {
        let config = parse(toml, Path::new("c.toml")).unwrap();
        match &config.profiles.values().next().unwrap().source {
            Source::Recipe(r) => (**r).clone(),
            other => panic!("not a recipe: {other:?}"),
        }
    }

    const OD: &str = "[profiles.od]\nkind = \"onedata\"\nurl = \"https://od.example.com/\"\nusername = \"bot\"\npassword = { env = \"PW\" }\n";

    #[test]
    fn onedata_preset_posts_credentials_and_reads_the_header() {
        let r = recipe_of(OD);
        assert_eq!(r.login.url, "{url}/api/v1/users/login");
        assert_eq!(r.vars["url"], VarSpec::Plain("https://od.example.com".into()));
        assert_eq!(r.reply.token_header, ["Authorization", "X-Auth-Token"]);
        assert_eq!(r.lifetime, Some(Duration::from_secs(86_400)));
        assert!(r.refresh.is_none());
    }

    #[test]
    fn fingerprint_changes_with_identity_but_not_with_secret_values() {
        let base = recipe_of(OD).fingerprint();
        assert_eq!(base, recipe_of(OD).fingerprint());
        assert_ne!(base, recipe_of(&OD.replace("bot", "other")).fingerprint());
        assert_ne!(base, recipe_of(&OD.replace("od.example.com/", "od2.example.com")).fingerprint());
        let lit = |pw: &str| recipe_of(&OD.replace("{ env = \"PW\" }", &format!("\"{pw}\""))).fingerprint();
        assert_eq!(lit("one"), lit("two"));
    }

    #[test]
    fn http_recipe_needs_a_token_location() {
        let toml = "[profiles.h]\nkind = \"http\"\n[profiles.h.login]\nurl = \"https://x/login\"\n[profiles.h.reply]\n";
        let e = parse(toml, Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("token_header"), "{e}");
    }

    #[test]
    fn vars_take_plain_values_and_secret_sources() {
        let toml = "[profiles.h]\nkind = \"http\"\nvars = { tenant = \"t1\", n = 3, key = { env = \"K\" } }\n\
                    [profiles.h.login]\nurl = \"https://x/login\"\n[profiles.h.reply]\ntoken_pointer = \"/t\"\n";
        let r = recipe_of(toml);
        assert_eq!(r.vars["tenant"], VarSpec::Plain("t1".into()));
        assert_eq!(r.vars["n"], VarSpec::Plain(3.into()));
        assert_eq!(r.vars["key"], VarSpec::Secret(SecretSource::Env("K".into())));
    }
}
