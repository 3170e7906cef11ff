//! `tokenmint serve`: every endpoint on one local HTTP server ([`tokenmint_cli::server`]),
//! optionally with a demo client to try it.

use std::net::SocketAddr;
use std::sync::Arc;

use tokenmint::admin::{self, AdminError, NewClient};
use tokenmint::telemetry::Sink;
use tokenmint::{Clock, SystemClock, setup};

use crate::args::ServeArgs;
use crate::context::{Context, Flags};
use crate::error::{CliError, Result};

pub async fn run(args: ServeArgs, flags: Flags) -> Result<()> {
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
        demo_client(&ctx, clock.now(), local).await?;
    }
    let metrics = match args.metrics_addr {
        Some(addr) => Some(metrics_server(addr).await?),
        None => None,
    };
    eprintln!(
        "tokenmint listening on http://{local} (issuer {})",
        ctx.config.issuer.as_ref().map_or("", |i| i.as_str())
    );
    let served = tokenmint_cli::server::serve(listener, Arc::new(app), shutdown_signal()).await;
    if let Some(task) = metrics {
        task.abort();
    }
    served.map_err(CliError::io("the server stopped"))
}

/// Installs the Prometheus recorder and serves its text on `addr`, before the first request
/// is answered so that no count is lost.
async fn metrics_server(addr: SocketAddr) -> Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(CliError::io(format!("cannot listen on {addr} for metrics")))?;
    let local = listener.local_addr()?;
    let handle = tokenmint_cli::metrics::install()
        .map_err(|e| CliError::message(format!("cannot record metrics: {e}")))?;
    eprintln!("metrics at http://{local}/metrics");
    Ok(tokio::spawn(tokenmint_cli::metrics::serve(
        listener, handle,
    )))
}

/// Ctrl-C, or SIGTERM where there is one.
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

/// Creates the client "demo", or gives it a new secret, and says how to get a token with it.
async fn demo_client(ctx: &Context, now: u64, local: SocketAddr) -> Result<()> {
    let store = ctx.stores.clients.as_ref();
    let spec = NewClient {
        id: "demo".into(),
        scopes: "read write".into(),
        default_scopes: Some("read".into()),
        audiences: vec!["https://api.example.com".into()],
        ttl: None,
        introspect: true,
        ..Default::default()
    };
    let secret = match admin::create_client(store, &ctx.config, spec, now).await {
        Ok((_, s)) => s,
        Err(AdminError::Exists(_)) => admin::rotate_secret(store, "demo", 0, now).await?.1,
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
