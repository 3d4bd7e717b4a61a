//! The local gateway's integration tests: one test binary, so the gateway and its
//! dependencies are linked once, with a module per area.

mod access;
mod assemblies;
mod attacks;
mod chat;
mod common;
mod concurrency;
mod connections;
mod e2e;
mod events;
mod messages;
mod services;
mod watch;
