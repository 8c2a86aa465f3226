//! The Windows tokenfob.exe under Wine (issue #13), spawned from this Linux test process against the same loopback
//! servers as the Linux tests: logins and the cache, the lock, the faces, child processes, and the Windows files
//! (owner-only DACLs, reparse points, `%APPDATA%` and `%LOCALAPPDATA%`), and the keyring (the Credential Manager).
//!
//! Each test starts from `Sandbox::windows()`, which skips the test (saying how to enable it) unless `.ci/windows`
//! has built the exe and a Wine prefix; CI (`TOKENFOB_REQUIRE_TOOLS=1`) fails instead. See tests/support/wine.rs.

mod cache;
mod faces;
mod files;
mod keyring;
