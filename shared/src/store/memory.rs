//! An in-memory store for unit tests. It implements the same contract as the real adapters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    ClientStore, DelegationStore, IssuerStore, KeyChange, KeyStore, RefreshTokenStore,
    RevocationStore, ScopeRuleStore, StoreError,
};
use crate::clock::UnixTime;
use crate::domain::{
    Client, ClientId, Delegation, Principal, RefreshRecord, Scope, ScopeRule, TrustedIssuer,
};
use crate::domain::{KeyRecord, KeyStatus};

#[derive(Default)]
struct State {
    clients: BTreeMap<ClientId, Client>,
    keys: Vec<KeyRecord>,
    revocations: HashMap<String, UnixTime>,
    /// By (delegate, delegator).
    delegations: BTreeMap<(Principal, Principal), Delegation>,
    issuers: BTreeMap<String, TrustedIssuer>,
    scope_rules: BTreeMap<Scope, ScopeRule>,
    /// By hash.
    refresh_tokens: HashMap<String, RefreshRecord>,
    /// Count and window end, by key.
    auth_failures: HashMap<String, (u32, UnixTime)>,
    /// Used assertion ids and until when.
    assertion_ids: HashMap<String, UnixTime>,
}

/// Every store port over maps behind one mutex.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::unavailable("memory store poisoned"))
    }
}

#[async_trait]
impl super::AssertionIdStore for MemoryStore {
    async fn first_use(
        &self,
        key: &str,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut st = self.state()?;
        match st.assertion_ids.get(key) {
            Some(t) if *t > now => Ok(false),
            _ => {
                st.assertion_ids.insert(key.to_owned(), until);
                Ok(true)
            }
        }
    }
}

#[async_trait]
impl super::AuthFailureStore for MemoryStore {
    async fn add_auth_failure(
        &self,
        key: &str,
        now: UnixTime,
        window: u64,
    ) -> Result<(u32, UnixTime), StoreError> {
        let mut st = self.state()?;
        let e = st.auth_failures.entry(key.to_owned()).or_insert((0, 0));
        if e.1 <= now {
            *e = (0, now.saturating_add(window));
        }
        e.0 = e.0.saturating_add(1);
        Ok(*e)
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        Ok(self.state()?.clients.get(id).cloned())
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        Ok(self.state()?.clients.values().cloned().collect())
    }

    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut s = self.state()?;
        match s.clients.get(&client.id) {
            Some(old) if old == client => return Ok(()),
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "client {} already exists",
                    client.id
                )));
            }
            None => {}
        }
        s.clients.insert(client.id.clone(), client.clone());
        Ok(())
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut s = self.state()?;
        match s.clients.get(&client.id) {
            None => Err(StoreError::NotFound(format!("client {}", client.id))),
            Some(old) if old == client => Ok(()),
            Some(old) if old.version + 1 != client.version => Err(StoreError::Conflict(format!(
                "client {} changed concurrently",
                client.id
            ))),
            Some(_) => {
                s.clients.insert(client.id.clone(), client.clone());
                Ok(())
            }
        }
    }

    async fn delete_client(&self, id: &ClientId, version: u64) -> Result<bool, StoreError> {
        let mut s = self.state()?;
        match s.clients.get(id) {
            None => Ok(false),
            Some(c) if c.version != version => Err(StoreError::Conflict(format!(
                "client {id} changed concurrently"
            ))),
            Some(_) => Ok(s.clients.remove(id).is_some()),
        }
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let mut keys = self.state()?.keys.clone();
        keys.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
        Ok(keys)
    }

    async fn init_active_key(&self, key: &KeyRecord) -> Result<KeyRecord, StoreError> {
        let mut s = self.state()?;
        if let Some(k) = s.keys.iter().find(|k| k.status == KeyStatus::Active) {
            return Ok(k.clone());
        }
        let mut key = key.clone();
        key.status = KeyStatus::Active;
        s.keys.push(key.clone());
        Ok(key)
    }

    async fn transition(&self, changes: &[KeyChange]) -> Result<(), StoreError> {
        let mut s = self.state()?;
        for c in changes {
            let stored = s
                .keys
                .iter()
                .find(|k| k.kid == c.record.kid)
                .map(|k| k.status);
            if stored != c.expected {
                return Err(StoreError::Conflict(format!(
                    "key {} is {stored:?}, not {:?}",
                    c.record.kid, c.expected
                )));
            }
        }
        for c in changes {
            s.keys.retain(|k| k.kid != c.record.kid);
            s.keys.push(c.record.clone());
        }
        Ok(())
    }

    async fn remove_retired_key(&self, kid: &str) -> Result<bool, StoreError> {
        let mut s = self.state()?;
        let before = s.keys.len();
        s.keys
            .retain(|k| !(k.kid == kid && k.status == KeyStatus::Retired));
        Ok(s.keys.len() != before)
    }
}

#[async_trait]
impl RevocationStore for MemoryStore {
    async fn revoke(&self, jti: &str, until: UnixTime) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let e = s.revocations.entry(jti.to_owned()).or_insert(until);
        *e = (*e).max(until);
        Ok(())
    }

    async fn is_revoked(&self, jti: &str, now: UnixTime) -> Result<bool, StoreError> {
        Ok(self.state()?.revocations.get(jti).is_some_and(|&u| now < u))
    }
}

#[async_trait]
impl DelegationStore for MemoryStore {
    async fn put_delegation(&self, d: &Delegation) -> Result<(), StoreError> {
        let key = (d.delegate.clone(), d.delegator.clone());
        self.state()?.delegations.insert(key, d.clone());
        Ok(())
    }

    async fn remove_delegation(
        &self,
        delegator: &Principal,
        delegate: &Principal,
    ) -> Result<Option<Delegation>, StoreError> {
        let key = (delegate.clone(), delegator.clone());
        Ok(self.state()?.delegations.remove(&key))
    }

    async fn delegation(
        &self,
        delegator: &Principal,
        delegate: &Principal,
    ) -> Result<Option<Delegation>, StoreError> {
        let key = (delegate.clone(), delegator.clone());
        Ok(self.state()?.delegations.get(&key).cloned())
    }

    async fn delegation_by_id(&self, id: &str) -> Result<Option<Delegation>, StoreError> {
        Ok(self
            .state()?
            .delegations
            .values()
            .find(|d| d.id == id)
            .cloned())
    }

    async fn delegations_from(&self, delegator: &Principal) -> Result<Vec<Delegation>, StoreError> {
        Ok(self
            .state()?
            .delegations
            .values()
            .filter(|d| &d.delegator == delegator)
            .cloned()
            .collect())
    }

    async fn delegations_to(&self, delegate: &Principal) -> Result<Vec<Delegation>, StoreError> {
        Ok(self
            .state()?
            .delegations
            .values()
            .filter(|d| &d.delegate == delegate)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl IssuerStore for MemoryStore {
    async fn put_issuer(&self, issuer: &TrustedIssuer) -> Result<(), StoreError> {
        self.state()?
            .issuers
            .insert(issuer.issuer.clone(), issuer.clone());
        Ok(())
    }

    async fn list_issuers(&self) -> Result<Vec<TrustedIssuer>, StoreError> {
        Ok(self.state()?.issuers.values().cloned().collect())
    }

    async fn remove_issuer(&self, issuer: &str) -> Result<bool, StoreError> {
        Ok(self.state()?.issuers.remove(issuer).is_some())
    }
}

#[async_trait]
impl ScopeRuleStore for MemoryStore {
    async fn put_scope_rule(&self, rule: &ScopeRule) -> Result<(), StoreError> {
        self.state()?
            .scope_rules
            .insert(rule.scope.clone(), rule.clone());
        Ok(())
    }

    async fn list_scope_rules(&self) -> Result<Vec<ScopeRule>, StoreError> {
        Ok(self.state()?.scope_rules.values().cloned().collect())
    }

    async fn remove_scope_rule(&self, scope: &str) -> Result<bool, StoreError> {
        let mut s = self.state()?;
        let before = s.scope_rules.len();
        s.scope_rules.retain(|k, _| k.as_str() != scope);
        Ok(s.scope_rules.len() != before)
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryStore {
    async fn put_refresh_token(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        let mut s = self.state()?;
        match s.refresh_tokens.get(&record.hash) {
            Some(old) if old == record => Ok(()),
            Some(_) => Err(StoreError::Conflict(format!(
                "refresh token {} already exists",
                record.hash
            ))),
            None => {
                s.refresh_tokens.insert(record.hash.clone(), record.clone());
                Ok(())
            }
        }
    }

    async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        Ok(self.state()?.refresh_tokens.get(hash).cloned())
    }

    async fn rotate_refresh_token(
        &self,
        used: &str,
        now: UnixTime,
        next: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let mut s = self.state()?;
        let conflict = || StoreError::Conflict(format!("refresh token {used} is used or unknown"));
        let current = s.refresh_tokens.get(used).ok_or_else(conflict)?;
        let stored_next = s.refresh_tokens.get(&next.hash);
        if current.used_at.is_some() {
            // Already rotated: success only if it was this very rotation (a retried call).
            let retried =
                current.replaced_by.as_ref() == Some(&next.hash) && stored_next == Some(next);
            return if retried { Ok(()) } else { Err(conflict()) };
        }
        if stored_next.is_some_and(|n| n != next) {
            return Err(StoreError::Conflict(format!(
                "refresh token {} already exists",
                next.hash
            )));
        }
        let mut marked = current.clone();
        marked.used_at = Some(now);
        marked.replaced_by = Some(next.hash.clone());
        s.refresh_tokens.insert(used.to_owned(), marked);
        s.refresh_tokens.insert(next.hash.clone(), next.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[tokio::test]
    async fn contract() {
        let s = Arc::new(super::MemoryStore::new());
        crate::store::contract::run_all(super::super::Stores::from_one(s)).await;
    }
}
