//! Synthesizes a stage with a sample manifest and prints the template and the time it took:
//! `cargo run --release -p infra --example synth -- dev`.

use std::time::Instant;

use infra::assets::{Architecture, AssetManifest, FunctionAsset, MANIFEST_VERSION};
use infra::config::{StageConfig, stage_file};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stage = std::env::args().nth(1).unwrap_or_else(|| "dev".into());
    let config = StageConfig::load(&stage_file(&stage))?;
    let manifest = AssetManifest {
        version: MANIFEST_VERSION,
        architecture: Architecture::Arm64,
        functions: ["connect", "default", "disconnect", "echo"]
            .iter()
            .enumerate()
            .map(|(i, package)| {
                let sha256 = format!("{i:064x}");
                FunctionAsset {
                    package: (*package).into(),
                    architecture: Architecture::Arm64,
                    zip: format!("{sha256}.zip").into(),
                    sha256,
                    size: 1,
                    binary_size: 1,
                }
            })
            .collect(),
    };
    let runs = 1000;
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..runs {
        let synthesized = infra::stack::ws_echo(&config, &manifest)?;
        bytes += synthesized.template.to_json().len();
    }
    let per_run = start.elapsed() / runs;
    let synthesized = infra::stack::ws_echo(&config, &manifest)?;
    for warning in &synthesized.warnings {
        eprintln!("{warning}");
    }
    eprintln!("ws_echo + to_json: {per_run:?} per run ({runs} runs, {bytes} bytes)");
    print!("{}", synthesized.template.to_json());
    Ok(())
}
