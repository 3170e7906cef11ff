//! `tokenmint issuer` and `tokenmint scope`: what token exchange trusts
//! (docs/token-exchange.md).

use serde::Serialize;
use tokenmint::Config;
use tokenmint::domain::TrustedIssuer;
use tokenmint::store::Stores;
use tokenmint::trust::{self, NewIssuer};
use tokenmint::{Clock, SystemClock};

use crate::args::{AddIssuerArgs, IssuerCommand, ScopeCommand};

use crate::error::{CliError, Result};

fn print_json<T: Serialize>(v: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(v)?;
    println!("{s}");
    Ok(())
}

fn line(i: &TrustedIssuer) -> String {
    format!(
        "{}  jwks={}  typ={}  prefix={}  max_scope={}  id_tokens={}",
        i.issuer,
        i.jwks_uri,
        i.typ,
        i.subject_prefix.as_deref().unwrap_or("-"),
        i.max_scope.as_ref().map_or("-".into(), |s| s.to_string()),
        if i.id_tokens { "yes" } else { "no" },
    )
}

pub async fn issuer(cmd: IssuerCommand, config: &Config, stores: &Stores) -> Result<()> {
    let store = stores.issuers.as_ref();
    match cmd {
        IssuerCommand::Add(AddIssuerArgs {
            issuer,
            jwks_uri,
            audiences,
            typ,
            scope_claim,
            max_scope,
            id_tokens,
            subject_prefix,
            map_claims,
            json,
        }) => {
            let spec = NewIssuer {
                issuer,
                jwks_uri,
                audiences,
                typ,
                scope_claim,
                max_scope,
                id_tokens,
                subject_prefix,
                map_claims,
            };
            let i = trust::add_issuer(store, config, spec, SystemClock.now()).await?;
            if json {
                return print_json(&i);
            }
            println!("{}", line(&i));
            Ok(())
        }
        IssuerCommand::List { json } => {
            let all = store
                .list_issuers()
                .await
                .map_err(CliError::store("list issuers"))?;
            if json {
                return print_json(&all);
            }
            for i in &all {
                println!("{}", line(i));
            }
            Ok(())
        }
        IssuerCommand::Remove { issuer } => {
            trust::remove_issuer(store, &issuer).await?;
            eprintln!("no longer trusting {issuer}");
            Ok(())
        }
    }
}

pub async fn scope(cmd: ScopeCommand, stores: &Stores) -> Result<()> {
    let store = stores.scope_rules.as_ref();
    match cmd {
        ScopeCommand::Set { scope, acr } => {
            match trust::set_scope_rule(store, &scope, acr, SystemClock.now()).await? {
                Some(r) => println!("{}  acr={}", r.scope.as_str(), r.acr.join(" ")),
                None => eprintln!("scope {scope} needs no step-up"),
            }
            Ok(())
        }
        ScopeCommand::List { json } => {
            let all = store
                .list_scope_rules()
                .await
                .map_err(CliError::store("list scope rules"))?;
            if json {
                return print_json(&all);
            }
            for r in &all {
                println!("{}  acr={}", r.scope.as_str(), r.acr.join(" "));
            }
            Ok(())
        }
    }
}
