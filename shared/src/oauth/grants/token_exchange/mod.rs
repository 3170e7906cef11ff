//! The token-exchange grant (RFC 8693 §2), for downscoping (a narrower token that keeps the
//! user as `sub`), delegation (`requested_subject`: a guardian acting for a minor) and
//! external identities (subject tokens of trusted issuers). docs/token-exchange.md.
//!
//! Parameters read (RFC 8693 §2.1, RFC 8707 §2): `subject_token`, `subject_token_type`,
//! `requested_token_type`, `requested_subject` (as Keycloak names it), `scope`, `resource`,
//! `audience`, and `expires_in` (an extension, for clients allowed longer exchanges).
//! `actor_token` is refused. Client authentication is done before dispatch.

pub mod subject;

use serde_json::Value;

use super::audience;
use crate::app::{App, Site};
use crate::clock::UnixTime;
use crate::domain::TokenPolicy;
use crate::domain::{
    AccessTokenClaims, Actor, Chain, Client, Delegation, Principal, PrincipalKind, ScopeSet,
    UserSub,
};
use crate::oauth::form::Form;
use crate::oauth::{ErrorCode, OAuthError, shown};
use subject::{ACCESS_TOKEN_TYPE, JWT_TYPE, Subject, validate_subject};

/// The most actors an `act` claim nests (RFC 8693 §4.1): a token can be exchanged this many
/// times in a row, delegation included.
pub const MAX_ACT_DEPTH: usize = 4;
/// The longest life of a token issued on a delegation, or listing delegations.
pub const DELEGATED_TTL: u64 = 300;
/// The scope that asks for the `delegated_accounts` claim.
pub const DELEGATIONS_SCOPE: &str = "delegations";
/// The most entries of `delegated_accounts`; beyond, `delegated_accounts_truncated` is set.
pub const MAX_DELEGATED_ACCOUNTS: usize = 20;
/// The claim listing the accounts a `delegations` token's subject may act for.
pub const DELEGATED_ACCOUNTS_CLAIM: &str = "delegated_accounts";
/// Set when more delegations exist than [`MAX_DELEGATED_ACCOUNTS`].
pub const TRUNCATED_CLAIM: &str = "delegated_accounts_truncated";

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

/// Validates the subject token and decides the claims of the token to issue. Never more than
/// the subject token, the client and the delegation allow (RFC 8693 §5).
pub async fn exchange(
    app: &App,
    site: &Site,
    client: &Client,
    form: &Form,
    now: UnixTime,
    jti: String,
) -> Result<Exchanged, OAuthError> {
    if form.get("actor_token").is_some() || form.get("actor_token_type").is_some() {
        return Err(OAuthError::invalid_request("actor_token is not supported"));
    }
    let token = required(form, "subject_token")?;
    let token_type = required(form, "subject_token_type")?;
    let issued_token_type = match form.get("requested_token_type") {
        None | Some(ACCESS_TOKEN_TYPE) => ACCESS_TOKEN_TYPE,
        Some(JWT_TYPE) => JWT_TYPE,
        Some(other) => {
            return Err(OAuthError::invalid_request(format!(
                "requested_token_type {:?} is not issued; ask for an access_token or jwt",
                shown(other)
            )));
        }
    };
    let subject = validate_subject(app, site, token, token_type).await?;
    if !subject.is_for(client) {
        return Err(OAuthError::invalid_request(
            "the subject token was not issued for this client",
        ));
    }
    let mut grantable = subject
        .grantable()
        .ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidScope,
                "the subject token carries no scope and its issuer grants none",
            )
        })?
        .intersection(&client.scopes);

    let delegation = match form.get("requested_subject") {
        Some(requested) => Some(delegation(app, client, &subject, requested, now).await?),
        None => None,
    };
    // Who the token speaks for and who acts, typed, so a client is never taken for a user.
    let (sub, sub_type, act) = match &delegation {
        Some(d) => {
            grantable = grantable.intersection(&d.scopes);
            let holder = subject.principal().ok_or_else(|| {
                OAuthError::server_error("a delegation was found for an untyped subject")
            })?;
            (
                account(&d.delegator),
                Some(PrincipalKind::of(&d.delegator)),
                Actor::of(&holder, subject.act.clone()),
            )
        }
        None => (
            subject.sub.clone(),
            subject.principal().as_ref().map(PrincipalKind::of),
            Actor::of(&Principal::client(&client.id), subject.act.clone()),
        ),
    };
    if act.depth() > MAX_ACT_DEPTH {
        return Err(OAuthError::invalid_request(format!(
            "the subject token has been exchanged too often; at most {MAX_ACT_DEPTH} actors nest"
        )));
    }
    let scope = narrowed_scope(form, &grantable)?;
    let aud = audience(form, client)?;
    crate::oauth::step_up::check(app, &scope, subject.acr.as_deref()).await?;
    // A client's longer exchanges are for chains that act for a user (a build job acting for
    // the user who started it), never for stretching a client's own or another client's token.
    let extension = client
        .max_exchange_ttl
        .filter(|_| delegation.is_some() || subject.is_user());
    let (until, mut exp) = lifetime(form, &subject, extension, client, &site.policy, app, now)?;

    let mut dlg = subject.dlg.clone();
    let mut extra = subject.extra.clone();
    // A token that rests on delegations, however it was derived, ends with the first of them
    // (and lives at most DELEGATED_TTL: the token endpoint's rule, after the hook).
    if let Some(end) = subject.delegations_end {
        exp = exp.min(end);
    }
    if let Some(d) = &delegation {
        dlg.push(d.id.clone());
        exp = exp.min(d.expires_at.unwrap_or(UnixTime::MAX));
    }
    if !scope.contains(DELEGATIONS_SCOPE) {
        extra.remove(DELEGATED_ACCOUNTS_CLAIM);
        extra.remove(TRUNCATED_CLAIM);
    } else if delegation.is_some() || !subject.dlg.is_empty() {
        // The accounts of an account one acts for would be a chained delegation.
        return Err(OAuthError::invalid_request(
            "the delegations scope is not granted on a token that rests on a delegation",
        ));
    } else {
        let holder = subject
            .principal()
            .ok_or_else(|| OAuthError::invalid_request("the subject cannot hold delegations"))?;
        // A client's delegations serve that client only: another client reaching its token
        // lists none of them, as it could use none of them with requested_subject.
        let listed = match usable_by(&holder, client) {
            true => delegated_accounts(app, &holder, now).await?,
            false => Listed::default(),
        };
        dlg.extend(listed.ids);
        extra.insert(
            DELEGATED_ACCOUNTS_CLAIM.into(),
            Value::Array(listed.accounts),
        );
        if listed.truncated {
            extra.insert(TRUNCATED_CLAIM.into(), Value::Bool(true));
        }
        exp = exp.min(now + DELEGATED_TTL);
    }
    let mut ancestors = subject
        .chain
        .as_ref()
        .map(|c| c.jti.clone())
        .unwrap_or_default();
    ancestors.extend(subject.jti.clone());
    let chain = Chain {
        iat: root_iat(&subject, now),
        until,
        jti: ancestors,
        sub_type,
    };
    let claims = AccessTokenClaims {
        iss: site.policy.issuer.clone(),
        sub,
        aud: aud.to_string(),
        exp,
        iat: now,
        nbf: now,
        jti,
        client_id: client.id.to_string(),
        scope: scope.to_string(),
        act: Some(act),
        dlg,
        chain: Some(chain),
        acr: subject.acr.clone(),
        amr: subject.amr.clone(),
        auth_time: subject.auth_time,
        extra,
    };
    let upstream_issuer = if subject.ours {
        subject
            .extra
            .get(&format!("{}idp", site.claims_namespace))
            .and_then(Value::as_str)
            .map(String::from)
    } else {
        Some(subject.issuer.clone())
    };
    Ok(Exchanged {
        claims,
        issued_token_type,
        subject_issuer: subject.issuer,
        upstream_issuer,
    })
}

fn required<'a>(form: &'a Form, name: &'static str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

/// The name of a delegator as tokens carry it: a user's bare `sub`, or `client:<id>`.
fn account(p: &Principal) -> String {
    match p {
        Principal::User(u) => u.as_str().to_owned(),
        Principal::Client(_) => p.to_string(),
    }
}

/// The live delegation from the requested subject to the subject token's subject. Every
/// failure reads the same, so the answer does not tell whether the account exists.
async fn delegation(
    app: &App,
    caller: &Client,
    subject: &Subject,
    requested: &str,
    now: UnixTime,
) -> Result<Delegation, OAuthError> {
    let none = || {
        OAuthError::invalid_request("no delegation lets the subject act for the requested subject")
    };
    if !subject.dlg.is_empty() {
        return Err(OAuthError::invalid_request(
            "a token issued on a delegation cannot be exchanged for another subject",
        ));
    }
    let delegate = subject.principal().ok_or_else(none)?;
    if !usable_by(&delegate, caller) {
        return Err(none());
    }
    let delegator = Principal::User(UserSub::new(requested).map_err(|_| none())?);
    app.delegations
        .delegation(&delegator, &delegate)
        .await
        .map_err(OAuthError::unavailable)?
        .filter(|d| d.is_live(now))
        .ok_or_else(none)
}

/// Whether `caller` may use the delegations `holder` holds: a user's serve whichever client
/// the user's token was issued for; a client's own serve that client only, whoever else its
/// token reaches.
fn usable_by(holder: &Principal, caller: &Client) -> bool {
    !matches!(holder, Principal::Client(c) if c != &caller.id)
}

/// The requested scope, which must be within `grantable`; without a request, all of it.
fn narrowed_scope(form: &Form, grantable: &ScopeSet) -> Result<ScopeSet, OAuthError> {
    let scope = super::scope(form, grantable, grantable).map_err(|e| {
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

/// The chain's lifetime cap and the token's `exp`. By default a derived token never outlives
/// its subject token. With an `extension` (a client's `max_exchange_ttl`, for a chain acting
/// for a user) the client may ask (`expires_in`) for up to that long from the chain's first
/// `iat`: anchored there, re-exchanging cannot reset the clock.
fn lifetime(
    form: &Form,
    subject: &Subject,
    extension: Option<u64>,
    client: &Client,
    policy: &TokenPolicy,
    app: &App,
    now: UnixTime,
) -> Result<(UnixTime, UnixTime), OAuthError> {
    // The service's cap applies to clients created under a larger one, too.
    let until = match extension {
        Some(max) => root_iat(subject, now).saturating_add(max.min(app.config.max_exchange_ttl)),
        None => subject.exp,
    };
    let exp = match form.get("expires_in") {
        None => now
            .saturating_add(policy.ttl(client))
            .min(subject.exp)
            .min(until),
        Some(_) if extension.is_none() => {
            return Err(OAuthError::invalid_request(
                "expires_in is accepted only from clients allowed longer exchanges, for tokens \
                 that act for a user",
            ));
        }
        Some(v) => {
            let secs: u64 = v.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                OAuthError::invalid_request("expires_in must be a positive integer")
            })?;
            now.saturating_add(secs).min(until)
        }
    };
    if exp <= now {
        return Err(OAuthError::invalid_request(
            "the subject token's chain may not be extended any further",
        ));
    }
    Ok((until, exp))
}

/// When the chain began: the first token's `iat`, or now when an upstream token has none.
fn root_iat(subject: &Subject, now: UnixTime) -> UnixTime {
    subject
        .chain
        .as_ref()
        .map(|c| c.iat)
        .or(subject.iat)
        .unwrap_or(now)
        .min(now)
}

#[derive(Default)]
struct Listed {
    accounts: Vec<Value>,
    ids: Vec<String>,
    truncated: bool,
}

/// The live delegations `sub` holds, as `{id, scope}` entries: at most
/// [`MAX_DELEGATED_ACCOUNTS`], never an unbounded claim.
async fn delegated_accounts(
    app: &App,
    holder: &Principal,
    now: UnixTime,
) -> Result<Listed, OAuthError> {
    let mut live: Vec<Delegation> = app
        .delegations
        .delegations_to(holder)
        .await
        .map_err(OAuthError::unavailable)?
        .into_iter()
        .filter(|d| d.is_live(now))
        .collect();
    live.sort_by(|a, b| a.delegator.cmp(&b.delegator));
    let truncated = live.len() > MAX_DELEGATED_ACCOUNTS;
    live.truncate(MAX_DELEGATED_ACCOUNTS);
    Ok(Listed {
        accounts: live
            .iter()
            .map(
                |d| serde_json::json!({"id": account(&d.delegator), "scope": d.scopes.to_string()}),
            )
            .collect(),
        ids: live.into_iter().map(|d| d.id).collect(),
        truncated,
    })
}
