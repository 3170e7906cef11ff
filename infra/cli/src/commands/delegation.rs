//! `tokenmint delegation`: who may act for whom (docs/hook.md, issue "delegation records").

use tokenmint::domain::{Delegation, Principal, ScopeSet};
use tokenmint::{Clock, SystemClock};

use crate::args::{DelegationCommand, GrantArgs};
use crate::context::Context;
use crate::error::{CliError, Result};
use crate::output::{DelegationView, print_json, print_list};

pub async fn run(cmd: DelegationCommand, ctx: &Context) -> Result<()> {
    let now = SystemClock.now();
    match cmd {
        DelegationCommand::Grant(args) => grant(args, ctx, now).await,
        DelegationCommand::Revoke {
            delegator,
            delegate,
        } => revoke(&delegator, &delegate, ctx).await,
        DelegationCommand::List {
            delegate,
            delegator,
            json,
        } => {
            let store = ctx.stores.delegations.as_ref();
            let found = match (delegate, delegator) {
                (Some(p), _) => store.delegations_to(&principal("delegate", &p)?).await,
                (None, Some(p)) => store.delegations_from(&principal("delegator", &p)?).await,
                (None, None) => return Err(CliError::message("give --delegate or --delegator")),
            }
            .map_err(CliError::store("list delegations"))?;
            let views: Vec<_> = found.iter().map(|d| DelegationView::new(d, now)).collect();
            print_list(&views, json)
        }
    }
}

async fn grant(args: GrantArgs, ctx: &Context, now: u64) -> Result<()> {
    let delegator = principal("delegator", &args.delegator)?;
    let delegate = principal("delegate", &args.delegate)?;
    if delegator == delegate {
        return Err(CliError::message("a principal cannot delegate to itself"));
    }
    let scopes = ScopeSet::parse(&args.scope)?;
    if scopes.is_empty() {
        return Err(CliError::message("--scope must name at least one scope"));
    }
    let expires_at = args.expires.as_deref().map(parse_time).transpose()?;
    if expires_at.is_some_and(|e| e <= now) {
        return Err(CliError::message("--expires is in the past"));
    }
    let d = Delegation {
        id: tokenmint::ids::delegation_id().map_err(|e| CliError::message(e.to_string()))?,
        delegator,
        delegate,
        scopes,
        expires_at,
        created_by: "cli".into(),
        created_at: now,
    };
    ctx.stores
        .delegations
        .put_delegation(&d)
        .await
        .map_err(CliError::store("store the delegation"))?;
    tokenmint::audit!(
        "delegation_granted",
        id = %d.id,
        delegator = %d.delegator,
        delegate = %d.delegate,
        scope = %d.scopes,
    );
    if args.json {
        return print_json(&DelegationView::new(&d, now));
    }
    println!("{}", d.id);
    Ok(())
}

async fn revoke(delegator: &str, delegate: &str, ctx: &Context) -> Result<()> {
    let delegator = principal("delegator", delegator)?;
    let delegate = principal("delegate", delegate)?;
    let removed = ctx
        .stores
        .delegations
        .remove_delegation(&delegator, &delegate)
        .await
        .map_err(CliError::store("remove the delegation"))?;
    let Some(d) = removed else {
        return Err(CliError::message(format!(
            "there is no delegation from {delegator} to {delegate}"
        )));
    };
    tokenmint::audit!("delegation_revoked", id = %d.id, delegator = %delegator, delegate = %delegate);
    eprintln!("revoked delegation {} from {delegator} to {delegate}", d.id);
    Ok(())
}

fn principal(flag: &'static str, value: &str) -> Result<Principal> {
    value.parse().map_err(|source| CliError::Principal {
        flag,
        value: value.to_owned(),
        source,
    })
}

/// Seconds since the epoch for an RFC 3339 timestamp.
fn parse_time(s: &str) -> Result<u64> {
    humantime::parse_rfc3339(s)
        .map_err(|source| CliError::Time {
            value: s.to_owned(),
            source,
        })?
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| CliError::message(format!("--expires {s:?} is before 1970")))
}
