//! One struct per CloudFormation resource type, with CloudFormation's property names.

pub mod apigateway;
pub mod apigatewayv2;
pub mod dynamodb;
pub mod iam;
pub mod lambda;
pub mod logs;
pub mod s3;
pub mod secretsmanager;

use serde::Serialize;

/// A CloudFormation resource type: its properties serialize as the template's `Properties`.
pub trait Resource: Serialize + 'static {
    const TYPE: &'static str;
}

macro_rules! resource {
    ($ty:ty, $name:literal $(, $att:ident)*) => {
        impl $crate::resources::Resource for $ty {
            const TYPE: &'static str = $name;
        }
        $(impl $crate::intrinsics::HasAtt<$crate::intrinsics::attr::$att> for $ty {})*
    };
}
pub(crate) use resource;
