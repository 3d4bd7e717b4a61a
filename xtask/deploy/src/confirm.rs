//! Asking before changing anything: `--yes` proceeds, a terminal is asked, and anything else
//! (CI, a pipe) is refused rather than guessed.

use std::io::{self, BufRead, IsTerminal, Write};

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Proceed,
    Ask,
    Refuse,
}

pub fn decide(yes: bool, stdin_is_terminal: bool) -> Decision {
    match (yes, stdin_is_terminal) {
        (true, _) => Decision::Proceed,
        (false, true) => Decision::Ask,
        (false, false) => Decision::Refuse,
    }
}

/// `Ok(true)` to go ahead, `Ok(false)` when the user said no; an error when nobody can be
/// asked. `action` completes "refusing to …" (e.g. "change stack wsecho-dev"); `review` says
/// how to see what would happen (e.g. "review the changes with `cargo xtask diff`").
pub fn confirm(question: &str, action: &str, review: &str, yes: bool) -> Result<bool> {
    match decide(yes, io::stdin().is_terminal()) {
        Decision::Proceed => Ok(true),
        Decision::Refuse => Err(Error::Unconfirmed {
            action: action.to_owned(),
            review: review.to_owned(),
        }),
        Decision::Ask => {
            eprint!("{question} [y/N] ");
            io::stderr().flush().map_err(Error::Prompt)?;
            let mut line = String::new();
            io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(Error::Prompt)?;
            Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_proceeds_a_terminal_is_asked_anything_else_is_refused() {
        assert_eq!(decide(true, false), Decision::Proceed);
        assert_eq!(decide(true, true), Decision::Proceed);
        assert_eq!(decide(false, true), Decision::Ask);
        assert_eq!(decide(false, false), Decision::Refuse);
    }
}
