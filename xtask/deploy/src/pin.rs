//! The account a stage file pins its stack to (`account_id`), checked against the
//! credentials before anything is read or changed: a profile left pointing at another account
//! must not deploy, diff or destroy there.

use assembly::StackInfo;

use crate::aws::{Aws, Identity};
use crate::{AccountMismatch, Error, Result};

/// Refuses credentials of another account than the stage's pin; no pin, no check.
pub fn check(aws: &Aws, stack: &StackInfo, identity: &Identity) -> Result<()> {
    match &stack.account_id {
        Some(expected) if *expected != identity.account => {
            Err(Error::WrongAccount(Box::new(AccountMismatch {
                stack: stack.stack_name.clone(),
                expected: expected.clone(),
                actual: identity.account.clone(),
                arn: identity.arn.clone(),
                target: aws.target(),
            })))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AwsOptions;

    fn stack(pin: Option<&str>) -> StackInfo {
        StackInfo {
            stage: "prod".into(),
            stack_name: "wsecho-prod".into(),
            region: "eu-west-1".into(),
            account_id: pin.map(Into::into),
        }
    }

    #[test]
    fn only_the_pinned_account_passes() {
        let aws = Aws::new(
            &AwsOptions {
                region: Some("eu-west-1".into()),
                ..Default::default()
            },
            "eu-west-1",
        )
        .unwrap();
        let me = Identity {
            account: "111111111111".into(),
            arn: "arn:aws:iam::111111111111:user/me".into(),
        };
        assert!(check(&aws, &stack(None), &me).is_ok());
        assert!(check(&aws, &stack(Some("111111111111")), &me).is_ok());
        let err = check(&aws, &stack(Some("222222222222")), &me)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("stack wsecho-prod belongs to account 222222222222"),
            "{err}"
        );
        assert!(
            err.contains("credentials are for account 111111111111 (arn:aws:iam::111111111111:user/me) in eu-west-1"),
            "{err}"
        );
        assert!(err.ends_with("nothing was changed"), "{err}");
    }
}
