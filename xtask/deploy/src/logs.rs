//! `logs`: the stack's log lines (placeholder while the module is written).

use std::time::Duration;

use crate::{AwsOptions, Result};
use assembly::StackInfo;

#[derive(Debug, Clone)]
pub struct LogsOptions {
    pub aws: AwsOptions,
    pub function: Option<String>,
    pub since: Duration,
    pub follow: bool,
}

pub fn logs(_stack: &StackInfo, _opts: &LogsOptions) -> Result<()> {
    Ok(())
}
