//! Issue #3: each integration driven by its real tool against loopback servers.

mod curl;
mod exec;
mod git;
mod httpie;
pub mod kubectl;
mod python;
