//! Short-lived caches of the trusted-issuer list and the step-up rules, which token exchange
//! and refresh read on every request: each list is one single-partition query, so uncached a
//! busy endpoint would make that partition hot.
//!
//! Each list is kept for `ttl` seconds (`TOKENMINT_CLIENT_CACHE_TTL`, default 5), as client
//! records are: a warm process follows an issuer removed or a step-up rule added within that
//! time. A write through the cache drops it at once (the admin commands write to the store
//! directly; processes serving requests only read). A store failure with no fresh list cached
//! fails the request (`503`): an expired list is never served in its place. `ttl` 0 turns the
//! caches off.

use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{IssuerStore, ScopeRuleStore, StoreError, Stores};
use crate::clock::{Clock, UnixTime};
use crate::domain::{ScopeRule, TrustedIssuer};

/// `stores` with the issuer and scope-rule ports behind caches of `ttl` seconds (none if 0).
pub fn cached_lists(stores: &Stores, clock: Arc<dyn Clock>, ttl: u64) -> Stores {
    let mut out = stores.clone();
    if ttl > 0 {
        out.issuers = Arc::new(CachedIssuers {
            inner: Arc::clone(&stores.issuers),
            cache: ListCache::new(Arc::clone(&clock), ttl),
        });
        out.scope_rules = Arc::new(CachedScopeRules {
            inner: Arc::clone(&stores.scope_rules),
            cache: ListCache::new(clock, ttl),
        });
    }
    out
}

/// One list, read whole, with the time it was read.
struct ListCache<T> {
    clock: Arc<dyn Clock>,
    ttl: u64,
    entry: Mutex<Option<(UnixTime, Arc<Vec<T>>)>>,
}

impl<T: Clone> ListCache<T> {
    fn new(clock: Arc<dyn Clock>, ttl: u64) -> Self {
        Self {
            clock,
            ttl,
            entry: Mutex::new(None),
        }
    }

    /// The cached list while fresh, else what `load` reads (cached if it succeeds).
    async fn get<F, Fut>(&self, load: F) -> Result<Vec<T>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, StoreError>>,
    {
        let now = self.clock.now();
        if let Some(list) = self.fresh(now) {
            return Ok(list.as_ref().clone());
        }
        let list = load().await?;
        if let Ok(mut entry) = self.entry.lock() {
            *entry = Some((now, Arc::new(list.clone())));
        }
        Ok(list)
    }

    fn fresh(&self, now: UnixTime) -> Option<Arc<Vec<T>>> {
        let entry = self.entry.lock().ok()?;
        let (at, list) = entry.as_ref()?;
        (now >= *at && now - at < self.ttl).then(|| Arc::clone(list))
    }

    fn clear(&self) {
        if let Ok(mut entry) = self.entry.lock() {
            *entry = None;
        }
    }
}

struct CachedIssuers {
    inner: Arc<dyn IssuerStore>,
    cache: ListCache<TrustedIssuer>,
}

#[async_trait]
impl IssuerStore for CachedIssuers {
    async fn put_issuer(&self, issuer: &TrustedIssuer) -> Result<(), StoreError> {
        let result = self.inner.put_issuer(issuer).await;
        self.cache.clear();
        result
    }

    async fn list_issuers(&self) -> Result<Vec<TrustedIssuer>, StoreError> {
        self.cache.get(|| self.inner.list_issuers()).await
    }

    async fn remove_issuer(&self, issuer: &str) -> Result<bool, StoreError> {
        let result = self.inner.remove_issuer(issuer).await;
        self.cache.clear();
        result
    }
}

struct CachedScopeRules {
    inner: Arc<dyn ScopeRuleStore>,
    cache: ListCache<ScopeRule>,
}

#[async_trait]
impl ScopeRuleStore for CachedScopeRules {
    async fn put_scope_rule(&self, rule: &ScopeRule) -> Result<(), StoreError> {
        let result = self.inner.put_scope_rule(rule).await;
        self.cache.clear();
        result
    }

    async fn list_scope_rules(&self) -> Result<Vec<ScopeRule>, StoreError> {
        self.cache.get(|| self.inner.list_scope_rules()).await
    }

    async fn remove_scope_rule(&self, scope: &str) -> Result<bool, StoreError> {
        let result = self.inner.remove_scope_rule(scope).await;
        self.cache.clear();
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};

    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::Scope;
    use crate::store::memory::MemoryStore;

    /// Counts the list reads that reach the store, and fails them on demand.
    #[derive(Default)]
    struct Counting {
        inner: MemoryStore,
        reads: AtomicU32,
        down: AtomicBool,
    }

    impl Counting {
        fn read(&self) -> Result<(), StoreError> {
            self.reads.fetch_add(1, SeqCst);
            if self.down.load(SeqCst) {
                return Err(StoreError::unavailable("injected"));
            }
            Ok(())
        }
    }

    #[async_trait]
    impl IssuerStore for Counting {
        async fn put_issuer(&self, issuer: &TrustedIssuer) -> Result<(), StoreError> {
            self.inner.put_issuer(issuer).await
        }
        async fn list_issuers(&self) -> Result<Vec<TrustedIssuer>, StoreError> {
            self.read()?;
            self.inner.list_issuers().await
        }
        async fn remove_issuer(&self, issuer: &str) -> Result<bool, StoreError> {
            self.inner.remove_issuer(issuer).await
        }
    }

    #[async_trait]
    impl ScopeRuleStore for Counting {
        async fn put_scope_rule(&self, rule: &ScopeRule) -> Result<(), StoreError> {
            self.inner.put_scope_rule(rule).await
        }
        async fn list_scope_rules(&self) -> Result<Vec<ScopeRule>, StoreError> {
            self.read()?;
            self.inner.list_scope_rules().await
        }
        async fn remove_scope_rule(&self, scope: &str) -> Result<bool, StoreError> {
            self.inner.remove_scope_rule(scope).await
        }
    }

    fn setup(ttl: u64) -> (Arc<Counting>, Arc<ManualClock>, Stores) {
        let counting = Arc::new(Counting::default());
        let clock = Arc::new(ManualClock::new(1_000));
        let mut stores = Stores::from_one(Arc::new(MemoryStore::new()));
        stores.issuers = counting.clone();
        stores.scope_rules = counting.clone();
        let cached = cached_lists(&stores, clock.clone(), ttl);
        (counting, clock, cached)
    }

    fn rule(scope: &str) -> ScopeRule {
        ScopeRule {
            scope: Scope::new(scope).unwrap(),
            acr: vec!["otp".into()],
            updated_at: 1,
        }
    }

    #[tokio::test]
    async fn lists_are_read_once_per_ttl() {
        let (counting, clock, stores) = setup(5);
        for _ in 0..20 {
            assert!(stores.issuers.list_issuers().await.unwrap().is_empty());
            assert!(
                stores
                    .scope_rules
                    .list_scope_rules()
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        assert_eq!(counting.reads.load(SeqCst), 2);
        // A rule added in the store (by the admin command) shows once the cache expires.
        counting.inner.put_scope_rule(&rule("pay")).await.unwrap();
        clock.advance(4);
        assert!(
            stores
                .scope_rules
                .list_scope_rules()
                .await
                .unwrap()
                .is_empty()
        );
        clock.advance(1);
        assert_eq!(
            stores.scope_rules.list_scope_rules().await.unwrap().len(),
            1
        );
        assert_eq!(counting.reads.load(SeqCst), 3);
        // A write through the cache shows at once.
        stores.scope_rules.remove_scope_rule("pay").await.unwrap();
        assert!(
            stores
                .scope_rules
                .list_scope_rules()
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_store_failure_with_nothing_fresh_cached_is_an_error() {
        let (counting, clock, stores) = setup(5);
        counting.down.store(true, SeqCst);
        assert!(stores.issuers.list_issuers().await.is_err());
        counting.down.store(false, SeqCst);
        stores.issuers.list_issuers().await.unwrap();
        counting.down.store(true, SeqCst);
        // Fresh: served. Expired: never served in place of a read.
        assert!(stores.issuers.list_issuers().await.is_ok());
        clock.advance(5);
        assert!(stores.issuers.list_issuers().await.is_err());
        assert!(stores.scope_rules.list_scope_rules().await.is_err());
    }

    #[tokio::test]
    async fn a_ttl_of_zero_reads_every_time() {
        let (counting, _, stores) = setup(0);
        for _ in 0..3 {
            stores.issuers.list_issuers().await.unwrap();
        }
        assert_eq!(counting.reads.load(SeqCst), 3);
    }
}
