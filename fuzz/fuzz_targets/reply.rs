//! Every seed preset's answer parser, on any status, headers and body.
#![no_main]
use std::sync::OnceLock;

use tokenfob::config::Source;
use tokenfob::recipe::Recipe;
use tokenfob::reply::Answer;

const SEEDS: &str = r#"
[profiles.od]
kind = "onedata"
url = "https://od.example.com"
username = "u"
password = "p"
[profiles.acme]
kind = "session"
login_url = "https://api.example.com/login"
refresh_url = "https://api.example.com/refresh"
username = "u"
password = "p"
[profiles.gd]
kind = "gooddata"
url = "https://gd.example.com"
bootstrap_token = "b"
"#;

fn recipes() -> &'static Vec<Recipe> {
    static RECIPES: OnceLock<Vec<Recipe>> = OnceLock::new();
    RECIPES.get_or_init(|| {
        let config = tokenfob::config::parse(SEEDS, std::path::Path::new("seeds.toml")).unwrap();
        config
            .profiles
            .values()
            .filter_map(|p| match &p.source {
                Source::Recipe(r) => Some((**r).clone()),
                _ => None,
            })
            .collect()
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [which, hi, lo, rest @ ..] = data else { return };
    let recipe = &recipes()[usize::from(*which) % recipes().len()];
    // The body, and a header value taken from its first line.
    let header = rest.split(|b| *b == b'\n').next().and_then(|h| std::str::from_utf8(h).ok()).unwrap_or("");
    let answer = Answer {
        status: 100 + (u16::from_be_bytes([*hi, *lo]) % 500),
        headers: vec![("authorization".into(), header.into()), ("retry-after".into(), header.into())],
        body: rest.to_vec(),
    };
    let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    if let Ok(issued) = tokenfob::reply::parse(&recipe.reply, recipe.lifetime, &answer, now) {
        assert!(tokenfob::token::is_valid_token(issued.token.expose()), "a parsed token is always header-safe");
    }
    let _ = answer.describe(&recipe.reply);
});
