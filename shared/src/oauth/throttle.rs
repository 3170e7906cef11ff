//! Throttling of failed client authentication (SECURITY.md).
//!
//! Failures are counted per (client id, source address) pair, in fixed windows of
//! [`WINDOW_SECS`], in the store (so every Lambda container sees the same count) under an
//! expiry. Past [`MAX_FAILURES`] in a window, a failed authentication is answered
//! `429 Too Many Requests` with `Retry-After` instead of `401`. Three properties:
//! - Valid credentials are never throttled: credentials are checked first, and only a failure
//!   counts or is throttled. Client ids appear in every token, so a lockout keyed on the id
//!   alone would let anyone lock a client out.
//! - It does not tell whether a client exists: unknown and known ids count alike.
//! - The key is a hash of the pair: neither a client id nor an address reaches the store.
//!
//! Once a pair is over the limit, the process remembers it until the window ends
//! ([`crate::store::blocked::Blocked`]) and answers its failures `429` from memory, without writing the counter
//! again: a noisy pair costs the store one write per process, not one per request. The
//! counter write itself is best effort (a single short attempt on DynamoDB).

use std::net::IpAddr;

use aws_lc_rs::digest;
use bytes::Bytes;
use http::Request;

use super::client_auth::{self, Caller, Credentials};
use super::{ErrorCode, OAuthError};
use crate::app::{App, Site, SourceAddr};

/// Failed authentications allowed per (client id, source address) in one window.
pub const MAX_FAILURES: u32 = 10;
/// The length of a counting window.
pub const WINDOW_SECS: u64 = 300;

/// The store key of a (client id, source address) pair.
pub fn key(client_id: &str, source: Option<IpAddr>) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(client_id.as_bytes());
    ctx.update(b"\0");
    ctx.update(source.map(|a| a.to_string()).unwrap_or_default().as_bytes());
    crate::jwt::b64(ctx.finish().as_ref())
}

/// Authenticates the client of `req`, counting a failure against its (client id, source
/// address) pair and answering `429` once the pair is over the limit.
pub async fn authenticate(
    app: &App,
    site: &Site,
    req: &Request<Bytes>,
    creds: &Credentials,
    now: u64,
) -> Result<Caller, OAuthError> {
    let err = match client_auth::authenticate(app, site, creds, now).await {
        Ok(c) => return Ok(c),
        Err(e) if e.code == ErrorCode::InvalidClient => e,
        Err(e) => return Err(e),
    };
    let source = req.extensions().get::<SourceAddr>().map(|s| s.0);
    let pair = key(&creds.client_id, source);
    if let Some(end) = app.blocked.until(&pair, now) {
        return Err(OAuthError::too_many_failures(end - now));
    }
    let counted = app
        .auth_failures
        .add_auth_failure(&pair, now, WINDOW_SECS)
        .await;
    match counted {
        Ok((count, window_end)) if count > MAX_FAILURES => {
            crate::audit!(
                "authentication_throttled",
                client_id = %crate::oauth::shown(&creds.client_id),
                source = %source.map(|a| a.to_string()).unwrap_or_default(),
                failures = count,
                until = window_end,
            );
            app.blocked.block(pair, window_end, now);
            Err(OAuthError::too_many_failures(
                window_end.saturating_sub(now).max(1),
            ))
        }
        Ok(_) => Err(err),
        // The count is a defence, not a gate: without it the answer is still a refusal.
        Err(e) => {
            tracing::warn!(error = %e, "counting a failed authentication failed");
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_pairs_and_hide_both_parts() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert_ne!(key("c1", Some(a)), key("c1", Some(b)));
        assert_ne!(key("c1", Some(a)), key("c2", Some(a)));
        assert_eq!(key("c1", Some(a)), key("c1", Some(a)));
        assert!(!key("c1", Some(a)).contains("c1"));
        assert_eq!(key("c1", None).len(), 43);
    }

    async fn try_secret(
        app: &App,
        req: &Request<Bytes>,
        secret: String,
        now: crate::clock::UnixTime,
    ) -> Result<Caller, OAuthError> {
        let creds = Credentials {
            method: crate::oauth::client_auth::Method::Post,
            client_id: "public-id".into(),
            proof: crate::oauth::client_auth::Proof::Secret(
                crate::domain::ClientSecret::from_presented(secret),
            ),
        };
        let site = app.site(req).unwrap();
        authenticate(app, &site, req, &creds, now).await
    }

    /// Counts the failure writes that reach the store.
    struct CountingFailures {
        inner: crate::store::memory::MemoryStore,
        writes: std::sync::atomic::AtomicU32,
    }

    #[async_trait::async_trait]
    impl crate::store::AuthFailureStore for CountingFailures {
        async fn add_auth_failure(
            &self,
            key: &str,
            now: crate::clock::UnixTime,
            window: u64,
        ) -> Result<(u32, crate::clock::UnixTime), crate::store::StoreError> {
            self.writes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.add_auth_failure(key, now, window).await
        }
    }

    #[tokio::test]
    async fn a_pair_over_the_limit_is_answered_from_memory_until_its_window_ends() {
        use std::sync::Arc;
        use std::sync::atomic::Ordering::SeqCst;

        use crate::clock::{Clock as _, ManualClock};
        use crate::domain::ClientSecret;
        use crate::store::ClientStore as _;

        let memory = Arc::new(crate::store::memory::MemoryStore::new());
        let failures = Arc::new(CountingFailures {
            inner: crate::store::memory::MemoryStore::new(),
            writes: Default::default(),
        });
        let stores = crate::store::Stores {
            auth_failures: failures.clone(),
            ..crate::store::Stores::from_one(memory.clone())
        };
        let secret = ClientSecret::generate();
        let mut c = crate::store::contract::sample_client("public-id");
        c.secrets[0].hash = secret.hash();
        memory.create_client(&c).await.unwrap();
        let config = crate::Config::from_lookup(|k| {
            (k == "TOKENMINT_ISSUER").then(|| "https://issuer.example".into())
        })
        .unwrap();
        let clock = Arc::new(ManualClock::new(1_000));
        let app = crate::setup::build_app(Arc::new(config), &stores, clock.clone())
            .await
            .unwrap();
        let mut req = Request::new(Bytes::new());
        req.extensions_mut()
            .insert(SourceAddr("192.0.2.7".parse().unwrap()));
        let attempt = |secret: &str| try_secret(&app, &req, secret.to_owned(), clock.now());
        let status = |r: Result<_, OAuthError>| r.err().map(|e| e.status().as_u16());
        let retry_after = |e: &OAuthError| {
            let r = e.to_response();
            r.headers()["retry-after"].to_str().unwrap().to_owned()
        };

        for _ in 0..MAX_FAILURES {
            assert_eq!(status(attempt("wrong").await), Some(401));
        }
        assert_eq!(status(attempt("wrong").await), Some(429));
        assert_eq!(failures.writes.load(SeqCst), MAX_FAILURES + 1);
        // Over the limit: answered from memory, no more writes, Retry-After counting down.
        clock.advance(100);
        for _ in 0..50 {
            let e = attempt("wrong").await.unwrap_err();
            assert_eq!(e.status().as_u16(), 429);
            assert_eq!(retry_after(&e), (WINDOW_SECS - 100).to_string());
        }
        assert_eq!(failures.writes.load(SeqCst), MAX_FAILURES + 1);
        // Valid credentials are never throttled.
        assert!(attempt(secret.expose()).await.is_ok());
        // The window over, the pair counts in the store again.
        clock.advance(WINDOW_SECS - 100);
        assert_eq!(status(attempt("wrong").await), Some(401));
        assert_eq!(failures.writes.load(SeqCst), MAX_FAILURES + 2);
    }
}
