//! Shared code of the wsecho Lambda functions.
