//! What the constructs' log groups share: their default retention, and what checkov says
//! about them and why it doesn't apply.

use crate::error::SynthError;
use crate::intrinsics::Handle;
use crate::resources::logs::LogGroup;
use crate::stack::Stack;

/// How long the constructs keep logs unless told: two years, AWS CDK's default for log groups
/// (CloudWatch's own, "never expire", is what checkov flags).
pub const DEFAULT_RETENTION_DAYS: u32 = 731;

pub(crate) fn skip_checks(stack: &mut Stack, group: &Handle<LogGroup>) -> Result<(), SynthError> {
    stack.skip_checkov(
        group,
        "CKV_AWS_158",
        "CloudWatch Logs encrypts every log group at rest; these logs hold connection metadata only, not worth a customer-managed KMS key and its key policy",
    )
}
