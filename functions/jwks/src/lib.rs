//! The JWKS function: `/.well-known/jwks.json` (RFC 7517) and the RFC 8414 metadata documents.

use tokenmint::http::Endpoint;

/// The endpoints this function answers (`main.rs` runs [`tokenmint::lambda::run`] over them);
/// API Gateway routes only these here, and any other is answered 404.
pub const SERVES: &[Endpoint] = &[Endpoint::Jwks, Endpoint::Metadata];
