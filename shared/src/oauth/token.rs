//! The token endpoint (RFC 6749 §3.2) as a sequence of named steps: read the form, authenticate
//! the client, choose the grant, let the grant decide the claims, sign, answer.

use std::str::FromStr;

use bytes::Bytes;
use http::{Request, Response};
use serde::Serialize;

use super::client_auth::Caller;
use super::form::Form;
use super::grants::outcome::{Granted, RefreshPlan};
use super::grants::request::TokenRequest;
use super::grants::{SUPPORTED_GRANTS, client_credentials, refresh_token, token_exchange};
use super::request::FormRequest;
use super::{ErrorCode, OAuthError, client_auth, response};
use crate::app::{App, Committing, Site};
use crate::audit;
use crate::domain::{AccessTokenClaims, GrantType};
use crate::federation::PlatformIdentity;
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
    let caller = crate::oauth::throttle::authenticate(app, site, req, &creds, now).await?;
    let client = &caller.client;
    let grant = supported_grant(grant_name)?;
    if !client.grants.contains(&grant) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client may not use the {} grant", grant.as_str()),
        ));
    }
    let committing = req.extensions().get::<Committing>().cloned();
    issue(app, site, &caller, form, grant, now, committing)
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

/// Issues a token: the grant decides the claims, then every grant goes through the same steps
/// (hook, delegated cap, size bound, signature, refresh tokens, audit, answer).
async fn issue(
    app: &App,
    site: &Site,
    caller: &Caller,
    form: &Form,
    grant: GrantType,
    now: u64,
    committing: Option<Committing>,
) -> Result<Response<Bytes>, OAuthError> {
    let client = &caller.client;
    let request = TokenRequest::parse(grant, form)?;
    let jti = new_jti()?;
    let mut granted = match &request {
        TokenRequest::ClientCredentials(r) => {
            client_credentials::grant(client, r, &site.policy, now, jti)?
        }
        TokenRequest::TokenExchange(r) => {
            token_exchange::grant(app, site, client, r, now, jti).await?
        }
        TokenRequest::RefreshToken(r) => refresh_token::grant(app, client, r, now, jti).await?,
    };
    if let (TokenRequest::ClientCredentials(_), Some(p)) = (&request, &caller.platform) {
        // The platform claims a federated credential maps, namespaced like every custom claim.
        for (to, v) in &p.mapped {
            let name = format!("{}{to}", site.claims_namespace);
            granted.claims.extra.insert(name, v.clone());
            granted.size_bound = true;
        }
    }
    if client.hook && granted.runs_hook {
        let subject = granted.subject_issuer.as_deref();
        let claims = &mut granted.claims;
        super::claims_hook::apply(app, site, client, form, grant.as_str(), subject, claims).await?;
    }
    cap_delegated(&mut granted.claims);
    let family = new_family(&mut granted)?;
    if granted.size_bound {
        check_size(&granted.claims)?;
    }
    let token = sign(app, &granted.claims).await?;
    let refresh = finish_refresh(app, &granted, family, now, committing.as_ref()).await?;
    audit_issued(app, caller, grant, &granted, refresh.is_some());
    let c = &granted.claims;
    response::ok_json(&TokenResponse {
        access_token: &token,
        issued_token_type: granted.issued_token_type,
        token_type: "Bearer",
        expires_in: c.exp.saturating_sub(c.iat),
        scope: &c.scope,
        refresh_token: refresh.as_deref(),
    })
}

/// A refresh-token family about to begin: its id, the token, and the token's hash.
struct Family {
    id: String,
    token: String,
    hash: String,
}

/// For a grant that begins a refresh-token family, makes it; its id joins the access token's
/// chain before the token is signed.
fn new_family(granted: &mut Granted) -> Result<Option<Family>, OAuthError> {
    if !matches!(granted.refresh, RefreshPlan::NewFamily { .. }) {
        return Ok(None);
    }
    let id = new_jti()?;
    if let Some(chain) = granted.claims.chain.as_mut() {
        chain.jti.push(id.clone());
    }
    let (token, hash) = super::refresh::generate()?;
    Ok(Some(Family { id, token, hash }))
}

/// After the access token is signed: commits a rotation, or stores a new family. The refresh
/// token to answer with, if any.
async fn finish_refresh(
    app: &App,
    granted: &Granted,
    family: Option<Family>,
    now: u64,
    committing: Option<&Committing>,
) -> Result<Option<String>, OAuthError> {
    match (&granted.refresh, family) {
        (RefreshPlan::Rotate(r), _) => {
            if let Some(c) = committing {
                c.start();
            }
            refresh_token::commit(app, r, now).await?;
            Ok(Some(r.next_token.clone()))
        }
        (RefreshPlan::NewFamily { upstream_issuer }, Some(f)) => {
            let record = super::refresh::record(
                app,
                f.hash,
                &f.id,
                &granted.claims,
                now,
                None,
                upstream_issuer.clone(),
            )?;
            app.refresh_tokens
                .put_refresh_token(&record)
                .await
                .map_err(OAuthError::unavailable)?;
            Ok(Some(f.token))
        }
        _ => Ok(None),
    }
}

fn audit_issued(app: &App, caller: &Caller, grant: GrantType, granted: &Granted, refresh: bool) {
    let (client, c) = (&caller.client, &granted.claims);
    crate::meter::token_issued(grant, &client.id);
    let platform = caller.platform.as_deref();
    let shown = |f: fn(&PlatformIdentity) -> Option<&str>| platform.and_then(f).map(super::shown);
    // A field without a value is left out (an `Option` records only when `Some`): every byte
    // of this line is billed by CloudWatch Logs once per token.
    audit!(
        "token_issued",
        grant = grant.as_str(),
        client_id = %client.id,
        sub = %c.sub,
        act = c.act.as_ref().map(|a| a.sub.as_str()),
        aud = %c.aud,
        scope = %c.scope,
        jti = %c.jti,
        exp = c.exp,
        dlg = (!c.dlg.is_empty()).then(|| c.dlg.join(" ")),
        hook = client.hook.then(|| app.hook.name()),
        subject_issuer = granted.subject_issuer.as_deref(),
        refresh_token = refresh.then_some(true),
        credential = shown(|p| Some(p.credential.as_str())),
        platform_issuer = shown(|p| Some(p.issuer.as_str())),
        platform_sub = shown(|p| Some(p.sub.as_str())),
        platform_jti = shown(|p| p.jti.as_deref()),
    );
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

/// A fresh token id ([`crate::ids::token_id`]); a failing random source fails the request
/// closed.
pub fn new_jti() -> Result<String, OAuthError> {
    crate::ids::token_id().map_err(OAuthError::unavailable)
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
    let started = std::time::Instant::now();
    let minted = mint::mint(key.signer.as_ref(), &key.encoded_header, claims).await;
    let failure = match &minted {
        Ok(_) => None,
        Err(MintError::Sign(SignError::Throttled { .. })) => Some(crate::meter::Failure::Throttled),
        Err(MintError::Sign(SignError::TooLarge(_)) | MintError::Claims(_)) => None,
        Err(MintError::Sign(_)) => Some(crate::meter::Failure::Failed),
    };
    crate::meter::signed(key.signer.mode(), started.elapsed(), failure);
    minted.map_err(|e| match e {
        // Whatever the signer's trouble, no token: fail closed with 503.
        // Too large for the signer is a policy bug, not an outage: retrying cannot help.
        MintError::Sign(SignError::TooLarge(_)) => OAuthError::server_error(e),
        // A disabled, deleted or forbidden key needs an operator: no Retry-After.
        MintError::Sign(SignError::Refused(_)) => OAuthError::server_error(e),
        MintError::Sign(_) => OAuthError::unavailable(e),
        MintError::Claims(_) => OAuthError::server_error(e),
    })
}
