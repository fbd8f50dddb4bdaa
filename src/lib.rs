//! rt: an OCI runtime. `main.rs` is the command line; everything it calls lives here.

pub mod cgroups;
