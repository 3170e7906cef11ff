//! `tokenmint issuer` and `tokenmint scope`: what token exchange trusts
//! (docs/token-exchange.md).

use tokenmint::Config;
use tokenmint::store::Stores;
use tokenmint::trust::{self, NewIssuer};
use tokenmint::{Clock, SystemClock};

use crate::args::{AddIssuerArgs, IssuerCommand, ScopeCommand};

use crate::error::{CliError, Result};
use crate::output::{Row, print_list, print_one};

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
            print_one(&i, json)
        }
        IssuerCommand::List { json } => {
            let all = store
                .list_issuers()
                .await
                .map_err(CliError::store("list issuers"))?;
            print_list(&all, json)
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
                Some(rule) => println!("{}", rule.row()),
                None => eprintln!("scope {scope} needs no step-up"),
            }
            Ok(())
        }
        ScopeCommand::List { json } => {
            let all = store
                .list_scope_rules()
                .await
                .map_err(CliError::store("list scope rules"))?;
            print_list(&all, json)
        }
    }
}
