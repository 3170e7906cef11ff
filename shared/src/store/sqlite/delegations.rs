//! Delegations in the embedded store.

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior, params};

use super::SqliteStore;
use super::sql::{decode_all, one_doc, unavailable};
use crate::domain::{Delegation, Principal};
use crate::store::codec::{decode, encode};
use crate::store::{DelegationStore, StoreError};

fn pair_doc(c: &Connection, delegate: &str, delegator: &str) -> Result<Option<String>, StoreError> {
    one_doc(
        c,
        "SELECT doc FROM delegations WHERE delegate = ?1 AND delegator = ?2",
        params![delegate, delegator],
    )
}

impl SqliteStore {
    async fn delegations_where(
        &self,
        column: &'static str,
        value: &Principal,
    ) -> Result<Vec<Delegation>, StoreError> {
        let value = value.to_string();
        self.run(move |c| {
            let sql = format!(
                "SELECT doc FROM delegations WHERE {column} = ?1 ORDER BY delegate, delegator"
            );
            decode_all(c, &sql, [&value])
        })
        .await
    }
}

#[async_trait]
impl DelegationStore for SqliteStore {
    async fn put_delegation(&self, d: &Delegation) -> Result<(), StoreError> {
        let doc = encode(d)?;
        let (id, delegate, delegator) = (
            d.id.clone(),
            d.delegate.to_string(),
            d.delegator.to_string(),
        );
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            tx.execute(
                "DELETE FROM delegations WHERE delegate = ?1 AND delegator = ?2 AND id != ?3",
                params![delegate, delegator, id],
            )
            .map_err(unavailable)?;
            tx.execute(
                "INSERT INTO delegations (id, delegate, delegator, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc
                 WHERE delegate = excluded.delegate AND delegator = excluded.delegator",
                params![id, delegate, delegator, doc],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn remove_delegation(
        &self,
        delegator: &Principal,
        delegate: &Principal,
    ) -> Result<Option<Delegation>, StoreError> {
        let (delegate, delegator) = (delegate.to_string(), delegator.to_string());
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let doc = pair_doc(&tx, &delegate, &delegator)?;
            tx.execute(
                "DELETE FROM delegations WHERE delegate = ?1 AND delegator = ?2",
                params![delegate, delegator],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            doc.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn delegation(
        &self,
        delegator: &Principal,
        delegate: &Principal,
    ) -> Result<Option<Delegation>, StoreError> {
        let (delegate, delegator) = (delegate.to_string(), delegator.to_string());
        self.run(move |c| {
            pair_doc(c, &delegate, &delegator)?
                .as_deref()
                .map(decode)
                .transpose()
        })
        .await
    }

    async fn delegation_by_id(&self, id: &str) -> Result<Option<Delegation>, StoreError> {
        let id = id.to_owned();
        self.run(move |c| {
            one_doc(c, "SELECT doc FROM delegations WHERE id = ?1", [&id])?
                .as_deref()
                .map(decode)
                .transpose()
        })
        .await
    }

    async fn delegations_from(&self, delegator: &Principal) -> Result<Vec<Delegation>, StoreError> {
        self.delegations_where("delegator", delegator).await
    }

    async fn delegations_to(&self, delegate: &Principal) -> Result<Vec<Delegation>, StoreError> {
        self.delegations_where("delegate", delegate).await
    }
}
