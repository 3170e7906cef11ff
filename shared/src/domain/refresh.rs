//! Refresh tokens (RFC 6749 §6) as stored: only a hash of the token, the claims the next
//! access token repeats, and the family it belongs to (RFC 9700 §4.14).

use serde::{Deserialize, Serialize};

use super::{AccessTokenClaims, ClientId, Scope};
use crate::clock::UnixTime;

/// One refresh token. A family is the line of tokens rotated from one issuance; reusing any
/// used member revokes the family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// base64url SHA-256 of the token; the token itself is never stored.
    pub hash: String,
    /// The family's id; access tokens of the family carry it in their chain.
    pub family: String,
    pub client_id: ClientId,
    /// The claims of the access token issued with this refresh token; the next one repeats
    /// them with a new `jti`, `iat` and `exp`, and at most this scope.
    pub claims: AccessTokenClaims,
    pub created_at: UnixTime,
    /// The family's absolute end: never extended by rotation.
    pub expires_at: UnixTime,
    /// Unused for this long after its issuance, the token lapses.
    pub idle_expires_at: UnixTime,
    /// When it was redeemed; a redeemed token presented again is reuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<UnixTime>,
    /// The trusted external issuer the chain started from, if any: removing that issuer ends
    /// the family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_issuer: Option<String>,
    /// The hash of the token it was rotated into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

impl RefreshRecord {
    /// Whether it may still be redeemed at `now` (used or not: reuse is decided apart).
    pub fn is_live(&self, now: UnixTime) -> bool {
        now < self.expires_at && now < self.idle_expires_at
    }
}

/// A step-up rule (docs/token-exchange.md): a scope is granted on an exchange only when the
/// subject's login has one of these `acr` values. `acr` values have no order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeRule {
    pub scope: Scope,
    pub acr: Vec<String>,
    pub updated_at: UnixTime,
}
