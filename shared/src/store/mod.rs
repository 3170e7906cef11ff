//! Storage ports: one narrow trait per capability, so each endpoint depends on what it uses.
//!
//! Adapters: [`sqlite`] (the embedded default, safe for several processes on one file),
//! `dynamodb` (one table, docs/dynamodb.md; with the `aws` feature) and `memory` (tests only,
//! behind the `test-support` feature). [`cache`] decorates a client store for the hot path, and
//! [`list_cache`] the trusted-issuer and step-up-rule lists.

pub mod blocked;
pub mod cache;
mod codec;
#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod list_cache;
/// Test support: the in-memory store.
#[cfg(any(test, feature = "test-support"))]
pub mod memory;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::UnixTime;
use crate::domain::{
    Client, ClientId, Delegation, KeyRecord, KeyStatus, Principal, RefreshRecord, ScopeRule,
    TrustedIssuer,
};

/// The error a storage failure was caused by, when there is one.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A storage failure. Every variant fails the request closed. The message says what failed;
/// the backend's error, if any, is kept as its [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the item exists, or changed since it was read.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The item to update does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The backend could not be reached or failed; transient as far as callers know.
    #[error("store unavailable: {context}")]
    Unavailable {
        context: String,
        #[source]
        source: Option<Cause>,
    },
    /// Stored data could not be decoded.
    #[error("corrupt stored record: {context}")]
    Corrupt {
        context: String,
        #[source]
        source: Option<Cause>,
    },
}

impl StoreError {
    /// [`StoreError::Unavailable`] with no underlying error.
    pub fn unavailable(context: impl Into<String>) -> Self {
        Self::Unavailable {
            context: context.into(),
            source: None,
        }
    }

    /// [`StoreError::Unavailable`] caused by the backend's `source`.
    pub fn unavailable_by(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        Self::Unavailable {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// [`StoreError::Corrupt`] with no underlying error.
    pub fn corrupt(context: impl Into<String>) -> Self {
        Self::Corrupt {
            context: context.into(),
            source: None,
        }
    }

    /// [`StoreError::Corrupt`] caused by `source` (a decoding error, a value out of range).
    pub fn corrupt_by(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        Self::Corrupt {
            context: context.into(),
            source: Some(source.into()),
        }
    }
}

/// Registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Creates a client; `Conflict` if the id holds a different record. Writing the identical
    /// record again succeeds: that is what a retried write looks like.
    async fn create_client(&self, client: &Client) -> Result<(), StoreError>;
    /// Replaces a client whose stored version is `client.version - 1`; `Conflict` otherwise,
    /// unless the stored record already is `client` (a retried write).
    async fn update_client(&self, client: &Client) -> Result<(), StoreError>;
    /// Deletes client `id` if its stored version is `version`: `Ok(true)` when it was deleted,
    /// `Ok(false)` when there was none (a retried delete), `Conflict` when it changed since it
    /// was read.
    async fn delete_client(&self, id: &ClientId, version: u64) -> Result<bool, StoreError>;
}

/// One step of a key's life, applied only if the stored status is still `expected` (`None`:
/// the key is not stored yet).
#[derive(Debug, Clone)]
pub struct KeyChange {
    pub expected: Option<KeyStatus>,
    pub record: KeyRecord,
}

/// Signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Stores `key` as the active key unless an active key already exists, atomically, so
    /// processes starting together on an empty store agree on one key. Returns the active key.
    async fn init_active_key(&self, key: &KeyRecord) -> Result<KeyRecord, StoreError>;
    /// Applies every change or none (`Conflict` if any key's status is not as expected). A
    /// change that makes a key active also moves the active-key pointer to it.
    async fn transition(&self, changes: &[KeyChange]) -> Result<(), StoreError>;
    /// Deletes the record of `kid` if, and only if, its status is [`KeyStatus::Retired`]:
    /// whether it did. A key in any other status, or none, is left as it is (`false`; an
    /// earlier attempt of the same call may have deleted it). The key may be stored again
    /// later as a new record (`expected: None`).
    async fn remove_retired_key(&self, kid: &str) -> Result<bool, StoreError>;
}

/// Revoked token ids (RFC 7009).
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Denies `jti` until `until`. Idempotent: revoking twice is not an error.
    async fn revoke(&self, jti: &str, until: UnixTime) -> Result<(), StoreError>;
    /// Whether `jti` is denied at `now`. Expiry is checked here, not left to a TTL sweeper.
    async fn is_revoked(&self, jti: &str, now: UnixTime) -> Result<bool, StoreError>;
}

/// Delegations: who may act for whom, within which scopes. The checks that decide security
/// read them consistently, and they are never cached.
#[async_trait]
pub trait DelegationStore: Send + Sync {
    /// Stores `d`, replacing any delegation between the same two principals, whose id then
    /// stops counting. Writing the identical record again succeeds (a retried write).
    async fn put_delegation(&self, d: &Delegation) -> Result<(), StoreError>;
    /// Removes the delegation from `delegator` to `delegate`; returns it, or `None`.
    async fn remove_delegation(
        &self,
        delegator: &Principal,
        delegate: &Principal,
    ) -> Result<Option<Delegation>, StoreError>;
    /// The delegation from `delegator` to `delegate`, live or not.
    async fn delegation(
        &self,
        delegator: &Principal,
        delegate: &Principal,
    ) -> Result<Option<Delegation>, StoreError>;
    /// The delegation with this id, if it still stands.
    async fn delegation_by_id(&self, id: &str) -> Result<Option<Delegation>, StoreError>;
    /// Every delegation `delegator` has granted.
    async fn delegations_from(&self, delegator: &Principal) -> Result<Vec<Delegation>, StoreError>;
    /// Every delegation `delegate` holds.
    async fn delegations_to(&self, delegate: &Principal) -> Result<Vec<Delegation>, StoreError>;
}

/// Trusted external issuers (token exchange, docs/token-exchange.md). Few, and read whole.
#[async_trait]
pub trait IssuerStore: Send + Sync {
    /// Stores `issuer`, replacing the profile with the same `issuer` value.
    async fn put_issuer(&self, issuer: &TrustedIssuer) -> Result<(), StoreError>;
    /// Every trusted issuer, read consistently: one read whatever a token claims. (The
    /// endpoints read it through [`list_cache`].)
    async fn list_issuers(&self) -> Result<Vec<TrustedIssuer>, StoreError>;
    /// Removes the profile of `issuer`; whether there was one.
    async fn remove_issuer(&self, issuer: &str) -> Result<bool, StoreError>;
}

/// Step-up rules: the `acr` values a scope requires. Few, and read whole.
#[async_trait]
pub trait ScopeRuleStore: Send + Sync {
    /// Stores `rule`, replacing the rule for the same scope.
    async fn put_scope_rule(&self, rule: &ScopeRule) -> Result<(), StoreError>;
    /// Every rule, read consistently. (The endpoints read it through [`list_cache`].)
    async fn list_scope_rules(&self) -> Result<Vec<ScopeRule>, StoreError>;
    /// Removes the rule for `scope`; whether there was one.
    async fn remove_scope_rule(&self, scope: &str) -> Result<bool, StoreError>;
}

/// Refresh tokens, by the hash of the token.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Stores a new refresh token; `Conflict` if its hash is taken by a different record.
    async fn put_refresh_token(&self, record: &RefreshRecord) -> Result<(), StoreError>;
    /// The record with this hash, used or not, read consistently.
    async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshRecord>, StoreError>;
    /// Atomically marks the token `used` as used at `now`, replaced by `next`, and stores
    /// `next`, only if `used` exists and is unused: `Conflict` otherwise (a concurrent
    /// redemption won, or it is reuse). A retried call whose first attempt succeeded (the
    /// stored `used` is already replaced by `next.hash`) succeeds.
    async fn rotate_refresh_token(
        &self,
        used: &str,
        now: UnixTime,
        next: &RefreshRecord,
    ) -> Result<(), StoreError>;
}

/// Failed client authentications, counted per (client id, source address) key in fixed windows
/// (see [`crate::throttle`]). Entries expire on their own.
#[async_trait]
pub trait AuthFailureStore: Send + Sync {
    /// Counts one failure under `key`: in the current window if it is still open at `now`,
    /// else in a new one of `window` seconds. Returns the count so far in the window and when
    /// the window closes. Concurrent calls each count.
    async fn add_auth_failure(
        &self,
        key: &str,
        now: UnixTime,
        window: u64,
    ) -> Result<(u32, UnixTime), StoreError>;
}

/// Ids of client assertions already used (`private_key_jwt`, RFC 7523 §3): each is accepted
/// once until it expires.
#[async_trait]
pub trait AssertionIdStore: Send + Sync {
    /// Records `key` as used until `until`; `true` if this is its first use (or its previous
    /// use has expired at `now`). Of concurrent calls with one key, exactly one gets `true`.
    async fn first_use(
        &self,
        key: &str,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError>;
}

/// The stores an [`crate::App`] runs on.
#[derive(Clone)]
pub struct Stores {
    pub clients: Arc<dyn ClientStore>,
    pub keys: Arc<dyn KeyStore>,
    pub revocations: Arc<dyn RevocationStore>,
    pub delegations: Arc<dyn DelegationStore>,
    pub issuers: Arc<dyn IssuerStore>,
    pub scope_rules: Arc<dyn ScopeRuleStore>,
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    pub auth_failures: Arc<dyn AuthFailureStore>,
    pub assertion_ids: Arc<dyn AssertionIdStore>,
}

impl Stores {
    /// Every port served by one adapter.
    pub fn from_one<S>(s: Arc<S>) -> Self
    where
        S: ClientStore
            + KeyStore
            + RevocationStore
            + DelegationStore
            + IssuerStore
            + ScopeRuleStore
            + RefreshTokenStore
            + AuthFailureStore
            + AssertionIdStore
            + 'static,
    {
        Self {
            clients: s.clone(),
            keys: s.clone(),
            revocations: s.clone(),
            delegations: s.clone(),
            issuers: s.clone(),
            scope_rules: s.clone(),
            refresh_tokens: s.clone(),
            auth_failures: s.clone(),
            assertion_ids: s,
        }
    }
}

#[cfg(any(test, feature = "test-support"))]
pub mod contract;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_store_error_keeps_the_backend_error_as_its_source() {
        let e = StoreError::unavailable_by("disk full", std::io::Error::other("ENOSPC"));
        assert_eq!(e.to_string(), "store unavailable: disk full");
        let source = e.source().expect("the backend error is kept");
        assert_eq!(
            source
                .downcast_ref::<std::io::Error>()
                .map(ToString::to_string),
            Some("ENOSPC".to_owned())
        );

        // A record that is not JSON: the message reads as it always has, the parser's
        // error is the source.
        let parser = serde_json::from_str::<u64>("x").unwrap_err().to_string();
        let e = codec::decode::<u64>("x").unwrap_err();
        assert_eq!(e.to_string(), format!("corrupt stored record: {parser}"));
        assert!(e.source().unwrap().is::<serde_json::Error>());

        let e = StoreError::unavailable("injected");
        assert_eq!(e.to_string(), "store unavailable: injected");
        assert!(e.source().is_none());
    }
}
