//! The integration suite: one test binary (link time matters on two cores) that spawns the real `tokenfob` from a
//! clean environment against loopback servers that count requests.

mod core;
mod hardening;
mod integrations;
mod oauth;
mod reliability;
mod support;
mod windows;
