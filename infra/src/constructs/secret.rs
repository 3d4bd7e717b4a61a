//! A secret Secrets Manager generates (a signing key): its value is in no template, no repo
//! and no log; functions that need it may read it and nothing else.

use crate::constructs::function::LambdaFunction;
use crate::error::SynthError;
use crate::intrinsics::Handle;
use crate::path::ConstructPath;
use crate::resources::iam::{InlinePolicy, PolicyDocument, Statement};
use crate::resources::secretsmanager::{GenerateSecretString, Secret};
use crate::stack::Stack;

pub struct GeneratedSecret {
    path: ConstructPath,
    pub secret: Handle<Secret>,
}

impl GeneratedSecret {
    /// Adds `<Id>Secret`: `length` letters and digits, generated at creation.
    pub fn new(
        stack: &mut Stack,
        scope: &ConstructPath,
        id: &str,
        description: &str,
        length: u32,
    ) -> Result<GeneratedSecret, SynthError> {
        let path = scope.child(id).child("Secret");
        let secret = stack.add(
            &path,
            Secret {
                description: Some(description.to_owned()),
                generate_secret_string: GenerateSecretString {
                    exclude_punctuation: true,
                    password_length: length,
                },
            },
        )?;
        stack.skip_checkov(
            &secret,
            "CKV_AWS_149",
            "encrypted with the AWS-managed Secrets Manager key; only the granted function roles may read it, which a customer-managed key would not narrow further",
        )?;
        stack.skip_checkov(
            &secret,
            "CKV2_AWS_57",
            "a signing key: rotating it would sign every user out; rotate by hand (aws secretsmanager rotate-secret with a rotation function) when a key may have leaked",
        )?;
        Ok(GeneratedSecret { path, secret })
    }

    pub fn path(&self) -> &ConstructPath {
        &self.path
    }

    /// Lets `function` read the secret's value (`secretsmanager:GetSecretValue` on this
    /// secret only).
    pub fn grant_read(
        &self,
        stack: &mut Stack,
        function: &LambdaFunction,
    ) -> Result<(), SynthError> {
        function.add_policy(
            stack,
            InlinePolicy {
                policy_name: format!("Read{}", self.secret.logical_id()),
                policy_document: PolicyDocument::new(vec![Statement::allow(
                    &["secretsmanager:GetSecretValue"],
                    vec![self.secret.reference().into()],
                )]),
            },
        )
    }
}
