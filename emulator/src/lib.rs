//! Loopback stand-ins for tokenfob's servers: `tokenfob demo`, the integration tests and the benchmark use them.
//!
//! [`server`] is the one small HTTP/1.1 server on 127.0.0.1 that everything here runs on; [`Emulator`] speaks the
//! three seed login APIs on it and counts every request; [`util`] has the few helpers the tests need (random hex,
//! base64, a JWT's `exp`, RFC 3339 times), so that they use nothing of tokenfob but its executable.

mod seeds;
pub mod server;
pub mod util;

pub use seeds::{Emulator, Fault, GD_USER_ID, OD_USER, SESSION_USER, State, seed_config};
