//! The router: `http::Request` in, `http::Response` out, the one code path that the Lambda
//! functions and the local server both call. It picks the site and the endpoint, runs the
//! endpoint under the request deadline, and logs failures; the endpoints are in
//! [`crate::oauth`], the services they run on in [`crate::app`].

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use crate::app::{App, Committing, RequestIssuer, Site};
use crate::audit;
use crate::oauth::metadata;
use crate::oauth::paths::*;
use crate::oauth::{OAuthError, introspection, response, revocation, token};

/// Which endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Introspect,
    Revoke,
    Jwks,
    Metadata,
}

/// Routes by path. Endpoints live under the issuer's path; RFC 8414 §3 metadata also at
/// `/.well-known/oauth-authorization-server{issuer path}`.
pub fn route(site: &Site, path: &str) -> Option<Endpoint> {
    let local = path.strip_prefix(site.issuer_path.as_str()).unwrap_or(path);
    match local {
        TOKEN_PATH => Some(Endpoint::Token),
        INTROSPECT_PATH => Some(Endpoint::Introspect),
        REVOKE_PATH => Some(Endpoint::Revoke),
        JWKS_PATH => Some(Endpoint::Jwks),
        OAUTH_METADATA_PATH | OIDC_METADATA_PATH => Some(Endpoint::Metadata),
        _ if path.strip_prefix(OAUTH_METADATA_PATH) == Some(site.issuer_path.as_str()) => {
            Some(Endpoint::Metadata)
        }
        _ => None,
    }
}

impl App {
    /// The site for a request: the configured issuer, else the one the adapter attached.
    pub fn site(&self, req: &Request<Bytes>) -> Option<Arc<Site>> {
        self.site_for(req.extensions().get::<RequestIssuer>().map(|r| &r.0))
    }

    /// Which endpoint a request is for, if any.
    pub fn route(&self, req: &Request<Bytes>) -> Option<Endpoint> {
        route(&*self.site(req)?, req.uri().path())
    }

    /// Answers one request. Never panics on input and never answers 500 for bad input.
    pub async fn handle(&self, mut req: Request<Bytes>) -> Response<Bytes> {
        let Some(site) = self.site(&req) else {
            let e = OAuthError::server_error(
                "no issuer: TOKENMINT_ISSUER is empty and the request carries none",
            );
            log_error(Endpoint::Metadata, &e);
            return e.to_response();
        };
        let Some(endpoint) = route(&site, req.uri().path()) else {
            return self.not_found();
        };
        let started = std::time::Instant::now();
        let committing = Committing::default();
        req.extensions_mut().insert(committing.clone());
        let req = req;
        let work = async {
            match endpoint {
                Endpoint::Token => token::handle(self, &site, &req).await,
                Endpoint::Introspect => introspection::handle(self, &site, &req).await,
                Endpoint::Revoke => revocation::handle(self, &site, &req).await,
                Endpoint::Jwks => self.jwks(&req).await,
                Endpoint::Metadata => get_only(&req).map(|()| {
                    let document = site
                        .metadata
                        .get_or_init(|| Bytes::from(metadata::document(&site.issuer)));
                    response::public_json(
                        document.clone(),
                        self.config.jwks_max_age.as_secs(),
                        "application/json",
                    )
                }),
            }
        };
        // One deadline for the whole request, whatever its dependencies' own timeouts add up
        // to: answered 503 with Retry-After rather than cut off by the function's timeout.
        // What is dropped here has written nothing it cannot repeat (revocations are
        // idempotent; a refresh token issued with a token the client never received is never
        // presented); a refresh rotation under way is let finish (`Committing`).
        let deadline = self.config.request_deadline;
        tokio::pin!(work);
        let result = tokio::select! {
            r = &mut work => r,
            () = tokio::time::sleep(deadline) => match committing.started() {
                true => work.await,
                false => Err(OAuthError::unavailable(format!(
                    "the request did not finish within TOKENMINT_REQUEST_DEADLINE ({}s)",
                    self.config.request_deadline.as_secs()
                ))),
            },
        };
        crate::meter::request_served(endpoint, started.elapsed());
        if endpoint == Endpoint::Revoke && result.is_ok() {
            crate::meter::revoked();
        }
        result.unwrap_or_else(|e| {
            log_error(endpoint, &e);
            match endpoint {
                Endpoint::Token => crate::meter::token_refused(e.code),
                other => crate::meter::endpoint_refused(other, e.code),
            }
            e.to_response()
        })
    }

    /// The answer for a path no endpoint serves.
    pub fn not_found(&self) -> Response<Bytes> {
        response::json(
            StatusCode::NOT_FOUND,
            br#"{"error":"not_found","error_description":"no such endpoint"}"#.to_vec(),
        )
    }

    async fn jwks(&self, req: &Request<Bytes>) -> Result<Response<Bytes>, OAuthError> {
        get_only(req)?;
        let body = self.keys.jwks().await.map_err(OAuthError::unavailable)?;
        Ok(response::public_json(
            body,
            self.config.jwks_max_age.as_secs(),
            "application/jwk-set+json",
        ))
    }
}

fn get_only(req: &Request<Bytes>) -> Result<(), OAuthError> {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return Ok(());
    }
    Err(OAuthError::method_not_allowed("GET, HEAD"))
}

/// Server-side faults are logged with their private cause; client errors are audit events.
fn log_error(endpoint: Endpoint, e: &OAuthError) {
    let cause = e.cause().map(|c| c.to_string()).unwrap_or_default();
    if e.status().is_server_error() {
        tracing::error!(?endpoint, error = e.code.as_str(), %cause, "request failed");
    } else if !e.is_audited() {
        audit!("request_denied", ?endpoint, error = e.code.as_str(), reason = %e.description);
    }
}
