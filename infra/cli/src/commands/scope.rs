//! `tokenmint scope`: step-up rules, the acr values token exchange requires for a scope
//! (docs/token-exchange.md).

use tokenmint::trust;
use tokenmint::{Clock, SystemClock};

use crate::args::ScopeCommand;
use crate::context::Context;
use crate::error::{CliError, Result};
use crate::output::{Row, print_list};

pub async fn run(cmd: ScopeCommand, ctx: &Context) -> Result<()> {
    let store = ctx.stores.scope_rules.as_ref();
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
