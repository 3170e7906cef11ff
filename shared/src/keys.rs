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
use crate::jwt::{Jwks, VerifyingKey, mint};
use crate::signer::{SignError, Signer, SignerFactory};
use crate::store::{KeyStatus, KeyStore, StoreError};

/// Minimum seconds between re-reads triggered by unknown key ids.
pub const UNKNOWN_KID_REFRESH_SECS: u64 = 5;

/// The key that signs new tokens, with its encoded JWS header.
#[derive(Clone)]
pub struct ActiveKey {
    pub signer: Arc<dyn Signer>,
    pub encoded_header: Arc<str>,
}

struct Snapshot {
    loaded_at: UnixTime,
    active: Option<ActiveKey>,
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
}

pub struct KeyRing {
    store: Arc<dyn KeyStore>,
    factory: Arc<dyn SignerFactory>,
    clock: Arc<dyn Clock>,
    ttl: u64,
    snapshot: RwLock<Arc<Snapshot>>,
    refresh: tokio::sync::Mutex<()>,
    last_unknown_refresh: AtomicU64,
}

impl KeyRing {
    /// Loads the keys once; fails if the store cannot be read or a key cannot be loaded.
    pub async fn load(
        store: Arc<dyn KeyStore>,
        factory: Arc<dyn SignerFactory>,
        clock: Arc<dyn Clock>,
        ttl: u64,
    ) -> Result<Self, KeyError> {
        let empty = Arc::new(Snapshot {
            loaded_at: 0,
            active: None,
            verifying: HashMap::new(),
            jwks: Bytes::new(),
        });
        let ring = Self {
            store,
            factory,
            clock,
            ttl,
            snapshot: RwLock::new(empty),
            refresh: tokio::sync::Mutex::new(()),
            last_unknown_refresh: AtomicU64::new(0),
        };
        ring.reload().await?;
        Ok(ring)
    }

    /// The key that signs new tokens.
    pub async fn active(&self) -> Result<ActiveKey, KeyError> {
        self.fresh()
            .await?
            .active
            .clone()
            .ok_or(KeyError::NoActiveKey)
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
        if self.clock.now() < snap.loaded_at.saturating_add(self.ttl) {
            return Ok(snap);
        }
        self.reload().await
    }

    async fn reload(&self) -> Result<Arc<Snapshot>, KeyError> {
        let _single_flight = self.refresh.lock().await;
        let before = self.current();
        let now = self.clock.now();
        if before.loaded_at != 0 && now < before.loaded_at.saturating_add(1) {
            // Another task reloaded while we waited.
            return Ok(before);
        }
        let records = self.store.list_keys().await?;
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        let mut active = None;
        for r in records.iter().filter(|r| r.status.is_published()) {
            let vk = r.public_jwk.verifying_key().map_err(SignError::Failed)?;
            verifying.insert(r.kid.clone(), Arc::new(vk));
            published.push(r.public_jwk.clone());
            if r.status == KeyStatus::Active {
                let reuse = before
                    .active
                    .as_ref()
                    .filter(|a| a.signer.kid() == r.kid)
                    .cloned();
                active = Some(match reuse {
                    Some(a) => a,
                    None => {
                        let signer = self.factory.signer(r)?;
                        let encoded_header =
                            mint::encoded_header(signer.alg(), signer.kid()).into();
                        ActiveKey {
                            signer,
                            encoded_header,
                        }
                    }
                });
            }
        }
        let jwks = serde_json::to_vec(&Jwks { keys: published })
            .map_err(|e| SignError::Failed(e.to_string()))?;
        let snap = Arc::new(Snapshot {
            loaded_at: now.max(1),
            active,
            verifying,
            jwks: Bytes::from(jwks),
        });
        match self.snapshot.write() {
            Ok(mut g) => *g = Arc::clone(&snap),
            Err(p) => *p.into_inner() = Arc::clone(&snap),
        }
        Ok(snap)
    }
}
