//! The token function: `POST /oauth2/token` (RFC 6749 §3.2) behind API Gateway.

use lambda_http::{Body, Request, Response};
use tokenmint::app::App;
use tokenmint::http::Endpoint;

/// The endpoints this function answers; API Gateway routes only these here.
pub const SERVES: &[Endpoint] = &[Endpoint::Token];

/// Answers one API Gateway v2 request.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    tokenmint::lambda::handle(app, SERVES, req).await
}
