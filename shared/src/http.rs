//! `http::Request` in, `http::Response` out: the one code path that the Lambda functions and
//! the local server both call.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use crate::audit;
use crate::clock::Clock;
use crate::config::Config;
use crate::keys::KeyRing;
use crate::oauth::grants::Policy;
use crate::oauth::metadata::{self, *};
use crate::oauth::{OAuthError, introspection, response, revocation, token};
use crate::store::RevocationStore;
use crate::store::cache::ClientCache;

/// The issuer's endpoints and the services they run on.
pub struct App {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub clients: ClientCache,
    pub keys: KeyRing,
    pub revocations: Arc<dyn RevocationStore>,
    metadata: Bytes,
    issuer_path: String,
    /// RFC 8414 §3: `/.well-known/oauth-authorization-server` followed by the issuer's path.
    inserted_metadata_path: String,
    policy: Policy,
}

/// Which endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Introspect,
    Revoke,
    Jwks,
    Metadata,
}

impl App {
    pub fn new(
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        clients: ClientCache,
        keys: KeyRing,
        revocations: Arc<dyn RevocationStore>,
    ) -> Self {
        let metadata = Bytes::from(metadata::document(&config.issuer));
        let issuer_path = config.issuer.path();
        let inserted_metadata_path = format!("{OAUTH_METADATA_PATH}{issuer_path}");
        let policy = Policy {
            issuer: config.issuer.as_str().to_owned(),
            default_ttl: config.default_ttl,
            max_ttl: config.max_ttl,
        };
        Self {
            config,
            clock,
            clients,
            keys,
            revocations,
            metadata,
            issuer_path,
            inserted_metadata_path,
            policy,
        }
    }

    /// The limits every grant applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Routes by path. Endpoints live under the issuer's path; RFC 8414 §3 metadata also at
    /// `/.well-known/oauth-authorization-server{issuer path}`.
    pub fn route(&self, path: &str) -> Option<Endpoint> {
        let local = path.strip_prefix(self.issuer_path.as_str()).unwrap_or(path);
        match local {
            TOKEN_PATH => Some(Endpoint::Token),
            INTROSPECT_PATH => Some(Endpoint::Introspect),
            REVOKE_PATH => Some(Endpoint::Revoke),
            JWKS_PATH => Some(Endpoint::Jwks),
            OAUTH_METADATA_PATH | OIDC_METADATA_PATH => Some(Endpoint::Metadata),
            _ if path == self.inserted_metadata_path => Some(Endpoint::Metadata),
            _ => None,
        }
    }

    /// Answers one request. Never panics on input and never answers 500 for bad input.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let Some(endpoint) = self.route(req.uri().path()) else {
            return self.not_found();
        };
        let result = match endpoint {
            Endpoint::Token => token::handle(self, &req).await,
            Endpoint::Introspect => introspection::handle(self, &req).await,
            Endpoint::Revoke => revocation::handle(self, &req).await,
            Endpoint::Jwks => self.jwks(&req).await,
            Endpoint::Metadata => get_only(&req).map(|()| {
                response::public_json(
                    self.metadata.clone(),
                    self.config.jwks_max_age,
                    "application/json",
                )
            }),
        };
        result.unwrap_or_else(|e| {
            log_error(endpoint, &e);
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
            self.config.jwks_max_age,
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
    } else {
        audit!("request_denied", ?endpoint, error = e.code.as_str(), reason = %e.description);
    }
}
