//! The configuration file `tokenmint apply` reads and `tokenmint export` writes: clients,
//! trusted issuers and step-up rules, with the fields and the spelling of the CLI flags. Every
//! section is optional; an unknown field is an error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Client, ClientKeys, FederatedCredential, ScopeRule, TrustedIssuer};

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuers: Vec<IssuerEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<ScopeEntry>,
}

/// A client (`tokenmint client create`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    pub id: String,
    /// Space-separated.
    pub scope: String,
    /// All of `scope` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scope: Option<String>,
    pub audience: Vec<String>,
    /// `client_credentials` alone when omitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<String>,
    /// A duration: `90s`, `15m`, `1h`, `1d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_exchange_ttl: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub introspect: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hook: bool,
    /// `name: value`, or `name: value@scope` (docs/hook.md).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// The client's public keys (`private_key_jwt`): a JWK Set inline, its https URL, or (in
    /// the file the CLI reads) a path relative to the file. Such a client has no secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Jwks>,
    /// Federated credentials (docs/federation.md). A client with one needs no secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated: Vec<CredentialEntry>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

/// Where a client's keys are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Jwks {
    /// An https URL (or, before the CLI reads it, a file path).
    Location(String),
    /// A JWK Set.
    Inline(serde_json::Value),
}

/// A federated credential (`tokenmint client federate`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialEntry {
    pub name: String,
    pub issuer: String,
    pub condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_audience: Option<String>,
    /// `from=to`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map_claims: Vec<String>,
}

/// A trusted issuer (`tokenmint issuer add`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerEntry {
    pub issuer: String,
    pub jwks_uri: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// `at+jwt` when omitted, `JWT` or `any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// `scope` when omitted, or `scp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_scope: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub id_tokens: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_prefix: Option<String>,
    /// `from=to`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map_claims: Vec<String>,
}

/// A step-up rule (`tokenmint scope set`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeEntry {
    pub scope: String,
    pub acr: Vec<String>,
}

impl ClientEntry {
    /// The entry that declares `c` (never its secrets).
    pub fn of(c: &Client) -> Self {
        let scope = c.scopes.to_string();
        let default_scope = Some(c.default_scopes.to_string()).filter(|d| *d != scope);
        let jwks = c.keys.as_ref().map(|k| match k {
            ClientKeys::JwksUri(uri) => Jwks::Location(uri.clone()),
            // Stored sets were parsed when they were registered: JSON.
            ClientKeys::Jwks(doc) => {
                Jwks::Inline(serde_json::from_str(doc).unwrap_or_else(|_| doc.clone().into()))
            }
        });
        let attributes = c
            .attributes
            .iter()
            .map(|a| {
                let value = match &a.scope {
                    Some(sc) => format!("{}@{sc}", a.value),
                    None => a.value.clone(),
                };
                (a.name.clone(), value)
            })
            .collect();
        Self {
            id: c.id.to_string(),
            scope,
            default_scope,
            audience: c.audiences.iter().map(|a| a.as_str().to_owned()).collect(),
            grants: grant_names(c),
            ttl: c.token_ttl.map(duration_text),
            max_exchange_ttl: c.max_exchange_ttl.map(duration_text),
            introspect: c.introspect,
            hook: c.hook,
            attributes,
            jwks,
            federated: c.federated.iter().map(CredentialEntry::of).collect(),
            disabled: c.disabled,
        }
    }
}

/// The grants as the file spells them; none when the client has the default alone.
fn grant_names(c: &Client) -> Vec<String> {
    use crate::domain::GrantType;
    if c.grants == [GrantType::ClientCredentials] {
        return vec![];
    }
    c.grants
        .iter()
        .map(|g| match g {
            GrantType::TokenExchange => "token-exchange".to_owned(),
            other => other.as_str().to_owned(),
        })
        .collect()
}

impl CredentialEntry {
    pub fn of(f: &FederatedCredential) -> Self {
        Self {
            name: f.name.clone(),
            issuer: f.issuer.clone(),
            condition: f.condition.clone(),
            profile: Some(f.profile.to_string()),
            token_audience: f.token_audience.clone(),
            map_claims: f
                .claim_map
                .iter()
                .map(|m| format!("{}={}", m.from, m.to))
                .collect(),
        }
    }
}

impl IssuerEntry {
    pub fn of(i: &TrustedIssuer) -> Self {
        Self {
            issuer: i.issuer.clone(),
            jwks_uri: i.jwks_uri.clone(),
            audience: i.audiences.clone(),
            typ: Some(i.typ)
                .filter(|t| *t != Default::default())
                .map(|t| t.to_string()),
            scope_claim: match i.scope_claim {
                crate::domain::ScopeClaim::Scope => None,
                crate::domain::ScopeClaim::Scp => Some("scp".to_owned()),
            },
            max_scope: i.max_scope.as_ref().map(ToString::to_string),
            id_tokens: i.id_tokens,
            subject_prefix: i.subject_prefix.clone(),
            map_claims: i
                .claim_map
                .iter()
                .map(|m| format!("{}={}", m.from, m.to))
                .collect(),
        }
    }
}

impl ScopeEntry {
    pub fn of(r: &ScopeRule) -> Self {
        Self {
            scope: r.scope.as_str().to_owned(),
            acr: r.acr.clone(),
        }
    }
}

/// Seconds in the largest unit that divides them: `1d`, `36h`, `15m`, `90s`.
pub fn duration_text(secs: u64) -> String {
    match secs {
        0 => "0s".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
