//! wsecho's infrastructure as typed Rust: a CloudFormation model, CDK-style constructs,
//! the wsEcho stack, and the asset manifest shared with the build, `deploy` and `dev`.

pub mod assets;
