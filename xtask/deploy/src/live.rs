//! The live view of a stack operation, on a terminal: a row per resource in progress (with a
//! spinner), each resource printed above as one coloured line once it is done, failed
//! resources kept in view with their reason, and the stack's own row at the bottom. Kept to
//! what is happening, so a stack of many resources still fits the screen.

use std::time::Duration;

use anstyle::{AnsiColor, Style};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::events::Event;

/// Where a resource (or the stack) stands, from its latest status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    InProgress,
    /// In progress, undoing: `ROLLBACK_IN_PROGRESS`, `UPDATE_ROLLBACK_IN_PROGRESS`.
    RollingBack,
    Complete,
    /// Undone: `ROLLBACK_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`.
    RolledBack,
    /// Left alone: `DELETE_SKIPPED` (a retained resource).
    Skipped,
    Failed,
}

impl State {
    pub(crate) fn of(status: &str) -> State {
        if status.ends_with("_IN_PROGRESS") {
            if status.contains("ROLLBACK") {
                State::RollingBack
            } else {
                State::InProgress
            }
        } else if status.ends_with("_FAILED") {
            State::Failed
        } else if status.contains("ROLLBACK") {
            State::RolledBack
        } else if status.ends_with("_SKIPPED") {
            State::Skipped
        } else {
            State::Complete
        }
    }

    fn busy(self) -> bool {
        matches!(self, State::InProgress | State::RollingBack)
    }

    fn colour(self) -> AnsiColor {
        match self {
            State::InProgress => AnsiColor::Cyan,
            State::RollingBack | State::RolledBack | State::Skipped => AnsiColor::Yellow,
            State::Complete => AnsiColor::Green,
            State::Failed => AnsiColor::Red,
        }
    }

    /// The same colour, as indicatif's templates name it.
    fn colour_name(self) -> &'static str {
        match self.colour() {
            AnsiColor::Cyan => "cyan",
            AnsiColor::Yellow => "yellow",
            AnsiColor::Green => "green",
            _ => "red",
        }
    }

    /// The mark before a finished row (a busy one spins instead).
    fn mark(self) -> &'static str {
        match self {
            State::Complete => "✔",
            State::Failed => "✘",
            State::RolledBack => "↺",
            State::Skipped => "–",
            State::InProgress | State::RollingBack => "…",
        }
    }
}

/// One resource's latest news.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
    /// Its last failure ("CREATE_FAILED: reason"), kept when later events follow (the
    /// rollback that deletes it), so the cause stays in view.
    pub failure: Option<String>,
}

impl Row {
    /// A resource that failed stays failed once it settles, whatever the rollback did next.
    pub(crate) fn state(&self) -> State {
        let state = State::of(&self.status);
        if self.failure.is_some() && !state.busy() {
            State::Failed
        } else {
            state
        }
    }

    /// The status, then the reason: its own, or the earlier failure's.
    pub(crate) fn detail(&self) -> String {
        let failed_now = State::of(&self.status) == State::Failed;
        match (&self.reason, &self.failure) {
            (_, Some(failure)) if failed_now => failure.clone(),
            (Some(reason), Some(failure)) => {
                format!("{}  ({reason}; after {failure})", self.status)
            }
            (None, Some(failure)) => format!("{}  (after {failure})", self.status),
            (Some(reason), None) => format!("{}  ({reason})", self.status),
            (None, None) => self.status.clone(),
        }
    }
}

/// Every resource's row, in the order they first showed up.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub rows: Vec<Row>,
}

impl Table {
    /// Takes one event in (oldest first); returns the index of the row it changed.
    pub(crate) fn apply(&mut self, event: &Event) -> usize {
        let index = match self
            .rows
            .iter()
            .position(|r| r.logical_id == event.logical_id)
        {
            Some(index) => index,
            None => {
                self.rows.push(Row {
                    logical_id: event.logical_id.clone(),
                    resource_type: event.resource_type.clone(),
                    status: String::new(),
                    reason: None,
                    failure: None,
                });
                self.rows.len() - 1
            }
        };
        let row = &mut self.rows[index];
        row.status = event.status.clone();
        row.reason = event.reason.clone();
        if State::of(&event.status) == State::Failed {
            row.failure = Some(format!(
                "{}: {}",
                event.status,
                event.reason.as_deref().unwrap_or("no reason given")
            ));
        }
        index
    }
}

/// The table on screen: rows of resources in progress or failed above the stack's own row;
/// resources done are printed above them once, as lines that stay.
pub(crate) struct LiveView {
    multi: MultiProgress,
    stack_name: String,
    stack_bar: ProgressBar,
    table: Table,
    /// Each row's bar while it is in view (by the table's index).
    bars: Vec<Option<ProgressBar>>,
    /// The widest logical ID and type so far: the columns line up.
    widths: (usize, usize),
}

impl LiveView {
    pub(crate) fn new(stack_name: &str) -> LiveView {
        LiveView::with(MultiProgress::new(), stack_name)
    }

    fn with(multi: MultiProgress, stack_name: &str) -> LiveView {
        let stack_bar = multi.add(ProgressBar::new_spinner());
        let view = LiveView {
            multi,
            stack_name: stack_name.to_owned(),
            stack_bar,
            table: Table::default(),
            bars: Vec::new(),
            widths: (stack_name.len(), STACK_TYPE.len()),
        };
        view.stack_bar
            .set_prefix(view.columns(stack_name, STACK_TYPE));
        view.draw(&view.stack_bar, State::InProgress, "waiting for its events");
        view
    }

    /// Shows one event, `at` this long into the operation.
    pub(crate) fn show(&mut self, event: &Event, at: Duration) {
        let before = self
            .table
            .rows
            .iter()
            .find(|r| r.logical_id == event.logical_id)
            .map(Row::state);
        let index = self.table.apply(event);
        self.bars.resize_with(self.table.rows.len(), || None);
        let row = self.table.rows[index].clone();
        self.widen(&row);
        let (state, detail) = (row.state(), row.detail());
        if row.logical_id == self.stack_name && row.resource_type == STACK_TYPE {
            self.draw(&self.stack_bar, state, &detail);
            return;
        }
        if state.busy() || state == State::Failed {
            let bar = self.bars[index].get_or_insert_with(|| {
                let bar = self
                    .multi
                    .insert_before(&self.stack_bar, ProgressBar::new_spinner());
                bar.set_prefix(columns(self.widths, &row.logical_id, &row.resource_type));
                bar
            });
            let bar = bar.clone();
            // A busy row's time is this step's: a rollback's delete starts its own clock.
            if state.busy() && before.is_some_and(|b| !b.busy()) {
                bar.reset_elapsed();
            }
            self.draw(&bar, state, &detail);
        } else {
            if let Some(bar) = self.bars[index].take() {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
            let line = self.line(&row, at);
            self.multi.suspend(|| anstream::eprintln!("{line}"));
        }
    }

    /// Restyles a bar for its state: spinning while busy, a coloured mark once settled.
    fn draw(&self, bar: &ProgressBar, state: State, detail: &str) {
        let colour = state.colour_name();
        let (template, ticks): (String, &[&str]) = if state.busy() {
            (
                format!("{{spinner:.{colour}}} {{prefix}} {{msg}} {{elapsed:.dim}}"),
                SPINNER,
            )
        } else {
            (
                format!("{{spinner:.{colour}}} {{prefix}} {{msg:.{colour}}}"),
                &[state.mark(), state.mark()],
            )
        };
        bar.set_style(
            ProgressStyle::with_template(&template)
                .expect("the row templates are valid")
                .tick_strings(ticks),
        );
        bar.set_message(detail.to_owned());
        if state.busy() {
            bar.enable_steady_tick(Duration::from_millis(100));
        } else {
            bar.disable_steady_tick();
            bar.tick();
        }
    }

    /// A finished resource's line, coloured by how it ended, with the time it got there.
    fn line(&self, row: &Row, at: Duration) -> String {
        let state = row.state();
        let style = Style::new().fg_color(Some(state.colour().into()));
        let dim = Style::new().dimmed();
        let secs = at.as_secs();
        format!(
            "{style}{}{style:#} {} {style}{}{style:#} {dim}{}:{:02}{dim:#}",
            state.mark(),
            self.columns(&row.logical_id, &row.resource_type),
            row.detail(),
            secs / 60,
            secs % 60
        )
    }

    fn columns(&self, logical_id: &str, resource_type: &str) -> String {
        columns(self.widths, logical_id, resource_type)
    }

    /// Widens the columns for a longer name, and lines the rows in view up again.
    fn widen(&mut self, row: &Row) {
        let wider = (
            self.widths.0.max(row.logical_id.len()),
            self.widths.1.max(row.resource_type.len()),
        );
        if wider == self.widths {
            return;
        }
        self.widths = wider;
        self.stack_bar
            .set_prefix(columns(wider, &self.stack_name, STACK_TYPE));
        for (row, bar) in self.table.rows.iter().zip(&self.bars) {
            if let Some(bar) = bar {
                bar.set_prefix(columns(wider, &row.logical_id, &row.resource_type));
            }
        }
    }
}

impl Drop for LiveView {
    /// Whatever is in view stays on screen as it is (the failures, the stack's status),
    /// finished or not (a timeout, an error).
    fn drop(&mut self) {
        for bar in self.bars.iter().flatten().chain([&self.stack_bar]) {
            bar.disable_steady_tick();
            bar.abandon();
        }
    }
}

fn columns((logical, resource_type): (usize, usize), id: &str, ty: &str) -> String {
    format!("{id:<logical$} {ty:<resource_type$}")
}

const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

/// The busy rows' spinner.
const SPINNER: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "⠿"];

#[cfg(test)]
mod tests {
    use indicatif::ProgressDrawTarget;

    use super::*;

    fn event(logical: &str, ty: &str, status: &str, reason: Option<&str>) -> Event {
        Event {
            id: format!("{logical}-{status}"),
            logical_id: logical.into(),
            resource_type: ty.into(),
            status: status.into(),
            reason: reason.map(Into::into),
        }
    }

    #[test]
    fn statuses_map_to_states() {
        for (status, state) in [
            ("CREATE_IN_PROGRESS", State::InProgress),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", State::InProgress),
            ("UPDATE_ROLLBACK_IN_PROGRESS", State::RollingBack),
            ("ROLLBACK_IN_PROGRESS", State::RollingBack),
            ("CREATE_COMPLETE", State::Complete),
            ("DELETE_COMPLETE", State::Complete),
            ("UPDATE_ROLLBACK_COMPLETE", State::RolledBack),
            ("DELETE_SKIPPED", State::Skipped),
            ("CREATE_FAILED", State::Failed),
            ("UPDATE_ROLLBACK_FAILED", State::Failed),
        ] {
            assert_eq!(State::of(status), state, "{status}");
        }
        assert_eq!(State::Complete.colour(), AnsiColor::Green);
        assert_eq!(State::Failed.colour(), AnsiColor::Red);
        assert_eq!(State::RolledBack.colour_name(), "yellow");
    }

    /// A failed create and its rollback: one row per resource with its latest status, in the
    /// order they first appeared; the failure's reason stays after the rollback deletes it.
    #[test]
    fn the_table_keeps_one_row_per_resource_and_the_failure_reason() {
        let mut table = Table::default();
        let events = [
            event(
                "app",
                STACK_TYPE,
                "CREATE_IN_PROGRESS",
                Some("User Initiated"),
            ),
            event("EchoRole", "AWS::IAM::Role", "CREATE_IN_PROGRESS", None),
            event(
                "EchoFunction",
                "AWS::Lambda::Function",
                "CREATE_IN_PROGRESS",
                None,
            ),
            event("EchoRole", "AWS::IAM::Role", "CREATE_COMPLETE", None),
            event(
                "EchoFunction",
                "AWS::Lambda::Function",
                "CREATE_FAILED",
                Some("S3 key does not exist"),
            ),
            event("app", STACK_TYPE, "ROLLBACK_IN_PROGRESS", None),
            event(
                "EchoFunction",
                "AWS::Lambda::Function",
                "DELETE_COMPLETE",
                None,
            ),
            event("EchoRole", "AWS::IAM::Role", "DELETE_COMPLETE", None),
            event("app", STACK_TYPE, "ROLLBACK_COMPLETE", None),
        ];
        let changed: Vec<usize> = events.iter().map(|e| table.apply(e)).collect();
        assert_eq!(changed, [0, 1, 2, 1, 2, 0, 2, 1, 0]);

        let rows: Vec<(&str, &str, State, String)> = table
            .rows
            .iter()
            .map(|r| {
                (
                    r.logical_id.as_str(),
                    r.status.as_str(),
                    r.state(),
                    r.detail(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "app",
                    "ROLLBACK_COMPLETE",
                    State::RolledBack,
                    "ROLLBACK_COMPLETE".to_owned()
                ),
                (
                    "EchoRole",
                    "DELETE_COMPLETE",
                    State::Complete,
                    "DELETE_COMPLETE".to_owned()
                ),
                (
                    "EchoFunction",
                    "DELETE_COMPLETE",
                    State::Failed,
                    "DELETE_COMPLETE  (after CREATE_FAILED: S3 key does not exist)".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_failed_row_says_its_reason_and_a_busy_one_is_not_failed_yet() {
        let mut table = Table::default();
        let ty = "AWS::Lambda::Function";
        table.apply(&event("F", ty, "CREATE_FAILED", None));
        assert_eq!(table.rows[0].detail(), "CREATE_FAILED: no reason given");
        table.apply(&event("F", ty, "DELETE_IN_PROGRESS", Some("rollback")));
        assert_eq!(table.rows[0].state(), State::InProgress);
        assert_eq!(
            table.rows[0].detail(),
            "DELETE_IN_PROGRESS  (rollback; after CREATE_FAILED: no reason given)"
        );
    }

    /// Resources in progress or failed are rows in view, above the stack's; a resource done
    /// leaves the view (it is printed above as a line).
    #[test]
    fn the_view_keeps_what_is_in_progress_or_failed() {
        let mut view = LiveView::with(
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            "app",
        );
        let at = Duration::from_secs(75);
        view.show(&event("app", STACK_TYPE, "UPDATE_IN_PROGRESS", None), at);
        view.show(
            &event("Role", "AWS::IAM::Role", "UPDATE_IN_PROGRESS", None),
            at,
        );
        view.show(
            &event("Fn", "AWS::Lambda::Function", "UPDATE_IN_PROGRESS", None),
            at,
        );
        view.show(
            &event("Role", "AWS::IAM::Role", "UPDATE_COMPLETE", None),
            at,
        );
        view.show(
            &event(
                "Fn",
                "AWS::Lambda::Function",
                "UPDATE_FAILED",
                Some("denied"),
            ),
            at,
        );
        let in_view: Vec<(String, String)> = view
            .bars
            .iter()
            .flatten()
            .map(|b| (b.prefix().trim_end().to_owned(), b.message()))
            .collect();
        assert_eq!(
            in_view,
            [(
                "Fn   AWS::Lambda::Function".to_owned(),
                "UPDATE_FAILED: denied".to_owned()
            )]
        );
        assert_eq!(view.stack_bar.message(), "UPDATE_IN_PROGRESS");
        assert_eq!(
            view.stack_bar.prefix(),
            "app  AWS::CloudFormation::Stack",
            "the columns widened for the longest type"
        );

        let line = view.line(&view.table.rows[1], at);
        let plain = anstream::adapter::strip_str(&line).to_string();
        assert_eq!(
            plain,
            "✔ Role AWS::IAM::Role             UPDATE_COMPLETE 1:15"
        );
        assert!(line.contains("\u{1b}[32m"), "done is green: {line:?}");
    }
}
