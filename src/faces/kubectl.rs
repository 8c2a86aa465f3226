//! `tokenfob kubectl`: a Kubernetes client-go exec credential plugin.
//!
//! kubectl runs the plugin with `KUBERNETES_EXEC_INFO` describing the request (its `apiVersion`, and whether
//! `spec.interactive` allows prompting) and reads one ExecCredential from stdout. The expiry reported is the token's
//! expiry minus the profile's refresh margin: client-go has no margin of its own, so this makes kubectl come back
//! for a renewed token before the old one dies. Nothing but the ExecCredential is ever written to stdout.

use std::io::Write;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::App;
use crate::broker::Served;
use crate::error::{Error, Result};

/// The API versions of ExecCredential that tokenfob speaks.
const VERSIONS: [&str; 2] = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

/// What kubectl said about the request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ExecInfo {
    /// The ExecCredential version to answer with.
    pub(crate) api_version: String,
    /// Whether the plugin may prompt.
    pub(crate) interactive: bool,
}

/// Reads `KUBERNETES_EXEC_INFO`; absent means v1, non-interactive.
pub(super) fn exec_info(raw: Option<&str>) -> Result<ExecInfo> {
    let Some(raw) = raw else {
        return Ok(ExecInfo { api_version: VERSIONS[0].into(), interactive: false });
    };
    /// The parts of kubectl's ExecCredential request that matter here; the rest (cluster info) is ignored.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Request {
        api_version: Option<String>,
        #[serde(default)]
        spec: Spec,
    }
    #[derive(Deserialize, Default)]
    struct Spec {
        #[serde(default)]
        interactive: bool,
    }
    let bad = |why: &str| Error::Config(format!("KUBERNETES_EXEC_INFO: {why}"));
    let request: Request = serde_json::from_str(raw).map_err(|_| bad("not an ExecCredential in JSON"))?;
    let api_version = request.api_version.unwrap_or_else(|| VERSIONS[0].into());
    if !VERSIONS.contains(&api_version.as_str()) {
        return Err(bad(&format!(
            "unsupported apiVersion {api_version:?} (tokenfob speaks {})",
            VERSIONS.join(" and ")
        )));
    }
    Ok(ExecInfo { api_version, interactive: request.spec.interactive })
}

/// Prints the ExecCredential for `profile`.
pub(crate) fn run(app: &App, profile: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let info = exec_info(app.env.get("KUBERNETES_EXEC_INFO"))?;
    let (mut broker, profile) = app.open_profile(profile, None)?;
    broker.may_prompt &= info.interactive;
    let now = crate::clock::now();
    let served = broker.get(&profile, None, now)?;
    print(&info, &served, now, out)
}

/// Prints the ExecCredential of `served` (also the fast path's answer).
pub(crate) fn print(info: &ExecInfo, served: &Served, now: OffsetDateTime, out: &mut dyn Write) -> Result<()> {
    super::write_out(out, &format!("{}\n", credential(info, served, now)))
}

/// An ExecCredential answer, in the field order client-go documents.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential<'a> {
    api_version: &'a str,
    kind: &'static str,
    status: Status<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_timestamp: Option<String>,
    token: &'a str,
}

/// The ExecCredential for `served`, its expiry reported as the moment tokenfob would renew it (the one freshness
/// rule, `token::renew_at`), so that kubectl asks again exactly then.
pub(crate) fn credential(info: &ExecInfo, served: &Served, now: time::OffsetDateTime) -> String {
    let answer = ExecCredential {
        api_version: &info.api_version,
        kind: "ExecCredential",
        status: Status {
            expiration_timestamp: served.ask_again_at(now).map(crate::clock::rfc3339),
            token: served.token().expose(),
        },
    };
    serde_json::to_string(&answer).expect("an ExecCredential always serializes")
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
        assert!(exec_info(Some(r#"{"apiVersion":7}"#)).is_err());
        let with_cluster = r#"{"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://k"},"interactive":false}}"#;
        assert_eq!(exec_info(Some(with_cluster)).unwrap().api_version, VERSIONS[0]);
    }

    #[test]
    fn answers_with_an_exec_credential() {
        let now = time::OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let info = ExecInfo { api_version: VERSIONS[1].into(), interactive: false };
        let served = |expires_at: Option<time::OffsetDateTime>| {
            let renew_at = expires_at.map(|at| at - std::time::Duration::from_secs(60));
            Served::new("p", crate::secret::Secret::new("t0k".into()), expires_at).unwrap().renewing_at(renew_at)
        };
        assert_eq!(
            credential(&info, &served(Some(now + std::time::Duration::from_secs(3600))), now),
            r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"expirationTimestamp":"1970-01-12T14:45:40Z","token":"t0k"}}"#
        );
        assert_eq!(
            credential(&info, &served(None), now),
            r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t0k"}}"#
        );
    }
}
