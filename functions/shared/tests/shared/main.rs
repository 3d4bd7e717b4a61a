//! shared's integration tests, one binary: events and their fixtures, messages, replies, the
//! management client and delivery against a stand-in endpoint on 127.0.0.1, JSON logs.

mod delivery;
mod fixtures;
mod logging;
mod management;
mod message;
mod reply;
