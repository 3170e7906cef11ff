//! The claims of an access token (RFC 9068 §2.2).

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
    /// Ids of the delegations the token was issued on; introspection re-checks each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dlg: Vec<String>,
    /// Claims added by the claims hook, under their full names (docs/hook.md).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}
