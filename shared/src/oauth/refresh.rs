//! Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): opaque, 256 random bits, stored only as a
//! SHA-256 hash, bound to the client, rotated on every use. A family is every token rotated
//! from one issuance; its id is in the chain of each access token it produced, so revoking
//! the family (reuse, RFC 7009 revocation, a failed re-check) deactivates them all at once.

use aws_lc_rs::digest;

use super::OAuthError;
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::{AccessTokenClaims, RefreshRecord};

/// A new refresh token and its hash.
pub fn generate() -> Result<(String, String), OAuthError> {
    let token = crate::ids::refresh_token().map_err(OAuthError::unavailable)?;
    let hash = hash(&token);
    Ok((token, hash))
}

/// The stored form of a refresh token: base64url SHA-256. The token has 256 bits of entropy,
/// so a fast hash does not make guessing feasible.
pub fn hash(token: &str) -> String {
    crate::jwt::b64(digest::digest(&digest::SHA256, token.as_bytes()).as_ref())
}

/// Whether `token` looks like one of our refresh tokens (43 base64url characters), not a JWT.
pub fn looks_like(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The record of a refresh token issued with the access token `claims` (whose chain already
/// names `family`): it lives until the family's absolute end, never past the chain's cap.
pub fn record(
    app: &App,
    hash: String,
    family: &str,
    claims: &AccessTokenClaims,
    now: UnixTime,
    family_expires_at: Option<UnixTime>,
    upstream_issuer: Option<String>,
) -> Result<RefreshRecord, OAuthError> {
    let client_id =
        crate::domain::ClientId::new(&claims.client_id).map_err(OAuthError::server_error)?;
    let cap = claims.chain.as_ref().map_or(claims.exp, |c| c.until);
    let expires_at = family_expires_at
        .unwrap_or_else(|| now.saturating_add(app.config.refresh_ttl.as_secs()))
        .min(cap);
    Ok(RefreshRecord {
        hash,
        family: family.to_owned(),
        client_id,
        claims: claims.clone(),
        created_at: now,
        expires_at,
        idle_expires_at: now
            .saturating_add(app.config.refresh_idle_ttl.as_secs())
            .min(expires_at),
        used_at: None,
        upstream_issuer,
        replaced_by: None,
    })
}

/// Revokes a family: its id is denied until the family's end, which deactivates its refresh
/// tokens and every access token it produced.
pub async fn revoke_family(
    app: &App,
    record: &RefreshRecord,
    reason: &'static str,
) -> Result<(), OAuthError> {
    // Tokens exchanged from the family's access tokens name the family in their chain and may
    // outlive it by as much as any cap allowed when they were issued: so must the denial.
    let until = record.expires_at.max(record.claims.descendants_end());
    app.revocations
        .revoke(&record.family, until)
        .await
        .map_err(OAuthError::unavailable)?;
    crate::audit!(
        "refresh_family_revoked",
        client_id = %record.client_id,
        family = %record.family,
        sub = %record.claims.sub,
        reason,
    );
    Ok(())
}
