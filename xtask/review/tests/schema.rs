//! `review.schema.json`, the JSON format's schema, is what `review::json_schema()` says.

use std::fs;
use std::path::{Path, PathBuf};

fn schema_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("review.schema.json")
}

#[test]
fn the_checked_in_json_schema_is_current() {
    let checked_in = fs::read_to_string(schema_file()).unwrap_or_default();
    assert!(
        checked_in == review::json_schema(),
        "{} is stale: run `cargo xtask codegen`",
        schema_file().display()
    );
}

#[test]
fn the_schema_documents_the_format() {
    let schema: serde_json::Value = serde_json::from_str(&review::json_schema()).unwrap();
    assert_eq!(schema["title"], "Review");
    let required = schema["required"].as_array().unwrap();
    for field in ["version", "base", "head", "stacks"] {
        assert!(required.iter().any(|r| r == field), "{field}: {required:?}");
    }
    let defs = schema["$defs"].as_object().unwrap();
    let access = serde_json::to_string(&defs["Access"]).unwrap();
    for value in ["widened", "narrowed", "changed"] {
        assert!(access.contains(value), "{access}");
    }
    let replacement = serde_json::to_string(&defs["Replacement"]).unwrap();
    for value in ["no", "yes", "conditional", "unknown"] {
        assert!(
            replacement.contains(&format!("\"{value}\"")),
            "{replacement}"
        );
    }
}
