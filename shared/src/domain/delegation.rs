//! Delegations: an account holder (the delegator) lets someone else (the delegate) act for
//! them, within scopes and until an optional expiry.

use serde::{Deserialize, Serialize};

use super::{Principal, ScopeSet};
use crate::clock::UnixTime;

/// One delegation. There is at most one per (delegator, delegate) pair; granting again
/// replaces it under a new id, so tokens issued under the old one stop being active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    /// Random, unique; carried by every token issued on the strength of this delegation.
    pub id: String,
    /// The account holder, e.g. `user:minor-7` or `user:alice`.
    pub delegator: Principal,
    /// Who may act for the delegator, e.g. `user:guardian-3` or `client:build-api`.
    pub delegate: Principal,
    /// The most a delegate's token may carry when acting for the delegator.
    pub scopes: ScopeSet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<UnixTime>,
    /// Who granted it (an operator name, or `cli`).
    pub created_by: String,
    pub created_at: UnixTime,
}

impl Delegation {
    /// Live: not expired at `now`. (Stored records may outlive their expiry until a TTL
    /// sweep; the check is always made here.)
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }

    /// Whether every scope in `wanted` is delegated.
    pub fn allows(&self, wanted: &ScopeSet) -> bool {
        wanted.difference(&self.scopes).next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_and_scopes() {
        let d = Delegation {
            id: "d1".into(),
            delegator: "user:alice".parse().unwrap(),
            delegate: "client:build-api".parse().unwrap(),
            scopes: ScopeSet::parse("read:builds update:builds").unwrap(),
            expires_at: Some(100),
            created_by: "cli".into(),
            created_at: 0,
        };
        assert!(d.is_live(99));
        assert!(!d.is_live(100));
        assert!(d.allows(&ScopeSet::parse("update:builds").unwrap()));
        assert!(d.allows(&ScopeSet::parse("").unwrap()));
        assert!(!d.allows(&ScopeSet::parse("update:builds admin").unwrap()));
    }
}
