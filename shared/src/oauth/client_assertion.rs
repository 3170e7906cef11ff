//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3; OIDC Core §9): the client signs
//! a short-lived JWT with a key it registered, and no shared secret exists.
//!
//! The assertion's header may not point at keys (`jku`, `x5u`, `jwk`, `x5c`) or demand
//! extensions (`crit`), and must name its key (`kid`) among the client's registered keys
//! (inline, or at the client's `jwks_uri`, fetched like a trusted issuer's). Its claims: `iss`
//! and `sub` are the client id; `aud` is a single string, this issuer identifier exactly (or,
//! for clients written to RFC 7523, the token endpoint URL), whichever endpoint the assertion
//! authenticates to; `exp` is at most [`MAX_LIFETIME`] away; `jti` is used once (a conditional
//! write in the store).
//!
//! An array `aud`, even of one element, and every other endpoint URL (introspection,
//! revocation) are refused (draft-ietf-oauth-rfc7523bis; CVE-2025-27370/27371, audience
//! injection): a malicious authorization server can publish our URLs in its own metadata, get a
//! client to sign them into an assertion sent to it, and replay that assertion here. Only the
//! issuer identifier is bound to us by the client's metadata check (RFC 8414 §3.3).

use serde_json::{Map, Value};

use super::OAuthError;
use super::paths::TOKEN_PATH;
use crate::app::{App, Site};
use crate::clock::UnixTime;
use crate::domain::Issuer;
use crate::domain::{Client, ClientId, ClientKeys};
use crate::jwt::verify;

/// `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may still be valid when presented.
pub const MAX_LIFETIME: u64 = 300;
/// The longest `jti` accepted.
pub const MAX_JTI_BYTES: usize = 256;
/// Signature algorithms accepted (advertised as `*_auth_signing_alg_values_supported`).
pub const SIGNING_ALGS: &[&str] = &["ES256", "RS256", "PS256"];

/// The `sub` of an assertion, unverified: only to find whose keys to verify it with.
pub fn unverified_subject(jwt: &str) -> Option<String> {
    let u = verify::parse_with(jwt, |_| true).ok()?;
    let payload = u.unverified_payload()?;
    payload.get("sub")?.as_str().map(String::from)
}

/// The `iss` of an assertion, unverified: only to tell a client's own assertion from a
/// platform's token.
pub fn unverified_issuer(jwt: &str) -> Option<String> {
    verify::parse_with(jwt, |_| true).ok()?.unverified_issuer()
}

/// Verifies `jwt` as `client`'s assertion. `Ok(false)` for any reason it does not hold (logged
/// at debug level); `Err` only when a dependency failed.
pub async fn verify(
    app: &App,
    site: &Site,
    client: &Client,
    jwt: &str,
    now: UnixTime,
) -> Result<bool, OAuthError> {
    let refuse = |why: &str| {
        tracing::debug!(client_id = %client.id, reason = why, "client assertion refused");
        Ok(false)
    };
    let Ok(unverified) = verify::parse_with(jwt, |_| true) else {
        return refuse("malformed or refused header");
    };
    let key = match &client.keys {
        Some(ClientKeys::Jwks(doc)) => crate::upstream::parse_jwks(doc.as_bytes())
            .ok()
            .and_then(|mut keys| keys.remove(unverified.kid())),
        Some(ClientKeys::JwksUri(uri)) => app
            .upstream_keys
            .key(uri, unverified.kid())
            .await
            .map_err(OAuthError::upstream)?,
        None => None,
    };
    let Some(key) = key else {
        return refuse("unknown kid");
    };
    let Ok(claims) = unverified.verify(&key).and_then(|v| v.into_object()) else {
        return refuse("bad signature or payload");
    };
    if let Err(why) = check_claims(
        &claims,
        &client.id,
        &site.issuer,
        now,
        app.config.leeway.as_secs(),
    ) {
        return refuse(why);
    }
    let (Some(jti), Some(exp)) = (
        claims.get("jti").and_then(Value::as_str),
        claims.get("exp").and_then(Value::as_u64),
    ) else {
        return refuse("no jti or exp");
    };
    // Used once: the conditional write decides among concurrent presentations.
    let first = app
        .assertion_ids
        .first_use(
            &replay_key(client.id.as_str(), jti),
            exp.saturating_add(app.config.leeway.as_secs()),
            now,
        )
        .await
        .map_err(OAuthError::unavailable)?;
    if !first {
        crate::audit!("client_assertion_replayed", client_id = %client.id);
        return Ok(false);
    }
    Ok(true)
}

/// The replay-store key of an assertion: a hash, so a client-chosen `jti` of any shape is a
/// fixed-size key.
fn replay_key(client_id: &str, jti: &str) -> String {
    use aws_lc_rs::digest;
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(client_id.as_bytes());
    ctx.update(b"\0");
    ctx.update(jti.as_bytes());
    crate::jwt::b64(ctx.finish().as_ref())
}

/// The claim rules of RFC 7523 §3, with `aud` as draft-ietf-oauth-rfc7523bis has it.
fn check_claims(
    c: &Map<String, Value>,
    client_id: &ClientId,
    issuer: &Issuer,
    now: UnixTime,
    leeway: u64,
) -> Result<(), &'static str> {
    let id = client_id.as_str();
    if c.get("iss").and_then(Value::as_str) != Some(id)
        || c.get("sub").and_then(Value::as_str) != Some(id)
    {
        return Err("iss and sub must be the client id");
    }
    if !audience_ok(c.get("aud"), issuer) {
        return Err("aud is not a single string naming this issuer or its token endpoint");
    }
    let exp = c.get("exp").and_then(Value::as_u64).ok_or("no exp")?;
    if now >= exp {
        return Err("expired");
    }
    if exp > now.saturating_add(MAX_LIFETIME + leeway) {
        return Err("exp too far ahead");
    }
    for name in ["iat", "nbf"] {
        match c.get(name) {
            None => {}
            Some(v) => {
                let t = v.as_u64().ok_or("iat or nbf is not a NumericDate")?;
                if t > now.saturating_add(leeway) {
                    return Err("iat or nbf in the future");
                }
            }
        }
    }
    match c.get("jti").and_then(Value::as_str) {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI_BYTES => Ok(()),
        _ => Err("jti missing or too long"),
    }
}

/// draft-ietf-oauth-rfc7523bis: `aud` is one JSON string, the issuer identifier exactly; the
/// token endpoint URL is still accepted for clients written to RFC 7523 §3, which allowed it.
/// Whichever endpoint the assertion authenticates to, the audience is the issuer, never that
/// endpoint. No array: a value we accept inside one proves nothing about where it was sent.
fn audience_ok(aud: Option<&Value>, issuer: &Issuer) -> bool {
    match aud {
        Some(Value::String(a)) => {
            a == issuer.as_str() || a.strip_prefix(issuer.base()) == Some(TOKEN_PATH)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: UnixTime = 1_700_000_000;

    fn check(issuer: &str, aud: Value) -> Result<(), &'static str> {
        let claims = json!({
            "iss": "keyed", "sub": "keyed", "aud": aud,
            "exp": NOW + 60, "iat": NOW, "jti": "j-1",
        });
        let Value::Object(claims) = claims else {
            unreachable!("a json! object literal")
        };
        let id = ClientId::new("keyed").unwrap();
        check_claims(&claims, &id, &Issuer::parse(issuer).unwrap(), NOW, 5)
    }

    #[test]
    fn check_claims_takes_only_the_issuer_or_token_endpoint_as_a_single_string() {
        for issuer in ["https://as.example", "https://as.example/tenant/"] {
            let base = issuer.trim_end_matches('/');
            let token = format!("{base}/oauth2/token");
            assert_eq!(check(issuer, json!(issuer)), Ok(()), "{issuer}");
            assert_eq!(check(issuer, json!(token)), Ok(()), "{token}");
            // The issuer spelled with a slash more or less is not the issuer identifier.
            let respelled = if issuer.ends_with('/') {
                base.to_owned()
            } else {
                format!("{issuer}/")
            };
            let refused = [
                json!([issuer]),
                json!([token]),
                json!([
                    "https://attacker.example/token",
                    format!("{base}/oauth2/revoke")
                ]),
                json!([issuer, token]),
                json!([]),
                json!(format!("{base}/oauth2/revoke")),
                json!(format!("{base}/oauth2/introspect")),
                json!(format!("{base}/.well-known/jwks.json")),
                json!(format!("{token}/")),
                json!(format!("{token}?x")),
                json!(respelled),
                json!(issuer.to_uppercase()),
                json!("https://attacker.example/token"),
                json!(""),
                json!(null),
                json!(1),
                json!({"aud": issuer}),
            ];
            for aud in refused {
                let why = check(issuer, aud.clone());
                assert!(
                    matches!(why, Err(w) if w.starts_with("aud")),
                    "{issuer}: {aud}: {why:?}"
                );
            }
        }
    }
}
