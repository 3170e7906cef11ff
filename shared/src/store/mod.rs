//! Storage ports: one narrow trait per capability, so each endpoint depends on what it uses.
//!
//! Adapters: [`sqlite`] (the embedded default, safe for several processes on one file) and
//! [`memory`] (unit tests only). [`cache`] decorates a client store for the hot path, and
//! [`list_cache`] the trusted-issuer and step-up-rule lists.

pub mod cache;
#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod list_cache;
pub mod memory;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::domain::{
    Client, ClientId, Delegation, Principal, RefreshRecord, ScopeRule, TrustedIssuer,
};
use crate::jwt::PublicJwk;
use crate::signer::Algorithm;

/// A storage failure. Every variant fails the request closed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the item exists, or changed since it was read.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The item to update does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The backend could not be reached or failed; transient as far as callers know.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored record: {0}")]
    Corrupt(String),
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
}

/// The life of a signing key (RFC 7517 keys published in the JWKS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Published, not yet signing: verifiers learn it before any token carries it.
    Next,
    /// Published and signing. At most one key is active.
    Active,
    /// Published, no longer signing; kept until the tokens it signed have expired.
    Retiring,
    /// Unpublished.
    Retired,
}

impl KeyStatus {
    /// The stored (and serialised) name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }

    pub fn is_published(self) -> bool {
        !matches!(self, Self::Retired)
    }
}

/// Where a key's private half lives. `Debug` never shows private key material.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyMaterial {
    /// A software key, PKCS#8 DER in base64url. Only for the embedded store.
    Local { pkcs8: String },
    /// An asymmetric AWS KMS key; the private half never leaves KMS.
    Kms { key_id: String },
    /// A software key whose PKCS#8 DER is encrypted under the symmetric KMS key
    /// `wrapping_key` (base64url ciphertext), with the encryption context of
    /// [`crate::signer::kms_wrapped`]: only a process allowed `kms:Decrypt` can sign with it.
    KmsWrapped {
        wrapping_key: String,
        ciphertext: String,
    },
}

impl KeyMaterial {
    /// How the private key is protected: `local`, `kms` or `kms-wrapped`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Local { .. } => "local",
            Self::Kms { .. } => "kms",
            Self::KmsWrapped { .. } => "kms-wrapped",
        }
    }

    /// The KMS key that signs with, or wraps, this key.
    pub fn kms_key(&self) -> Option<&str> {
        match self {
            Self::Local { .. } => None,
            Self::Kms { key_id } => Some(key_id),
            Self::KmsWrapped { wrapping_key, .. } => Some(wrapping_key),
        }
    }
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local { .. } => f.write_str("Local { pkcs8: <redacted> }"),
            Self::Kms { key_id } => f.debug_struct("Kms").field("key_id", key_id).finish(),
            Self::KmsWrapped { wrapping_key, .. } => f
                .debug_struct("KmsWrapped")
                .field("wrapping_key", wrapping_key)
                .finish_non_exhaustive(),
        }
    }
}

/// A signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub kid: String,
    pub alg: Algorithm,
    pub status: KeyStatus,
    pub public_jwk: PublicJwk,
    pub material: KeyMaterial,
    pub created_at: UnixTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<UnixTime>,
    /// When the key was published as the next key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<UnixTime>,
    /// When a retiring key may be unpublished: once every token it signed has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_after: Option<UnixTime>,
    /// How long the key stays published after it stops signing, as the configuration had it
    /// when the key began to sign (the longest token lifetime plus the leeway): a cap lowered
    /// later cannot retire it before the tokens it signed under the old cap expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_lag: Option<u64>,
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
