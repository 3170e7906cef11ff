//! The introspection function: `POST /oauth2/introspect` (RFC 7662) and `POST /oauth2/revoke` (RFC 7009).

use tokenmint::http::Endpoint;

/// The endpoints this function answers (`main.rs` runs [`tokenmint::lambda::run`] over them);
/// API Gateway routes only these here, and any other is answered 404.
pub const SERVES: &[Endpoint] = &[Endpoint::Introspect, Endpoint::Revoke];
