//! The API Gateway HTTP API (payload v2) adapter: a `lambda_http` request in, the shared
//! handler, a `lambda_http` response out. Each function serves only its own endpoints.

use bytes::Bytes;
use lambda_http::{Body, Request, Response};

use crate::app::SourceAddr;
use crate::app::{App, RequestIssuer};
use crate::domain::Issuer;
use crate::http::Endpoint;

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
    let front = match app.config.all_endpoints {
        true => Front::FunctionUrl,
        false => Front::HttpApi,
    };
    match app.config.issuer.as_ref() {
        None => {
            if let Some(issuer) = api_issuer(front, app.config.aws_region.as_deref(), &req) {
                req.extensions_mut().insert(RequestIssuer(issuer));
            }
        }
        // With an issuer configured, the API answers under that name only: a request that
        // reached it by another (the default execute-api domain beside a custom one) would
        // get tokens and answers foreign to the issuer its clients know. A function URL keeps
        // its own name behind the custom domain in front of it (CloudFront forwards to it), so
        // there every request names the URL and the check cannot apply.
        Some(issuer) if front == Front::HttpApi && !names(issuer, &req) => {
            return misdirected(issuer);
        }
        Some(_) => {}
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

/// What passes requests to the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Front {
    /// An API Gateway HTTP API, routing each function its own endpoints.
    HttpApi,
    /// A Lambda function URL, in front of one function that answers every endpoint.
    FunctionUrl,
}

/// Every endpoint, for a function behind a function URL (`TOKENMINT_ENDPOINTS=all`).
const ALL: &[Endpoint] = &[
    Endpoint::Token,
    Endpoint::Introspect,
    Endpoint::Revoke,
    Endpoint::Jwks,
    Endpoint::Metadata,
];

/// Runs an HTTP function: configuration and clients once per cold start, then the Lambda
/// Runtime API loop answering requests for `serves` (every endpoint with
/// `TOKENMINT_ENDPOINTS=all`). Each invocation's metrics are written to the function log, in
/// CloudWatch Embedded Metric Format, before its answer is returned: Lambda may freeze the
/// process right after, and never resume it.
pub async fn run(serves: &'static [Endpoint]) -> Result<(), lambda_http::Error> {
    use std::sync::Arc;

    let _log = crate::telemetry::init(crate::telemetry::Sink::Stdout);
    let config = Arc::new(crate::Config::from_env()?);
    let serves = if config.all_endpoints { ALL } else { serves };
    let metrics = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(config.metrics_namespace.clone())
        .init()
        .map_err(|e| format!("metrics: {e}"))?;
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
        async move {
            let resp = handle(&app, serves, req).await;
            // A lost metrics line must not fail the request it describes.
            if let Err(e) = metrics.flush(std::io::stdout().lock()) {
                tracing::warn!(error = %e, "writing the invocation's metrics failed");
            }
            Ok::<_, std::convert::Infallible>(resp)
        }
    }))
    .await
}

/// The issuer of an API whose `TOKENMINT_ISSUER` is empty: its default endpoint,
/// `https://{requestContext.apiId}.execute-api.{AWS_REGION}.amazonaws.com` (`region`), or for a
/// function URL `https://{requestContext.apiId}.lambda-url.{AWS_REGION}.on.aws` (a function
/// URL's event names its URL id as `apiId`). Built from the id and the function's region,
/// which do not change with the domain a request came through, so a custom domain in front
/// names the same issuer (a token minted through one domain is known through the other) —
/// never from a client's `Host` header.
fn api_issuer(front: Front, region: Option<&str>, req: &http::Request<Bytes>) -> Option<Issuer> {
    use lambda_http::request::RequestContext;
    let region = region?;
    match req.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let id = ctx.apiid.as_deref()?;
            let url = match front {
                Front::HttpApi => format!("https://{id}.execute-api.{region}.amazonaws.com"),
                Front::FunctionUrl => format!("https://{id}.lambda-url.{region}.on.aws"),
            };
            Issuer::parse(&url).ok()
        }
        _ => None,
    }
}

/// Whether the request came through the configured issuer's host (API Gateway's
/// `requestContext.domainName`). A request without one (a direct invocation) is let through.
fn names(issuer: &Issuer, req: &http::Request<Bytes>) -> bool {
    use lambda_http::request::RequestContext;
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.extensions().get::<RequestContext>() else {
        return true;
    };
    let Some(domain) = ctx.domain_name.as_deref() else {
        return true;
    };
    url::Url::parse(issuer.as_str())
        .ok()
        .and_then(|u| u.host_str().map(|h| h.eq_ignore_ascii_case(domain)))
        .unwrap_or(false)
}

fn misdirected(issuer: &Issuer) -> Response<Body> {
    let body = serde_json::json!({
        "error": "not_found",
        "error_description": format!("this service answers at {}", issuer.as_str()),
    });
    let mut resp = Response::new(Body::Text(body.to_string()));
    *resp.status_mut() = http::StatusCode::NOT_FOUND;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
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
