//! OIDC issuers' keys by way of their discovery documents (OpenID Connect Discovery 1.0 §4):
//! `ISSUER/.well-known/openid-configuration` names the `jwks_uri`, whose keys are then fetched
//! and cached like any trusted issuer's.
//!
//! A discovery document is kept for [`DISCOVERY_FRESH_FOR`]; when fetching it again fails, the
//! last one keeps serving for [`DISCOVERY_STALE_FOR`], and a failure is not retried within
//! [`super::REFETCH_INTERVAL`]. Its `issuer` must be the issuer exactly (§4.3), and its
//! `jwks_uri` one tokenmint fetches from (https, or http on loopback).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{FetchError, REFETCH_INTERVAL, UpstreamKeys, check_uri};
use crate::jwt::VerifyingKey;

/// How long a discovery document is used without asking again.
pub const DISCOVERY_FRESH_FOR: Duration = Duration::from_secs(3600);
/// How long a discovery document keeps serving when fetching it again fails: a `jwks_uri`
/// seldom moves, and the keys behind it have their own, shorter limits.
pub const DISCOVERY_STALE_FOR: Duration = Duration::from_secs(24 * 3600);
/// The largest discovery document read.
pub const MAX_DISCOVERY_BYTES: usize = 64 * 1024;

/// Where an issuer publishes its discovery document (OIDC Discovery §4.1).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

#[derive(Default)]
struct Entry {
    /// The last `jwks_uri` read, and when.
    jwks_uri: Option<(String, Instant)>,
    /// The last failed attempt, and why.
    failed: Option<(Instant, String)>,
    fetching: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
pub(super) struct Issuers {
    cache: Mutex<HashMap<String, Entry>>,
}

impl Issuers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // The cache holds no invariant a panic could break: recover it.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached answer, if the cache can give one now: the `jwks_uri`, or the last failure
    /// and how long until the next attempt.
    fn cached(&self, issuer: &str, now: Instant) -> Option<Result<String, (String, Duration)>> {
        let cache = self.lock();
        let e = cache.get(issuer)?;
        let usable = e
            .jwks_uri
            .as_ref()
            .filter(|(_, at)| now.duration_since(*at) < DISCOVERY_STALE_FOR);
        match (usable, &e.failed) {
            (Some((uri, at)), _) if now.duration_since(*at) < DISCOVERY_FRESH_FOR => {
                Some(Ok(uri.clone()))
            }
            (usable, Some((at, why))) if now.duration_since(*at) < REFETCH_INTERVAL => {
                let left = REFETCH_INTERVAL.saturating_sub(now.duration_since(*at));
                Some(
                    usable
                        .map(|(u, _)| u.clone())
                        .ok_or_else(|| (why.clone(), left)),
                )
            }
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    jwks_uri: String,
}

impl UpstreamKeys {
    /// The key `kid` of the OIDC issuer `issuer`, found through its discovery document:
    /// `Ok(None)` if its JWKS does not hold it, `Err` when either document cannot be had.
    pub async fn issuer_key(
        &self,
        issuer: &str,
        kid: &str,
    ) -> Result<Option<VerifyingKey>, FetchError> {
        let uri = self.jwks_uri_of(issuer).await?;
        self.key(&uri, kid).await
    }

    /// The `jwks_uri` of `issuer`'s discovery document.
    pub async fn jwks_uri_of(&self, issuer: &str) -> Result<String, FetchError> {
        let failed = |reason: String| FetchError {
            uri: discovery_url(issuer),
            reason,
            retry_after: REFETCH_INTERVAL,
        };
        if let Some(answer) = self.issuers.cached(issuer, Instant::now()) {
            return answer.map_err(|(why, left)| FetchError {
                retry_after: left,
                ..failed(why)
            });
        }
        let gate = Arc::clone(
            &self
                .issuers
                .lock()
                .entry(issuer.to_owned())
                .or_default()
                .fetching,
        );
        let _one_at_a_time = gate.lock().await;
        if let Some(answer) = self.issuers.cached(issuer, Instant::now()) {
            return answer.map_err(|(why, left)| FetchError {
                retry_after: left,
                ..failed(why)
            });
        }
        let result = self.discover(issuer).await;
        let now = Instant::now();
        let mut cache = self.issuers.lock();
        let e = cache.entry(issuer.to_owned()).or_default();
        match result {
            Ok(uri) => {
                e.jwks_uri = Some((uri.clone(), now));
                e.failed = None;
                Ok(uri)
            }
            Err(reason) => {
                tracing::warn!(issuer, %reason, "fetching an issuer's discovery document failed");
                e.failed = Some((now, reason.clone()));
                match &e.jwks_uri {
                    Some((uri, at)) if now.duration_since(*at) < DISCOVERY_STALE_FOR => {
                        Ok(uri.clone())
                    }
                    _ => Err(failed(reason)),
                }
            }
        }
    }

    async fn discover(&self, issuer: &str) -> Result<String, String> {
        let body = self
            .fetch_document(&discovery_url(issuer), MAX_DISCOVERY_BYTES)
            .await?;
        let doc: Document = serde_json::from_slice(&body)
            .map_err(|e| format!("not an OpenID provider configuration: {e}"))?;
        if doc.issuer != issuer {
            return Err(format!(
                "its issuer is {:?}, not {issuer:?}",
                crate::audit::shown(&doc.issuer)
            ));
        }
        check_jwks_uri(issuer, &doc.jwks_uri)?;
        Ok(doc.jwks_uri)
    }
}

/// A discovered `jwks_uri` is one tokenmint fetches from, and plain http (loopback only) only
/// for an issuer that is itself on loopback: a remote issuer's document cannot send tokenmint
/// to a service on this machine.
fn check_jwks_uri(issuer: &str, uri: &str) -> Result<(), String> {
    check_uri(uri).map_err(|e| format!("jwks_uri {e}"))?;
    if uri.starts_with("http:") && !issuer.starts_with("http:") {
        return Err(format!(
            "jwks_uri {:?} is http on loopback, and the issuer is not",
            crate::audit::shown(uri)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_issuer_cannot_point_at_loopback() {
        assert!(check_jwks_uri("https://i.example", "https://keys.i.example/jwks").is_ok());
        assert!(check_jwks_uri("http://127.0.0.1:9/", "http://127.0.0.1:9/jwks").is_ok());
        assert!(check_jwks_uri("https://i.example", "http://127.0.0.1:9/jwks").is_err());
        assert!(check_jwks_uri("https://i.example", "http://i.example/jwks").is_err());
        assert!(check_jwks_uri("https://i.example", "file:///etc/passwd").is_err());
    }

    #[test]
    fn discovery_urls() {
        assert_eq!(
            discovery_url("https://token.actions.githubusercontent.com"),
            "https://token.actions.githubusercontent.com/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://gitlab.example/"),
            "https://gitlab.example/.well-known/openid-configuration"
        );
    }

    #[test]
    fn a_failure_is_not_retried_within_the_interval_and_stale_uris_keep_serving() {
        let issuers = Issuers::default();
        let t0 = Instant::now();
        assert!(issuers.cached("https://i", t0).is_none());
        issuers.lock().entry("https://i".into()).or_default().failed = Some((t0, "refused".into()));
        assert_eq!(
            issuers.cached("https://i", t0),
            Some(Err(("refused".into(), REFETCH_INTERVAL)))
        );
        assert!(issuers.cached("https://i", t0 + REFETCH_INTERVAL).is_none());
        issuers
            .lock()
            .entry("https://i".into())
            .or_default()
            .jwks_uri = Some(("https://i/jwks".into(), t0));
        let later = t0 + DISCOVERY_FRESH_FOR;
        issuers.lock().entry("https://i".into()).or_default().failed =
            Some((later, "refused".into()));
        assert_eq!(
            issuers.cached("https://i", later),
            Some(Ok("https://i/jwks".into()))
        );
        assert!(
            issuers
                .cached("https://i", t0 + DISCOVERY_STALE_FOR)
                .is_none()
        );
    }
}
