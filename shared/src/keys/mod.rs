//! The key ring: the active signer and the published verification keys, read from the store
//! and cached for at most `ttl` seconds so warm processes follow a rotation.
//!
//! A token's `kid` is only ever a lookup into this in-memory map of keys we published. An
//! unknown `kid` may trigger a re-read of our own key list, at most once per
//! [`UNKNOWN_KID_REFRESH_SECS`], and the `kid` itself never reaches the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use crate::clock::{Clock, UnixTime};
use crate::domain::Jwks;
use crate::domain::{KeyRecord, KeyStatus};
use crate::jwt::{VerifyingKey, mint};
use crate::signer::{SignError, Signer, SignerFactory};
use crate::store::{KeyStore, StoreError};

mod policy;

pub use policy::KeyPolicy;

/// Minimum seconds between re-reads triggered by unknown key ids.
pub const UNKNOWN_KID_REFRESH_SECS: u64 = 5;
/// How long past its expiry the last good ring keeps serving while the registry cannot be
/// read (a DynamoDB brownout longer than the SDK's retries), never past the retirement of a
/// key in it. Rotation publishes keys two hours ahead, so a ring ten minutes old holds every
/// key that signs.
pub const STALE_GRACE_SECS: u64 = 600;
/// While serving a stale ring, the registry is tried again at most this often, so requests
/// do not each wait for a failing read.
pub const STALE_RETRY_SECS: u64 = 5;

/// The key that signs new tokens, with its encoded JWS header.
#[derive(Clone)]
pub struct ActiveKey {
    pub signer: Arc<dyn Signer>,
    pub encoded_header: Arc<str>,
}

/// What a published key's record says about the tokens it can have signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLimits {
    /// When it last began to sign: a token of ours it verifies was issued after.
    pub activated_at: Option<UnixTime>,
    /// The longest token lifetime plus the leeway when it began to sign.
    pub retire_lag: Option<u64>,
}

struct Snapshot {
    loaded_at: UnixTime,
    limits: HashMap<String, KeyLimits>,
    active: Option<ActiveKey>,
    /// Why the stored active record may not sign here, when it may not.
    refused: Option<String>,
    /// The earliest `retire_after` of the retiring keys in it: a stale ring never serves
    /// past it.
    first_retirement: Option<UnixTime>,
    verifying: HashMap<String, Arc<VerifyingKey>>,
    jwks: Bytes,
}

/// Why no key could be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Signer(#[from] SignError),
    #[error("no active signing key")]
    NoActiveKey,
    /// The stored active record is not one this deployment signs with: a permanent state,
    /// not an outage.
    #[error("the active signing key is refused: {0}")]
    Refused(String),
}

pub struct KeyRing {
    store: Arc<dyn KeyStore>,
    /// `None` in a process that only verifies: it never builds a signer, so it never holds
    /// (or decrypts) a private key.
    factory: Option<Arc<dyn SignerFactory>>,
    policy: KeyPolicy,
    clock: Arc<dyn Clock>,
    ttl: u64,
    snapshot: RwLock<Arc<Snapshot>>,
    refresh: tokio::sync::Mutex<()>,
    last_unknown_refresh: AtomicU64,
    last_failed_reload: AtomicU64,
}

impl KeyRing {
    /// Loads the keys once; fails if the store cannot be read or a key cannot be loaded.
    /// Without a `factory` the ring only verifies.
    pub async fn load(
        store: Arc<dyn KeyStore>,
        factory: Option<Arc<dyn SignerFactory>>,
        policy: KeyPolicy,
        clock: Arc<dyn Clock>,
        ttl: u64,
    ) -> Result<Self, KeyError> {
        let records = store.list_keys().await?;
        Self::from_records(store, factory, policy, clock, ttl, records)
    }

    /// [`KeyRing::load`] from records just read (one key-registry read per cold start).
    pub fn from_records(
        store: Arc<dyn KeyStore>,
        factory: Option<Arc<dyn SignerFactory>>,
        policy: KeyPolicy,
        clock: Arc<dyn Clock>,
        ttl: u64,
        records: Vec<KeyRecord>,
    ) -> Result<Self, KeyError> {
        let empty = Arc::new(Snapshot {
            loaded_at: 0,
            active: None,
            refused: None,
            first_retirement: None,
            limits: HashMap::new(),
            verifying: HashMap::new(),
            jwks: Bytes::new(),
        });
        let ring = Self {
            store,
            factory,
            policy,
            clock,
            ttl,
            snapshot: RwLock::new(empty),
            refresh: tokio::sync::Mutex::new(()),
            last_unknown_refresh: AtomicU64::new(0),
            last_failed_reload: AtomicU64::new(0),
        };
        let now = ring.clock.now();
        let snap = ring.snapshot_of(&records, &ring.current(), now)?;
        ring.install(snap);
        Ok(ring)
    }

    /// The key that signs new tokens.
    pub async fn active(&self) -> Result<ActiveKey, KeyError> {
        let snap = self.fresh().await?;
        if let Some(why) = &snap.refused {
            return Err(KeyError::Refused(why.clone()));
        }
        snap.active.clone().ok_or(KeyError::NoActiveKey)
    }

    /// The published key with id `kid`, if we have one.
    pub async fn verifying_key(&self, kid: &str) -> Result<Option<Arc<VerifyingKey>>, KeyError> {
        let snap = self.fresh().await?;
        if let Some(k) = snap.verifying.get(kid) {
            return Ok(Some(Arc::clone(k)));
        }
        let now = self.clock.now();
        let last = self.last_unknown_refresh.load(Ordering::Relaxed);
        if now.saturating_sub(last) < UNKNOWN_KID_REFRESH_SECS
            || self
                .last_unknown_refresh
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return Ok(None);
        }
        Ok(self.reload().await?.verifying.get(kid).cloned())
    }

    /// What the record of the published key `kid` says about the tokens it signed.
    pub fn limits(&self, kid: &str) -> Option<KeyLimits> {
        self.current().limits.get(kid).copied()
    }

    /// The JWK Set document of every published key.
    pub async fn jwks(&self) -> Result<Bytes, KeyError> {
        Ok(self.fresh().await?.jwks.clone())
    }

    fn current(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc; the value is
        // still a complete snapshot.
        match self.snapshot.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    async fn fresh(&self) -> Result<Arc<Snapshot>, KeyError> {
        let snap = self.current();
        let now = self.clock.now();
        if now < snap.loaded_at.saturating_add(self.ttl) {
            return Ok(snap);
        }
        let usable = snap.loaded_at != 0
            && now < snap.loaded_at.saturating_add(self.ttl + STALE_GRACE_SECS)
            && snap.first_retirement.is_none_or(|t| now < t);
        let failed = self.last_failed_reload.load(Ordering::Relaxed);
        if usable && failed != 0 && now < failed.saturating_add(STALE_RETRY_SECS) {
            return Ok(snap);
        }
        match self.reload().await {
            Err(KeyError::Store(e)) if usable => {
                self.last_failed_reload.store(now.max(1), Ordering::Relaxed);
                crate::audit!(
                    "key_ring_stale",
                    age = now.saturating_sub(snap.loaded_at),
                    error = %e,
                );
                Ok(snap)
            }
            other => {
                if other.is_ok() {
                    self.last_failed_reload.store(0, Ordering::Relaxed);
                }
                other
            }
        }
    }

    async fn reload(&self) -> Result<Arc<Snapshot>, KeyError> {
        let seen = self.current();
        let _single_flight = self.refresh.lock().await;
        let before = self.current();
        if !Arc::ptr_eq(&seen, &before) {
            // Another task reloaded while we waited. (Not a time check: a key registered in
            // the second of the last load must still be found.)
            return Ok(before);
        }
        let now = self.clock.now();
        let records = self.store.list_keys().await?;
        let snap = self.snapshot_of(&records, &before, now)?;
        self.install(Arc::clone(&snap));
        Ok(snap)
    }

    fn install(&self, snap: Arc<Snapshot>) {
        match self.snapshot.write() {
            Ok(mut g) => *g = snap,
            Err(p) => *p.into_inner() = snap,
        }
    }

    /// The ring of `records`: every published record whose `kid` is its thumbprint, and the
    /// signer of the active one if this process signs and the policy lets it (a refused
    /// record is audited and never signs: answers are `500`, not retried).
    fn snapshot_of(
        &self,
        records: &[KeyRecord],
        before: &Snapshot,
        now: UnixTime,
    ) -> Result<Arc<Snapshot>, KeyError> {
        let mut verifying = HashMap::new();
        let mut limits = HashMap::new();
        let mut published = Vec::new();
        let mut active = None;
        let mut refused = None;
        let first_retirement = records
            .iter()
            .filter(|r| r.status == KeyStatus::Retiring)
            .filter_map(|r| r.retire_after)
            .min();
        for r in records.iter().filter(|r| r.status.is_published()) {
            // A record this deployment would never have written is neither published nor
            // trusted, in a process that verifies as in one that signs. The one that signs
            // must also be under a KMS key configured now; a retiring one may be under a key
            // since taken out of the configuration (its tokens still live).
            let trusted = KeyPolicy::check_published(r).and_then(|()| match r.status {
                KeyStatus::Active => self.policy.check_signing(r),
                _ => self.policy.check_kind(r),
            });
            if let Err(why) = trusted {
                crate::audit!("signing_key_refused", kid = ?r.kid, reason = %why);
                if r.status == KeyStatus::Active {
                    refused = Some(why);
                }
                continue;
            }
            let vk = r.public_jwk.verifying_key().map_err(SignError::failed)?;
            verifying.insert(r.kid.clone(), Arc::new(vk));
            limits.insert(
                r.kid.clone(),
                KeyLimits {
                    activated_at: r.activated_at,
                    retire_lag: r.retire_lag,
                },
            );
            published.push(r.public_jwk.clone());
            let Some(factory) = self
                .factory
                .as_ref()
                .filter(|_| r.status == KeyStatus::Active)
            else {
                continue;
            };
            let reuse = before
                .active
                .as_ref()
                .filter(|a| a.signer.kid() == r.kid)
                .cloned();
            active = Some(match reuse {
                Some(a) => a,
                None => {
                    let signer = factory.signer(r)?;
                    let encoded_header = mint::encoded_header(signer.alg(), signer.kid()).into();
                    ActiveKey {
                        signer,
                        encoded_header,
                    }
                }
            });
        }
        let jwks = serde_json::to_vec(&Jwks { keys: published })
            .map_err(|e| SignError::failed_by(e.to_string(), e))?;
        Ok(Arc::new(Snapshot {
            loaded_at: now.max(1),
            active,
            refused,
            first_retirement,
            limits,
            verifying,
            jwks: Bytes::from(jwks),
        }))
    }
}
