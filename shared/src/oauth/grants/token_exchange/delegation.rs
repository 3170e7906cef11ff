//! The delegation extension of token exchange (docs/token-exchange.md): `requested_subject`
//! names the account a subject acts for, and the `delegations` scope lists those accounts.

use serde_json::Value;

use super::subject::Subject;
use crate::app::App;
use crate::clock::UnixTime;
use crate::domain::{Actor, Client, Delegation, Principal, PrincipalKind, ScopeSet, UserSub};
use crate::oauth::OAuthError;

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

/// The name of a delegator as tokens carry it: a user's bare `sub`, or `client:<id>`.
fn account(p: &Principal) -> String {
    match p {
        Principal::User(u) => u.as_str().to_owned(),
        Principal::Client(_) => p.to_string(),
    }
}

/// The live delegation from the requested subject to the subject token's subject. Every
/// failure reads the same, so the answer does not tell whether the account exists.
pub async fn delegation(
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

/// Who the token speaks for and who acts, typed, so a client is never taken for a user: the
/// delegator and the subject token's holder with a delegation, else the subject and the
/// calling client. At most [`MAX_ACT_DEPTH`] actors nest.
pub fn parties(
    subject: &Subject,
    delegation: Option<&Delegation>,
    client: &Client,
) -> Result<(String, Option<PrincipalKind>, Actor), OAuthError> {
    let parties = match delegation {
        Some(d) => {
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
    if parties.2.depth() > MAX_ACT_DEPTH {
        return Err(OAuthError::invalid_request(format!(
            "the subject token has been exchanged too often; at most {MAX_ACT_DEPTH} actors nest"
        )));
    }
    Ok(parties)
}

/// What a derived token carries about delegations.
pub struct Carried {
    pub dlg: Vec<String>,
    pub extra: serde_json::Map<String, Value>,
    pub exp: UnixTime,
}

/// The delegations a derived token rests on and the `delegated_accounts` it lists. A token
/// that rests on delegations, however it was derived, ends with the first of them (and lives
/// at most [`DELEGATED_TTL`]: the token endpoint's rule, after the hook).
pub async fn carried(
    app: &App,
    client: &Client,
    subject: &Subject,
    delegation: Option<&Delegation>,
    scope: &ScopeSet,
    exp: UnixTime,
    now: UnixTime,
) -> Result<Carried, OAuthError> {
    let mut c = Carried {
        dlg: subject.dlg.clone(),
        extra: subject.extra.clone(),
        exp: exp.min(subject.delegations_end.unwrap_or(UnixTime::MAX)),
    };
    if let Some(d) = delegation {
        c.dlg.push(d.id.clone());
        c.exp = c.exp.min(d.expires_at.unwrap_or(UnixTime::MAX));
    }
    if !scope.contains(DELEGATIONS_SCOPE) {
        c.extra.remove(DELEGATED_ACCOUNTS_CLAIM);
        c.extra.remove(TRUNCATED_CLAIM);
        return Ok(c);
    }
    if delegation.is_some() || !subject.dlg.is_empty() {
        // The accounts of an account one acts for would be a chained delegation.
        return Err(OAuthError::invalid_request(
            "the delegations scope is not granted on a token that rests on a delegation",
        ));
    }
    let holder = subject
        .principal()
        .ok_or_else(|| OAuthError::invalid_request("the subject cannot hold delegations"))?;
    // A client's delegations serve that client only: another client reaching its token lists
    // none of them, as it could use none of them with requested_subject.
    let listed = match usable_by(&holder, client) {
        true => delegated_accounts(app, &holder, now).await?,
        false => Listed::default(),
    };
    c.dlg.extend(listed.ids);
    c.extra.insert(
        DELEGATED_ACCOUNTS_CLAIM.into(),
        Value::Array(listed.accounts),
    );
    if listed.truncated {
        c.extra.insert(TRUNCATED_CLAIM.into(), Value::Bool(true));
    }
    c.exp = c.exp.min(now + DELEGATED_TTL);
    Ok(c)
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
