//! An in-memory store for unit tests. It implements the same contract as the real adapters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    ClientStore, DelegationStore, KeyChange, KeyRecord, KeyStatus, KeyStore, RevocationStore,
    StoreError,
};
use crate::clock::UnixTime;
use crate::domain::{Client, ClientId, Delegation, Principal};

#[derive(Default)]
struct State {
    clients: BTreeMap<ClientId, Client>,
    keys: Vec<KeyRecord>,
    revocations: HashMap<String, UnixTime>,
    /// By (delegate, delegator).
    delegations: BTreeMap<(Principal, Principal), Delegation>,
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
            .map_err(|_| StoreError::Unavailable("memory store poisoned".into()))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[tokio::test]
    async fn contract() {
        let s = Arc::new(super::MemoryStore::new());
        crate::store::contract::run_all(super::super::Stores::from_one(s)).await;
    }
}
