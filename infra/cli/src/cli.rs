//! Command-line arguments and the commands behind them. Every failure is one sentence on
//! standard error and a non-zero exit.

use std::net::SocketAddr;
use std::sync::Arc;

use tokenmint::admin::{self, NewClient};
use tokenmint::jwt::{Jwks, verify};
use tokenmint::store::Stores;
use tokenmint::telemetry::Sink;
use tokenmint::{Clock, Config, SystemClock, setup};

use crate::args::{
    Args, ClientCommand, Command, CreateClientArgs, KeysCommand, ServeArgs, StoreCommand,
    TokenCommand,
};

use crate::context::{Context, Flags, configure};
use crate::error::{CliError, Result};
use crate::output::{ClientView, KeyView, print_json, print_list, print_secret};

pub async fn run(args: Args) -> Result<()> {
    let flags = Flags::data(&args.data);
    match args.command {
        Command::Serve(cmd) => serve(cmd, flags).await,
        Command::Delegation(cmd) => crate::delegation::run(cmd, &open(&flags).await?.stores).await,
        Command::Issuer(cmd) => {
            let ctx = open(&flags).await?;
            crate::trust::issuer(cmd, &ctx.config, &ctx.stores).await
        }
        Command::Scope(cmd) => crate::trust::scope(cmd, &open(&flags).await?.stores).await,
        Command::Client(cmd) => {
            let ctx = open(&flags).await?;
            client(cmd, &ctx.config, &ctx.stores).await
        }
        Command::Token(TokenCommand::Decode { token, jwks }) => {
            decode(&token, jwks.as_deref()).await
        }
        Command::Keys(cmd) => {
            let ctx = open(&flags).await?;
            keys(cmd, &ctx.config, &ctx.stores).await
        }
        Command::Store(StoreCommand::Schema) => {
            print_json(&tokenmint::store::dynamodb::schema::cloudformation())
        }
        Command::Store(StoreCommand::Init) => {
            let (config, _log) = configure(&flags, Sink::Stderr)?;
            let tokenmint::config::StoreConfig::DynamoDb(table) = &config.store else {
                return Err(CliError::message(
                    "store init creates a DynamoDB table: set TOKENMINT_STORE=dynamodb:TABLE \
                     (the SQLite store creates itself)",
                ));
            };
            tokenmint::store::dynamodb::DynamoStore::from_env(table.as_str())
                .await
                .create_table()
                .await
                .map_err(CliError::store(format!("create table {table}")))?;
            eprintln!("created DynamoDB table {table}");
            Ok(())
        }
    }
}

/// The context of an administrative command, which logs to standard error: its standard
/// output is its result.
async fn open(flags: &Flags) -> Result<Context> {
    Context::open(flags, Sink::Stderr).await
}

async fn serve(args: ServeArgs, flags: Flags) -> Result<()> {
    let addr = args.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(CliError::io(format!("cannot listen on {addr}")))?;
    let local = listener.local_addr()?;
    let issuer = match args.issuer {
        Some(i) => i,
        None if local.ip().is_loopback() => format!("http://{local}"),
        None => {
            return Err(CliError::message(format!(
                "listening on {local} needs --issuer with the https URL clients will use \
                 (an http issuer is allowed only on a loopback address)"
            )));
        }
    };
    let flags = Flags {
        issuer: Some(issuer),
        hook: args.hook,
        hook_secret: args.hook_secret,
        ..flags
    };
    // Standard output, batched: the server's log is its output, and it runs long.
    let ctx = Context::open(&flags, Sink::BufferedStdout).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = setup::build_app(Arc::clone(&ctx.config), &ctx.stores, Arc::clone(&clock)).await?;
    if args.demo {
        demo_client(&ctx.config, &ctx.stores, clock.now(), local).await?;
    }
    eprintln!(
        "tokenmint listening on http://{local} (issuer {})",
        ctx.config.issuer.as_ref().map_or("", |i| i.as_str())
    );
    tokenmint_cli::server::serve(listener, Arc::new(app), shutdown_signal())
        .await
        .map_err(CliError::io("the server stopped"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

async fn demo_client(config: &Config, stores: &Stores, now: u64, local: SocketAddr) -> Result<()> {
    let spec = NewClient {
        id: "demo".into(),
        scopes: "read write".into(),
        default_scopes: Some("read".into()),
        audiences: vec!["https://api.example.com".into()],
        ttl: None,
        introspect: true,
        ..Default::default()
    };
    let secret = match admin::create_client(stores.clients.as_ref(), config, spec, now).await {
        Ok((_, s)) => s,
        Err(admin::AdminError::Exists(_)) => {
            admin::rotate_secret(stores.clients.as_ref(), "demo", 0, now)
                .await?
                .1
        }
        Err(e) => return Err(e.into()),
    };
    // Standard error: standard output carries the server's JSON log lines, which are shipped
    // elsewhere and must never contain a secret.
    eprintln!("demo client: demo  secret: {}", secret.expose());
    eprintln!(
        "curl -s -u demo:{} -d grant_type=client_credentials -d scope=read http://{local}/oauth2/token",
        secret.expose()
    );
    Ok(())
}

async fn client(cmd: ClientCommand, config: &Config, stores: &Stores) -> Result<()> {
    let store = stores.clients.as_ref();
    let now = SystemClock.now();
    match cmd {
        ClientCommand::Create(CreateClientArgs {
            id,
            scope,
            default_scope,
            audiences,
            ttl,
            introspect,
            hook,
            attributes,
            grants,
            max_exchange_ttl,
            jwks,
            json,
        }) => {
            let keys = jwks.as_deref().map(client_keys).transpose()?;
            let spec = NewClient {
                keys,
                grants,
                max_exchange_ttl,
                id,
                scopes: scope,
                default_scopes: default_scope,
                audiences,
                ttl,
                introspect,
                hook,
                attributes,
            };
            if spec.keys.is_some() {
                let c = admin::create_key_client(store, config, spec, now).await?;
                if json {
                    return print_json(&serde_json::json!({"client_id": c.id.as_str()}));
                }
                println!("client_id: {}", c.id);
                eprintln!("authenticates with private_key_jwt; it has no secret");
                return Ok(());
            }
            let (c, secret) = admin::create_client(store, config, spec, now).await?;
            print_secret(c.id.as_str(), secret.expose(), json)
        }
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
            let (c, secret) = admin::rotate_secret(store, &id, grace, now).await?;
            print_secret(c.id.as_str(), secret.expose(), json)?;
            if !json {
                eprintln!("the previous secret stays valid for {grace}s");
            }
            Ok(())
        }
        ClientCommand::Disable { id } => {
            let c = admin::disable_client(store, &id).await?;
            eprintln!(
                "client {} is disabled (cached records expire within {}s)",
                c.id, config.client_cache_ttl
            );
            Ok(())
        }
    }
}

/// `--jwks`: a URL is fetched when needed; anything else is a file holding the JWK Set.
fn client_keys(v: &str) -> Result<tokenmint::domain::ClientKeys> {
    use tokenmint::domain::ClientKeys;
    if v.starts_with("https://") || v.starts_with("http://") {
        return Ok(ClientKeys::JwksUri(v.to_owned()));
    }
    std::fs::read_to_string(v)
        .map(ClientKeys::Jwks)
        .map_err(CliError::io(format!("cannot read the JWK Set file {v}")))
}

async fn decode(token: &str, jwks: Option<&str>) -> Result<()> {
    let token = if token == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(CliError::io("cannot read the token from standard input"))?;
        s.trim().to_owned()
    } else {
        token.to_owned()
    };
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(CliError::message(
            "that is not a JWT: it needs three dot-separated parts",
        ));
    }
    let segment = |i: usize, name: &str| -> Result<serde_json::Value> {
        let part = parts[i];
        let bytes = tokenmint::jwt::unb64(part)
            .ok_or_else(|| CliError::message(format!("the {name} is not base64url")))?;
        serde_json::from_slice(&bytes)
            .map_err(|_| CliError::message(format!("the {name} is not JSON")))
    };
    let header = segment(0, "header")?;
    let claims = segment(1, "payload")?;
    let mut out = serde_json::json!({ "header": header, "claims": claims });
    if let Some(source) = jwks {
        let set = load_jwks(source).await?;
        let kid = verify::parse(&token)?;
        let key = set
            .keys
            .iter()
            .find(|k| k.kid == kid.kid())
            .ok_or_else(|| {
                CliError::message(format!("the JWKS has no key with kid {:?}", kid.kid()))
            })?
            .verifying_key()
            .map_err(CliError::Message)?;
        kid.verify(&key)
            .map_err(|_| CliError::message("the signature does not verify"))?;
        out["signature"] = "verified".into();
    }
    print_json(&out)
}

async fn load_jwks(source: &str) -> Result<Jwks> {
    let body = if source.starts_with("http://") || source.starts_with("https://") {
        let resp = reqwest::get(source)
            .await
            .map_err(CliError::http(format!("cannot fetch {source}")))?;
        if !resp.status().is_success() {
            return Err(CliError::message(format!(
                "{source} answered {}",
                resp.status()
            )));
        }
        resp.bytes()
            .await
            .map_err(CliError::http(format!("cannot read {source}")))?
            .to_vec()
    } else {
        std::fs::read(source).map_err(CliError::io(format!("cannot read {source}")))?
    };
    serde_json::from_slice(&body).map_err(|e| CliError::JsonAt {
        context: format!("{source} is not a JWK Set"),
        source: e,
    })
}

async fn keys(cmd: KeysCommand, config: &Config, stores: &Stores) -> Result<()> {
    match cmd {
        KeysCommand::List { json } => {
            let keys = stores.keys.list_keys().await?;
            print_list(&keys.iter().map(KeyView::from).collect::<Vec<_>>(), json)
        }
        KeysCommand::Rotate => {
            let source = setup::next_key_source(config).await?;
            let schedule = tokenmint::rotation::Schedule::from_config(config);
            let steps = tokenmint::rotation::rotate(
                stores.keys.as_ref(),
                source.as_ref(),
                &schedule,
                SystemClock.now(),
                true,
            )
            .await?;
            print_json(&steps)?;
            if steps
                .iter()
                .any(|s| matches!(s, tokenmint::rotation::Step::Published { .. }))
            {
                eprintln!(
                    "the next key is published; run keys rotate again after {}s to promote it",
                    schedule.publish_lead
                );
            }
            Ok(())
        }
    }
}
