//! Plain HTTP answers on the gateway's port (refused upgrades, wrong paths).

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

/// A JSON body with a status.
pub(crate) fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .expect("valid response")
}
