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

use std::net::IpAddr;

use aws_lc_rs::digest;
use bytes::Bytes;
use http::Request;

use crate::domain::Client;
use crate::http::{App, Site};
use crate::oauth::client_auth::{self, Credentials};
use crate::oauth::{ErrorCode, OAuthError};

/// Failed authentications allowed per (client id, source address) in one window.
pub const MAX_FAILURES: u32 = 10;
/// The length of a counting window.
pub const WINDOW_SECS: u64 = 300;

/// Where a request came from, set by the adapter that knows it (the local server's peer
/// address; API Gateway's `requestContext.http.sourceIp`), never from a header a client
/// controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceAddr(pub IpAddr);

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
) -> Result<std::sync::Arc<Client>, OAuthError> {
    let err = match client_auth::authenticate(app, site, creds, now).await {
        Ok(c) => return Ok(c),
        Err(e) if e.code == ErrorCode::InvalidClient => e,
        Err(e) => return Err(e),
    };
    let source = req.extensions().get::<SourceAddr>().map(|s| s.0);
    let counted = app
        .auth_failures
        .add_auth_failure(&key(&creds.client_id, source), now, WINDOW_SECS)
        .await;
    match counted {
        Ok((count, window_end)) if count > MAX_FAILURES => {
            crate::audit!(
                "authentication_throttled",
                client_id = %crate::oauth::shown(&creds.client_id),
                source = %source.map(|a| a.to_string()).unwrap_or_default(),
                failures = count,
            );
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
}
