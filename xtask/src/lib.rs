//! wsecho's tasks, as a library so integration tests can drive them; `main.rs` only parses
//! the command line and dispatches here.

pub mod bench;
pub mod build;
pub mod deploy;
pub mod dev;
pub mod gateway;
pub mod process;
pub mod schema;
pub mod sources;
pub mod synth;
pub mod test;
pub mod tools;
pub mod watch;
pub mod workspace;
