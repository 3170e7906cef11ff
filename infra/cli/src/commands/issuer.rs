//! `tokenmint issuer`: the external issuers whose tokens token exchange accepts
//! (docs/token-exchange.md).

use tokenmint::trust::{self, NewIssuer};
use tokenmint::{Clock, SystemClock};

use crate::args::{AddIssuerArgs, IssuerCommand};
use crate::context::Context;
use crate::error::{CliError, Result};
use crate::output::{print_list, print_one};

pub async fn run(cmd: IssuerCommand, ctx: &Context) -> Result<()> {
    let store = ctx.stores.issuers.as_ref();
    match cmd {
        IssuerCommand::Add(add) => {
            let json = add.json;
            let spec = new_issuer(add);
            let issuer = trust::add_issuer(store, &ctx.config, spec, SystemClock.now()).await?;
            print_one(&issuer, json)
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

fn new_issuer(a: AddIssuerArgs) -> NewIssuer {
    NewIssuer {
        issuer: a.issuer,
        jwks_uri: a.jwks_uri,
        audiences: a.audiences,
        typ: a.typ,
        scope_claim: a.scope_claim,
        max_scope: a.max_scope,
        id_tokens: a.id_tokens,
        subject_prefix: a.subject_prefix,
        map_claims: a.map_claims,
    }
}
