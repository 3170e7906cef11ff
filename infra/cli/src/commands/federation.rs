//! `tokenmint client federate | federations | unfederate | explain`, and `client create
//! --federated-issuer`: federated credentials (docs/federation.md).

use serde::Serialize;
use tokenmint::domain::FederatedCredential;
use tokenmint::federation::{self, Conditions, NewCredential, Verifier};
use tokenmint::upstream::UpstreamKeys;
use tokenmint::{Clock, SystemClock, admin};

use crate::args::{CreateClientArgs, CredentialArgs, FederateArgs};
use crate::context::Context;
use crate::error::{CliError, Result};
use crate::output::{Row, print_json, print_list};

/// The credential `client create` asks for, if it asks for one.
pub fn credential_of_create(args: &CreateClientArgs) -> Result<Option<NewCredential>> {
    let Some(issuer) = &args.federated_issuer else {
        let c = &args.credential;
        if c.condition.is_some()
            || c.profile.is_some()
            || c.token_audience.is_some()
            || !c.map_claims.is_empty()
        {
            return Err(CliError::message(
                "--condition, --profile, --token-audience and --map-claim describe a federated \
                 credential: add --federated-issuer",
            ));
        }
        return Ok(None);
    };
    if args.jwks.is_some() {
        return Err(CliError::message(
            "a client authenticates with --jwks keys or a --federated-issuer, not both",
        ));
    }
    new_credential(issuer, args.credential_name.clone(), &args.credential).map(Some)
}

fn new_credential(
    issuer: &str,
    name: Option<String>,
    args: &CredentialArgs,
) -> Result<NewCredential> {
    let condition = args.condition.clone().ok_or_else(|| {
        CliError::message(
            "--condition is required: which of the platform's tokens may authenticate",
        )
    })?;
    Ok(NewCredential {
        name,
        issuer: issuer.to_owned(),
        condition,
        profile: args.profile.clone(),
        token_audience: args.token_audience.clone(),
        map_claims: args.map_claims.clone(),
    })
}

pub async fn federate(args: FederateArgs, ctx: &Context) -> Result<()> {
    let spec = new_credential(&args.issuer, args.name, &args.credential)?;
    let store = ctx.stores.clients.as_ref();
    let (c, cred) =
        federation::federate(store, &ctx.config, &args.id, spec, SystemClock.now()).await?;
    println!("{}", CredentialView::from(&cred).row());
    eprintln!(
        "client {} accepts {} tokens matching the condition (cached records refresh within {}s)",
        c.id,
        cred.issuer,
        ctx.config.client_cache_ttl.as_secs()
    );
    Ok(())
}

pub async fn list(id: &str, json: bool, ctx: &Context) -> Result<()> {
    let c = admin::get_client(ctx.stores.clients.as_ref(), id).await?;
    let views: Vec<CredentialView> = c.federated.iter().map(CredentialView::from).collect();
    print_list(&views, json)
}

/// Verifies the token as the endpoints do, against the issuer this process is configured
/// with (`TOKENMINT_ISSUER`, as the server is), and prints every check.
pub async fn explain(id: &str, token: &str, json: bool, ctx: &Context) -> Result<()> {
    let token = super::token::read_token(token)?;
    let client = admin::get_client(ctx.stores.clients.as_ref(), id).await?;
    let own = ctx.config.issuer.as_ref().map(|i| i.as_str().to_owned());
    if own.is_none() && client.federated.iter().any(|c| c.token_audience.is_none()) {
        return Err(CliError::message(
            "set TOKENMINT_ISSUER to the issuer the endpoint sees (its tokens' iss): the \
             default token audience is that issuer",
        ));
    }
    let (keys, conditions) = (UpstreamKeys::new(), Conditions::new());
    let verifier = Verifier {
        keys: &keys,
        conditions: &conditions,
        own_issuer: own.as_deref().unwrap_or_default(),
        now: SystemClock.now(),
        leeway: ctx.config.leeway.as_secs(),
    };
    let report = verifier.verify(&client, &token).await.map_err(|e| {
        CliError::message(format!(
            "cannot decide: {e} (the token endpoint would answer 503 temporarily_unavailable)"
        ))
    })?;
    let matched = report.identity.as_ref().map(|i| i.credential.clone());
    if json {
        print_json(&serde_json::json!({
            "client_id": client.id.as_str(),
            "authenticates": matched.is_some(),
            "credential": matched,
            "report": report,
        }))?;
    } else {
        print_report(&client.id.to_string(), &report);
    }
    if client.disabled {
        return Err(CliError::message(format!(
            "client {id} is disabled: no token authenticates as it"
        )));
    }
    match matched {
        Some(name) => {
            if !json {
                println!("result: the token authenticates as client {id} with credential {name}");
            }
            Ok(())
        }
        None => Err(CliError::message(format!(
            "the token would not authenticate as client {id}: {}",
            report.refusal()
        ))),
    }
}

fn print_report(id: &str, report: &federation::Report) {
    println!("client {id}");
    if let Some(why) = &report.token {
        println!("  token: {why}");
    }
    if report.credentials.is_empty() && report.token.is_none() {
        println!("  no federated credentials");
    }
    for c in &report.credentials {
        println!("credential {} (issuer {})", c.name, c.issuer);
        for check in &c.checks {
            let mark = if check.ok { "pass" } else { "FAIL" };
            println!("  {mark}  {:<10} {}", check.check, check.detail);
        }
        for (name, value) in &c.claims {
            println!("        claims.{name} = {value}");
        }
    }
}

/// What `client federations` shows of a credential.
#[derive(Serialize)]
pub struct CredentialView<'a> {
    name: &'a str,
    issuer: &'a str,
    profile: &'static str,
    condition: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_audience: Option<&'a str>,
    map_claims: Vec<String>,
    created_at: u64,
}

impl<'a> From<&'a FederatedCredential> for CredentialView<'a> {
    fn from(c: &'a FederatedCredential) -> Self {
        Self {
            name: &c.name,
            issuer: &c.issuer,
            profile: c.profile.as_str(),
            condition: &c.condition,
            token_audience: c.token_audience.as_deref(),
            map_claims: c
                .claim_map
                .iter()
                .map(|m| format!("{}={}", m.from, m.to))
                .collect(),
            created_at: c.created_at,
        }
    }
}

impl Row for CredentialView<'_> {
    fn row(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}",
            self.name, self.issuer, self.profile, self.condition
        )
    }
}
