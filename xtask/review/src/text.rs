//! The text format, for a terminal: coloured only when asked (red for removals, replacements
//! and widened access, green for additions and narrowed access, yellow for modifications).

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use crate::show::{self, plain};
use crate::{
    Access, ChangeKind, NamedChange, Replacement, ResourceChange, Review, StackReview, StackStatus,
    Summary,
};

struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    fn red(&self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default(), text)
    }

    fn green(&self, text: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), text)
    }

    fn yellow(&self, text: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default(), text)
    }

    fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    fn change(&self, change: ChangeKind, replacement: Replacement, text: &str) -> String {
        match (change, replacement) {
            (ChangeKind::Added, _) => self.green(text),
            (ChangeKind::Removed, _)
            | (ChangeKind::Modified, Replacement::Yes | Replacement::Conditional) => self.red(text),
            (ChangeKind::Modified, _) => self.yellow(text),
        }
    }
}

pub(crate) fn render(review: &Review, color: bool) -> String {
    let paint = Paint { color };
    let mut out = String::new();
    let summary = Summary::of(review);
    if review.is_empty() {
        let _ = writeln!(
            out,
            "No infrastructure changes from {} to {}.",
            review.base, review.head
        );
    } else {
        let _ = writeln!(
            out,
            "{} from {} to {}: {}",
            paint.bold(&summary.headline()),
            review.base,
            review.head,
            summary.details()
        );
    }
    for stack in review.stacks.iter().filter(|s| !s.is_empty()) {
        out.push('\n');
        stack_text(&paint, stack, &mut out);
    }
    // Unchanged stacks in one line: a review of every app and stage names them all.
    let unchanged: Vec<&str> = review
        .stacks
        .iter()
        .filter(|s| s.is_empty())
        .map(|s| s.stack.as_str())
        .collect();
    if !unchanged.is_empty() {
        let _ = writeln!(out, "\nUnchanged: {}.", unchanged.join(", "));
    }
    out
}

fn status(status: StackStatus) -> &'static str {
    match status {
        StackStatus::Added => "added",
        StackStatus::Removed => "removed",
        StackStatus::Modified => "modified",
        StackStatus::Unchanged => "unchanged",
    }
}

fn stack_text(paint: &Paint, stack: &StackReview, out: &mut String) {
    let _ = writeln!(
        out,
        "{} ({})",
        paint.bold(&format!("Stack {}", stack.stack)),
        status(stack.status)
    );
    if stack.is_empty() {
        return;
    }
    if !stack.security.is_empty() {
        let _ = writeln!(out, "  {}", paint.bold("Security changes"));
        for change in &stack.security {
            let access = match change.access {
                Access::Widened => paint.red("widened "),
                Access::Narrowed => paint.green("narrowed"),
                Access::Changed => paint.yellow("changed "),
            };
            let sign = match change.change {
                ChangeKind::Added => "+",
                ChangeKind::Removed => "-",
                ChangeKind::Modified => "~",
            };
            let _ = writeln!(
                out,
                "    {access} {sign} {} {}: {}",
                change.logical_id,
                change.resource_type,
                plain(&show::security(change))
            );
        }
    }
    let (replaced, others): (Vec<&ResourceChange>, Vec<&ResourceChange>) =
        stack.resources.iter().partition(|r| r.replaces());
    if !replaced.is_empty() {
        let _ = writeln!(out, "  {}", paint.bold("Replacements"));
        for resource in replaced {
            resource_text(paint, resource, out);
        }
    }
    if !others.is_empty() {
        let _ = writeln!(out, "  {}", paint.bold("Resources"));
        // Additions, then modifications, then removals, as cdk lists them.
        for kind in [ChangeKind::Added, ChangeKind::Modified, ChangeKind::Removed] {
            for resource in others.iter().filter(|r| r.change == kind) {
                resource_text(paint, resource, out);
            }
        }
    }
    named(paint, "Outputs", &stack.outputs, out);
    named(paint, "Parameters", &stack.parameters, out);
    named(paint, "Template", &stack.sections, out);
}

fn resource_text(paint: &Paint, resource: &ResourceChange, out: &mut String) {
    let sign = show::sign(resource.change, resource.replacement);
    let _ = writeln!(
        out,
        "    {} {} {}",
        paint.change(resource.change, resource.replacement, &format!("{sign:<3}")),
        resource.logical_id,
        resource.resource_type
    );
    if resource.replacement == Replacement::Unknown {
        let _ = writeln!(
            out,
            "          {}",
            paint.yellow(&plain(&show::unknown_replacement(&resource.resource_type)))
        );
    }
    for property in &resource.properties {
        let line = plain(&show::property(property));
        let line = if matches!(
            property.replacement,
            Replacement::Yes | Replacement::Conditional
        ) {
            paint.red(&line)
        } else {
            line
        };
        let _ = writeln!(out, "          {line}");
    }
}

fn named(paint: &Paint, title: &str, changes: &[NamedChange], out: &mut String) {
    if changes.is_empty() {
        return;
    }
    let items: Vec<String> = changes
        .iter()
        .map(|c| {
            let sign = show::sign(c.change, Replacement::No);
            format!(
                "{} {}",
                paint.change(c.change, Replacement::No, sign),
                c.name
            )
        })
        .collect();
    let _ = writeln!(out, "  {}: {}", paint.bold(title), items.join(", "));
}
