//! Issue #10: regression tests for the holes an outside review found, one module per area. Each test failed before
//! its fix.

mod faces;
mod files;
mod net;
mod renewal;
mod streams;
