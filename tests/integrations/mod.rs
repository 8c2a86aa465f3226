//! Issue #3: each integration driven by its real tool against loopback servers.

mod cargo;
mod bazel;
mod curl;
mod docker;
mod exec;
mod git;
mod goauth;
mod httpie;
pub mod kubectl;
mod pnpm;
mod terraform;
mod python;
