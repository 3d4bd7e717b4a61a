//! Whether long work shows live progress (bars, spinners, a live view of stack events) or
//! today's plain lines: live only on a terminal, never under `--quiet` or on CI. And the
//! build's live view: a row per function.

use std::cell::Cell;
use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Called once with the CLI's `--quiet`.
pub fn init(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Plain lines from here on, whatever the terminal: for work that shares stderr with lines
/// printed by others (`dev --watch` rebuilds beside the gateway's log), which a live view
/// would redraw over.
pub fn plain_from_now_on() {
    QUIET.store(true, Ordering::Relaxed);
}

/// Live progress on stderr: a terminal, no `--quiet`, no `CI` in the environment.
pub fn enabled() -> bool {
    live(
        QUIET.load(Ordering::Relaxed),
        std::env::var_os("CI").is_some_and(|v| !v.is_empty()),
        std::io::stderr().is_terminal(),
    )
}

/// The rule, apart from where its answers come from.
fn live(quiet: bool, ci: bool, terminal: bool) -> bool {
    terminal && !quiet && !ci
}

/// What one function's row says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Its turn has not come (release builds go one function at a time).
    Waiting,
    /// cargo is at work; `crates` have finished so far in this cargo call.
    Compiling {
        crates: usize,
    },
    /// Its binary is ready; the zip comes once the cargo call ends.
    Built,
    Zipping,
    /// Finished: what it produced.
    Done(String),
    Failed,
}

/// How a row looks: idle, busy (a spinner), or finished well or badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Idle,
    Busy,
    Good,
    Bad,
}

impl Step {
    fn look(&self) -> Look {
        match self {
            Step::Waiting | Step::Built => Look::Idle,
            Step::Compiling { .. } | Step::Zipping => Look::Busy,
            Step::Done(_) => Look::Good,
            Step::Failed => Look::Bad,
        }
    }

    fn text(&self) -> String {
        match self {
            Step::Waiting => "waiting".to_owned(),
            Step::Compiling { crates: 0 } => "compiling".to_owned(),
            Step::Compiling { crates: 1 } => "compiling (1 crate done)".to_owned(),
            Step::Compiling { crates } => format!("compiling ({crates} crates done)"),
            Step::Built => "built; zipped once cargo is done".to_owned(),
            Step::Zipping => "zipping".to_owned(),
            Step::Done(what) => what.clone(),
            Step::Failed => "failed (cargo's messages above)".to_owned(),
        }
    }
}

/// A row per function being built, drawn on stderr below whatever else is printed.
pub struct Board {
    multi: MultiProgress,
    rows: Vec<Row>,
    width: usize,
}

struct Row {
    function: String,
    bar: ProgressBar,
    look: Cell<Look>,
}

impl Board {
    /// Every function starts as waiting.
    pub fn new(functions: &[&str]) -> Board {
        Board::with(MultiProgress::new(), functions)
    }

    fn with(multi: MultiProgress, functions: &[&str]) -> Board {
        let width = functions.iter().map(|f| f.len()).max().unwrap_or(0);
        let rows = functions
            .iter()
            .map(|name| Row {
                function: name.to_string(),
                bar: multi.add(ProgressBar::new_spinner().with_prefix(name.to_string())),
                look: Cell::new(Look::Idle),
            })
            .collect();
        let board = Board { multi, rows, width };
        for row in &board.rows {
            board.set(&row.function, Step::Waiting);
        }
        board
    }

    /// Moves a function's row to `step` (a name the board doesn't have is ignored).
    pub fn set(&self, function: &str, step: Step) {
        let Some(row) = self.rows.iter().find(|row| row.function == function) else {
            return;
        };
        let (bar, look) = (&row.bar, step.look());
        let was = row.look.replace(look);
        bar.set_style(self.style(look));
        match look {
            Look::Busy => {
                // The time shown is this step's, not the board's.
                if was != Look::Busy {
                    bar.reset_elapsed();
                }
                bar.set_message(step.text());
                bar.enable_steady_tick(Duration::from_millis(100));
            }
            Look::Idle => {
                bar.disable_steady_tick();
                bar.set_message(step.text());
            }
            Look::Good | Look::Bad => {
                bar.disable_steady_tick();
                bar.finish_with_message(step.text());
            }
        }
    }

    /// Every row not finished yet is marked failed (the cargo call they waited on failed).
    pub fn fail_unfinished(&self) {
        for row in &self.rows {
            if !matches!(row.look.get(), Look::Good | Look::Bad) {
                self.set(&row.function, Step::Failed);
            }
        }
    }

    /// Prints a line above the rows, in full (a compiler message, cargo's own output).
    pub fn println(&self, line: &str) {
        self.multi.suspend(|| eprintln!("{line}"));
    }

    fn style(&self, look: Look) -> ProgressStyle {
        let width = self.width;
        let (template, ticks): (String, &[&str]) = match look {
            Look::Idle => (format!("  {{prefix:<{width}}} {{msg:.dim}}"), &[" ", " "]),
            Look::Busy => (
                format!("{{spinner:.cyan}} {{prefix:<{width}.bold}} {{msg}} {{elapsed:.dim}}"),
                SPINNER,
            ),
            Look::Good => (
                format!("{{spinner:.green}} {{prefix:<{width}.bold}} {{msg:.green}}"),
                &["✔", "✔"],
            ),
            Look::Bad => (
                format!("{{spinner:.red}} {{prefix:<{width}.bold}} {{msg:.red}}"),
                &["✘", "✘"],
            ),
        };
        ProgressStyle::with_template(&template)
            .expect("the row templates are valid")
            .tick_strings(ticks)
    }
}

/// The busy rows' spinner; the last string is shown once a bar finishes.
const SPINNER: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "⠿"];

#[cfg(test)]
mod tests {
    use indicatif::ProgressDrawTarget;

    use super::*;

    #[test]
    fn live_progress_only_on_a_terminal_without_quiet_or_ci() {
        assert!(live(false, false, true));
        assert!(!live(true, false, true), "--quiet");
        assert!(!live(false, true, true), "CI");
        assert!(!live(false, false, false), "not a terminal");
        // The CLI's flag reaches the rule, whatever stderr is.
        init(true);
        assert!(!enabled());
    }

    #[test]
    fn rows_follow_their_function_from_waiting_to_done_or_failed() {
        let board = Board::with(
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            &["echo", "chat-connect"],
        );
        let row = |name: &str| {
            let row = board.rows.iter().find(|row| row.function == name).unwrap();
            (row.bar.message(), row.bar.is_finished())
        };
        assert_eq!(row("echo"), ("waiting".to_owned(), false));

        board.set("echo", Step::Compiling { crates: 12 });
        assert_eq!(
            row("echo"),
            ("compiling (12 crates done)".to_owned(), false)
        );
        board.set("echo", Step::Done("1.2 MiB zipped in 3.0s".into()));
        assert_eq!(row("echo"), ("1.2 MiB zipped in 3.0s".to_owned(), true));
        // A name the board doesn't have changes nothing.
        board.set("no-such-function", Step::Zipping);

        board.fail_unfinished();
        assert_eq!(
            row("chat-connect"),
            ("failed (cargo's messages above)".to_owned(), true)
        );
        assert_eq!(row("echo").0, "1.2 MiB zipped in 3.0s", "done stays done");
    }

    #[test]
    fn steps_look_idle_busy_or_finished() {
        assert_eq!(Step::Waiting.look(), Look::Idle);
        assert_eq!(Step::Built.look(), Look::Idle);
        assert_eq!(Step::Compiling { crates: 0 }.look(), Look::Busy);
        assert_eq!(Step::Zipping.look(), Look::Busy);
        assert_eq!(Step::Done(String::new()).look(), Look::Good);
        assert_eq!(Step::Failed.look(), Look::Bad);
        assert_eq!(Step::Compiling { crates: 0 }.text(), "compiling");
        assert_eq!(
            Step::Compiling { crates: 1 }.text(),
            "compiling (1 crate done)"
        );
    }
}
