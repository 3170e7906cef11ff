//! Token revocation (RFC 7009): a client revokes its own access tokens by `jti`.

use bytes::Bytes;
use http::{Request, Response, StatusCode};

use super::introspection::{Check, validate};
use super::request::FormRequest;
use super::{ErrorCode, OAuthError, client_auth, response};
use crate::audit;
use crate::http::{App, Site};

pub async fn handle(
    app: &App,
    site: &Site,
    req: &Request<Bytes>,
) -> Result<Response<Bytes>, OAuthError> {
    let request = FormRequest::read(req)?;
    let now = app.clock.now();
    let creds = client_auth::credentials(&request.form, request.authorization.as_deref())?;
    let caller = client_auth::authenticate(&creds, &app.clients, now).await?;
    let token = request
        .form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    // `token_type_hint` is only a hint (RFC 7009 §2.1); every token we issue is a JWT, so the
    // search is the same whatever it says.
    let ok = || Ok(response::empty(StatusCode::OK));
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
    if claims.exp > now {
        // A storage failure must not look like success: it propagates as 503.
        app.revocations.revoke(&claims.jti, claims.exp).await?;
    }
    audit!("token_revoked", caller = %caller.id, jti = %claims.jti, exp = claims.exp);
    ok()
}
