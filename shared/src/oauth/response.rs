//! Building responses: every OAuth answer is JSON and never cached (RFC 6749 §5.1).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

/// A JSON response with `Cache-Control: no-store` and `Pragma: no-cache`.
pub fn json(status: StatusCode, body: Vec<u8>) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// A JSON response that caches may keep for `max_age` seconds (public documents only).
pub fn public_json(body: Bytes, max_age: u64, content_type: &'static str) -> Response<Bytes> {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    resp
}

/// Serialises a success body; serialising our own plain structs cannot fail, but if it ever
/// did the caller gets a `server_error`, not a panic.
pub fn ok_json<T: serde::Serialize>(value: &T) -> Result<Response<Bytes>, super::OAuthError> {
    serde_json::to_vec(value)
        .map(|b| json(StatusCode::OK, b))
        .map_err(super::OAuthError::server_error)
}

/// A response without a body, still marked uncacheable.
pub fn empty(status: StatusCode) -> Response<Bytes> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}
