//! One readable line per connection, message and function output line, on stderr.

use std::io::Write;

use super::ids;

pub fn line(source: &str, text: &str) {
    let mut err = std::io::stderr().lock();
    // A closed stderr must not take the gateway down.
    let _ = writeln!(err, "{} {source:>12} | {text}", ids::clock(ids::now_ms()));
}

macro_rules! log {
    ($source:expr, $($arg:tt)*) => {
        $crate::gateway::log::line($source, &format!($($arg)*))
    };
}
pub(crate) use log;
