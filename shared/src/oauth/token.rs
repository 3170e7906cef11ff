//! The token endpoint (RFC 6749 §3.2) as a sequence of named steps: read the form, authenticate
//! the client, choose the grant, let the grant decide the claims, sign, answer.

use std::str::FromStr;

use bytes::Bytes;
use http::{Request, Response};
use serde::Serialize;

use super::form::Form;
use super::grants::{SUPPORTED_GRANTS, client_credentials, refresh_token, token_exchange};
use super::request::FormRequest;
use super::{ErrorCode, OAuthError, client_auth, response};
use crate::app::{App, Committing, Site};
use crate::audit;
use crate::domain::{AccessTokenClaims, Client, GrantType};
use crate::jwt::mint::{self, MintError};
use crate::keys::KeyError;
use crate::signer::SignError;

/// A successful answer (RFC 6749 §5.1, RFC 8693 §2.2.1).
#[derive(Debug, Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

/// What a grant decided, before the hook and the signature.
struct Decision {
    claims: AccessTokenClaims,
    issued_token_type: Option<&'static str>,
    subject_issuer: Option<String>,
    upstream_issuer: Option<String>,
    redemption: Option<refresh_token::Redemption>,
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
    let client = crate::oauth::throttle::authenticate(app, site, req, &creds, now).await?;
    let grant = supported_grant(grant_name)?;
    if !client.grants.contains(&grant) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client may not use the {} grant", grant.as_str()),
        ));
    }
    let committing = req.extensions().get::<Committing>().cloned();
    issue(app, site, &client, form, grant, now, committing)
        .await
        .map_err(|e| {
            if e.status().is_server_error() {
                return e;
            }
            audit!(
                "token_denied",
                grant = grant.as_str(),
                client_id = %client.id,
                error = e.code.as_str(),
                reason = %e.description,
            );
            e.audited()
        })
}

async fn issue(
    app: &App,
    site: &Site,
    client: &Client,
    form: &Form,
    grant: GrantType,
    now: u64,
    committing: Option<Committing>,
) -> Result<Response<Bytes>, OAuthError> {
    let jti = new_jti()?;
    let mut d = match grant {
        GrantType::ClientCredentials => Decision {
            claims: client_credentials::claims(client, form, &site.policy, now, jti)?,
            issued_token_type: None,
            subject_issuer: None,
            upstream_issuer: None,
            redemption: None,
        },
        GrantType::TokenExchange => {
            let x = token_exchange::exchange(app, site, client, form, now, jti).await?;
            Decision {
                claims: x.claims,
                issued_token_type: Some(x.issued_token_type),
                subject_issuer: Some(x.subject_issuer),
                upstream_issuer: x.upstream_issuer,
                redemption: None,
            }
        }
        GrantType::RefreshToken => {
            let r = refresh_token::redeem(app, client, form, now, jti).await?;
            Decision {
                claims: r.next.claims.clone(),
                issued_token_type: None,
                subject_issuer: None,
                upstream_issuer: None,
                redemption: Some(r),
            }
        }
    };
    if client.hook && grant != GrantType::RefreshToken {
        let subject = d.subject_issuer.as_deref();
        super::claims_hook::apply(
            app,
            site,
            client,
            form,
            grant.as_str(),
            subject,
            &mut d.claims,
        )
        .await?;
    }
    cap_delegated(&mut d.claims);
    // A new refresh token goes with an exchanged token when the client may refresh; its
    // family id joins the access token's chain before it is signed.
    let mut fresh: Option<(String, String, String)> = None;
    if grant == GrantType::TokenExchange && client.grants.contains(&GrantType::RefreshToken) {
        let family = new_jti()?;
        if let Some(chain) = d.claims.chain.as_mut() {
            chain.jti.push(family.clone());
        }
        let (token, hash) = super::refresh::generate()?;
        fresh = Some((family, token, hash));
    }
    if grant != GrantType::ClientCredentials {
        check_size(&d.claims)?;
    }
    let token = sign(app, &d.claims).await?;
    let refresh = match (&d.redemption, fresh) {
        (Some(r), _) => {
            if let Some(c) = &committing {
                c.start();
            }
            refresh_token::commit(app, r, now).await?;
            Some(r.next_token.clone())
        }
        (None, Some((family, token, hash))) => {
            let record = super::refresh::record(
                app,
                hash,
                &family,
                &d.claims,
                now,
                None,
                d.upstream_issuer.clone(),
            )?;
            app.refresh_tokens
                .put_refresh_token(&record)
                .await
                .map_err(OAuthError::unavailable)?;
            Some(token)
        }
        (None, None) => None,
    };
    let c = &d.claims;
    audit!(
        "token_issued",
        grant = grant.as_str(),
        client_id = %client.id,
        sub = %c.sub,
        act = c.act.as_ref().map(|a| a.sub.as_str()).unwrap_or_default(),
        aud = %c.aud,
        scope = %c.scope,
        jti = %c.jti,
        exp = c.exp,
        dlg = %c.dlg.join(" "),
        hook = if client.hook { app.hook.name() } else { "" },
        subject_issuer = d.subject_issuer.as_deref().unwrap_or_default(),
        refresh_token = refresh.is_some(),
    );
    response::ok_json(&TokenResponse {
        access_token: &token,
        issued_token_type: d.issued_token_type,
        token_type: "Bearer",
        expires_in: c.exp.saturating_sub(c.iat),
        scope: &c.scope,
        refresh_token: refresh.as_deref(),
    })
}

/// One rule for every grant and path, applied after the hook (which may tie a token to
/// delegations, docs/hook.md): a token resting on delegations lives at most
/// [`token_exchange::DELEGATED_TTL`]. Each delegation's own end was applied where it was read.
fn cap_delegated(claims: &mut AccessTokenClaims) {
    if !claims.dlg.is_empty() {
        claims.exp = claims
            .exp
            .min(claims.iat.saturating_add(token_exchange::DELEGATED_TTL));
    }
}

/// The largest serialised claims of a derived token: what carries over from subject tokens
/// (delegated accounts, mapped and hook claims) is bounded here, as a request error, rather
/// than failing at the signer (KMS signs at most 4096 bytes).
pub const MAX_DERIVED_CLAIMS_BYTES: usize = 2800;

fn check_size(claims: &AccessTokenClaims) -> Result<(), OAuthError> {
    let size = serde_json::to_vec(claims)
        .map_err(OAuthError::server_error)?
        .len();
    if size > MAX_DERIVED_CLAIMS_BYTES {
        return Err(OAuthError::invalid_request(format!(
            "the token would carry {size} bytes of claims, over the {MAX_DERIVED_CLAIMS_BYTES} \
             allowed; ask for a narrower scope"
        )));
    }
    Ok(())
}

fn supported_grant(name: &str) -> Result<GrantType, OAuthError> {
    match GrantType::from_str(name) {
        // Exactly the registered name: the CLI's short alias is not a grant type on the wire.
        Ok(g) if SUPPORTED_GRANTS.contains(&g) && g.as_str() == name => Ok(g),
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

/// Signs with the active key. A missing key or an unreachable signer fails closed with 503; an
/// active key the deployment refuses (docs/kms.md) with 500.
pub async fn sign(app: &App, claims: &AccessTokenClaims) -> Result<String, OAuthError> {
    let key = app.keys.active().await.map_err(|e| match e {
        KeyError::Store(e) => OAuthError::unavailable(e),
        // A stored key this deployment must not sign with is no outage: retrying cannot help.
        KeyError::Refused(_) => OAuthError::server_error(e),
        other => OAuthError::unavailable(other),
    })?;
    mint::mint(key.signer.as_ref(), &key.encoded_header, claims)
        .await
        .map_err(|e| match e {
            // Whatever the signer's trouble, no token: fail closed with 503.
            // Too large for the signer is a policy bug, not an outage: retrying cannot help.
            MintError::Sign(SignError::TooLarge(_)) => OAuthError::server_error(e),
            // A disabled, deleted or forbidden key needs an operator: no Retry-After.
            MintError::Sign(SignError::Refused(_)) => OAuthError::server_error(e),
            MintError::Sign(_) => OAuthError::unavailable(e),
            MintError::Claims(_) => OAuthError::server_error(e),
        })
}
