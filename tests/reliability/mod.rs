//! Issue #4: herds, kills, faults, full and read-only disks, refused cache directories, hardening. Each test
//! prints its figure (`figure: ...`) for docs/security.md.

mod disk;
mod faults;
mod herd;
mod kills;
mod private;
