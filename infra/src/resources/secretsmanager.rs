//! `AWS::SecretsManager::Secret`.

use serde::Serialize;

use crate::resources::resource;

/// A secret whose value Secrets Manager generates: it is never in the template. `Ref` gives
/// its ARN.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Secret {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub generate_secret_string: GenerateSecretString,
}
resource!(Secret, "AWS::SecretsManager::Secret");

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateSecretString {
    pub exclude_punctuation: bool,
    pub password_length: u32,
}
