//! `tokenmint apply` and `tokenmint export`: the store as a file in the operator's repository
//! ([`tokenmint::apply`]).

use std::io::Write as _;
use std::path::Path;

use tokenmint::apply::{self, file::Document, file::Jwks};
use tokenmint::domain::{ClientId, ClientSecret};
use tokenmint::{Clock, SystemClock};

use crate::args::ApplyArgs;
use crate::context::Context;
use crate::error::{CliError, Result};

pub async fn run(args: ApplyArgs, ctx: &Context) -> Result<()> {
    let doc = read(&args.file)?;
    let now = SystemClock.now();
    let mut plan = apply::plan(&ctx.stores, &ctx.config, &doc, args.prune, now).await?;
    if plan.is_empty() {
        println!("no changes");
        return Ok(());
    }
    for line in plan.lines() {
        println!("{line}");
    }
    if args.dry_run {
        return Ok(());
    }
    let new_secret_clients: Vec<String> = plan
        .secret_clients()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let written = match (&args.secrets_out, new_secret_clients.is_empty()) {
        (_, true) => None,
        (None, false) => {
            return Err(CliError::message(format!(
                "{} would be created with a secret, which is written only to --secrets-out \
                 PATH: give one, or declare jwks or a federated credential for {}; nothing \
                 was applied",
                new_secret_clients.join(", "),
                if new_secret_clients.len() == 1 {
                    "it"
                } else {
                    "them"
                },
            )));
        }
        (Some(path), false) => {
            let issued = plan.issue_secrets(now);
            write_secrets(path, &issued)?;
            Some((path, issued.len()))
        }
    };
    let n = apply::apply(&ctx.stores, plan).await?;
    eprintln!("applied {n} change{}", if n == 1 { "" } else { "s" });
    if let Some((path, count)) = written {
        eprintln!(
            "wrote the secrets of {count} new client(s) to {}",
            path.display()
        );
    }
    Ok(())
}

pub async fn export(ctx: &Context) -> Result<()> {
    let doc = apply::export(&ctx.stores).await?;
    let text = serde_yaml_ng::to_string(&doc)
        .map_err(|e| CliError::message(format!("cannot write the file: {e}")))?;
    print!("{text}");
    Ok(())
}

/// The file, with each client's `jwks` path (relative to the file) read in.
fn read(path: &Path) -> Result<Document> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(CliError::io(format!("cannot read {shown}")))?;
    let mut doc: Document = match text.trim() {
        "" => Document::default(),
        _ => serde_yaml_ng::from_str(&text)
            .map_err(|e| CliError::message(format!("{shown}: {e}")))?,
    };
    let base = path.parent().unwrap_or(Path::new("."));
    for c in &mut doc.clients {
        let Some(Jwks::Location(place)) = &c.jwks else {
            continue;
        };
        if place.starts_with("https://") || place.starts_with("http://") {
            continue;
        }
        let file = base.join(place);
        let at = |m: String| CliError::message(format!("client {}: jwks: {m}", c.id));
        let body = std::fs::read_to_string(&file)
            .map_err(|e| at(format!("cannot read {}: {e}", file.display())))?;
        let set = serde_json::from_str(&body)
            .map_err(|e| at(format!("{} is not JSON: {e}", file.display())))?;
        c.jwks = Some(Jwks::Inline(set));
    }
    Ok(doc)
}

/// A new file, readable by its owner alone, mapping each client id to its secret.
fn write_secrets(path: &Path, issued: &[(ClientId, ClientSecret)]) -> Result<()> {
    let map: serde_json::Map<String, serde_json::Value> = issued
        .iter()
        .map(|(id, s)| (id.to_string(), s.expose().into()))
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let shown = path.display();
    let mut f = options.open(path).map_err(|e| {
        CliError::message(match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "--secrets-out {shown} exists: secrets are written to a new file, never over \
                 another; nothing was applied"
            ),
            _ => format!("cannot create --secrets-out {shown}: {e}; nothing was applied"),
        })
    })?;
    let body = serde_json::Value::Object(map).to_string();
    f.write_all(body.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .map_err(CliError::io(format!("cannot write --secrets-out {shown}")))
}
