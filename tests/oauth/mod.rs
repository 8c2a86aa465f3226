//! Issue #6: OAuth 2.0 and OpenID Connect against a real certified provider (oidc-provider from npm, in
//! tests/oidc/), driven over HTTP through its own interaction pages.

mod edges;
mod flows;
pub(crate) mod provider;
