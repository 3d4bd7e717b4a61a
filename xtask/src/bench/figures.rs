//! Figures (one measured number with its id and unit), limits on them, and the budgets file.
//!
//! A figure id is dotted: `artifacts.x86_64.echo.zip_bytes`. A limit names figures with the
//! same dots, where `*` stands for any one segment (`artifacts.*.echo.zip_bytes`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Bytes,
    Ms,
    Count,
    PerSecond,
    /// A ratio between two figures (×).
    Times,
}

impl Unit {
    pub fn show(self, value: f64) -> String {
        match self {
            Unit::Bytes if value >= 1_000_000.0 => format!("{:.2} MB", value / 1e6),
            Unit::Bytes => format!("{:.1} kB", value / 1e3),
            Unit::Ms if value < 10.0 => format!("{value:.2} ms"),
            Unit::Ms => format!("{value:.0} ms"),
            Unit::Count => format!("{value:.0}"),
            Unit::PerSecond => format!("{value:.0}/s"),
            Unit::Times if value < 10.0 => format!("{value:.2}×"),
            Unit::Times => format!("{value:.0}×"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub id: String,
    pub value: f64,
    pub unit: Unit,
}

impl Figure {
    pub fn new(id: impl Into<String>, value: f64, unit: Unit) -> Figure {
        Figure {
            id: id.into(),
            value,
            unit,
        }
    }
}

/// A bound on figures: at most and/or at least.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
}

impl Limit {
    pub const fn at_most(max: f64) -> Limit {
        Limit {
            max: Some(max),
            min: None,
        }
    }

    pub const fn at_least(min: f64) -> Limit {
        Limit {
            max: None,
            min: Some(min),
        }
    }

    pub fn admits(&self, value: f64) -> bool {
        self.max.is_none_or(|m| value <= m) && self.min.is_none_or(|m| value >= m)
    }

    pub fn show(&self, unit: Unit) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("{} to {}", unit.show(lo), unit.show(hi)),
            (None, Some(hi)) => format!("≤ {}", unit.show(hi)),
            (Some(lo), None) => format!("≥ {}", unit.show(lo)),
            (None, None) => "anything".to_owned(),
        }
    }
}

/// Does `pattern` (with `*` for one segment) name the figure `id`?
pub fn matches(pattern: &str, id: &str) -> bool {
    let (mut p, mut i) = (pattern.split('.'), id.split('.'));
    loop {
        match (p.next(), i.next()) {
            (None, None) => return true,
            (Some(ps), Some(is)) if ps == "*" || ps == is => {}
            _ => return false,
        }
    }
}

/// One limit checked against the figures it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub pattern: String,
    pub limit: Limit,
    /// `None`: no figure measured matches the pattern.
    pub figure: Option<Figure>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.figure
            .as_ref()
            .is_some_and(|f| self.limit.admits(f.value))
    }

    pub fn measured(&self) -> String {
        match &self.figure {
            Some(f) => f.unit.show(f.value),
            None => "not measured".to_owned(),
        }
    }

    /// What a failing check says: the figure, its value and its budget.
    pub fn problem(&self) -> Option<String> {
        match &self.figure {
            None => Some(format!(
                "`{}`: no figure measured matches this budget (the benchmark that produces it \
                 did not run, or no longer produces it: fix the budgets file)",
                self.pattern
            )),
            Some(f) if !self.limit.admits(f.value) => Some(format!(
                "`{}` is {}, outside its budget {}",
                f.id,
                f.unit.show(f.value),
                self.limit.show(f.unit)
            )),
            Some(_) => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.figure.as_ref().map_or(&self.pattern, |f| &f.id);
        let unit = self.figure.as_ref().map_or(Unit::Count, |f| f.unit);
        let mark = if self.ok() { "ok  " } else { "FAIL" };
        write!(
            f,
            "{mark} {name}: {} (budget {})",
            self.measured(),
            self.limit.show(unit)
        )
    }
}

/// Checks every limit against every figure it names; a limit naming none gets one verdict
/// without a figure.
pub fn check<'a>(
    limits: impl IntoIterator<Item = (&'a str, Limit)>,
    figures: &[Figure],
) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for (pattern, limit) in limits {
        let named: Vec<&Figure> = figures.iter().filter(|f| matches(pattern, &f.id)).collect();
        if named.is_empty() {
            verdicts.push(Verdict {
                pattern: pattern.to_owned(),
                limit,
                figure: None,
            });
        }
        verdicts.extend(named.into_iter().map(|f| Verdict {
            pattern: pattern.to_owned(),
            limit,
            figure: Some(f.clone()),
        }));
    }
    verdicts
}

/// The budgets file: stable figures only (sizes, counts), checked by `bench --check` in CI.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    pub budgets: BTreeMap<String, Limit>,
}

impl Budgets {
    pub fn read(path: &Path) -> Result<Budgets> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the budgets file {}", path.display()))?;
        Budgets::parse(&text).with_context(|| format!("in the budgets file {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Budgets> {
        let budgets: Budgets = serde_json::from_str(text).context(
            "expected {\"budgets\": {\"figure.id\": {\"max\": N}}} (`min` also allowed)",
        )?;
        for (pattern, limit) in &budgets.budgets {
            if limit.max.is_none() && limit.min.is_none() {
                bail!("budget `{pattern}` has neither `max` nor `min`");
            }
        }
        Ok(budgets)
    }

    pub fn limits(&self) -> impl Iterator<Item = (&str, Limit)> {
        self.budgets.iter().map(|(p, l)| (p.as_str(), *l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip(id: &str, bytes: f64) -> Figure {
        Figure::new(id, bytes, Unit::Bytes)
    }

    #[test]
    fn star_matches_one_segment_only() {
        assert!(matches("a.*.c", "a.x86_64.c"));
        assert!(matches("a.b.c", "a.b.c"));
        assert!(!matches("a.*.c", "a.b.d"));
        assert!(!matches("a.*", "a.b.c"));
        assert!(!matches("a.*.c", "a.c"));
    }

    #[test]
    fn over_budget_fails_naming_figure_value_and_budget() {
        let figures = [zip("artifacts.x86_64.echo.zip_bytes", 3_200_000.0)];
        let verdicts = check(
            [("artifacts.*.echo.zip_bytes", Limit::at_most(3e6))],
            &figures,
        );
        assert_eq!(verdicts.len(), 1);
        assert!(!verdicts[0].ok());
        let problem = verdicts[0].problem().unwrap();
        assert!(
            problem.contains("artifacts.x86_64.echo.zip_bytes"),
            "{problem}"
        );
        assert!(problem.contains("3.20 MB"), "{problem}");
        assert!(problem.contains("≤ 3.00 MB"), "{problem}");
    }

    #[test]
    fn within_budget_passes_and_the_edge_counts_as_within() {
        let figures = [
            zip("artifacts.arm64.echo.zip_bytes", 1_000_000.0),
            zip("artifacts.x86_64.echo.zip_bytes", 3_000_000.0),
        ];
        let verdicts = check(
            [("artifacts.*.echo.zip_bytes", Limit::at_most(3e6))],
            &figures,
        );
        assert_eq!(verdicts.len(), 2);
        assert!(verdicts.iter().all(|v| v.ok() && v.problem().is_none()));
    }

    #[test]
    fn a_budget_naming_no_figure_is_an_error() {
        let figures = [zip("artifacts.x86_64.echo.zip_bytes", 1.0)];
        let verdicts = check(
            [("artifacts.*.hello.zip_bytes", Limit::at_most(3e6))],
            &figures,
        );
        assert_eq!(verdicts.len(), 1);
        assert!(!verdicts[0].ok());
        assert!(
            verdicts[0]
                .problem()
                .unwrap()
                .contains("no figure measured")
        );
    }

    #[test]
    fn minimums_are_checked_too() {
        let limit = Limit::at_least(5000.0);
        assert!(limit.admits(5000.0) && limit.admits(9000.0));
        assert!(!limit.admits(4999.0));
    }

    #[test]
    fn the_budgets_file_parses_and_refuses_empty_limits() {
        let b = Budgets::parse(r#"{"$comment": "x", "budgets": {"deploy.uploads": {"max": 0}}}"#)
            .unwrap();
        assert_eq!(
            b.limits().collect::<Vec<_>>(),
            vec![("deploy.uploads", Limit::at_most(0.0))]
        );
        let err = Budgets::parse(r#"{"budgets": {"a": {}}}"#).unwrap_err();
        assert!(err.to_string().contains("neither"), "{err}");
        assert!(Budgets::parse(r#"{"budgets": {"a": {"maximum": 1}}}"#).is_err());
    }

    #[test]
    fn the_checked_in_budgets_file_is_valid() {
        let path = crate::workspace::root().join(super::super::BUDGETS_FILE);
        let budgets = Budgets::read(&path).unwrap();
        assert!(!budgets.budgets.is_empty());
    }
}
