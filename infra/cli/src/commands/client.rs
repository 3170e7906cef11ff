//! `tokenmint client`: register clients, show them, rotate their secrets, disable them.

use tokenmint::admin::{self, NewClient};
use tokenmint::domain::ClientKeys;
use tokenmint::{Clock, SystemClock};

use crate::args::{ClientCommand, CreateClientArgs};
use crate::context::Context;
use crate::error::{CliError, Result};
use crate::output::{ClientView, print_json, print_list, print_secret};

pub async fn run(cmd: ClientCommand, ctx: &Context) -> Result<()> {
    let store = ctx.stores.clients.as_ref();
    match cmd {
        ClientCommand::Create(args) => create(args, ctx).await,
        ClientCommand::List { json } => {
            let clients = store.list_clients().await?;
            print_list(
                &clients.iter().map(ClientView::from).collect::<Vec<_>>(),
                json,
            )
        }
        ClientCommand::Show { id } => {
            let c = admin::get_client(store, &id).await?;
            print_json(&ClientView::from(&c))
        }
        ClientCommand::RotateSecret { id, grace, json } => {
            let (c, secret) = admin::rotate_secret(store, &id, grace, SystemClock.now()).await?;
            print_secret(c.id.as_str(), secret.expose(), json)?;
            if !json {
                eprintln!("the previous secret stays valid for {grace}s");
            }
            Ok(())
        }
        ClientCommand::Federate(args) => super::federation::federate(args, ctx).await,
        ClientCommand::Federations { id, json } => super::federation::list(&id, json, ctx).await,
        ClientCommand::Unfederate { id, name } => {
            let c = tokenmint::federation::unfederate(store, &id, &name).await?;
            eprintln!(
                "client {} no longer accepts credential {name} ({} left)",
                c.id,
                c.federated.len()
            );
            Ok(())
        }
        ClientCommand::Explain { id, token, json } => {
            super::federation::explain(&id, &token, json, ctx).await
        }
        ClientCommand::Disable { id } => {
            let c = admin::disable_client(store, &id).await?;
            eprintln!(
                "client {} is disabled (cached records expire within {}s)",
                c.id,
                ctx.config.client_cache_ttl.as_secs()
            );
            Ok(())
        }
    }
}

/// A client with a secret, printed once; or with public keys (`--jwks`) or a federated
/// credential (`--federated-issuer`), and none.
async fn create(args: CreateClientArgs, ctx: &Context) -> Result<()> {
    let (store, now, json) = (ctx.stores.clients.as_ref(), SystemClock.now(), args.json);
    let federated = super::federation::credential_of_create(&args)?;
    let spec = NewClient {
        keys: args.jwks.as_deref().map(client_keys).transpose()?,
        grants: args.grants,
        max_exchange_ttl: args.max_exchange_ttl,
        id: args.id,
        scopes: args.scope,
        default_scopes: args.default_scope,
        audiences: args.audiences,
        ttl: args.ttl,
        introspect: args.introspect,
        hook: args.hook,
        attributes: args.attributes,
    };
    if let Some(cred) = federated {
        let c = tokenmint::federation::create_federated_client(store, &ctx.config, spec, cred, now)
            .await?;
        if json {
            return print_json(&serde_json::json!({"client_id": c.id.as_str()}));
        }
        println!("client_id: {}", c.id);
        eprintln!(
            "authenticates with federated credential {}; it has no secret",
            c.federated[0].name
        );
        return Ok(());
    }
    if spec.keys.is_none() {
        let (c, secret) = admin::create_client(store, &ctx.config, spec, now).await?;
        return print_secret(c.id.as_str(), secret.expose(), json);
    }
    let c = admin::create_key_client(store, &ctx.config, spec, now).await?;
    if json {
        return print_json(&serde_json::json!({"client_id": c.id.as_str()}));
    }
    println!("client_id: {}", c.id);
    eprintln!("authenticates with private_key_jwt; it has no secret");
    Ok(())
}

/// `--jwks`: a URL is fetched when needed; anything else is a file holding the JWK Set.
fn client_keys(v: &str) -> Result<ClientKeys> {
    if v.starts_with("https://") || v.starts_with("http://") {
        return Ok(ClientKeys::JwksUri(v.to_owned()));
    }
    std::fs::read_to_string(v)
        .map(ClientKeys::Jwks)
        .map_err(CliError::io(format!("cannot read the JWK Set file {v}")))
}
