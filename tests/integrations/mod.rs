//! Issue #3: each integration driven by its real tool against loopback servers.

mod bazel;
mod cargo;
mod curl;
mod docker;
mod exec;
mod git;
mod goauth;
mod httpie;
mod keyring;
pub mod kubectl;
mod pnpm;
mod python;
mod review12;
mod terraform;
mod wire;
