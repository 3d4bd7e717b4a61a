//! Stage config errors: each names the file, and where it can, the line and field.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read the stage config {path}: {source}; stages live in infra/stages/<app>/<stage>.yaml"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "{path}:{line}:{column}: {message} (infra/stages/stage.schema.json lists every field and its allowed values)"
    )]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error(
        "{path}: field `stage` says `{stage}` but the file is for stage `{file_stage}`: make them the same (the file name is the stage name)"
    )]
    StageMismatch {
        path: PathBuf,
        stage: String,
        file_stage: String,
    },

    #[error(
        "{path}:{line}: stack_name: stack `{stack}` in {region} is also the stack of {other}:{other_line}: two stages deploying one stack replace each other's resources; give one of them another stack_name (or pin them to different accounts with account_id)"
    )]
    SameStack {
        path: PathBuf,
        line: usize,
        stack: String,
        region: String,
        other: PathBuf,
        other_line: usize,
    },
}
