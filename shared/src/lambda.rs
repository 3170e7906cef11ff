//! The API Gateway HTTP API (payload v2) adapter: a `lambda_http` request in, the shared
//! handler, a `lambda_http` response out. Each function serves only its own endpoints.

use bytes::Bytes;
use lambda_http::{Body, Request, Response};

use crate::config::Issuer;
use crate::http::{App, Endpoint, RequestIssuer};
use crate::throttle::SourceAddr;

/// Answers one invocation. Requests for endpoints this function does not serve get 404.
pub async fn handle(app: &App, serves: &[Endpoint], req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    // lambda_http has already decoded a base64 body (`isBase64Encoded`); the raw bytes are
    // parsed by our own form reader, never by API Gateway.
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let mut req = http::Request::from_parts(parts, bytes);
    if let Some(issuer) = domain_issuer(&req) {
        req.extensions_mut().insert(RequestIssuer(issuer));
    }
    if let Some(source) = source_ip(&req) {
        req.extensions_mut().insert(SourceAddr(source));
    }
    let resp = match app.route(&req) {
        Some(e) if serves.contains(&e) => app.handle(req).await,
        _ => app.not_found(),
    };
    resp.map(|b| match String::from_utf8(b.to_vec()) {
        Ok(s) if !s.is_empty() => Body::Text(s),
        Ok(_) => Body::Empty,
        Err(e) => Body::Binary(e.into_bytes()),
    })
}

/// Runs an HTTP function: configuration and clients once per cold start, then the Lambda
/// Runtime API loop answering requests for `serves`.
pub async fn run(serves: &'static [Endpoint]) -> Result<(), lambda_http::Error> {
    use std::sync::Arc;

    let _log = crate::telemetry::init(crate::telemetry::Sink::Stdout);
    let config = Arc::new(crate::Config::from_env()?);
    if serves.contains(&Endpoint::Token) && config.signer_signs_in_process() {
        crate::signer::local::seed_rng_in_background();
    }
    let stores = crate::setup::open_shared_stores(&config).await?;
    let clock: Arc<dyn crate::Clock> = Arc::new(crate::SystemClock);
    let hook = crate::setup::lambda_claims_hook(&config, &stores, &clock).await?;
    // Only the function that signs seeds or writes keys; the others only read them.
    let key_use = match serves.contains(&Endpoint::Token) {
        true => crate::setup::KeyUse::Sign,
        false => crate::setup::KeyUse::Verify,
    };
    let app = Arc::new(crate::setup::build_app_for(config, &stores, clock, hook, key_use).await?);
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, std::convert::Infallible>(handle(&app, serves, req).await) }
    }))
    .await
}

/// `https://{requestContext.domainName}`: API Gateway sets it, so it names the deployment
/// whatever `Host` header a client sends. Used when `TOKENMINT_ISSUER` is empty.
fn domain_issuer(req: &http::Request<Bytes>) -> Option<Issuer> {
    use lambda_http::request::RequestContext;
    match req.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(ctx) => {
            Issuer::parse(&format!("https://{}", ctx.domain_name.as_deref()?)).ok()
        }
        _ => None,
    }
}

/// The caller's address as API Gateway saw it (`requestContext.http.sourceIp`), never an
/// `X-Forwarded-For` header a client could write.
fn source_ip<B>(req: &http::Request<B>) -> Option<std::net::IpAddr> {
    use lambda_http::request::RequestContext;
    match req.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref()?.parse().ok(),
        _ => None,
    }
}
