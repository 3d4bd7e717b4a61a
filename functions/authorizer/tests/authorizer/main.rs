//! `authorizer`'s tests, one binary: the handler called directly, and the real binary run
//! through a Lambda Runtime API on 127.0.0.1.

mod binary;
mod handler;
