//! The claims of an access token (RFC 9068 §2.2), with the token-exchange claims of RFC 8693
//! §4 and the authentication claims copied from a subject token.

use serde::{Deserialize, Serialize};

use super::{ClientId, Principal, UserSub};
use crate::clock::UnixTime;

/// The longest any token of an exchange chain may live, counted from the chain's first `iat`:
/// the ceiling of `TOKENMINT_MAX_EXCHANGE_TTL` (and of `TOKENMINT_MAX_TTL`), which no
/// configuration can exceed. A revocation that lasts this long outlasts every token derived
/// from the revoked one, whatever the caps were when they were issued or are now.
pub const MAX_CHAIN_TTL: u64 = 30 * 86_400;

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

impl AccessTokenClaims {
    /// Whom the token speaks for, typed: a client's own client_credentials token (no `act`,
    /// `sub` = `client_id`) speaks for that client; an exchanged token for the kind its chain
    /// records. An exchanged token that records no kind speaks for nobody: no delegation can
    /// rest on it.
    pub fn subject_principal(&self) -> Option<Principal> {
        let kind = match &self.chain {
            Some(c) => c.sub_type?,
            None if self.act.is_none() && self.client_id == self.sub => PrincipalKind::Client,
            None => return None,
        };
        kind.principal(&self.sub)
    }

    /// Every party of the token, typed: its client, its subject and each of its actors.
    pub fn parties(&self) -> Vec<Principal> {
        let mut parties: Vec<Principal> = ClientId::new(&self.client_id)
            .ok()
            .map(Principal::Client)
            .into_iter()
            .collect();
        parties.extend(self.subject_principal());
        parties.extend(self.act.iter().flat_map(|a| a.principals()));
        parties
    }

    /// Until when a revocation of this token must last: as long as the token itself, or any
    /// token derived from it, can live ([`MAX_CHAIN_TTL`] from the chain's first `iat`).
    pub fn descendants_end(&self) -> UnixTime {
        let chain_iat = self.chain.as_ref().map_or(self.iat, |c| c.iat);
        self.exp.max(chain_iat.saturating_add(MAX_CHAIN_TTL))
    }
}

/// Whether a principal a token names is a user or a registered client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    User,
    Client,
}

impl PrincipalKind {
    pub fn of(p: &Principal) -> Self {
        match p {
            Principal::User(_) => Self::User,
            Principal::Client(_) => Self::Client,
        }
    }

    /// `name` as a principal of this kind, if it is a valid one.
    pub fn principal(self, name: &str) -> Option<Principal> {
        match self {
            Self::User => UserSub::new(name).ok().map(Principal::User),
            Self::Client => ClientId::new(name).ok().map(Principal::Client),
        }
    }
}

/// The `act` claim (RFC 8693 §4.1): the current actor, and nested, the actors before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
    /// Set, to `sub`, when the actor is a registered client (RFC 8693 §4.1 lets `act` carry
    /// any claim identifying the actor; §4.3 defines `client_id`); a user actor has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl Actor {
    /// The user `sub` acting, after `before` (the subject token's own `act`, nested per
    /// RFC 8693 §4.1).
    pub fn new(sub: impl Into<String>, before: Option<Actor>) -> Self {
        Self {
            sub: sub.into(),
            client_id: None,
            act: before.map(Box::new),
        }
    }

    /// `who` acting, typed, after `before`.
    pub fn of(who: &Principal, before: Option<Actor>) -> Self {
        match who {
            Principal::Client(id) => Self {
                sub: id.to_string(),
                client_id: Some(id.to_string()),
                act: before.map(Box::new),
            },
            Principal::User(u) => Self::new(u.as_str(), before),
        }
    }

    /// Every actor as a typed principal, the current one first.
    pub fn principals(&self) -> impl Iterator<Item = Principal> + '_ {
        let mut next = Some(self);
        std::iter::from_fn(move || {
            let a = next?;
            next = a.act.as_deref();
            Some(a)
        })
        .filter_map(|a| {
            let kind = match a.client_id.as_deref() {
                Some(id) if id == a.sub => PrincipalKind::Client,
                Some(_) => return None,
                None => PrincipalKind::User,
            };
            kind.principal(&a.sub)
        })
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
    /// Whether `sub` names a user or a client, recorded by the exchange that issued the
    /// token, so a client is never taken for a user of the same name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<PrincipalKind>,
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
