//! The claims hook as an HTTP webhook: `POST` of the event, signed with
//! `Tokenmint-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256(secret, "<t>.<raw body>")>`
//! (docs/hook.md). The receiver verifies with [`verify_signature`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::{constant_time, hmac};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{ClaimsHook, HookEvent, HookFailure, HookResponse};
use crate::clock::{Clock, UnixTime};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "tokenmint-signature";
/// The largest response body read from a webhook.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The shared webhook secret. `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(Arc<[u8]>);

impl WebhookSecret {
    pub fn new(secret: &str) -> Result<Self, String> {
        if secret.len() < 16 {
            return Err("the hook secret must be at least 16 characters".into());
        }
        Ok(Self(secret.as_bytes().into()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

fn mac(secret: &WebhookSecret, t: UnixTime, body: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret.0);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    ctx.sign()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Tokenmint-Signature` value for `body` sent at `t`.
pub fn signature(secret: &WebhookSecret, t: UnixTime, body: &[u8]) -> String {
    format!("t={t},v1={}", hex(mac(secret, t, body).as_ref()))
}

/// Checks a `Tokenmint-Signature` header: well formed, `t` within `tolerance` seconds of
/// `now`, and the HMAC over the exact body, compared in constant time.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secret: &WebhookSecret,
    now: UnixTime,
    tolerance: u64,
) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<UnixTime>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if t.abs_diff(now) > tolerance {
        return false;
    }
    let expected = hex(mac(secret, t, body).as_ref());
    constant_time::verify_slices_are_equal(expected.as_bytes(), v1.as_bytes()).is_ok()
}

use crate::net::Https;

/// A webhook at one URL.
pub struct Webhook {
    url: http::Uri,
    name: String,
    secret: WebhookSecret,
    clock: Arc<dyn Clock>,
    client: Client<Https, Full<Bytes>>,
}

impl Webhook {
    /// A webhook at `url`: https, or http on a loopback host.
    pub fn new(url: &str, secret: WebhookSecret, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("hook URL {url:?}: {e}"))?;
        match parsed.scheme() {
            "https" => {}
            "http" if crate::domain::is_loopback(&parsed) => {}
            _ => {
                return Err(format!(
                    "hook URL {url:?} must be https (http only on loopback)"
                ));
            }
        }
        let uri: http::Uri = url.parse().map_err(|e| format!("hook URL {url:?}: {e}"))?;
        let https = crate::net::https()?;
        Ok(Self {
            name: format!("webhook:{}", parsed.host_str().unwrap_or_default()),
            url: uri,
            secret,
            clock,
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }
}

#[async_trait]
impl ClaimsHook for Webhook {
    fn name(&self) -> &str {
        &self.name
    }

    async fn call(&self, event: &HookEvent) -> Result<HookResponse, HookFailure> {
        let body = serde_json::to_vec(event).map_err(|e| HookFailure::Malformed(e.to_string()))?;
        let sig = signature(&self.secret, self.clock.now(), &body);
        let req = http::Request::post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sig)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| HookFailure::Malformed(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| HookFailure::Transient(format!("{}: {e}", self.name)))?;
        let status = resp.status();
        if status == http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(HookFailure::Transient(format!(
                "{} answered {status}",
                self.name
            )));
        }
        if !status.is_success() {
            return Err(HookFailure::Malformed(format!(
                "{} answered {status}",
                self.name
            )));
        }
        let bytes = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| HookFailure::Malformed(format!("response body: {e}")))?
            .to_bytes();
        HookResponse::from_json(&bytes).map_err(HookFailure::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_expire() {
        let secret = WebhookSecret::new("0123456789abcdef-secret").unwrap();
        let body = br#"{"version":1}"#;
        let header = signature(&secret, 1_000, body);
        assert!(header.starts_with("t=1000,v1="));
        assert!(verify_signature(&header, body, &secret, 1_100, 300));
        assert!(
            !verify_signature(&header, body, &secret, 1_301, 300),
            "stale"
        );
        assert!(!verify_signature(
            &header,
            b"{\"version\":2}",
            &secret,
            1_000,
            300
        ));
        let other = WebhookSecret::new("another-secret-of-16").unwrap();
        assert!(!verify_signature(&header, body, &other, 1_000, 300));
        for bad in ["", "t=1000", "v1=00", "t=x,v1=00", "t=1000,v1="] {
            assert!(!verify_signature(bad, body, &secret, 1_000, 300), "{bad:?}");
        }
        assert!(WebhookSecret::new("short").is_err());
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
    }

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::ManualClock::new(0));
        let s = || WebhookSecret::new("0123456789abcdef").unwrap();
        assert!(Webhook::new("https://hooks.example.com/t", s(), clock.clone()).is_ok());
        assert!(Webhook::new("http://127.0.0.1:9000/t", s(), clock.clone()).is_ok());
        assert!(Webhook::new("http://localhost:9000/t", s(), clock.clone()).is_ok());
        assert!(Webhook::new("http://hooks.example.com/t", s(), clock.clone()).is_err());
        assert!(Webhook::new("http://10.0.0.1/t", s(), clock.clone()).is_err());
        assert!(Webhook::new("ftp://x/t", s(), clock).is_err());
    }
}
