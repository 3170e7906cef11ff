//! Token revocation (RFC 7009): a client revokes its own access tokens by `jti`.

use bytes::Bytes;
use http::{Request, Response, StatusCode};

use super::request::FormRequest;
use super::validation::{Check, validate};
use super::{ErrorCode, OAuthError, client_auth, response};
use crate::app::{App, Site};
use crate::audit;

pub async fn handle(
    app: &App,
    site: &Site,
    req: &Request<Bytes>,
) -> Result<Response<Bytes>, OAuthError> {
    let request = FormRequest::read(req)?;
    let now = app.clock.now();
    let creds = client_auth::credentials(&request.form, request.authorization.as_deref())?;
    let caller = crate::oauth::throttle::authenticate(app, site, req, &creds, now).await?;
    let token = request
        .form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    // `token_type_hint` is only a hint (RFC 7009 §2.1); every token we issue is a JWT, so the
    // search is the same whatever it says.
    let ok = || Ok(response::empty(StatusCode::OK));
    if super::refresh::looks_like(token) {
        return revoke_refresh_token(app, &caller, token).await;
    }
    let Some(claims) = validate(app, site, token, Check::Genuine).await? else {
        // Invalid, unknown or foreign tokens: 200, nothing to do (RFC 7009 §2.2).
        return ok();
    };
    if claims.client_id != caller.id.as_str() {
        audit!("revocation_refused", caller = %caller.id, jti = %claims.jti, reason = "not the token's client");
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the token was not issued to this client",
        ));
    }
    // Tokens derived from this one (token exchange, docs/token-exchange.md) name it in their
    // chain and may outlive it, by as much as any cap allowed when they were issued: the denial
    // lasts until the last of them could expire, whatever the caps are now.
    let until = claims.descendants_end();
    if until > now {
        // A storage failure must not look like success: it propagates as 503.
        app.revocations.revoke(&claims.jti, until).await?;
    }
    audit!("token_revoked", caller = %caller.id, jti = %claims.jti, exp = claims.exp);
    ok()
}

/// A refresh token: revoking it revokes its family (RFC 7009 §2.1), and with it the access
/// tokens the family produced. Unknown tokens are, as ever, a 200 with nothing done.
async fn revoke_refresh_token(
    app: &App,
    caller: &crate::domain::Client,
    token: &str,
) -> Result<Response<Bytes>, OAuthError> {
    let found = app
        .refresh_tokens
        .refresh_token(&super::refresh::hash(token))
        .await
        .map_err(OAuthError::unavailable)?;
    let Some(record) = found else {
        return Ok(response::empty(StatusCode::OK));
    };
    if record.client_id != caller.id {
        audit!("revocation_refused", caller = %caller.id, family = %record.family, reason = "not the token's client");
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the token was not issued to this client",
        ));
    }
    super::refresh::revoke_family(app, &record, "revoked by its client").await?;
    Ok(response::empty(StatusCode::OK))
}
