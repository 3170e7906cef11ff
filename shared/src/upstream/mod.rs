//! Trusted external issuers: their signing keys, fetched over HTTPS and cached, for the
//! validation of their tokens as token-exchange subject tokens (RFC 8693 §2.1).
//!
//! A JWKS is fetched the first time one of its keys is needed, kept for [`FRESH_FOR`], and
//! fetched again early when a token names a `kid` it does not hold, at most once per
//! [`REFETCH_INTERVAL`]: an attacker sending made-up `kid`s cannot turn tokenmint into a
//! traffic amplifier. When a refetch fails, keys fetched within [`STALE_FOR`] keep serving.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::domain::Algorithm;
use crate::domain::PublicJwk;
use crate::jwt::VerifyingKey;

/// How long a fetched JWKS is used without asking again.
pub const FRESH_FOR: Duration = Duration::from_secs(300);
/// How long a JWKS keeps serving when fetching it again fails.
pub const STALE_FOR: Duration = Duration::from_secs(3600);
/// The least time between two fetches of one JWKS prompted by unknown `kid`s.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// The longest a fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The most keys kept from one JWKS.
pub const MAX_KEYS: usize = 64;

/// A JWKS or discovery document could not be fetched or read, and no usable copy is cached.
#[derive(Debug, thiserror::Error)]
#[error("cannot fetch {uri}: {reason}")]
pub struct FetchError {
    pub uri: String,
    pub reason: String,
    /// How long until the document is fetched again: failures are not retried sooner.
    pub retry_after: Duration,
}

impl FetchError {
    /// Seconds for `Retry-After`: at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs().max(1)
    }
}

use crate::net::Https;

mod discovery;
pub use discovery::{DISCOVERY_FRESH_FOR, DISCOVERY_STALE_FOR, MAX_DISCOVERY_BYTES, discovery_url};

#[derive(Default)]
struct Entry {
    /// The last JWKS fetched, and when; `None` until a fetch succeeds.
    keys: Option<(Arc<HashMap<String, VerifyingKey>>, Instant)>,
    /// The last fetch attempt, successful or not, and why it failed.
    last_attempt: Option<(Instant, Option<String>)>,
    /// One fetch at a time per JWKS; other issuers are not held up.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

/// What the cache can say without fetching.
enum Cached {
    Key(Option<VerifyingKey>),
    /// A fetch failed within [`REFETCH_INTERVAL`] and no cached key decides; how long until
    /// the next attempt.
    Failed(String, Duration),
    Fetch,
}

/// Signing keys of trusted issuers, by JWKS URI.
#[derive(Default)]
pub struct UpstreamKeys {
    client: OnceLock<Result<Client<Https, Empty<Bytes>>, String>>,
    cache: Mutex<HashMap<String, Entry>>,
    /// JWKS URIs of OIDC issuers, from their discovery documents.
    issuers: discovery::Issuers,
}

impl UpstreamKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// The key `kid` of the JWKS at `uri`: `Ok(None)` if the JWKS does not hold it, `Err`
    /// only when the JWKS cannot be had at all.
    pub async fn key(&self, uri: &str, kid: &str) -> Result<Option<VerifyingKey>, FetchError> {
        let failed = |reason: String| FetchError {
            uri: uri.to_owned(),
            reason,
            retry_after: REFETCH_INTERVAL,
        };
        match self.cached(uri, kid, Instant::now()) {
            Cached::Key(k) => return Ok(k),
            Cached::Failed(reason, left) => {
                return Err(FetchError {
                    retry_after: left,
                    ..failed(reason)
                });
            }
            Cached::Fetch => {}
        }
        let gate = Arc::clone(&self.lock().entry(uri.to_owned()).or_default().fetching);
        let _one_at_a_time = gate.lock().await;
        // Another request may have fetched while this one waited.
        match self.cached(uri, kid, Instant::now()) {
            Cached::Key(k) => return Ok(k),
            Cached::Failed(reason, left) => {
                return Err(FetchError {
                    retry_after: left,
                    ..failed(reason)
                });
            }
            Cached::Fetch => {}
        }
        let result = self.fetch(uri).await;
        let now = Instant::now();
        let mut cache = self.lock();
        let e = cache.entry(uri.to_owned()).or_default();
        match result {
            Ok(keys) => {
                let found = keys.get(kid).cloned();
                e.keys = Some((Arc::new(keys), now));
                e.last_attempt = Some((now, None));
                Ok(found)
            }
            Err(reason) => {
                tracing::warn!(jwks_uri = uri, %reason, "fetching an upstream JWKS failed");
                e.last_attempt = Some((now, Some(reason.clone())));
                // A stale copy decides only for the keys it holds: a kid it lacks may be the
                // issuer's new key, which only the unreachable JWKS could tell.
                match &e.keys {
                    Some((keys, at)) if now.duration_since(*at) < STALE_FOR => keys
                        .get(kid)
                        .cloned()
                        .map(Some)
                        .ok_or_else(|| failed(reason)),
                    _ => Err(failed(reason)),
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // The cache holds no invariant a panic could break: recover it.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers from the cache when it can: a fresh JWKS holding `kid`; or, within
    /// [`REFETCH_INTERVAL`] of the last attempt, what the last usable JWKS says when that
    /// attempt succeeded or the JWKS holds `kid`, else the last failure. Otherwise a fetch is
    /// due.
    fn cached(&self, uri: &str, kid: &str, now: Instant) -> Cached {
        let cache = self.lock();
        let Some(e) = cache.get(uri) else {
            return Cached::Fetch;
        };
        let usable = e
            .keys
            .as_ref()
            .filter(|(_, at)| now.duration_since(*at) < STALE_FOR);
        if let Some((keys, at)) = usable {
            if let Some(k) = keys
                .get(kid)
                .filter(|_| now.duration_since(*at) < FRESH_FOR)
            {
                return Cached::Key(Some(k.clone()));
            }
        }
        match &e.last_attempt {
            Some((at, failure)) if now.duration_since(*at) < REFETCH_INTERVAL => {
                let left = REFETCH_INTERVAL.saturating_sub(now.duration_since(*at));
                let key = usable.and_then(|(keys, _)| keys.get(kid).cloned());
                match (usable, failure) {
                    (Some(_), None) => Cached::Key(key),
                    (_, Some(reason)) => match key {
                        Some(k) => Cached::Key(Some(k)),
                        None => Cached::Failed(reason.clone(), left),
                    },
                    (None, None) => Cached::Fetch,
                }
            }
            _ => Cached::Fetch,
        }
    }

    fn client(&self) -> Result<&Client<Https, Empty<Bytes>>, String> {
        self.client
            .get_or_init(|| {
                crate::net::https().map(|https| Client::builder(TokioExecutor::new()).build(https))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn fetch(&self, uri: &str) -> Result<HashMap<String, VerifyingKey>, String> {
        let keys = match self.fetch_document(uri, MAX_JWKS_BYTES).await {
            Ok(body) => parse_jwks(&body),
            Err(e) => Err(e),
        };
        crate::meter::upstream_fetched(keys.is_ok());
        keys
    }

    /// GETs a JSON document: `https` (or loopback `http`), no redirects followed, `200` only,
    /// at most `limit` bytes within [`FETCH_TIMEOUT`].
    async fn fetch_document(&self, uri: &str, limit: usize) -> Result<Bytes, String> {
        check_uri(uri)?;
        let client = self.client()?;
        let req = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let body = tokio::time::timeout(FETCH_TIMEOUT, async {
            let resp = client.request(req).await.map_err(|e| e.to_string())?;
            if resp.status() != http::StatusCode::OK {
                return Err(format!("answered {}", resp.status()));
            }
            Limited::new(resp.into_body(), limit)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .map_err(|e| format!("body: {e}"))
        })
        .await
        .map_err(|_| format!("no answer within {FETCH_TIMEOUT:?}"))??;
        Ok(body)
    }
}

/// A JWKS URI must be `https`, or `http` on a loopback host.
pub fn check_uri(uri: &str) -> Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|e| format!("{uri:?}: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if crate::domain::is_loopback(&parsed) => Ok(()),
        _ => Err(format!("{uri:?} must be https (http only on loopback)")),
    }
}

/// A key as other issuers publish it: `alg` and `use` are optional (RFC 7517 §4).
#[derive(Deserialize)]
struct ForeignJwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
}

/// The signing keys of a JWKS document that tokenmint can verify with, by `kid`. Keys for
/// encryption (by `use` or `key_ops`), without a `kid`, or of other types are skipped; an RSA key without `alg` is
/// taken as RS256, the algorithm of nearly every provider.
pub fn parse_jwks(body: &[u8]) -> Result<HashMap<String, VerifyingKey>, String> {
    #[derive(Deserialize)]
    struct Doc {
        keys: Vec<serde_json::Value>,
    }
    let doc: Doc = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = HashMap::new();
    for raw in doc.keys {
        let Ok(k) = serde_json::from_value::<ForeignJwk>(raw) else {
            continue;
        };
        // A key published for another use (RFC 7517 §4.2, §4.3) never verifies signatures.
        let for_signatures = k.use_.as_deref().is_none_or(|u| u == "sig")
            && k.key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|o| o == "verify"));
        let (Some(kid), true) = (k.kid, for_signatures) else {
            continue;
        };
        let alg = match (k.kty.as_str(), k.alg.as_deref()) {
            ("EC", None | Some("ES256")) => Algorithm::ES256,
            ("RSA", None | Some("RS256")) => Algorithm::RS256,
            ("RSA", Some("PS256")) => Algorithm::PS256,
            _ => continue,
        };
        let jwk = PublicJwk {
            kty: k.kty,
            crv: k.crv,
            x: k.x,
            y: k.y,
            n: k.n,
            e: k.e,
            kid: kid.clone(),
            alg,
            use_: "sig".into(),
        };
        if let Ok(vk) = jwk.verifying_key() {
            keys.insert(kid, vk);
        }
        if keys.len() >= MAX_KEYS {
            break;
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::Signer;
    use crate::signer::local::LocalKey;

    #[test]
    fn jwks_parsing_keeps_usable_signing_keys_only() {
        let (ec, _) = LocalKey::generate(Algorithm::ES256).unwrap();
        let (rsa, _) = LocalKey::generate(Algorithm::RS256).unwrap();
        let mut ec_jwk = serde_json::to_value(ec.public_jwk()).unwrap();
        ec_jwk.as_object_mut().unwrap().remove("alg");
        let mut rsa_jwk = serde_json::to_value(rsa.public_jwk()).unwrap();
        rsa_jwk.as_object_mut().unwrap().remove("use");
        let mut enc = rsa_jwk.clone();
        enc["use"] = "enc".into();
        enc["kid"] = "enc".into();
        let mut no_kid = rsa_jwk.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        let doc = serde_json::json!({"keys": [
            ec_jwk, rsa_jwk, enc, no_kid,
            {"kty": "oct", "k": "AAAA", "kid": "hmac"},
            {"kty": "RSA", "kid": "bad", "n": "!!", "e": "AQAB"},
            "not an object",
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort();
        let mut want = vec![ec.kid(), rsa.kid()];
        want.sort();
        assert_eq!(kids, want);
        assert!(parse_jwks(b"[]").is_err());
    }

    #[test]
    fn after_a_failed_refetch_only_cached_kids_decide() {
        let (key, _) = LocalKey::generate(Algorithm::ES256).unwrap();
        let vk = key.public_jwk().verifying_key().unwrap();
        let keys = UpstreamKeys::new();
        let t0 = Instant::now();
        let uri = "https://i.example/jwks";
        let entry = |fetched: Instant, attempt: Instant, failure: Option<&str>| Entry {
            keys: Some((
                Arc::new(HashMap::from([(key.kid().to_owned(), vk.clone())])),
                fetched,
            )),
            last_attempt: Some((attempt, failure.map(String::from))),
            fetching: Default::default(),
        };
        // Fetched successfully just now: an unknown kid is unknown, decided without a fetch.
        keys.lock().insert(uri.into(), entry(t0, t0, None));
        assert!(matches!(keys.cached(uri, "other", t0), Cached::Key(None)));
        // Fetched an age ago, and the refetch 5 s ago failed: the cached kid still verifies,
        // any other is an outage, with the 25 s left until the next attempt.
        let later = t0 + FRESH_FOR + Duration::from_secs(60);
        let failed_at = later - Duration::from_secs(5);
        keys.lock()
            .insert(uri.into(), entry(t0, failed_at, Some("refused")));
        assert!(matches!(
            keys.cached(uri, key.kid(), later),
            Cached::Key(Some(_))
        ));
        match keys.cached(uri, "other", later) {
            Cached::Failed(why, left) => {
                assert_eq!(why, "refused");
                assert_eq!(left, REFETCH_INTERVAL - Duration::from_secs(5));
            }
            _ => panic!("an unknown kid after a failed refetch is an outage"),
        }
        // Past the interval a fetch is due again.
        assert!(matches!(
            keys.cached(uri, "other", failed_at + REFETCH_INTERVAL),
            Cached::Fetch
        ));
    }

    #[test]
    fn uris_must_be_https_except_on_loopback() {
        assert!(check_uri("https://idp.example/.well-known/jwks.json").is_ok());
        assert!(check_uri("http://127.0.0.1:9/jwks").is_ok());
        assert!(check_uri("http://localhost/jwks").is_ok());
        assert!(check_uri("http://idp.example/jwks").is_err());
        assert!(check_uri("file:///etc/passwd").is_err());
    }
}
