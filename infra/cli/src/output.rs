//! What commands print on standard output: pretty JSON with `--json`, otherwise one line per
//! item. The views show what an operator may see of a record, never a secret or its hash,
//! nor private key material.

use serde::Serialize;
use tokenmint::domain::KeyRecord;
use tokenmint::domain::{
    Client, ClientAttribute, ClientKeys, Delegation, ScopeRule, TrustedIssuer,
};

use crate::error::Result;

/// One line of a command's table output.
pub trait Row {
    fn row(&self) -> String;
}

pub fn print_json<T: Serialize + ?Sized>(v: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(v)?;
    println!("{s}");
    Ok(())
}

/// `item` as JSON, or its line.
pub fn print_one<T: Serialize + Row>(item: &T, json: bool) -> Result<()> {
    if json {
        return print_json(item);
    }
    println!("{}", item.row());
    Ok(())
}

/// `items` as a JSON array, or one line each.
pub fn print_list<T: Serialize + Row>(items: &[T], json: bool) -> Result<()> {
    if json {
        return print_json(items);
    }
    for i in items {
        println!("{}", i.row());
    }
    Ok(())
}

/// A secret shown once: on standard output, with a reminder on standard error that it cannot
/// be shown again.
pub fn print_secret(id: &str, secret: &str, json: bool) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({"client_id": id, "client_secret": secret}));
    }
    println!("client_id:     {id}");
    println!("client_secret: {secret}");
    eprintln!("store the secret now: tokenmint keeps only its hash and cannot show it again");
    Ok(())
}

/// What `client show/list` print: everything but secret hashes.
#[derive(Serialize)]
pub struct ClientView<'a> {
    client_id: &'a str,
    scope: String,
    default_scope: String,
    audiences: Vec<&'a str>,
    token_ttl: Option<u64>,
    grants: Vec<&'static str>,
    token_endpoint_auth_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<&'a str>,
    /// The names of its federated credentials (`client federations` shows them in full).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    federated_credentials: Vec<&'a str>,
    introspect: bool,
    hook: bool,
    attributes: &'a [ClientAttribute],
    disabled: bool,
    created_at: u64,
    secrets: Vec<SecretView>,
}

/// When a client's secret was made and stops being accepted.
#[derive(Serialize)]
pub struct SecretView {
    created_at: u64,
    expires_at: Option<u64>,
}

impl<'a> From<&'a Client> for ClientView<'a> {
    fn from(c: &'a Client) -> Self {
        Self {
            client_id: c.id.as_str(),
            scope: c.scopes.to_string(),
            default_scope: c.default_scopes.to_string(),
            audiences: c.audiences.iter().map(|a| a.as_str()).collect(),
            token_ttl: c.token_ttl,
            grants: c.grants.iter().map(|g| g.as_str()).collect(),
            token_endpoint_auth_method: if c.keys.is_some()
                || (c.secrets.is_empty() && !c.federated.is_empty())
            {
                "private_key_jwt"
            } else {
                "client_secret_basic"
            },
            federated_credentials: c.federated.iter().map(|f| f.name.as_str()).collect(),
            jwks_uri: match &c.keys {
                Some(ClientKeys::JwksUri(u)) => Some(u),
                _ => None,
            },
            introspect: c.introspect,
            hook: c.hook,
            attributes: &c.attributes,
            disabled: c.disabled,
            created_at: c.created_at,
            secrets: c
                .secrets
                .iter()
                .map(|s| SecretView {
                    created_at: s.created_at,
                    expires_at: s.expires_at,
                })
                .collect(),
        }
    }
}

impl Row for ClientView<'_> {
    fn row(&self) -> String {
        let status = if self.disabled { "disabled" } else { "active" };
        format!(
            "{}\t{status}\t{}\t{}",
            self.client_id,
            self.scope,
            self.audiences.join(",")
        )
    }
}

/// What `keys list` shows of a key.
#[derive(Serialize)]
pub struct KeyView<'a> {
    kid: &'a str,
    alg: &'static str,
    status: &'static str,
    /// `local`, `kms` or `kms-wrapped`.
    protection: &'static str,
    kms_key: Option<&'a str>,
    created_at: u64,
    published_at: Option<u64>,
    activated_at: Option<u64>,
    retire_after: Option<u64>,
}

impl<'a> From<&'a KeyRecord> for KeyView<'a> {
    fn from(k: &'a KeyRecord) -> Self {
        Self {
            kid: &k.kid,
            alg: k.alg.as_str(),
            status: k.status.as_str(),
            protection: k.material.kind(),
            kms_key: k.material.kms_key(),
            created_at: k.created_at,
            published_at: k.published_at,
            activated_at: k.activated_at,
            retire_after: k.retire_after,
        }
    }
}

impl Row for KeyView<'_> {
    fn row(&self) -> String {
        format!("{}\t{}\t{}", self.kid, self.alg, self.status)
    }
}

/// What `delegation list` and `delegation grant --json` print.
#[derive(Serialize)]
pub struct DelegationView<'a> {
    id: &'a str,
    delegator: String,
    delegate: String,
    scope: String,
    expires_at: Option<u64>,
    created_by: &'a str,
    created_at: u64,
    /// Shown in the table only: the JSON has `expires_at` to judge by.
    #[serde(skip)]
    live: bool,
}

impl<'a> DelegationView<'a> {
    /// `d` as seen at `now`.
    pub fn new(d: &'a Delegation, now: u64) -> Self {
        Self {
            id: &d.id,
            delegator: d.delegator.to_string(),
            delegate: d.delegate.to_string(),
            scope: d.scopes.to_string(),
            expires_at: d.expires_at,
            created_by: &d.created_by,
            created_at: d.created_at,
            live: d.is_live(now),
        }
    }
}

impl Row for DelegationView<'_> {
    fn row(&self) -> String {
        let live = if self.live { "live" } else { "expired" };
        format!(
            "{}\t{}\t{}\t{}\t{live}",
            self.id, self.delegator, self.delegate, self.scope
        )
    }
}

impl Row for TrustedIssuer {
    fn row(&self) -> String {
        format!(
            "{}  jwks={}  typ={}  prefix={}  max_scope={}  id_tokens={}",
            self.issuer,
            self.jwks_uri,
            self.typ,
            self.subject_prefix.as_deref().unwrap_or("-"),
            self.max_scope
                .as_ref()
                .map_or("-".into(), |s| s.to_string()),
            if self.id_tokens { "yes" } else { "no" },
        )
    }
}

impl Row for ScopeRule {
    fn row(&self) -> String {
        format!("{}  acr={}", self.scope.as_str(), self.acr.join(" "))
    }
}
