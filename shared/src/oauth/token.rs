//! The token endpoint (RFC 6749 §3.2) as a sequence of named steps: read the form, authenticate
//! the client, choose the grant, let the grant decide the claims, sign, answer.

use std::str::FromStr;

use bytes::Bytes;
use http::{Request, Response};
use serde::Serialize;

use super::grants::client_credentials;
use super::request::FormRequest;
use super::{ErrorCode, OAuthError, client_auth, response};
use crate::audit;
use crate::domain::{AccessTokenClaims, GrantType};
use crate::http::{App, Site};
use crate::jwt::mint::{self, MintError};
use crate::keys::KeyError;
use crate::signer::SignError;

/// Grant types this build serves; advertised in the metadata.
pub const SUPPORTED_GRANTS: &[GrantType] = &[GrantType::ClientCredentials];

/// A successful answer (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
}

pub async fn handle(
    app: &App,
    site: &Site,
    req: &Request<Bytes>,
) -> Result<Response<Bytes>, OAuthError> {
    let request = FormRequest::read(req)?;
    let form = &request.form;
    let grant_name = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let now = app.clock.now();
    let creds = client_auth::credentials(form, request.authorization.as_deref())?;
    let client = client_auth::authenticate(&creds, &app.clients, now).await?;
    let grant = supported_grant(grant_name)?;
    if !client.grants.contains(&grant) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client may not use the {} grant", grant.as_str()),
        ));
    }
    let policy = &site.policy;
    let jti = new_jti()?;
    let mut claims = match grant {
        GrantType::ClientCredentials => {
            client_credentials::claims(&client, form, policy, now, jti)?
        }
        GrantType::TokenExchange | GrantType::RefreshToken => {
            return Err(unsupported(grant_name));
        }
    };
    if client.hook {
        super::claims_hook::apply(app, site, &client, form, grant.as_str(), &mut claims).await?;
    }
    let token = sign(app, &claims).await?;
    audit!(
        "token_issued",
        grant = grant.as_str(),
        client_id = %client.id,
        sub = %claims.sub,
        aud = %claims.aud,
        scope = %claims.scope,
        jti = %claims.jti,
        exp = claims.exp,
    );
    respond(&token, &claims)
}

fn supported_grant(name: &str) -> Result<GrantType, OAuthError> {
    match GrantType::from_str(name) {
        Ok(g) if SUPPORTED_GRANTS.contains(&g) => Ok(g),
        _ => Err(unsupported(name)),
    }
}

fn unsupported(name: &str) -> OAuthError {
    OAuthError::new(
        ErrorCode::UnsupportedGrantType,
        format!("grant type {:?} is not supported", super::shown(name)),
    )
}

/// A fresh token id: 128 random bits from the operating system, base64url. (Not aws-lc's
/// generator: its first use seeds a jitter-entropy source, ~40 ms that a KMS-signing Lambda
/// would otherwise pay on every cold start.) Without randomness no unique id can be made, so
/// a failing random source fails the request closed.
pub fn new_jti() -> Result<String, OAuthError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|_| OAuthError::unavailable("the system random number generator failed"))?;
    Ok(crate::jwt::b64(&bytes))
}

/// Signs with the active key. A missing key or an unreachable signer fails closed with 503.
pub async fn sign(app: &App, claims: &AccessTokenClaims) -> Result<String, OAuthError> {
    let key = app.keys.active().await.map_err(|e| match e {
        KeyError::Store(e) => OAuthError::unavailable(e),
        other => OAuthError::unavailable(other),
    })?;
    mint::mint(key.signer.as_ref(), &key.encoded_header, claims)
        .await
        .map_err(|e| match e {
            // Whatever the signer's trouble, no token: fail closed with 503.
            // Too large for the signer is a policy bug, not an outage: retrying cannot help.
            MintError::Sign(SignError::TooLarge(_)) => OAuthError::server_error(e),
            MintError::Sign(_) => OAuthError::unavailable(e),
            MintError::Claims(_) => OAuthError::server_error(e),
        })
}

fn respond(token: &str, claims: &AccessTokenClaims) -> Result<Response<Bytes>, OAuthError> {
    response::ok_json(&TokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: claims.exp.saturating_sub(claims.iat),
        scope: &claims.scope,
    })
}
