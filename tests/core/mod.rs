//! Issue #2: the core against emulations of the three seed login systems.

mod cache;
mod check;
mod faces;
mod failures;
mod manual;
mod recipes;
mod secrets;
mod seeds;
mod setup;
