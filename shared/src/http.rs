//! `http::Request` in, `http::Response` out: the one code path that the Lambda functions and
//! the local server both call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use crate::audit;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::Issuer;
use crate::hook::ClaimsHook;
use crate::keys::KeyRing;
use crate::oauth::grants::Policy;
use crate::oauth::metadata::{self, *};
use crate::oauth::{OAuthError, introspection, response, revocation, token};
use crate::store::cache::ClientCache;
use crate::store::{
    AssertionIdStore, AuthFailureStore, DelegationStore, IssuerStore, RefreshTokenStore,
    RevocationStore, ScopeRuleStore, Stores,
};
use crate::upstream::UpstreamKeys;

/// The issuer's endpoints and the services they run on.
pub struct App {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub clients: ClientCache,
    pub keys: KeyRing,
    pub revocations: Arc<dyn RevocationStore>,
    pub delegations: Arc<dyn DelegationStore>,
    pub issuers: Arc<dyn IssuerStore>,
    pub scope_rules: Arc<dyn ScopeRuleStore>,
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    pub auth_failures: Arc<dyn AuthFailureStore>,
    /// (client id, source) pairs over the failure limit, answered `429` from memory.
    pub blocked: crate::throttle::Blocked,
    pub assertion_ids: Arc<dyn AssertionIdStore>,
    /// Signing keys of trusted external issuers, fetched on demand.
    pub upstream_keys: UpstreamKeys,
    /// The claims hook clients with `hook` enabled go through.
    pub hook: Arc<dyn ClaimsHook>,
    /// The site of the configured issuer, or `None` when each request names it (Lambda behind
    /// API Gateway with an empty `TOKENMINT_ISSUER`).
    fixed: Option<Arc<Site>>,
    /// Sites of request-named issuers, built once each.
    derived: Mutex<HashMap<String, Arc<Site>>>,
}

/// Everything that follows from one issuer identifier: the metadata document, where the
/// endpoints live, and the policy tokens are minted under.
pub struct Site {
    pub issuer: Issuer,
    pub policy: Policy,
    /// The prefix of custom claim names: `TOKENMINT_CLAIMS_NAMESPACE`, else
    /// `<issuer>/claims/`.
    pub claims_namespace: String,
    metadata: Bytes,
    issuer_path: String,
    /// RFC 8414 §3: `/.well-known/oauth-authorization-server` followed by the issuer's path.
    inserted_metadata_path: String,
}

impl Site {
    pub fn new(issuer: Issuer, config: &Config) -> Self {
        let issuer_path = issuer.path();
        Self {
            metadata: Bytes::from(metadata::document(&issuer)),
            inserted_metadata_path: format!("{OAUTH_METADATA_PATH}{issuer_path}"),
            issuer_path,
            policy: Policy {
                issuer: issuer.as_str().to_owned(),
                default_ttl: config.default_ttl,
                max_ttl: config.max_ttl,
            },
            claims_namespace: config
                .hook
                .namespace
                .clone()
                .unwrap_or_else(|| format!("{}/claims/", issuer.base())),
            issuer,
        }
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
}

/// The issuer a request names, set by an adapter that knows it from a trusted source (API
/// Gateway's `requestContext.apiId` and the function's region, never a client's `Host`
/// header).
#[derive(Debug, Clone)]
pub struct RequestIssuer(pub Issuer);

/// Set by a handler as it starts a write that must not be cut off halfway (a refresh-token
/// rotation: cut after DynamoDB applied it, the client's retry would read as reuse and revoke
/// the family). Once set, the request deadline lets the request finish; the write itself is
/// bounded by the store's own timeouts.
#[derive(Debug, Clone, Default)]
pub struct Committing(Arc<std::sync::atomic::AtomicBool>);

impl Committing {
    pub fn start(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn started(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
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

/// Most request-named issuers remembered; one deployment sees one or two.
const MAX_DERIVED_SITES: usize = 16;

impl App {
    pub fn new(
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        clients: ClientCache,
        keys: KeyRing,
        stores: &Stores,
        hook: Arc<dyn ClaimsHook>,
    ) -> Self {
        let fixed = config
            .issuer
            .clone()
            .map(|i| Arc::new(Site::new(i, &config)));
        Self {
            config,
            clock,
            clients,
            keys,
            revocations: Arc::clone(&stores.revocations),
            delegations: Arc::clone(&stores.delegations),
            issuers: Arc::clone(&stores.issuers),
            scope_rules: Arc::clone(&stores.scope_rules),
            refresh_tokens: Arc::clone(&stores.refresh_tokens),
            auth_failures: Arc::clone(&stores.auth_failures),
            blocked: crate::throttle::Blocked::default(),
            assertion_ids: Arc::clone(&stores.assertion_ids),
            upstream_keys: UpstreamKeys::new(),
            hook,
            fixed,
            derived: Mutex::new(HashMap::new()),
        }
    }

    /// The site for a request: the configured issuer, else the one the adapter attached.
    pub fn site(&self, req: &Request<Bytes>) -> Option<Arc<Site>> {
        if let Some(site) = &self.fixed {
            return Some(Arc::clone(site));
        }
        let RequestIssuer(issuer) = req.extensions().get::<RequestIssuer>()?;
        let mut derived = self.derived.lock().ok()?;
        if derived.len() >= MAX_DERIVED_SITES && !derived.contains_key(issuer.as_str()) {
            derived.clear();
        }
        let site = derived
            .entry(issuer.as_str().to_owned())
            .or_insert_with(|| Arc::new(Site::new(issuer.clone(), &self.config)));
        Some(Arc::clone(site))
    }

    /// Which endpoint a request is for, if any.
    pub fn route(&self, req: &Request<Bytes>) -> Option<Endpoint> {
        self.site(req)?.route(req.uri().path())
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
        let Some(endpoint) = site.route(req.uri().path()) else {
            return self.not_found();
        };
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
                    response::public_json(
                        site.metadata.clone(),
                        self.config.jwks_max_age,
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
        let deadline = std::time::Duration::from_secs(self.config.request_deadline);
        tokio::pin!(work);
        let result = tokio::select! {
            r = &mut work => r,
            () = tokio::time::sleep(deadline) => match committing.started() {
                true => work.await,
                false => Err(OAuthError::unavailable(format!(
                    "the request did not finish within TOKENMINT_REQUEST_DEADLINE ({}s)",
                    self.config.request_deadline
                ))),
            },
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
    } else if !e.is_audited() {
        audit!("request_denied", ?endpoint, error = e.code.as_str(), reason = %e.description);
    }
}
