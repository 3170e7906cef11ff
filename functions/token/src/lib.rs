//! The token function: `POST /oauth2/token` (RFC 6749 §3.2) behind API Gateway.

use tokenmint::http::Endpoint;

/// The endpoints this function answers (`main.rs` runs [`tokenmint::lambda::run`] over them);
/// API Gateway routes only these here, and any other is answered 404.
pub const SERVES: &[Endpoint] = &[Endpoint::Token];
