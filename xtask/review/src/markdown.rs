//! The Markdown format: a pull-request comment. The first line is a hidden marker the PR
//! workflow finds its comment by; then a summary line; then replacements and security changes
//! across all stacks; then one table per changed stack.

use std::fmt::Write as _;

use crate::show::{self, Piece};
use crate::{
    Access, ChangeKind, NamedChange, Replacement, ResourceChange, Review, StackReview, StackStatus,
    Summary,
};

/// The marker the PR workflow looks for to update its one comment.
pub const MARKER: &str = "<!-- wsecho-diff -->";

/// Room for the stacks' tables: GitHub's limit on a comment is 65536 characters; the rest is
/// for the closing lines.
const MAX_COMMENT_LEN: usize = 60_000;

/// More changes than this in one resource go in a `<details>` block.
const FOLD_AFTER: usize = 4;

pub(crate) fn render(review: &Review) -> String {
    let mut out = format!("{MARKER}\n");
    let summary = Summary::of(review);
    let range = format!("{} → {}", code(&review.base), code(&review.head));
    if review.is_empty() {
        let _ = writeln!(out, "No infrastructure changes ({range}).");
        return out;
    }
    let _ = writeln!(
        out,
        "**{}** ({range}): {}",
        summary.headline(),
        summary.details()
    );

    let replaced: Vec<(&StackReview, &ResourceChange)> = review
        .stacks
        .iter()
        .flat_map(|s| s.resources.iter().map(move |r| (s, r)))
        .filter(|(_, r)| r.replaces())
        .collect();
    if !replaced.is_empty() {
        out.push_str("\n### Replacements\n\n");
        out.push_str("| Stack | Logical ID | Type | Replaced | Because of |\n");
        out.push_str("| --- | --- | --- | --- | --- |\n");
        let mut rows = Vec::new();
        for (stack, resource) in replaced {
            let because: Vec<String> = resource
                .properties
                .iter()
                .filter(|p| p.replacement == resource.replacement)
                .map(|p| cell(&p.path))
                .collect();
            let replaced = if resource.replacement == Replacement::Yes {
                "**yes**"
            } else {
                "may be"
            };
            rows.push(format!(
                "| {} | {} | {} | {replaced} | {} |\n",
                cell(&stack.stack),
                cell(&resource.logical_id),
                cell(&resource.resource_type),
                because.join(", ")
            ));
        }
        push_rows(&mut out, rows, review);
    }

    let mut security: Vec<_> = review
        .stacks
        .iter()
        .flat_map(|s| s.security.iter().map(move |c| (s, c)))
        .collect();
    // What to look at first: widened access, then changed, then narrowed.
    security.sort_by_key(|(_, c)| match c.access {
        Access::Widened => 0,
        Access::Changed => 1,
        Access::Narrowed => 2,
    });
    if !security.is_empty() {
        out.push_str("\n### Security changes\n\n");
        out.push_str("| | Access | Stack | Logical ID | Type | Change |\n");
        out.push_str("| --- | --- | --- | --- | --- | --- |\n");
        let mut rows = Vec::new();
        for (stack, change) in security {
            let sign = match change.change {
                ChangeKind::Added => "+",
                ChangeKind::Removed => "-",
                ChangeKind::Modified => "~",
            };
            let access = match change.access {
                Access::Widened => "**widened**",
                Access::Narrowed => "narrowed",
                Access::Changed => "changed",
            };
            rows.push(format!(
                "| {} | {access} | {} | {} | {} | {} |\n",
                cell(sign),
                cell(&stack.stack),
                cell(&change.logical_id),
                cell(&change.resource_type),
                pieces(&show::security(change))
            ));
        }
        push_rows(&mut out, rows, review);
    }

    // GitHub refuses comments over 65536 characters: stacks that don't fit are named, not
    // shown (replacements and security changes, above, always are).
    let mut left_out = Vec::new();
    for stack in review.stacks.iter().filter(|s| !s.is_empty()) {
        let mut section = String::new();
        stack_markdown(stack, &mut section);
        if left_out.is_empty() && out.len() + section.len() <= MAX_COMMENT_LEN {
            out.push_str(&section);
        } else {
            left_out.push(code(&stack.stack));
        }
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "\nNot shown, to fit a comment: {}; {}.",
            left_out.join(", "),
            see_all(review)
        );
    }
    let unchanged: Vec<String> = review
        .stacks
        .iter()
        .filter(|s| s.is_empty())
        .map(|s| code(&s.stack))
        .collect();
    if !unchanged.is_empty() {
        let _ = writeln!(out, "\nUnchanged: {}.", unchanged.join(", "));
    }
    out
}

/// Where to read what a full comment leaves out.
fn see_all(review: &Review) -> String {
    format!(
        "{} shows everything",
        code(&format!("cargo xtask diff --base {}", review.base))
    )
}

/// A table's rows, as many as fit the comment.
fn push_rows(out: &mut String, rows: Vec<String>, review: &Review) {
    let total = rows.len();
    let mut shown = 0;
    for row in rows {
        if out.len() + row.len() > MAX_COMMENT_LEN {
            break;
        }
        out.push_str(&row);
        shown += 1;
    }
    if shown < total {
        let _ = writeln!(
            out,
            "\n{} more rows not shown, to fit a comment; {}.",
            total - shown,
            see_all(review)
        );
    }
}

fn stack_markdown(stack: &StackReview, out: &mut String) {
    let status = match stack.status {
        StackStatus::Added => "added",
        StackStatus::Removed => "removed",
        StackStatus::Modified | StackStatus::Unchanged => "modified",
    };
    let _ = writeln!(out, "\n### {} ({status})\n", code(&stack.stack));
    if !stack.resources.is_empty() {
        out.push_str("| | Logical ID | Type | Changes |\n");
        out.push_str("| --- | --- | --- | --- |\n");
        // Replacements first, then additions, modifications, removals.
        let order = |r: &&ResourceChange| match (r.replaces(), r.change) {
            (true, _) => 0,
            (_, ChangeKind::Added) => 1,
            (_, ChangeKind::Modified) => 2,
            (_, ChangeKind::Removed) => 3,
        };
        let mut resources: Vec<&ResourceChange> = stack.resources.iter().collect();
        resources.sort_by_key(order);
        for resource in resources {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(show::sign(resource.change, resource.replacement)),
                cell(&resource.logical_id),
                cell(&resource.resource_type),
                changes_cell(resource)
            );
        }
    }
    let named: Vec<String> = [
        ("Outputs", &stack.outputs),
        ("Parameters", &stack.parameters),
        ("Template sections", &stack.sections),
    ]
    .into_iter()
    .filter(|(_, changes)| !changes.is_empty())
    .map(|(title, changes)| format!("{title}: {}", named_list(changes)))
    .collect();
    if !named.is_empty() {
        let _ = writeln!(out, "\n{}.", named.join("; "));
    }
}

fn named_list(changes: &[NamedChange]) -> String {
    changes
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                match c.change {
                    ChangeKind::Added => "added",
                    ChangeKind::Removed => "removed",
                    ChangeKind::Modified => "changed",
                },
                code(&c.name)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn changes_cell(resource: &ResourceChange) -> String {
    let mut lines: Vec<String> = Vec::new();
    match resource.change {
        ChangeKind::Added => lines.push("added".to_owned()),
        ChangeKind::Removed => lines.push("removed".to_owned()),
        ChangeKind::Modified => {}
    }
    if resource.replacement == Replacement::Unknown {
        lines.push(pieces(&show::unknown_replacement(&resource.resource_type)));
    }
    lines.extend(
        resource
            .properties
            .iter()
            .map(|p| pieces(&show::property(p))),
    );
    if lines.len() > FOLD_AFTER {
        format!(
            "<details><summary>{} changes</summary>{}</details>",
            lines.len(),
            lines.join("<br>")
        )
    } else {
        lines.join("<br>")
    }
}

fn pieces(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(s) => text(s),
            Piece::Code(s) => cell(s),
        })
        .collect()
}

/// A code span in a table cell: pipes escaped, since GitHub splits a row into cells before it
/// reads code spans (and unescapes `\|` inside them).
fn cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// A code span: as many backticks around it as it needs, on one line.
fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let longest_run = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    // A span that starts or ends with a backtick needs a space, which CommonMark strips.
    if s.starts_with('`') || s.ends_with('`') || s.is_empty() {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// Prose, with what Markdown or HTML would read escaped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}
