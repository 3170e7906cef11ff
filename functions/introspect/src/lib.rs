//! The introspection function: `POST /oauth2/introspect` (RFC 7662) and `POST /oauth2/revoke` (RFC 7009).

use lambda_http::{Body, Request, Response};
use tokenmint::app::App;
use tokenmint::http::Endpoint;

/// The endpoints this function answers; API Gateway routes only these here.
pub const SERVES: &[Endpoint] = &[Endpoint::Introspect, Endpoint::Revoke];

/// Answers one API Gateway v2 request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    tokenmint::lambda::handle(app, SERVES, req).await
}
