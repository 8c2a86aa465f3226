//! The network: one HTTP request at a time (`http`), and the redaction of secrets from what a server sends back
//! before it is shown (`redact`).

pub(crate) mod http;
pub(crate) mod redact;
