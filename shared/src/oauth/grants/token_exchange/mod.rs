//! The token-exchange grant (RFC 8693 §2), for downscoping (a narrower token that keeps the
//! user as `sub`), delegation (`requested_subject`: a guardian acting for a minor) and
//! external identities (subject tokens of trusted issuers). docs/token-exchange.md.
//!
//! Parameters read (RFC 8693 §2.1, RFC 8707 §2): `subject_token`, `subject_token_type`,
//! `requested_token_type`, `requested_subject` (as Keycloak names it), `scope`, `resource`,
//! `audience`, and `expires_in` (an extension, for clients allowed longer exchanges).
//! `actor_token` is refused. Client authentication is done before dispatch.
//!
//! [`exchange`] follows RFC 8693 §2.1; [`subject`] validates the subject token, [`delegation`]
//! holds the delegation extension and [`lifetime`] the token's lifetime.

pub mod delegation;
pub mod lifetime;
pub mod subject;

use serde_json::Value;

use super::audience;
use super::outcome::{Granted, RefreshPlan};
use super::request::ExchangeRequest;
use crate::app::{App, Site};
use crate::clock::UnixTime;
use crate::domain::{AccessTokenClaims, Chain, Client, GrantType, ScopeSet};
use crate::oauth::{ErrorCode, OAuthError};
pub use delegation::{
    DELEGATED_ACCOUNTS_CLAIM, DELEGATED_TTL, DELEGATIONS_SCOPE, MAX_ACT_DEPTH,
    MAX_DELEGATED_ACCOUNTS, TRUNCATED_CLAIM,
};
use subject::{Subject, validate_subject};

/// What an exchange decided.
#[derive(Debug)]
pub struct Exchanged {
    pub claims: AccessTokenClaims,
    /// `issued_token_type` of the answer (RFC 8693 §2.2.1).
    pub issued_token_type: &'static str,
    /// The subject token's issuer, for the hook.
    pub subject_issuer: String,
    /// The trusted external issuer the chain started from, if any.
    pub upstream_issuer: Option<String>,
}

/// The token-exchange grant: the exchanged claims, bounded, through the hook, with a new
/// refresh-token family when the client may refresh.
pub async fn grant(
    app: &App,
    site: &Site,
    client: &Client,
    request: &ExchangeRequest<'_>,
    now: UnixTime,
    jti: String,
) -> Result<Granted, OAuthError> {
    let x = exchange(app, site, client, request, now, jti).await?;
    let refresh = match client.grants.contains(&GrantType::RefreshToken) {
        true => RefreshPlan::NewFamily {
            upstream_issuer: x.upstream_issuer,
        },
        false => RefreshPlan::None,
    };
    Ok(Granted {
        issued_token_type: Some(x.issued_token_type),
        subject_issuer: Some(x.subject_issuer),
        size_bound: true,
        ..Granted::new(x.claims, refresh)
    })
}

/// Validates the subject token and decides the claims of the token to issue. Never more than
/// the subject token, the client and the delegation allow (RFC 8693 §5).
pub async fn exchange(
    app: &App,
    site: &Site,
    client: &Client,
    request: &ExchangeRequest<'_>,
    now: UnixTime,
    jti: String,
) -> Result<Exchanged, OAuthError> {
    // §2.1: the subject token; §2.2.2: one that is not valid, or not for this client, is
    // invalid_request.
    let (token, token_type) = (request.subject_token, request.subject_token_type);
    let subject = validate_subject(app, site, token, token_type).await?;
    if !subject.is_for(client) {
        return Err(OAuthError::invalid_request(
            "the subject token was not issued for this client",
        ));
    }
    let mut grantable = grantable(&subject, client)?;
    let delegation = match request.requested_subject {
        Some(named) => Some(delegation::delegation(app, client, &subject, named, now).await?),
        None => None,
    };
    let (sub, sub_type, act) = delegation::parties(&subject, delegation.as_ref(), client)?;
    // §2.1 `scope`, `resource`, `audience`: within what the subject token, the client and any
    // delegation allow (§5), and the step-up rules of the scopes.
    if let Some(d) = &delegation {
        grantable = grantable.intersection(&d.scopes);
    }
    let scope = narrowed_scope(request.targets.scope, &grantable)?;
    let aud = audience(&request.targets, client)?;
    crate::oauth::step_up::check(app, &scope, subject.acr.as_deref()).await?;
    let extension = lifetime::extension(client, &subject, delegation.is_some());
    let (until, exp) = lifetime::lifetime(
        request.expires_in,
        &subject,
        extension,
        client,
        &site.policy,
        app.config.max_exchange_ttl.as_secs(),
        now,
    )?;
    let carried =
        delegation::carried(app, client, &subject, delegation.as_ref(), &scope, exp, now).await?;
    let chain = Chain {
        iat: lifetime::root_iat(&subject, now),
        jti: ancestors(&subject),
        until,
        sub_type,
    };
    let claims = AccessTokenClaims {
        iss: site.policy.issuer.clone(),
        sub,
        aud: aud.to_string(),
        exp: carried.exp,
        iat: now,
        nbf: now,
        jti,
        client_id: client.id.to_string(),
        scope: scope.to_string(),
        act: Some(act),
        dlg: carried.dlg,
        chain: Some(chain),
        acr: subject.acr.clone(),
        amr: subject.amr.clone(),
        auth_time: subject.auth_time,
        extra: carried.extra,
    };
    Ok(Exchanged {
        claims,
        issued_token_type: request.issued_token_type,
        upstream_issuer: upstream_issuer(site, &subject),
        subject_issuer: subject.issuer,
    })
}

/// What the subject token and the client allow together.
fn grantable(subject: &Subject, client: &Client) -> Result<ScopeSet, OAuthError> {
    let scopes = subject.grantable().ok_or_else(|| {
        OAuthError::new(
            ErrorCode::InvalidScope,
            "the subject token carries no scope and its issuer grants none",
        )
    })?;
    Ok(scopes.intersection(&client.scopes))
}

/// The requested scope, which must be within `grantable`; without a request, all of it.
fn narrowed_scope(requested: Option<&str>, grantable: &ScopeSet) -> Result<ScopeSet, OAuthError> {
    let scope = super::scope(requested, grantable, grantable).map_err(|e| {
        if e.code == ErrorCode::InvalidScope {
            OAuthError::new(
                ErrorCode::InvalidScope,
                "the scope exceeds what the subject token, the client and any delegation allow",
            )
        } else {
            e
        }
    })?;
    if scope.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "the subject token, the client and any delegation have no scope in common",
        ));
    }
    Ok(scope)
}

/// The tokens the new one descends from: the subject token's ancestors and itself.
fn ancestors(subject: &Subject) -> Vec<String> {
    let mut ancestors = subject
        .chain
        .as_ref()
        .map(|c| c.jti.clone())
        .unwrap_or_default();
    ancestors.extend(subject.jti.clone());
    ancestors
}

/// The trusted external issuer the chain started from, if any: the subject token's issuer,
/// or for one of ours, the `idp` it carries.
fn upstream_issuer(site: &Site, subject: &Subject) -> Option<String> {
    if !subject.ours {
        return Some(subject.issuer.clone());
    }
    subject
        .extra
        .get(&format!("{}idp", site.claims_namespace))
        .and_then(Value::as_str)
        .map(String::from)
}
