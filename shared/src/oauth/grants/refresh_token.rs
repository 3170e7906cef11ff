//! The refresh-token grant (RFC 6749 §6) with rotation (RFC 9700 §4.14).
//!
//! Parameters read: `refresh_token`, `scope` (which can only narrow). Client authentication is
//! done before dispatch. Every check that fails for the token itself (another client's token,
//! a changed client, a revoked delegation or ancestor) is `invalid_grant` and revokes the
//! family; presenting a used token is reuse and does the same.

use super::outcome::{Granted, Redemption, RefreshPlan};
use super::request::RefreshRequest;
use super::scope;
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::{Audience, Client, RefreshRecord, ScopeSet};
use crate::oauth::refresh::{self, revoke_family};
use crate::oauth::validation::lineage;
use crate::oauth::{ErrorCode, OAuthError};

fn invalid_grant() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidGrant,
        "the refresh token is invalid, expired or revoked",
    )
}

/// The refresh-token grant: the successor's claims, the rotation to commit once they are
/// signed, and no hook (it ran when the family began).
pub async fn grant(
    app: &App,
    client: &Client,
    request: &RefreshRequest<'_>,
    now: UnixTime,
    jti: String,
) -> Result<Granted, OAuthError> {
    let r = redeem(app, client, request, now, jti).await?;
    Ok(Granted {
        runs_hook: false,
        size_bound: true,
        ..Granted::new(r.next.claims.clone(), RefreshPlan::Rotate(Box::new(r)))
    })
}

/// Checks the presented refresh token and prepares its successor.
pub async fn redeem(
    app: &App,
    client: &Client,
    request: &RefreshRequest<'_>,
    now: UnixTime,
    jti: String,
) -> Result<Redemption, OAuthError> {
    let token = request.refresh_token;
    if !refresh::looks_like(token) {
        return Err(invalid_grant());
    }
    let presented = app
        .refresh_tokens
        .refresh_token(&refresh::hash(token))
        .await
        .map_err(OAuthError::unavailable)?
        .ok_or_else(invalid_grant)?;
    if presented.used_at.is_some() {
        crate::audit!("refresh_token_reused", client_id = %client.id, family = %presented.family);
        revoke_family(app, &presented, "reuse").await?;
        return Err(invalid_grant());
    }
    if !presented.is_live(now) {
        return Err(invalid_grant());
    }
    let allowed = match presented.client_id == client.id {
        true => still_allowed(app, client, &presented, now).await?,
        false => None,
    };
    let Some(delegations_end) = allowed else {
        revoke_family(app, &presented, "re-check failed").await?;
        return Err(invalid_grant());
    };
    let template = &presented.claims;
    let held = ScopeSet::parse(&template.scope).map_err(OAuthError::server_error)?;
    let narrowed = scope(request.scope, &held, &held)?;
    let mut claims = template.clone();
    // The same lifetime as the first access token (a delegated token stays short, an
    // extended one long), within the family's end and the delegations' own ends.
    let length = template.exp.saturating_sub(template.iat);
    claims.jti = jti;
    claims.iat = now;
    claims.nbf = now;
    // Within the caps in force now, too: a refreshed token is signed by today's key, which is
    // published only as long as today's longest lifetime.
    claims.exp = now
        .saturating_add(length.min(app.config.longest_token_ttl()))
        .min(presented.expires_at)
        .min(delegations_end);
    claims.scope = narrowed.to_string();
    let (next_token, hash) = refresh::generate()?;
    let next = refresh::record(
        app,
        hash,
        &presented.family,
        &claims,
        now,
        Some(presented.expires_at),
        presented.upstream_issuer.clone(),
    )?;
    Ok(Redemption {
        presented,
        next,
        next_token,
    })
}

/// Whether the client still holds the grant's scopes and audience; the token's delegations,
/// ancestors (its family included) and the access token it came with all still stand; the
/// upstream issuer is still trusted; and the step-up rules still hold: `Some(end)`, the
/// earliest end of its delegations, if so.
async fn still_allowed(
    app: &App,
    client: &Client,
    r: &RefreshRecord,
    now: UnixTime,
) -> Result<Option<UnixTime>, OAuthError> {
    let c = &r.claims;
    let scopes_ok = ScopeSet::parse(&c.scope).is_ok_and(|s| s.is_subset(&client.scopes));
    let aud_ok = Audience::new(&c.aud).is_ok_and(|a| client.audiences.contains(&a));
    if !(scopes_ok && aud_ok) || app.revocations.is_revoked(&c.jti, now).await? {
        return Ok(None);
    }
    if let Some(iss) = &r.upstream_issuer {
        let issuers = app
            .issuers
            .list_issuers()
            .await
            .map_err(OAuthError::unavailable)?;
        if !issuers.iter().any(|i| &i.issuer == iss) {
            return Ok(None);
        }
    }
    let scope = ScopeSet::parse(&c.scope).map_err(OAuthError::server_error)?;
    match crate::oauth::step_up::check(app, &scope, c.acr.as_deref()).await {
        Ok(()) => {}
        Err(e) if e.code == ErrorCode::InsufficientUserAuthentication => return Ok(None),
        Err(e) => return Err(e),
    }
    lineage(app, c, now).await
}

/// Stores the rotation once the access token is signed. Losing the race to a concurrent
/// redemption of the same token is reuse: the family is revoked, the winner's tokens too.
pub async fn commit(app: &App, r: &Redemption, now: UnixTime) -> Result<(), OAuthError> {
    match app
        .refresh_tokens
        .rotate_refresh_token(&r.presented.hash, now, &r.next)
        .await
    {
        Ok(()) => Ok(()),
        Err(crate::store::StoreError::Conflict(_)) => {
            crate::audit!("refresh_token_reused", client_id = %r.presented.client_id, family = %r.presented.family);
            revoke_family(app, &r.presented, "reuse").await?;
            Err(invalid_grant())
        }
        Err(e) => Err(OAuthError::unavailable(e)),
    }
}
