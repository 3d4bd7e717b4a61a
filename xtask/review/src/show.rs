//! What the text and Markdown formats say about a change, as pieces each format styles its own
//! way: prose, and code (identifiers, values) that Markdown puts in code spans.

use serde_json::Value;

use crate::intrinsic::compact;
use crate::{
    Authorizer, ChangeKind, Permission, PropertyChange, Replacement, RouteAuthorization,
    SecurityChange, SecurityDetail, Statement,
};

/// Values longer than this are cut, with `…`.
const MAX_VALUE_CHARS: usize = 100;

pub(crate) enum Piece {
    Text(String),
    Code(String),
}

fn t(s: impl Into<String>) -> Piece {
    Piece::Text(s.into())
}

fn c(s: impl Into<String>) -> Piece {
    Piece::Code(s.into())
}

/// Old and new value as compact JSON with intrinsics rendered (`absent` for none); long ones
/// cut around where they first differ, so the difference shows.
fn values(old: Option<&Value>, new: Option<&Value>) -> (Piece, Piece) {
    let (a, b) = (
        old.map(|v| compact(v).to_string()),
        new.map(|v| compact(v).to_string()),
    );
    let start = match (&a, &b) {
        (Some(a), Some(b)) => {
            let same = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
            // Some context before the first difference.
            same.saturating_sub(MAX_VALUE_CHARS / 4)
        }
        _ => 0,
    };
    let show = |v: Option<String>| match v {
        None => t("absent"),
        Some(s) if start == 0 => c(truncate(&s)),
        Some(s) => {
            let tail: String = s.chars().skip(start).collect();
            let cut = cut_end(&tail, MAX_VALUE_CHARS - 1);
            c(format!("…{cut}"))
        }
    };
    (show(a), show(b))
}

/// Cut in the middle when long: both ends of an ARN or a list say the most.
pub(crate) fn truncate(s: &str) -> String {
    let count = s.chars().count();
    if count <= MAX_VALUE_CHARS {
        return s.to_owned();
    }
    let head = MAX_VALUE_CHARS / 2;
    let tail = MAX_VALUE_CHARS - head - 1;
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(count - tail).collect();
    format!("{start}…{end}")
}

fn cut_end(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

pub(crate) fn sign(change: ChangeKind, replacement: Replacement) -> &'static str {
    match (change, replacement) {
        (ChangeKind::Added, _) => "+",
        (ChangeKind::Removed, _) => "-",
        (ChangeKind::Modified, Replacement::Yes) => "-/+",
        (ChangeKind::Modified, Replacement::Conditional) => "-/+?",
        (ChangeKind::Modified, _) => "~",
    }
}

/// `Code.S3Key: "a.zip" → "b.zip" (replaces)`.
pub(crate) fn property(change: &PropertyChange) -> Vec<Piece> {
    let (old, new) = values(change.old.as_ref(), change.new.as_ref());
    let mut pieces = vec![c(change.path.clone()), t(": "), old, t(" → "), new];
    match change.replacement {
        Replacement::Yes => pieces.push(t(" (replaces)")),
        Replacement::Conditional => pieces.push(t(" (may replace)")),
        Replacement::Unknown => pieces.push(t(" (replacement unknown)")),
        Replacement::No => {}
    }
    pieces
}

/// Why a resource's replacement is unknown, and what to run.
pub(crate) fn unknown_replacement(resource_type: &str) -> Vec<Piece> {
    vec![
        t("replacement unknown: "),
        c(resource_type),
        t(" is not in the generated table (run "),
        c("cargo xtask codegen"),
        t(")"),
    ]
}

/// One security change in a line: `Allow logs:PutLogEvents on ${Group.Arn} (Policies[WriteLogs])`.
pub(crate) fn security(change: &SecurityChange) -> Vec<Piece> {
    match &change.detail {
        SecurityDetail::Statement(statement) => statement_pieces(statement),
        SecurityDetail::ManagedPolicy { arn } => vec![t("managed policy "), c(arn.clone())],
        SecurityDetail::Permission { old, new } => {
            before_after(old.as_ref(), new.as_ref(), permission)
        }
        SecurityDetail::Authorizer { old, new } => {
            before_after(old.as_ref(), new.as_ref(), authorizer)
        }
        SecurityDetail::RouteAuthorization {
            route_key,
            old,
            new,
        } => {
            let mut pieces = vec![t("route "), c(route_key.clone()), t(": ")];
            pieces.extend(before_after(old.as_ref(), new.as_ref(), route));
            pieces
        }
    }
}

fn before_after<T>(old: Option<&T>, new: Option<&T>, show: fn(&T) -> Vec<Piece>) -> Vec<Piece> {
    match (old, new) {
        (Some(a), Some(b)) => {
            let mut pieces = show(a);
            pieces.push(t(" → "));
            pieces.extend(show(b));
            pieces
        }
        (Some(x), None) | (None, Some(x)) => show(x),
        (None, None) => Vec::new(),
    }
}

fn joined(items: &[String]) -> Piece {
    c(truncate(&items.join(", ")))
}

fn statement_pieces(s: &Statement) -> Vec<Piece> {
    let mut pieces = vec![t(s.effect.clone())];
    if !s.actions.is_empty() {
        pieces.extend([t(" "), joined(&s.actions)]);
    }
    if !s.not_actions.is_empty() {
        pieces.extend([t(" all but "), joined(&s.not_actions)]);
    }
    if !s.resources.is_empty() {
        pieces.extend([t(" on "), joined(&s.resources)]);
    }
    if !s.not_resources.is_empty() {
        pieces.extend([t(" on all but "), joined(&s.not_resources)]);
    }
    if !s.principals.is_empty() {
        pieces.extend([t(" to "), joined(&s.principals)]);
    }
    if !s.not_principals.is_empty() {
        pieces.extend([t(" to all but "), joined(&s.not_principals)]);
    }
    if let Some(condition) = &s.condition {
        pieces.extend([t(" when "), c(truncate(&condition.to_string()))]);
    }
    pieces.extend([t(" ("), c(s.policy.clone()), t(")")]);
    pieces
}

fn permission(p: &Permission) -> Vec<Piece> {
    let mut pieces = vec![
        c(p.principal.clone()),
        t(" may "),
        c(p.action.clone()),
        t(" "),
        c(p.function.clone()),
    ];
    if let Some(arn) = &p.source_arn {
        pieces.extend([t(" from "), c(truncate(arn))]);
    }
    if let Some(account) = &p.source_account {
        pieces.extend([t(" of account "), c(account.clone())]);
    }
    pieces
}

fn authorizer(a: &Authorizer) -> Vec<Piece> {
    let mut pieces = vec![
        t("authorizer "),
        c(a.name.clone()),
        t(" ("),
        c(a.authorizer_type.clone()),
    ];
    if !a.identity_source.is_empty() {
        pieces.extend([t(" on "), joined(&a.identity_source)]);
    }
    if let Some(uri) = &a.uri {
        // A Lambda authorizer's URI says which function in the middle of boilerplate.
        let function = uri
            .split_once(":lambda:path/2015-03-31/functions/")
            .and_then(|(_, rest)| rest.strip_suffix("/invocations"));
        match function {
            Some(function) => pieces.extend([t(" by function "), c(function)]),
            None => pieces.extend([t(" by "), c(truncate(uri))]),
        }
    }
    pieces.push(t(")"));
    pieces
}

fn route(r: &RouteAuthorization) -> Vec<Piece> {
    let mut pieces = vec![c(r.authorization_type.clone())];
    if let Some(id) = &r.authorizer_id {
        pieces.extend([t(" by "), c(id.clone())]);
    }
    pieces.push(t(if r.api_key_required {
        ", API key required"
    } else {
        ", no API key"
    }));
    pieces
}

/// Plain text of pieces (the text format).
pub(crate) fn plain(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(s) | Piece::Code(s) => s.as_str(),
        })
        .collect()
}
