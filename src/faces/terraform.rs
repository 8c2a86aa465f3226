//! `tokenfob terraform-credentials`: the credentials-helper protocol of Terraform and OpenTofu, for the hosts of
//! their remote services (HCP Terraform or Terraform Enterprise, a module or provider registry, a `remote` backend).
//!
//! With `credentials_helper "tokenfob" {}` in the CLI configuration, Terraform runs
//! `terraform-credentials-tokenfob [args] VERB HOST` (tokenfob installed under that name in a plugin directory:
//! `cli::PERSONALITIES`), HOST in Terraform's comparison form (lower case, punycode, `:port` unless 443). `get`
//! prints `{"token":"..."}` for the profile whose `match` covers `https://HOST/`, or `{}` when none does, which
//! Terraform reads as "no credentials" and sends no token; `--profile P` (in `args`) answers with P's token only,
//! and `{}` for hosts P's `match` does not cover. Terraform keeps a token for its whole run and never asks again,
//! so `--min-valid D` renews a token that would not last D. `forget` (`terraform logout`) is `tokenfob erase` of the
//! host's profile.
//! `store` (`terraform login`) is refused after reading stdin to its end, as the protocol asks of a helper that
//! cannot store: tokenfob makes its own tokens, and keeping one it is given would serve a token it cannot renew.
//! Terraform then reports that the token was not saved, rather than a success that nothing would ever serve. An
//! unknown verb is a usage error on stderr (clap), as the protocol requires for forward compatibility.
//!
//! The protocol: developer.hashicorp.com/terraform/internals/credentials-helpers, and terraform-svchost's
//! `auth/helper_program.go` (get and forget run with an empty stdin; any failure is stderr and a non-zero exit).

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};

use super::App;
use crate::cli::TerraformVerb;
use crate::error::{Error, Result};

/// The largest credentials object `store` reads from stdin.
const MAX_STORE: usize = 64 * 1024;

/// What Terraform asks, with the helper's own arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ask<'a> {
    /// get, store or forget.
    pub(crate) verb: TerraformVerb,
    /// `--profile`.
    pub(crate) profile: Option<&'a str>,
    /// `--min-valid`: Terraform keeps a token for its whole run and never asks again (terraform-svchost's
    /// `auth/cache.go`), so a long run may want more than the profile's margin.
    pub(crate) min_valid: Option<Duration>,
    /// The host, as Terraform names it.
    pub(crate) host: &'a str,
}

/// Answers one Terraform request.
pub(crate) fn run(app: &App, ask: Ask<'_>, input: &mut dyn Read, out: &mut dyn Write) -> Result<()> {
    let Ask { verb, profile, min_valid, host } = ask;
    let url = host_url(host)?;
    if verb == TerraformVerb::Store {
        check_stored(input)?;
    }
    let chosen = app.open_named_for_url(profile, &url)?;
    match (verb, chosen) {
        (TerraformVerb::Get, None) => super::write_out(out, "{}\n"),
        (TerraformVerb::Get, Some((broker, profile))) => {
            let served = broker.get(&profile, min_valid, crate::clock::now())?;
            super::write_out(out, &format!("{}\n", json!({ "token": served.token().expose() })))
        }
        (TerraformVerb::Forget, None) => Ok(()),
        (TerraformVerb::Forget, Some((broker, profile))) => broker.erase(&profile, None).map(drop),
        (TerraformVerb::Store, chosen) => Err(refuse_store(host, chosen.map(|(_, p)| p.name))),
    }
}

/// `https://HOST/` for the host Terraform names, checked: a host name or address with an optional port that parses
/// back to itself, so that no user, path or second host can hide in it.
pub(crate) fn host_url(host: &str) -> Result<reqwest::Url> {
    let bad = || {
        Error::BadRequest(format!(
            "terraform-credentials: {host:?} is not a host[:port] (Terraform names hosts such as app.terraform.io or \
             tfe.example.com:8443)"
        ))
    };
    let url = reqwest::Url::parse(&format!("https://{host}/")).map_err(|_| bad())?;
    if !super::is_plain_host(host, &url) {
        return Err(bad());
    }
    Ok(url)
}

/// Reads what `store` is given to its end (the protocol asks this even of a helper that refuses) and checks that it
/// is a JSON object. The token in it is never kept, shown or logged.
fn check_stored(input: &mut dyn Read) -> Result<()> {
    let mut bytes = super::read_request(input, MAX_STORE, "the credentials object of `store`")?;
    let parsed = serde_json::from_slice::<Value>(&bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    match parsed {
        Ok(Value::Object(_)) => Ok(()),
        // serde's message is left out: about a value of the wrong type it would quote the value.
        _ => Err(Error::BadRequest(
            "terraform-credentials store: stdin is not a JSON credentials object such as {\"token\":\"...\"}".into(),
        )),
    }
}

/// Why `store` stores nothing, and what to do instead.
fn refuse_store(host: &str, profile: Option<String>) -> Error {
    Error::Other(match profile {
        Some(name) => format!(
            "terraform-credentials store: nothing was stored for https://{host}/: profile {name:?} covers it, and \
             tokenfob makes that profile's tokens itself instead of keeping one it is given (Terraform gets the \
             profile's token from `get`; run `tokenfob login {name}` for a fresh one)"
        ),
        None => format!(
            "terraform-credentials store: nothing was stored for https://{host}/: no profile covers it, and tokenfob \
             keeps no tokens it is given (add a profile for the host to tokenfob's configuration, or give Terraform \
             the token in a `credentials \"{host}\"` block of its CLI configuration)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_urls_are_checked() {
        assert_eq!(host_url("app.terraform.io").unwrap().as_str(), "https://app.terraform.io/");
        assert_eq!(host_url("localhost:8443").unwrap().as_str(), "https://localhost:8443/");
        assert_eq!(host_url("TFE.Example.com:443").unwrap().as_str(), "https://tfe.example.com/");
        assert_eq!(host_url("xn--caf-dma.fr").unwrap().as_str(), "https://xn--caf-dma.fr/");
        assert_eq!(host_url("[::1]:8443").unwrap().as_str(), "https://[::1]:8443/");
        for host in ["", "evil@good", "good/x", "good#x", "a b", "h:99999", "h:0443", "h:x", "h\u{7}", "café.fr"] {
            let err = host_url(host).unwrap_err();
            assert_eq!(err.code(), "bad_request", "{host:?}");
        }
    }

    #[test]
    fn store_reads_a_credentials_object_and_never_quotes_it() {
        assert!(check_stored(&mut &br#"{"token":"s3cret"}"#[..]).is_ok());
        assert!(check_stored(&mut &br#"{"token":"s3cret","future":1}"#[..]).is_ok());
        let big = format!("{{\"token\":\"{}\"}}", "x".repeat(MAX_STORE));
        for input in ["", "s3cret", "[\"s3cret\"]", "\"s3cret\"", "{\"token\":\"s3cret\"", big.as_str()] {
            let err = check_stored(&mut input.as_bytes()).unwrap_err();
            assert_eq!(err.code(), "bad_request", "{input:?}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn store_is_refused_with_what_to_do() {
        let named = refuse_store("tfe.example.com", Some("tfe".into())).to_string();
        assert!(named.contains("tokenfob login tfe") && named.contains("https://tfe.example.com/"), "{named}");
        let none = refuse_store("registry.example.com", None).to_string();
        assert!(none.contains("credentials \"registry.example.com\""), "{none}");
    }
}
