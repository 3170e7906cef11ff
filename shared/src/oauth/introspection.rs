//! Token introspection (RFC 7662): who may ask, and the metadata of an active token.

use bytes::Bytes;
use http::{Request, Response};
use serde::Serialize;

use super::request::FormRequest;
use super::validation::{Check, validate};
use super::{ErrorCode, OAuthError, client_auth, response};
use crate::app::{App, Site};
use crate::audit;
use crate::domain::Audience;

/// An active token's metadata (RFC 7662 §2.2).
#[derive(Serialize)]
struct Active<'a> {
    active: bool,
    scope: &'a str,
    client_id: &'a str,
    sub: &'a str,
    aud: &'a str,
    iss: &'a str,
    exp: u64,
    iat: u64,
    nbf: u64,
    jti: &'a str,
    token_type: &'static str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    dlg: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<&'a crate::domain::Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<u64>,
    /// The claims hook's claims, as in the token.
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, serde_json::Value>,
}

pub async fn handle(
    app: &App,
    site: &Site,
    req: &Request<Bytes>,
) -> Result<Response<Bytes>, OAuthError> {
    let request = FormRequest::read(req)?;
    let now = app.clock.now();
    let creds = client_auth::credentials(&request.form, request.authorization.as_deref())?;
    let caller = crate::oauth::throttle::authenticate(app, site, req, &creds, now).await?;
    if !caller.introspect {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not introspect tokens",
        ));
    }
    let token = request
        .form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let claims = validate(app, site, token, Check::Active)
        .await?
        .filter(|c| Audience::new(&c.aud).is_ok_and(|a| caller.audiences.contains(&a)));
    audit!(
        "token_introspected",
        caller = %caller.id,
        active = claims.is_some(),
        jti = claims.as_ref().map_or("", |c| c.jti.as_str()),
    );
    crate::meter::introspected(claims.is_some());
    let Some(c) = claims else {
        return Ok(response::json(
            http::StatusCode::OK,
            br#"{"active":false}"#.to_vec(),
        ));
    };
    response::ok_json(&Active {
        active: true,
        scope: &c.scope,
        client_id: &c.client_id,
        sub: &c.sub,
        aud: &c.aud,
        iss: &c.iss,
        exp: c.exp,
        iat: c.iat,
        nbf: c.nbf,
        jti: &c.jti,
        token_type: "Bearer",
        dlg: &c.dlg,
        act: c.act.as_ref(),
        acr: c.acr.as_deref(),
        amr: c.amr.as_deref(),
        auth_time: c.auth_time,
        extra: &c.extra,
    })
}
