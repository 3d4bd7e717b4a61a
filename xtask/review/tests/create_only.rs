//! The generated replacement table (`src/create_only.rs`): its generator against the pinned
//! cfn-lint's schemas. `cargo xtask codegen` writes the table; these tests need cfn-lint
//! (`cargo xtask test` provides it), so they are ignored by default.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `…/site-packages/cfnlint/data/schemas` of the cfn-lint that `WSECHO_CFN_LINT` names (or the
/// provisioned one under `.tools/`).
fn schemas_dir() -> PathBuf {
    let lint = std::env::var_os("WSECHO_CFN_LINT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".tools/py/cfn-lint/bin/cfn-lint"));
    let lib = lint.parent().and_then(Path::parent).unwrap().join("lib");
    let python = fs::read_dir(&lib)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: run these tests with `cargo xtask test`",
                lib.display()
            )
        })
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .expect("a python3.* directory under cfn-lint's lib");
    python.path().join("site-packages/cfnlint/data/schemas")
}

/// The resource types of every snapshot template and the toolkit template.
fn model_types() -> BTreeSet<String> {
    let mut templates = Vec::new();
    for entry in fs::read_dir(workspace().join("snapshots")).unwrap() {
        let text = fs::read_to_string(entry.unwrap().path()).unwrap();
        // An insta snapshot: a `---` header, then the template.
        let json = text.splitn(3, "---\n").nth(2).unwrap();
        templates.push(serde_json::from_str::<serde_json::Value>(json).unwrap());
    }
    let toolkit = fs::read_to_string(workspace().join("xtask/deploy/toolkit.template.json"));
    templates.push(serde_json::from_str(&toolkit.unwrap()).unwrap());
    templates
        .iter()
        .flat_map(|t| t["Resources"].as_object().unwrap().values())
        .map(|r| r["Type"].as_str().unwrap().to_owned())
        .collect()
}

fn rustfmt(source: &str) -> String {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("rustfmt runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(source.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "rustfmt failed");
    String::from_utf8(output.stdout).unwrap()
}

fn table_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/create_only.rs")
}

#[test]
#[ignore = "needs the pinned cfn-lint and rustfmt"]
fn the_generated_table_is_as_rustfmt_leaves_it_for_every_type_cfn_lint_knows() {
    let providers = fs::read_to_string(schemas_dir().join("providers/us-east-1.json")).unwrap();
    let all: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&providers).unwrap();
    let types: BTreeSet<String> = all.keys().cloned().collect();
    let source = review::replacement::generate(&schemas_dir(), &types).unwrap();
    let formatted = rustfmt(&source);
    if formatted != source {
        let first = source
            .lines()
            .zip(formatted.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let context = |s: &str| {
            s.lines()
                .skip(first.saturating_sub(3))
                .take(12)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "rustfmt changes the generated table from line {}:\n--- generated\n{}\n--- rustfmt\n{}",
            first + 1,
            context(&source),
            context(&formatted)
        );
    }
}

/// The checked-in table is what the pinned cfn-lint's schemas say for the types it holds
/// (which types it holds is `cargo xtask codegen`'s business: the model's).
#[test]
#[ignore = "needs the pinned cfn-lint"]
fn the_checked_in_table_is_what_the_pinned_schemas_say() {
    let types = review::replacement::types().map(str::to_owned).collect();
    let source = review::replacement::generate(&schemas_dir(), &types).unwrap();
    let checked_in = fs::read_to_string(table_file()).unwrap();
    assert!(
        source == checked_in,
        "xtask/review/src/create_only.rs is stale: run `cargo xtask codegen`"
    );
}

/// Every type the snapshot templates use is in the table.
#[test]
fn the_table_holds_every_type_of_the_snapshot_templates() {
    let known: BTreeSet<&str> = review::replacement::types().collect();
    for resource_type in model_types() {
        assert!(
            known.contains(resource_type.as_str()),
            "{resource_type} is not in xtask/review/src/create_only.rs: run `cargo xtask codegen`"
        );
    }
}

#[test]
#[ignore = "needs the pinned cfn-lint"]
fn an_unknown_type_is_an_error_that_says_what_to_do() {
    let types = BTreeSet::from(["AWS::Nope::Nothing".to_owned()]);
    let error = review::replacement::generate(&schemas_dir(), &types)
        .unwrap_err()
        .to_string();
    assert!(error.contains("AWS::Nope::Nothing"), "{error}");
    assert!(error.contains("cargo xtask codegen"), "{error}");
}
