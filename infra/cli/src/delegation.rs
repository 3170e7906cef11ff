//! `tokenmint delegation`: who may act for whom (docs/hook.md, issue "delegation records").

use serde::Serialize;
use tokenmint::domain::{Delegation, Principal, ScopeSet};
use tokenmint::store::Stores;
use tokenmint::{Clock, SystemClock};

use crate::args::{DelegationCommand, GrantArgs};

type Result<T> = std::result::Result<T, String>;

fn principal(flag: &str, v: &str) -> Result<Principal> {
    v.parse().map_err(|e| format!("--{flag} {v:?}: {e}"))
}

/// The shape `list` and `grant --json` print.
#[derive(Serialize)]
struct View<'a> {
    id: &'a str,
    delegator: String,
    delegate: String,
    scope: String,
    expires_at: Option<u64>,
    created_by: &'a str,
    created_at: u64,
}

impl<'a> From<&'a Delegation> for View<'a> {
    fn from(d: &'a Delegation) -> Self {
        Self {
            id: &d.id,
            delegator: d.delegator.to_string(),
            delegate: d.delegate.to_string(),
            scope: d.scopes.to_string(),
            expires_at: d.expires_at,
            created_by: &d.created_by,
            created_at: d.created_at,
        }
    }
}

pub async fn run(cmd: DelegationCommand, stores: &Stores) -> Result<()> {
    let store = stores.delegations.as_ref();
    let now = SystemClock.now();
    match cmd {
        DelegationCommand::Grant(GrantArgs {
            delegator,
            delegate,
            scope,
            expires,
            json,
        }) => {
            let delegator = principal("delegator", &delegator)?;
            let delegate = principal("delegate", &delegate)?;
            if delegator == delegate {
                return Err("a principal cannot delegate to itself".into());
            }
            let scopes = ScopeSet::parse(&scope).map_err(|e| format!("--scope: {e}"))?;
            if scopes.is_empty() {
                return Err("--scope must name at least one scope".into());
            }
            let expires_at = expires.as_deref().map(parse_time).transpose()?;
            if expires_at.is_some_and(|e| e <= now) {
                return Err("--expires is in the past".into());
            }
            let d = Delegation {
                id: tokenmint::oauth::token::new_jti().map_err(|e| e.to_string())?,
                delegator,
                delegate,
                scopes,
                expires_at,
                created_by: "cli".into(),
                created_at: now,
            };
            store
                .put_delegation(&d)
                .await
                .map_err(|e| format!("cannot store the delegation: {e}"))?;
            tokenmint::audit!(
                "delegation_granted",
                id = %d.id,
                delegator = %d.delegator,
                delegate = %d.delegate,
                scope = %d.scopes,
            );
            if json {
                return print_json(&View::from(&d));
            }
            println!("{}", d.id);
            Ok(())
        }
        DelegationCommand::Revoke {
            delegator,
            delegate,
        } => {
            let delegator = principal("delegator", &delegator)?;
            let delegate = principal("delegate", &delegate)?;
            match store
                .remove_delegation(&delegator, &delegate)
                .await
                .map_err(|e| format!("cannot remove the delegation: {e}"))?
            {
                Some(d) => {
                    tokenmint::audit!("delegation_revoked", id = %d.id, delegator = %delegator, delegate = %delegate);
                    eprintln!("revoked delegation {} from {delegator} to {delegate}", d.id);
                    Ok(())
                }
                None => Err(format!(
                    "there is no delegation from {delegator} to {delegate}"
                )),
            }
        }
        DelegationCommand::List {
            delegate,
            delegator,
            json,
        } => {
            let found = match (delegate, delegator) {
                (Some(p), _) => store.delegations_to(&principal("delegate", &p)?).await,
                (None, Some(p)) => store.delegations_from(&principal("delegator", &p)?).await,
                (None, None) => return Err("give --delegate or --delegator".into()),
            }
            .map_err(|e| format!("cannot list delegations: {e}"))?;
            if json {
                return print_json(&found.iter().map(View::from).collect::<Vec<_>>());
            }
            for d in &found {
                let live = if d.is_live(now) { "live" } else { "expired" };
                println!(
                    "{}\t{}\t{}\t{}\t{live}",
                    d.id, d.delegator, d.delegate, d.scopes
                );
            }
            Ok(())
        }
    }
}

/// Seconds since the epoch for an RFC 3339 timestamp.
fn parse_time(s: &str) -> Result<u64> {
    humantime::parse_rfc3339(s)
        .map_err(|e| format!("--expires {s:?}: {e} (use e.g. 2027-01-01T00:00:00Z)"))?
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| format!("--expires {s:?} is before 1970"))
}

fn print_json<T: Serialize>(v: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    println!("{s}");
    Ok(())
}
