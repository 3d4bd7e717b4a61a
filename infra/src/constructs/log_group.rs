//! What checkov says about log groups and why it doesn't apply.

use crate::error::SynthError;
use crate::intrinsics::Handle;
use crate::resources::logs::LogGroup;
use crate::stack::Stack;

pub(crate) fn skip_checks(stack: &mut Stack, group: &Handle<LogGroup>) -> Result<(), SynthError> {
    stack.skip_checkov(
        group,
        "CKV_AWS_158",
        "CloudWatch Logs encrypts every log group at rest; these logs hold connection metadata only, not worth a customer-managed KMS key and its key policy",
    )
}
