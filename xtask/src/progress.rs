//! Whether long work shows live progress (bars, spinners, a live view of stack events) or
//! today's plain lines: live only on a terminal, never under `--quiet` or on CI.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Called once with the CLI's `--quiet`.
pub fn init(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Live progress on stderr: a terminal, no `--quiet`, no `CI` in the environment.
pub fn enabled() -> bool {
    !QUIET.load(Ordering::Relaxed)
        && std::env::var_os("CI").is_none()
        && std::io::stderr().is_terminal()
}
