//! `tokenfob git-credential`: git's credential-helper protocol, for HTTPS remotes that take bearer tokens.
//!
//! git writes `key=value` lines and a blank line; tokenfob answers `get` with a token. When git announces
//! `capability[]=authtype` (git 2.46+), the answer is `authtype=Bearer` and `credential=<token>`, so git sends
//! `Authorization: Bearer`; older gits get `username` (the profile's `git_username`) and `password=<token>`. The
//! profile is chosen by `protocol://host/path` against `match`; no match means no answer, so git asks its next
//! helper. `erase` forgets exactly the token git reports as rejected; `store` does nothing. Unknown keys are
//! ignored, as git requires.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use crate::App;
use crate::cli::GitAction;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// What git sent.
#[derive(Debug, Default)]
pub struct Request {
    /// Single-valued keys.
    pub fields: BTreeMap<String, String>,
    /// `capability[]` values.
    pub capabilities: Vec<String>,
}

impl Request {
    /// `protocol://host/path`, or `None` without protocol and host.
    pub fn url(&self) -> Option<String> {
        let (protocol, host) = (self.fields.get("protocol")?, self.fields.get("host")?);
        let path = self.fields.get("path").map_or("", String::as_str);
        Some(format!("{protocol}://{host}/{path}"))
    }

    /// The credential git used and the server rejected.
    fn rejected(&self) -> Option<&String> {
        self.fields.get("credential").or_else(|| self.fields.get("password"))
    }
}

/// Parses git's `key=value` lines up to a blank line or the end.
pub fn parse(input: &mut dyn BufRead) -> Result<Request> {
    let mut request = Request::default();
    let mut line = String::new();
    for _ in 0..1000 {
        line.clear();
        let n = std::io::Read::take(&mut *input, 64 * 1024)
            .read_line(&mut line)
            .map_err(|e| Error::Other(format!("reading stdin: {e}")))?;
        let text = line.trim_end_matches(['\n', '\r']);
        if n == 0 || text.is_empty() {
            break;
        }
        let Some((key, value)) = text.split_once('=') else { continue };
        match key {
            "capability[]" => request.capabilities.push(value.to_owned()),
            k if k.ends_with("[]") => {}
            k => {
                request.fields.insert(k.to_owned(), value.to_owned());
            }
        }
    }
    Ok(request)
}

/// Handles one git request.
pub fn run(
    app: &App,
    action: GitAction,
    profile: Option<&str>,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<()> {
    let request = parse(input)?;
    if action == GitAction::Store {
        return Ok(());
    }
    let config = app.config()?;
    let chosen = match (profile, request.url()) {
        (Some(name), _) => Some(config.choose(Some(name), None, &app.env)?),
        (None, Some(url)) => config.by_url(&url),
        (None, None) => None,
    };
    let Some(profile) = chosen else {
        crate::log::debug(format_args!("git-credential: no profile matches {:?}", request.url()));
        return Ok(());
    };
    let broker = app.broker(&config)?;
    match action {
        GitAction::Get => {
            let served = broker.get(profile, None, crate::clock::now())?;
            let answer = if request.capabilities.iter().any(|c| c == "authtype") {
                format!("capability[]=authtype\nauthtype=Bearer\ncredential={}\n", served.token.expose())
            } else {
                format!("username={}\npassword={}\n", profile.git_username, served.token.expose())
            };
            out.write_all(answer.as_bytes()).map_err(|e| Error::Other(format!("writing to stdout: {e}")))
        }
        GitAction::Erase => {
            if let Some(token) = request.rejected() {
                broker.erase(profile, Some(&Secret::new(token.clone())))?;
            }
            Ok(())
        }
        GitAction::Store => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_git_input_and_ignores_unknown_keys() {
        let text = "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=git.example.com:8443\npath=org/repo.git\nwwwauth[]=Bearer realm=x\nfuture=1\n\nignored=after-blank\n";
        let r = parse(&mut text.as_bytes()).unwrap();
        assert_eq!(r.capabilities, ["authtype", "state"]);
        assert_eq!(r.url().unwrap(), "https://git.example.com:8443/org/repo.git");
        assert!(!r.fields.contains_key("ignored"));
        let erase = parse(&mut "protocol=https\nhost=h\npassword=old\n".as_bytes()).unwrap();
        assert_eq!(erase.rejected().unwrap(), "old");
    }
}
