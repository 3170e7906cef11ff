//! Registered clients (RFC 6749 §2).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Audience, ClientSecret, FederatedCredential, Scope, ScopeSet, SecretHash};
use crate::clock::UnixTime;

/// A client identifier: `[A-Za-z0-9._-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a client id is 1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-'")]
pub struct InvalidClientId;

impl ClientId {
    pub fn new(s: &str) -> Result<Self, InvalidClientId> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidClientId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = InvalidClientId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<ClientId> for String {
    fn from(c: ClientId) -> String {
        c.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The grant types tokenmint knows, by their registered `grant_type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GrantType {
    /// RFC 6749 §4.4.
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    /// RFC 8693.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
    /// RFC 6749 §6.
    #[serde(rename = "refresh_token")]
    RefreshToken,
}

impl GrantType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
            Self::RefreshToken => "refresh_token",
        }
    }
}

impl FromStr for GrantType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "client_credentials" => Ok(Self::ClientCredentials),
            "urn:ietf:params:oauth:grant-type:token-exchange" | "token-exchange" => {
                Ok(Self::TokenExchange)
            }
            "refresh_token" => Ok(Self::RefreshToken),
            _ => Err(()),
        }
    }
}

/// One stored secret. During a rotation a client holds two: the new one, and the old one with
/// an expiry at the end of the grace period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretEntry {
    pub hash: SecretHash,
    pub created_at: UnixTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<UnixTime>,
}

impl SecretEntry {
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }
}

/// A registered confidential client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: ClientId,
    pub secrets: Vec<SecretEntry>,
    /// Scopes the client may ever receive.
    pub scopes: ScopeSet,
    /// Scopes granted when a request names none; a subset of `scopes`.
    pub default_scopes: ScopeSet,
    /// Audiences the client may ask for; the first is the default.
    pub audiences: Vec<Audience>,
    /// Access-token lifetime in seconds; the service default when absent. Always capped by the
    /// service maximum at issue time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ttl: Option<u64>,
    pub grants: Vec<GrantType>,
    /// How long after the first token of an exchange chain this client may ask (`expires_in`)
    /// its exchanged tokens to live, past the subject token's own `exp`. None: never past it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_exchange_ttl: Option<u64>,
    /// Public keys for `private_key_jwt` (RFC 7523); such a client has no secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<ClientKeys>,
    /// Platform identities that authenticate as this client (docs/federation.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated: Vec<FederatedCredential>,
    /// May call the introspection endpoint (RFC 7662).
    #[serde(default)]
    pub introspect: bool,
    /// Tokens for this client go through the claims hook (docs/hook.md).
    #[serde(default)]
    pub hook: bool,
    /// Business data the default hook issues as namespaced claims.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<ClientAttribute>,
    #[serde(default)]
    pub disabled: bool,
    pub created_at: UnixTime,
    /// Incremented by every update; updates are conditional on it.
    #[serde(default)]
    pub version: u64,
}

/// Where a `private_key_jwt` client's public keys are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKeys {
    /// A JWK Set document, registered with the client.
    Jwks(String),
    /// The URL of the client's JWK Set (https; http only on loopback), fetched and cached.
    JwksUri(String),
}

/// The longest attribute value accepted.
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 256;

/// A client attribute: `name=value`, optionally issued only when `scope` is granted
/// (`tier=gold@read:reports`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAttribute {
    pub name: String,
    pub value: String,
    /// A scope token (RFC 6749 §3.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAttribute(String);

impl FromStr for ClientAttribute {
    type Err = InvalidAttribute;
    /// Parses `name=value` or `name=value@scope`.
    fn from_str(s: &str) -> Result<Self, InvalidAttribute> {
        let bad = |m: &str| InvalidAttribute(format!("attribute {s:?}: {m}"));
        let (name, rest) = s
            .split_once('=')
            .ok_or_else(|| bad("expected name=value"))?;
        let (value, scope) = match rest.rsplit_once('@') {
            Some((v, sc)) => {
                Scope::new(sc).map_err(|_| bad("the part after the last @ is not a scope"))?;
                (v, Some(sc.to_owned()))
            }
            None => (rest, None),
        };
        let name_ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(bad(
                "a name is 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'",
            ));
        }
        if value.is_empty()
            || value.len() > MAX_ATTRIBUTE_VALUE_BYTES
            || value.chars().any(char::is_control)
        {
            return Err(bad("a value is 1 to 256 bytes without control characters"));
        }
        Ok(Self {
            name: name.to_owned(),
            value: value.to_owned(),
            scope,
        })
    }
}

impl Client {
    /// Checks a presented secret against every live stored secret, in constant time per
    /// comparison and without stopping at the first match.
    pub fn secret_matches(&self, presented: &ClientSecret, now: UnixTime) -> bool {
        self.secrets
            .iter()
            .filter(|s| s.is_live(now))
            .fold(false, |acc, s| s.hash.matches(presented) | acc)
    }

    pub fn default_audience(&self) -> Option<&Audience> {
        self.audiences.first()
    }

    /// Adds `new` and keeps the current secret valid for `grace` more seconds. A secret already
    /// on its way out (from an earlier rotation) ends now, so at most two are ever valid.
    pub fn rotate_secret(&mut self, new: &ClientSecret, now: UnixTime, grace: u64) {
        self.secrets
            .retain(|s| s.expires_at.is_none() && s.is_live(now));
        for s in &mut self.secrets {
            s.expires_at = Some(now.saturating_add(grace));
        }
        self.secrets.retain(|s| s.is_live(now));
        self.secrets.push(SecretEntry {
            hash: new.hash(),
            created_at: now,
            expires_at: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(secret: &ClientSecret) -> Client {
        Client {
            id: ClientId::new("c1").unwrap(),
            secrets: vec![SecretEntry {
                hash: secret.hash(),
                created_at: 0,
                expires_at: None,
            }],
            scopes: ScopeSet::parse("read").unwrap(),
            default_scopes: ScopeSet::parse("read").unwrap(),
            audiences: vec![Audience::new("api").unwrap()],
            token_ttl: None,
            grants: vec![GrantType::ClientCredentials],
            max_exchange_ttl: None,
            keys: None,
            federated: vec![],
            introspect: false,
            hook: false,
            attributes: vec![],
            disabled: false,
            created_at: 0,
            version: 0,
        }
    }

    #[test]
    fn attributes() {
        let a: ClientAttribute = "partner_id=p-17".parse().unwrap();
        assert_eq!(
            (a.name.as_str(), a.value.as_str(), a.scope),
            ("partner_id", "p-17", None)
        );
        let a: ClientAttribute = "tier=gold@read:reports".parse().unwrap();
        assert_eq!(a.scope.as_deref(), Some("read:reports"));
        let a: ClientAttribute = "mail=a@b.example@read".parse().unwrap();
        assert_eq!(a.value, "a@b.example");
        for bad in [
            "novalue",
            "=x",
            "a b=x",
            "a=",
            "a=x@",
            "a=x@bad scope",
            "a=\u{7}",
        ] {
            assert!(bad.parse::<ClientAttribute>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn client_ids() {
        assert!(ClientId::new("build-api.v2_x").is_ok());
        assert!(ClientId::new(&"a".repeat(64)).is_ok());
        for bad in ["", "a b", "a:b", "é", &"a".repeat(65)] {
            assert!(ClientId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rotation_keeps_old_secret_for_the_grace_period_only() {
        let old = ClientSecret::generate();
        let new = ClientSecret::generate();
        let mut c = client(&old);
        c.rotate_secret(&new, 1000, 60);
        assert!(c.secret_matches(&old, 1059));
        assert!(c.secret_matches(&new, 1059));
        assert!(!c.secret_matches(&old, 1060));
        assert!(c.secret_matches(&new, 5000));
        // A second rotation during the grace period ends the oldest secret at once: never
        // more than two valid secrets.
        let newer = ClientSecret::generate();
        c.rotate_secret(&newer, 1010, 3600);
        assert!(!c.secret_matches(&old, 1010));
        assert!(c.secret_matches(&new, 4000));
        assert!(c.secret_matches(&newer, 4000));
        assert_eq!(c.secrets.len(), 2);
        // Zero grace revokes at once.
        let newest = ClientSecret::generate();
        c.rotate_secret(&newest, 1020, 0);
        assert!(!c.secret_matches(&new, 1020));
        assert!(!c.secret_matches(&newer, 1020));
        assert!(c.secret_matches(&newest, 1020));
        assert_eq!(c.secrets.len(), 1);
    }

    #[test]
    fn grant_names() {
        for g in [
            GrantType::ClientCredentials,
            GrantType::TokenExchange,
            GrantType::RefreshToken,
        ] {
            assert_eq!(g.as_str().parse::<GrantType>(), Ok(g));
            let json = serde_json::to_string(&g).unwrap();
            assert_eq!(json, format!("\"{}\"", g.as_str()));
        }
        assert!("password".parse::<GrantType>().is_err());
    }
}
