//! `tokenfob kubectl`: a Kubernetes client-go exec credential plugin.
//!
//! kubectl runs the plugin with `KUBERNETES_EXEC_INFO` describing the request (its `apiVersion`, and whether
//! `spec.interactive` allows prompting) and reads one ExecCredential from stdout. The expiry reported is the token's
//! expiry minus the profile's refresh margin: client-go has no margin of its own, so this makes kubectl come back
//! for a renewed token before the old one dies. Nothing but the ExecCredential is ever written to stdout.

use std::io::Write;

use serde_json::json;

use crate::App;
use crate::broker::Served;
use crate::error::{Error, Result};

/// The API versions of ExecCredential that tokenfob speaks.
const VERSIONS: [&str; 2] = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

/// What kubectl said about the request.
#[derive(Debug, PartialEq, Eq)]
pub struct ExecInfo {
    /// The ExecCredential version to answer with.
    pub api_version: String,
    /// Whether the plugin may prompt.
    pub interactive: bool,
}

/// Reads `KUBERNETES_EXEC_INFO`; absent means v1, non-interactive.
pub fn exec_info(raw: Option<&str>) -> Result<ExecInfo> {
    let Some(raw) = raw else {
        return Ok(ExecInfo { api_version: VERSIONS[0].into(), interactive: false });
    };
    let bad = |why: &str| Error::Config(format!("KUBERNETES_EXEC_INFO: {why}"));
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|_| bad("not JSON"))?;
    let api_version = value["apiVersion"].as_str().unwrap_or(VERSIONS[0]);
    if !VERSIONS.contains(&api_version) {
        return Err(bad(&format!(
            "unsupported apiVersion {api_version:?} (tokenfob speaks {})",
            VERSIONS.join(" and ")
        )));
    }
    let interactive = value["spec"]["interactive"].as_bool().unwrap_or(false);
    Ok(ExecInfo { api_version: api_version.into(), interactive })
}

/// Prints the ExecCredential for `profile`.
pub fn run(app: &App, profile: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let info = exec_info(app.env.get("KUBERNETES_EXEC_INFO"))?;
    let config = app.config()?;
    let profile = config.choose(profile, None, &app.env)?;
    let mut broker = app.broker(&config)?;
    broker.may_prompt &= info.interactive;
    let now = crate::clock::now();
    let served = broker.get(profile, None, now)?;
    writeln!(out, "{}", credential(&info, &served, profile.refresh_margin, now))
        .map_err(|e| Error::Other(format!("writing to stdout: {e}")))
}

/// The ExecCredential for `served`, its expiry reported `margin` early.
pub fn credential(info: &ExecInfo, served: &Served, margin: std::time::Duration, now: time::OffsetDateTime) -> String {
    let mut status = json!({ "token": served.token.expose() });
    if let Some(at) = served.expires_at {
        // Never report a time already past: client-go would then run the plugin before every request.
        let report = (at - margin).max(now + std::time::Duration::from_secs(10)).min(at);
        status["expirationTimestamp"] = crate::clock::rfc3339(report).into();
    }
    json!({ "apiVersion": info.api_version, "kind": "ExecCredential", "status": status }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exec_info() {
        assert_eq!(exec_info(None).unwrap(), ExecInfo { api_version: VERSIONS[0].into(), interactive: false });
        let v1beta1 = r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":true}}"#;
        assert_eq!(exec_info(Some(v1beta1)).unwrap(), ExecInfo { api_version: VERSIONS[1].into(), interactive: true });
        assert!(exec_info(Some(r#"{"apiVersion":"client.authentication.k8s.io/v2"}"#)).is_err());
        assert!(exec_info(Some("{")).is_err());
    }
}
