//! Artifacts: each function's zip and binary size per architecture, against the budgets.

use std::time::Instant;

use anyhow::Result;
use assembly::Architecture;

use super::Ctx;
use super::figures::{Unit, check};
use super::report::{Section, Table};
use crate::build::{self, BuildOptions};

pub fn run(ctx: &mut Ctx) -> Result<Section> {
    let arches = if ctx.check {
        vec![ctx.host]
    } else {
        vec![Architecture::Arm64, Architecture::X86_64]
    };
    let mut section = Section::new(
        "Artifacts",
        "Each function as Lambda gets it: the release build (`cargo xtask build`, cargo-lambda, \
         `provided.al2023`, fat LTO, stripped) zipped with its `bootstrap`, per architecture. \
         The anchor is the budget in `xtask/bench-budgets.json` (zip ≤ 3 MB for functions with \
         the AWS SDK, ≤ 1.5 MB for the others; 1 MB = 10⁶ bytes). Sizes are deterministic: \
         the same code gives the same bytes.",
    );
    let mut table = Table::new(&[
        "architecture",
        "function",
        "zip",
        "binary",
        "zip budget",
        "zip / budget",
    ]);
    for arch in arches {
        let started = Instant::now();
        let built = build::build(&BuildOptions {
            arch,
            profile: build::BuildProfile::Release,
            packages: Vec::new(),
            out: None,
        })?;
        section.notes.push(format!(
            "{arch}: `cargo xtask build --arch {arch}` took {:.1} s in this run (cargo \
             recompiles only what changed since the last build of this architecture)",
            started.elapsed().as_secs_f64()
        ));
        for asset in &built.manifest.functions {
            let id = format!("artifacts.{arch}.{}", asset.package);
            section.figure(format!("{id}.zip_bytes"), asset.size as f64, Unit::Bytes);
            section.figure(
                format!("{id}.binary_bytes"),
                asset.binary_size as f64,
                Unit::Bytes,
            );
            let zip_figure = section.figures[section.figures.len() - 2].clone();
            let verdict = check(ctx.budgets.limits(), std::slice::from_ref(&zip_figure))
                .into_iter()
                .find(|v| v.figure.is_some());
            let (budget, share) = match verdict.as_ref().and_then(|v| v.limit.max) {
                Some(max) => (
                    Unit::Bytes.show(max),
                    format!("{:.0} %", asset.size as f64 / max * 100.0),
                ),
                None => ("none".to_owned(), "".to_owned()),
            };
            table.row(vec![
                arch.to_string(),
                asset.package.clone(),
                Unit::Bytes.show(asset.size as f64),
                Unit::Bytes.show(asset.binary_size as f64),
                budget,
                share,
            ]);
        }
    }
    section.tables.push(table);
    Ok(section)
}
