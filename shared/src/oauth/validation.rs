//! Validation of the access tokens tokenmint issued, shared by introspection (RFC 7662),
//! revocation (RFC 7009), token exchange (RFC 8693 subject tokens) and refresh: signature,
//! issuer, times (RFC 9068 §4), the key's limits and revocation, down the token's lineage.

use super::OAuthError;
use crate::app::{App, Site};
use crate::domain::AccessTokenClaims;
use crate::jwt::verify::{self, Expectations};
use crate::keys::KeyError;

/// How much of a token [`validate`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Everything: signature, issuer, times and revocation (introspection).
    Active,
    /// Only that we issued it: signature and issuer (revocation, RFC 7009 §2.1).
    Genuine,
}

/// Validates one of our access tokens: `Ok(None)` for any token that is not valid (its reason
/// is logged at debug level only), `Err` only when a dependency failed and no answer is safe.
pub async fn validate(
    app: &App,
    site: &Site,
    token: &str,
    check: Check,
) -> Result<Option<AccessTokenClaims>, OAuthError> {
    match check {
        Check::Genuine => verified(app, site, token, false).await,
        Check::Active => Ok(validate_active(app, site, token).await?.map(|(c, _)| c)),
    }
}

/// [`validate`] with [`Check::Active`], also returning the earliest end of the token's
/// delegations (`u64::MAX` without any).
pub async fn validate_active(
    app: &App,
    site: &Site,
    token: &str,
) -> Result<Option<(AccessTokenClaims, u64)>, OAuthError> {
    let Some(claims) = verified(app, site, token, true).await? else {
        return Ok(None);
    };
    still_active(app, claims, app.clock.now()).await
}

/// Signature, header rules, issuer, and (if `check_times`) the time rules.
async fn verified(
    app: &App,
    site: &Site,
    token: &str,
    check_times: bool,
) -> Result<Option<AccessTokenClaims>, OAuthError> {
    let unverified = match verify::parse(token) {
        Ok(u) => u,
        Err(e) => return Ok(rejected(e)),
    };
    let key = match app.keys.verifying_key(unverified.kid()).await {
        Ok(Some(k)) => k,
        Ok(None) => return Ok(rejected(verify::Invalid::UnknownKey)),
        Err(KeyError::Store(e)) => return Err(OAuthError::unavailable(e)),
        Err(e) => return Err(OAuthError::unavailable(e)),
    };
    let want = Expectations {
        issuer: site.issuer.as_str(),
        now: app.clock.now(),
        leeway: app.config.leeway.as_secs(),
        check_times,
    };
    let kid = unverified.kid().to_owned();
    let claims = match unverified.verify(&key).and_then(|v| v.claims(&want)) {
        Ok(c) => c,
        Err(e) => return Ok(rejected(e)),
    };
    // Revocation (no time checks) takes any genuine token: refusing more is never unsafe.
    if let Some(why) = outside_key_limits(app, &kid, &claims).filter(|_| check_times) {
        tracing::debug!(reason = why, "token rejected");
        return Ok(None);
    }
    Ok(Some(claims))
}

/// A genuine token's revocation and lineage checks: the claims and the earliest end of its
/// delegations (`u64::MAX` without any), if it is still active.
pub async fn still_active(
    app: &App,
    claims: AccessTokenClaims,
    now: u64,
) -> Result<Option<(AccessTokenClaims, u64)>, OAuthError> {
    if app.revocations.is_revoked(&claims.jti, now).await? {
        return Ok(None);
    }
    Ok(lineage(app, &claims, now).await?.map(|end| (claims, end)))
}

/// Whether everything a token was derived from still stands: no ancestor in its chain (nor
/// its refresh family) is revoked, and every delegation it was issued on is the same (a
/// re-grant gets a new id), live, and held by a party of the token (its client, its subject,
/// or one of its actors, each compared as a typed principal). `Some(end)`, the earliest end of those delegations, if so. Read from
/// the store each time, never cached.
pub async fn lineage(
    app: &App,
    claims: &AccessTokenClaims,
    now: u64,
) -> Result<Option<u64>, OAuthError> {
    for id in claims.chain.iter().flat_map(|c| c.jti.iter()) {
        if app.revocations.is_revoked(id, now).await? {
            tracing::debug!(ancestor = %id, "token rejected: an ancestor was revoked");
            return Ok(None);
        }
    }
    // Typed: a delegation to the user `build-api` is not held by the client `build-api`.
    let parties = claims.parties();
    let mut end = u64::MAX;
    for id in &claims.dlg {
        let found = app
            .delegations
            .delegation_by_id(id)
            .await
            .map_err(OAuthError::unavailable)?;
        let held = |d: &crate::domain::Delegation| parties.contains(&d.delegate);
        match found {
            Some(d) if d.is_live(now) && held(&d) => {
                end = end.min(d.expires_at.unwrap_or(u64::MAX));
            }
            _ => {
                tracing::debug!(delegation = %id, "token rejected: its delegation no longer stands");
                return Ok(None);
            }
        }
    }
    Ok(Some(end))
}

/// Why a genuine signature still does not make a token ours: a key that comes round again
/// (`kms` rotation alternates keys) would otherwise revive a token forged while it was
/// compromised. A token issued before its key last began to sign, or living longer than any
/// token this deployment signs, is refused.
fn outside_key_limits(app: &App, kid: &str, c: &AccessTokenClaims) -> Option<&'static str> {
    let leeway = app.config.leeway.as_secs();
    let limits = app.keys.limits(kid)?;
    if limits
        .activated_at
        .is_some_and(|t| c.iat.saturating_add(leeway) < t)
    {
        return Some("issued before its key began to sign");
    }
    let longest = limits
        .retire_lag
        .unwrap_or(0)
        .max(app.config.longest_token_ttl().saturating_add(leeway));
    (c.exp.saturating_sub(c.iat) > longest).then_some("lives longer than any token signed here")
}

fn rejected(why: verify::Invalid) -> Option<AccessTokenClaims> {
    tracing::debug!(reason = %why, "token rejected");
    None
}
