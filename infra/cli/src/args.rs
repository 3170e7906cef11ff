//! The command line: every command, subcommand and flag, as clap parses them. Nothing here
//! runs a command; [`crate::commands`] does.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokenmint::config::parse_duration;

#[derive(Parser)]
#[command(
    name = "tokenmint",
    version,
    about = "A self-hosted OAuth 2.0 token issuer"
)]
pub struct Args {
    /// Directory of the embedded store (ignored when TOKENMINT_STORE names one).
    #[arg(
        long,
        global = true,
        env = "TOKENMINT_DATA",
        default_value = ".tokenmint"
    )]
    pub data: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every endpoint on one local HTTP server over the embedded store.
    Serve(ServeArgs),
    /// Register and manage clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Inspect tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Set up the store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Signing keys: list them, rotate by hand.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Delegations: let a user or client act for another, within scopes.
    #[command(subcommand)]
    Delegation(DelegationCommand),
    /// Trusted external issuers, whose tokens token exchange accepts.
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// Step-up rules: the acr values a scope requires.
    #[command(subcommand)]
    Scope(ScopeCommand),
    /// Make the store match a YAML (or JSON) file of clients, trusted issuers and step-up
    /// rules: print the plan, then write it (docs/operations.md).
    Apply(ApplyArgs),
    /// Print the store's clients, trusted issuers and step-up rules as a file for `apply`
    /// (never a secret).
    Export,
}

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// The file: `clients`, `issuers` and `scopes`, each optional.
    pub file: PathBuf,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete the clients, issuers and step-up rules the file does not declare.
    #[arg(long)]
    pub prune: bool,
    /// Where the secrets of new secret clients are written (a new file, mode 0600: a JSON
    /// object of client id to secret). Without it, apply creates no secret client.
    #[arg(long, value_name = "PATH")]
    pub secrets_out: Option<PathBuf>,
}

// No doc comments on the argument structs: clap would take them as the command's about
// text in place of the variant's.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Issuer URL; defaults to http://ADDR.
    #[arg(long, env = "TOKENMINT_ISSUER")]
    pub issuer: Option<String>,
    /// Create (or re-key) a client named "demo" and print a curl command that gets a token.
    #[arg(long)]
    pub demo: bool,
    /// The claims hook: default (in process), a webhook's https URL (needs --hook-secret)
    /// or lambda:FUNCTION_ARN.
    // Only a webhook has a secret, and the configuration checks that, as it does for the
    // Lambda functions: clap must not demand one for every hook.
    #[arg(long, env = "TOKENMINT_HOOK")]
    pub hook: Option<String>,
    /// The webhook's HMAC secret (docs/hook.md).
    #[arg(long, env = "TOKENMINT_HOOK_SECRET", hide_env_values = true)]
    pub hook_secret: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics, on a listener of their own
    /// (docs/operations.md). Off by default.
    #[arg(long, env = "TOKENMINT_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a client and print its secret, once.
    Create(CreateClientArgs),
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client (never its secrets).
    Show { id: String },
    /// Issue a new secret; the current one stays valid for the grace period.
    RotateSecret {
        id: String,
        /// How long the current secret stays valid, e.g. 24h or 0s.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        grace: u64,
        #[arg(long)]
        json: bool,
    },
    /// Disable a client: it can no longer authenticate.
    Disable { id: String },
    /// Let a platform's OIDC tokens (GitHub Actions, GitLab CI, Kubernetes, AWS) authenticate
    /// as this client when they satisfy a CEL condition (docs/federation.md).
    Federate(FederateArgs),
    /// List a client's federated credentials.
    Federations {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove one of a client's federated credentials.
    Unfederate {
        id: String,
        /// The credential's name (see `client federations`).
        name: String,
    },
    /// Check a platform token against a client's federated credentials as the token endpoint
    /// would, and print every check; exits 0 if it would authenticate, 1 if not.
    Explain {
        id: String,
        /// The platform token, or - to read it from standard input.
        #[arg(long)]
        token: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Clone, Default)]
pub struct CredentialArgs {
    /// A CEL expression over the platform token's claims, e.g.
    /// 'claims.repository_id == "123456" && claims.ref == "refs/heads/main"'.
    #[arg(long)]
    pub condition: Option<String>,
    /// github-actions, gitlab-ci, kubernetes or generic (inferred for the public GitHub and
    /// GitLab issuers, else generic).
    #[arg(long)]
    pub profile: Option<String>,
    /// The aud the platform's tokens carry (default: tokenmint's issuer identifier).
    #[arg(long)]
    pub token_audience: Option<String>,
    /// Copy a platform claim into issued tokens, under the claims namespace: from=to
    /// (repeatable).
    #[arg(long = "map-claim")]
    pub map_claims: Vec<String>,
}

#[derive(clap::Args)]
pub struct FederateArgs {
    pub id: String,
    /// The platform's OIDC issuer, exactly as its tokens' iss.
    #[arg(long)]
    pub issuer: String,
    /// A name for the credential (default: the profile's name).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub credential: CredentialArgs,
}

#[derive(clap::Args)]
pub struct CreateClientArgs {
    #[arg(long)]
    pub id: String,
    /// Space-separated scopes the client may receive.
    #[arg(long)]
    pub scope: String,
    /// Scopes granted when a request names none (default: all of --scope).
    #[arg(long)]
    pub default_scope: Option<String>,
    /// An audience the client may ask for (repeatable); the first is the default.
    #[arg(long = "audience", required = true)]
    pub audiences: Vec<String>,
    /// Access-token lifetime, e.g. 15m or 1h (default: the service default).
    #[arg(long, value_parser = parse_duration)]
    pub ttl: Option<u64>,
    /// Allow this client to call the introspection endpoint.
    #[arg(long)]
    pub introspect: bool,
    /// Send this client's tokens through the claims hook (docs/hook.md).
    #[arg(long)]
    pub hook: bool,
    /// A business attribute the default hook issues as a claim: name=value, or
    /// name=value@scope to issue it only with that scope (repeatable).
    #[arg(long = "attr")]
    pub attributes: Vec<String>,
    /// A grant the client may use: client_credentials, token-exchange, refresh_token
    /// (repeatable; default: client_credentials only).
    #[arg(long = "grant")]
    pub grants: Vec<String>,
    /// How long exchanged tokens may be asked (expires_in) to live, from the first token
    /// of their chain, e.g. 48h (docs/token-exchange.md).
    #[arg(long, value_parser = parse_duration)]
    pub max_exchange_ttl: Option<u64>,
    /// Authenticate with private_key_jwt instead of a secret: a JWK Set file, or its
    /// https URL. No secret is made.
    #[arg(long)]
    pub jwks: Option<String>,
    /// Authenticate with this platform's OIDC tokens instead of a secret (needs --condition;
    /// docs/federation.md). No secret is made.
    #[arg(long, requires = "condition")]
    pub federated_issuer: Option<String>,
    /// The federated credential's name (default: the profile's name).
    #[arg(long, requires = "federated_issuer")]
    pub credential_name: Option<String>,
    #[command(flatten)]
    pub credential: CredentialArgs,
    /// Print {"client_id": ..., "client_secret": ...} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Print a token's header and claims; with --jwks, also verify its signature.
    Decode {
        /// The token, or - to read it from standard input.
        token: String,
        /// A JWKS URL (http or https) or file to verify against.
        #[arg(long)]
        jwks: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Create the DynamoDB table named by TOKENMINT_STORE=dynamodb:TABLE, with exactly the
    /// schema template.yaml declares (for moto, DynamoDB Local, or deployments without SAM).
    Init,
    /// Print the DynamoDB table definition as CloudFormation properties (JSON).
    Schema,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List signing keys and their state (never private material).
    List {
        #[arg(long)]
        json: bool,
    },
    /// One rotation step now: publish a next key (even if the active one is not due), or
    /// promote a next key published long enough ago, and retire keys whose tokens expired.
    Rotate,
}

#[derive(Subcommand)]
pub enum DelegationCommand {
    /// Let DELEGATE act for DELEGATOR within the given scopes. Granting again replaces the
    /// delegation: tokens issued under the old one stop being active.
    Grant(GrantArgs),
    /// Remove a delegation: tokens issued on it are inactive at once.
    Revoke {
        #[arg(long)]
        delegator: String,
        #[arg(long)]
        delegate: String,
    },
    /// List the delegations a delegate holds, or a delegator granted.
    List {
        #[arg(
            long,
            conflicts_with = "delegator",
            required_unless_present = "delegator"
        )]
        delegate: Option<String>,
        #[arg(long)]
        delegator: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
pub struct GrantArgs {
    /// The account holder: user:<sub> (a bare value means user:) or client:<id>.
    #[arg(long)]
    pub delegator: String,
    /// Who may act: user:<sub> or client:<id>.
    #[arg(long)]
    pub delegate: String,
    /// Space-separated scopes the delegate's tokens may carry when acting.
    #[arg(long)]
    pub scope: String,
    /// When it ends, RFC 3339 (e.g. 2027-01-01T00:00:00Z); default: until revoked.
    #[arg(long)]
    pub expires: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum IssuerCommand {
    /// Trust an external issuer's tokens as subject tokens (adding it again replaces it).
    Add(AddIssuerArgs),
    /// List trusted issuers.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting an issuer.
    Remove { issuer: String },
}

#[derive(clap::Args)]
pub struct AddIssuerArgs {
    /// The exact `iss` value of its tokens.
    #[arg(long)]
    pub issuer: String,
    /// Where it publishes its signing keys (https; http only on loopback).
    #[arg(long)]
    pub jwks_uri: String,
    /// Its tokens must be addressed (aud) to one of these (repeatable).
    #[arg(long = "audience")]
    pub audiences: Vec<String>,
    /// Accepted JOSE typ: at+jwt (default), JWT (or none) or any.
    #[arg(long)]
    pub typ: Option<String>,
    /// The claim holding scopes: scope (space-separated, default) or scp (array).
    #[arg(long)]
    pub scope_claim: Option<String>,
    /// The most its tokens are granted; scope-less ID tokens (with --id-tokens) get
    /// exactly this.
    #[arg(long)]
    pub max_scope: Option<String>,
    /// Accept its ID tokens: a token without a scope claim, not typed at+jwt, is granted
    /// --max-scope (needed). Without it a scope-less token is granted nothing.
    #[arg(long)]
    pub id_tokens: bool,
    /// Put before its subjects (required once two issuers are trusted), e.g. "auth0|".
    #[arg(long)]
    pub subject_prefix: Option<String>,
    /// Copy an upstream claim, renamed, under the claims namespace: from=to (repeatable).
    #[arg(long = "map-claim")]
    pub map_claims: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum ScopeCommand {
    /// Require one of these acr values of the user's login for SCOPE on token exchange
    /// (no --acr: remove the rule).
    Set {
        scope: String,
        #[arg(long = "acr")]
        acr: Vec<String>,
    },
    /// List step-up rules.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Args;

    /// clap's own consistency checks (conflicting names, bad defaults), which it otherwise
    /// runs only when a command is parsed.
    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }
}
