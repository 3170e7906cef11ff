//! The claims of an access token (RFC 9068 §2.2), with the token-exchange claims of RFC 8693
//! §4 and the authentication claims copied from a subject token.

use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;

/// Claims of a tokenmint access token, in the JWT profile of RFC 9068.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The resource owner; for client_credentials, the client id (RFC 9068 §2.2).
    pub sub: String,
    /// One audience: a resource indicator or logical name the client was registered for.
    pub aud: String,
    pub exp: UnixTime,
    pub iat: UnixTime,
    pub nbf: UnixTime,
    /// Unique per token; the handle for revocation.
    pub jti: String,
    pub client_id: String,
    /// Space-separated granted scopes; present even when empty is not useful, so omitted then.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// The acting party (RFC 8693 §4.1), computed by tokenmint only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// Ids of the delegations the token was issued on; introspection re-checks each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dlg: Vec<String>,
    /// Where an exchanged token comes from: its ancestors, for revocation down the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
    /// Authentication context class of the subject's login (OIDC Core §2), copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Authentication methods of the subject's login (RFC 8176), copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// When the subject logged in (OIDC Core §2), copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<UnixTime>,
    /// Claims added by the claims hook or mapped from an upstream issuer, under their full
    /// names (docs/hook.md, docs/token-exchange.md).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The `act` claim (RFC 8693 §4.1): the current actor, and nested, the actors before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl Actor {
    /// `sub` acting, after `before` (the subject token's own `act`, nested per RFC 8693 §4.1).
    pub fn new(sub: impl Into<String>, before: Option<Actor>) -> Self {
        Self {
            sub: sub.into(),
            act: before.map(Box::new),
        }
    }

    /// How many actors, this one included.
    pub fn depth(&self) -> usize {
        1 + self.act.as_ref().map_or(0, |a| a.depth())
    }

    /// Every actor's `sub`, the current one first.
    pub fn subjects(&self) -> impl Iterator<Item = &str> {
        let mut next = Some(self);
        std::iter::from_fn(move || {
            let a = next?;
            next = a.act.as_deref();
            Some(a.sub.as_str())
        })
    }
}

/// The ancestry of an exchanged token (docs/token-exchange.md): revoking any token named in
/// `jti` deactivates this one, and no token of the chain may live past `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    /// `iat` of the chain's first token (the one the first exchange started from).
    pub iat: UnixTime,
    /// The latest `exp` any token of the chain may have.
    pub until: UnixTime,
    /// Ids of the tokenmint-issued ancestors and refresh-token families, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jti: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_nest() {
        let a = Actor::new("build-api", Some(Actor::new("gateway", None)));
        assert_eq!(a.depth(), 2);
        assert_eq!(a.subjects().collect::<Vec<_>>(), ["build-api", "gateway"]);
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"sub": "build-api", "act": {"sub": "gateway"}})
        );
    }
}
