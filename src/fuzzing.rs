//! Entry points for the fuzz targets in `fuzz/`, and nothing else: each feeds untrusted bytes to one of tokenfob's
//! parsers the way tokenfob does, and returns only what a target asserts on (never a secret). The rest of the crate
//! is private; these functions are its whole public surface besides [`crate::main`].

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use time::OffsetDateTime;

use crate::net::http::Answer;
use crate::profile::Source;
use crate::recipe::Recipe;

/// A fixed "now" for parsers that need one.
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a valid time")
}

/// A cache file's bytes: true when they make an entry (anything else is a miss).
pub fn cache_entry(bytes: &[u8]) -> bool {
    crate::store::parse_entry(bytes).is_some()
}

/// A `command` profile's output: true when it gives a token.
pub fn command_output(bytes: &[u8]) -> bool {
    crate::engine::command::parse_command_output(bytes, Some(Duration::from_secs(60)), now()).is_ok()
}

/// Configuration text: the fingerprints of its profiles when it is a valid configuration.
pub fn config(text: &str) -> Option<Vec<String>> {
    let config = crate::profile::parse(text, Path::new("fuzz.toml")).ok()?;
    Some(config.profiles.values().map(crate::profile::Profile::fingerprint).collect())
}

/// A placeholder template: true when it parses.
pub fn template(text: &str) -> bool {
    crate::template::parse(text).is_ok()
}

/// git's credential-helper input: the URL it asks about, when it is a valid request.
pub fn git_request(mut bytes: &[u8]) -> Option<Option<String>> {
    crate::faces::git::parse(&mut bytes).ok().map(|request| request.url())
}

/// A JSON-protocol request line: true when it is a valid request.
pub fn protocol_request(line: &str) -> bool {
    crate::faces::protocol::parse_request(line).is_ok()
}

/// The `exp` claim of a JWT, if it has one.
pub fn jwt_exp(text: &str) -> Option<i64> {
    crate::jwt::exp(text)
}

/// base64url without padding, decoded.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    crate::jwt::base64url_decode(text)
}

/// base64url without padding, encoded.
pub fn base64url_encode(bytes: &[u8]) -> String {
    crate::jwt::base64url_encode(bytes)
}

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

fn seed_recipes() -> &'static [Recipe] {
    static RECIPES: OnceLock<Vec<Recipe>> = OnceLock::new();
    RECIPES.get_or_init(|| {
        let config = crate::profile::parse(SEEDS, Path::new("seeds.toml")).expect("the seed profiles parse");
        let recipes = config.profiles.into_values().filter_map(|p| match p.source {
            Source::Recipe(r) => Some(*r),
            _ => None,
        });
        recipes.collect()
    })
}

/// An answer to one of the seed presets' logins (`which` picks the preset), with `header` as its `Authorization`
/// and `Retry-After` values: `Some(valid)` when it yields a token, `valid` telling whether that token is one any
/// face may print. The failure description is made too, as the engine would.
pub fn seed_answer(which: u8, status: u16, header: &str, body: &[u8]) -> Option<bool> {
    let recipe = &seed_recipes()[usize::from(which) % seed_recipes().len()];
    let answer = Answer {
        status,
        headers: vec![("authorization".into(), header.into()), ("retry-after".into(), header.into())],
        body: body.to_vec(),
    };
    let _ = crate::engine::reply::describe(&answer, &recipe.reply);
    let issued = crate::engine::reply::parse(&recipe.reply, recipe.lifetime, &answer, now()).ok()?;
    Some(crate::token::is_valid_token(issued.token.expose()))
}

/// What a tool sends its helper, by face (`which` picks one): cargo's request line, Docker's registry address, Go's
/// response, Bazel's request, Terraform's host. True when the face would accept it.
pub fn tool_request(which: u8, bytes: &[u8]) -> bool {
    use crate::faces::{bazel, cargo, docker, goauth, terraform};
    match which % 5 {
        0 => cargo::accepts(bytes),
        1 => docker::accepts(bytes),
        2 => goauth::read_response(&mut &bytes[..]).is_ok(),
        3 => bazel::parse_request(bytes).is_ok(),
        _ => std::str::from_utf8(bytes).is_ok_and(|host| terraform::host_url(host).is_ok()),
    }
}
