//! The JWKS function: `/.well-known/jwks.json` (RFC 7517) and the RFC 8414 metadata documents.

use lambda_http::{Body, Request, Response};
use tokenmint::app::App;
use tokenmint::http::Endpoint;

/// The endpoints this function answers; API Gateway routes only these here.
pub const SERVES: &[Endpoint] = &[Endpoint::Jwks, Endpoint::Metadata];

/// Answers one API Gateway v2 request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    tokenmint::lambda::handle(app, SERVES, req).await
}
