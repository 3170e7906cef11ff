//! A short-lived cache of client records, so a warm token endpoint does not read the store for
//! every request.
//!
//! Entries live for `ttl` seconds (`TOKENMINT_CLIENT_CACHE_TTL`, default 5): disabling a client
//! or removing a secret takes effect within that time. A secret that does not match a cached
//! record is checked against a fresh read ([`ClientCache::recheck`]), but at most once per
//! client per [`RECHECK_SECS`] in each process: a flood of wrong secrets for one (public)
//! client id costs the store one read a second per container (besides the reload every
//! `ttl`), not one per request, and the cached record decides in between. A newly rotated
//! secret therefore works at once, or at most [`RECHECK_SECS`] (1 s) later when a re-read
//! for that client has just run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{ClientStore, StoreError};
use crate::clock::{Clock, UnixTime};
use crate::domain::{Client, ClientId};

/// Most records kept; past this the cache starts over, which bounds memory whatever ids
/// callers present (only existing clients are cached, but stay safe regardless).
const MAX_ENTRIES: usize = 10_000;

/// The least time between two re-reads of one client after a secret mismatch.
pub const RECHECK_SECS: u64 = 1;

pub struct ClientCache {
    inner: Arc<dyn ClientStore>,
    clock: Arc<dyn Clock>,
    ttl: u64,
    entries: Mutex<HashMap<ClientId, Entry>>,
}

struct Entry {
    /// When the record was read; it is served until `cached_at + ttl`.
    cached_at: UnixTime,
    /// When the store was last asked for this client after a mismatch ([`ClientCache::recheck`]),
    /// a re-read in flight included.
    rechecked_at: Option<UnixTime>,
    client: Arc<Client>,
}

/// A client record and whether it came from the cache.
pub struct Lookup {
    pub client: Option<Arc<Client>>,
    pub cached: bool,
}

impl ClientCache {
    pub fn new(inner: Arc<dyn ClientStore>, clock: Arc<dyn Clock>, ttl: u64) -> Self {
        Self {
            inner,
            clock,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The record for `id`, from the cache when fresh.
    pub async fn get(&self, id: &ClientId) -> Result<Lookup, StoreError> {
        let now = self.clock.now();
        if self.ttl > 0 {
            if let Some(client) = self.cached(id, now) {
                return Ok(Lookup {
                    client: Some(client),
                    cached: true,
                });
            }
        }
        Ok(Lookup {
            client: self.refresh(id).await?,
            cached: false,
        })
    }

    /// After a secret did not match the cached record of `id`: a fresh read (`cached: false`)
    /// unless such a re-read of `id` began less than [`RECHECK_SECS`] ago, in which case the
    /// cached record stands (`cached: true`).
    pub async fn recheck(&self, id: &ClientId) -> Result<Lookup, StoreError> {
        let now = self.clock.now();
        if let Ok(mut entries) = self.entries.lock() {
            if let Some(e) = entries.get_mut(id) {
                if e.rechecked_at
                    .is_some_and(|t| now >= t && now - t < RECHECK_SECS)
                {
                    return Ok(Lookup {
                        client: Some(Arc::clone(&e.client)),
                        cached: true,
                    });
                }
                // Claimed before the read, so concurrent mismatches do not all read.
                e.rechecked_at = Some(now);
            }
        }
        Ok(Lookup {
            client: self.read(id, Some(now)).await?,
            cached: false,
        })
    }

    /// Reads `id` from the store and caches the result.
    pub async fn refresh(&self, id: &ClientId) -> Result<Option<Arc<Client>>, StoreError> {
        self.read(id, None).await
    }

    async fn read(
        &self,
        id: &ClientId,
        rechecked_at: Option<UnixTime>,
    ) -> Result<Option<Arc<Client>>, StoreError> {
        let client = self.inner.get_client(id).await?.map(Arc::new);
        if let Ok(mut entries) = self.entries.lock() {
            match &client {
                Some(c) if self.ttl > 0 => {
                    if entries.len() >= MAX_ENTRIES {
                        entries.clear();
                    }
                    let entry = Entry {
                        cached_at: self.clock.now(),
                        rechecked_at,
                        client: Arc::clone(c),
                    };
                    entries.insert(id.clone(), entry);
                }
                _ => {
                    entries.remove(id);
                }
            }
        }
        Ok(client)
    }

    fn cached(&self, id: &ClientId, now: UnixTime) -> Option<Arc<Client>> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(id)?;
        (now >= e.cached_at && now - e.cached_at < self.ttl).then(|| Arc::clone(&e.client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::contract::sample_client;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn serves_from_cache_until_ttl() {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(1000));
        let cache = ClientCache::new(store.clone(), clock.clone(), 5);
        let mut c = sample_client("cached");
        store.create_client(&c).await.unwrap();

        let first = cache.get(&c.id).await.unwrap();
        assert!(!first.cached && first.client.is_some());
        c.version += 1;
        c.disabled = true;
        store.update_client(&c).await.unwrap();
        let second = cache.get(&c.id).await.unwrap();
        assert!(second.cached);
        assert!(!second.client.unwrap().disabled);
        clock.advance(5);
        let third = cache.get(&c.id).await.unwrap();
        assert!(!third.cached);
        assert!(third.client.unwrap().disabled);
    }

    #[tokio::test]
    async fn unknown_clients_are_not_cached() {
        let store = Arc::new(MemoryStore::new());
        let cache = ClientCache::new(store.clone(), Arc::new(ManualClock::new(0)), 5);
        let c = sample_client("late");
        assert!(cache.get(&c.id).await.unwrap().client.is_none());
        store.create_client(&c).await.unwrap();
        assert!(cache.get(&c.id).await.unwrap().client.is_some());
    }
}
