//! The application: the configured services (stores, keys, hook, clock) every endpoint runs
//! on, and the sites (issuers) it serves. It knows no HTTP: the router ([`crate::http`]) and
//! the protocol rules ([`crate::oauth`]) sit above it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Issuer, TokenPolicy};
use crate::hook::ClaimsHook;
use crate::keys::KeyRing;
use crate::store::blocked::Blocked;
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
    pub blocked: Blocked,
    pub assertion_ids: Arc<dyn AssertionIdStore>,
    /// Signing keys of trusted external issuers, fetched on demand.
    pub upstream_keys: UpstreamKeys,
    /// Federated credentials' conditions, compiled once each.
    pub conditions: crate::federation::Conditions,
    /// The claims hook clients with `hook` enabled go through.
    pub hook: Arc<dyn ClaimsHook>,
    /// The site of the configured issuer, or `None` when each request names it (Lambda behind
    /// API Gateway with an empty `TOKENMINT_ISSUER`).
    fixed: Option<Arc<Site>>,
    /// Sites of request-named issuers, built once each.
    derived: Mutex<HashMap<String, Arc<Site>>>,
}

/// Everything that follows from one issuer identifier: where the endpoints live, the policy
/// tokens are minted under, and the metadata document (built by the router on first use).
pub struct Site {
    pub issuer: Issuer,
    pub policy: TokenPolicy,
    /// The prefix of custom claim names: `TOKENMINT_CLAIMS_NAMESPACE`, else
    /// `<issuer>/claims/`.
    pub claims_namespace: String,
    /// The issuer's path without a trailing slash: the prefix of every endpoint path.
    pub issuer_path: String,
    /// The RFC 8414 metadata document, serialised once.
    pub metadata: OnceLock<Bytes>,
}

impl Site {
    pub fn new(issuer: Issuer, config: &Config) -> Self {
        Self {
            issuer_path: issuer.path(),
            metadata: OnceLock::new(),
            policy: TokenPolicy {
                issuer: issuer.as_str().to_owned(),
                default_ttl: config.default_ttl.as_secs(),
                max_ttl: config.max_ttl.as_secs(),
            },
            claims_namespace: config
                .hook
                .namespace
                .clone()
                .unwrap_or_else(|| format!("{}/claims/", issuer.base())),
            issuer,
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

    pub fn started(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Where a request came from, set by the adapter that knows it (the local server's peer
/// address; API Gateway's `requestContext.http.sourceIp`), never from a header a client
/// controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceAddr(pub IpAddr);

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
            blocked: Blocked::default(),
            assertion_ids: Arc::clone(&stores.assertion_ids),
            upstream_keys: UpstreamKeys::new(),
            conditions: crate::federation::Conditions::new(),
            hook,
            fixed,
            derived: Mutex::new(HashMap::new()),
        }
    }

    /// The site of the configured issuer, else of `named` (the issuer an adapter attached to
    /// the request, [`RequestIssuer`]).
    pub fn site_for(&self, named: Option<&Issuer>) -> Option<Arc<Site>> {
        if let Some(site) = &self.fixed {
            return Some(Arc::clone(site));
        }
        let issuer = named?;
        let mut derived = self.derived.lock().ok()?;
        if derived.len() >= MAX_DERIVED_SITES && !derived.contains_key(issuer.as_str()) {
            derived.clear();
        }
        let site = derived
            .entry(issuer.as_str().to_owned())
            .or_insert_with(|| Arc::new(Site::new(issuer.clone(), &self.config)));
        Some(Arc::clone(site))
    }
}
