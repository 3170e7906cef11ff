//! Delegations in the table (docs/dynamodb.md):
//! - `DELEGATE#<delegate>` / `DELEGATOR#<delegator>`: the delegation, so the security check
//!   (may this delegate act for that delegator?) is one consistent read on the base table;
//!   `gsi1` (`DELEGATOR#<delegator>` / `DELEGATE#<delegate>`) serves only listings.
//! - `DELEGATION#<id>` / `DELEGATION`: the same record by id, for re-checking the ids a token
//!   carries (introspection), again one consistent read.
//!
//! Both items change together in one transaction, conditional on the pair's current id, so a
//! replaced or removed delegation never lingers under its old id.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::DynamoStore;
use super::attrs::{Item, decode, n, s};
use super::errors::{build_failed, condition_failed, conditional};
use super::schema::{GSI1_PK, GSI1_SK, PK, SK, TTL};
use crate::domain::{Delegation, Principal};
use crate::store::codec::encode;
use crate::store::{DelegationStore, StoreError};

/// Seconds an expired delegation's items are kept before TTL may delete them (expiry is
/// always checked in code; this only bounds the table's growth).
const EXPIRED_RETENTION: u64 = 7 * 86_400;

fn pair_key(delegator: &Principal, delegate: &Principal) -> (String, String) {
    (
        format!("DELEGATE#{delegate}"),
        format!("DELEGATOR#{delegator}"),
    )
}

fn id_key(id: &str) -> String {
    format!("DELEGATION#{id}")
}

impl DynamoStore {
    fn delegation_items(d: &Delegation) -> Result<(Item, Item), StoreError> {
        let doc = encode(d)?;
        let (pk, sk) = pair_key(&d.delegator, &d.delegate);
        let mut pair: Item = HashMap::from([
            (PK.to_owned(), s(pk)),
            (SK.to_owned(), s(sk)),
            (GSI1_PK.to_owned(), s(format!("DELEGATOR#{}", d.delegator))),
            (GSI1_SK.to_owned(), s(format!("DELEGATE#{}", d.delegate))),
            ("id".to_owned(), s(d.id.clone())),
            ("doc".to_owned(), s(doc.clone())),
        ]);
        let mut by_id: Item = HashMap::from([
            (PK.to_owned(), s(id_key(&d.id))),
            (SK.to_owned(), s("DELEGATION")),
            ("doc".to_owned(), s(doc)),
        ]);
        if let Some(exp) = d.expires_at {
            pair.insert(TTL.to_owned(), n(exp.saturating_add(EXPIRED_RETENTION)));
            by_id.insert(TTL.to_owned(), n(exp.saturating_add(EXPIRED_RETENTION)));
        }
        Ok((pair, by_id))
    }

    fn delete_by_id(&self, id: &str) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(id_key(id)))
            .key(SK, s("DELEGATION"))
            .build()
            .map_err(build_failed)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Runs a transaction: `Ok(false)` when a condition failed (the pair changed meanwhile).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        Ok(conditional(sent, condition_failed)?.is_some())
    }
}

#[async_trait]
impl DelegationStore for DynamoStore {
    async fn put_delegation(&self, d: &Delegation) -> Result<(), StoreError> {
        let current = self.delegation(&d.delegator, &d.delegate).await?;
        if current.as_ref() == Some(d) {
            return Ok(());
        }
        let (pair, by_id) = Self::delegation_items(d)?;
        let mut put_pair = Put::builder().table_name(&self.table).set_item(Some(pair));
        put_pair = match &current {
            None => put_pair
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(old) => put_pair
                .condition_expression("#id = :old")
                .expression_attribute_names("#id", "id")
                .expression_attribute_values(":old", s(old.id.clone())),
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .put(put_pair.build().map_err(build_failed)?)
                .build(),
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(by_id))
                        .build()
                        .map_err(build_failed)?,
                )
                .build(),
        ];
        if let Some(old) = current.as_ref().filter(|o| o.id != d.id) {
            items.push(self.delete_by_id(&old.id)?);
        }
        if self.transact(items).await? {
            return Ok(());
        }
        // A condition failed: our own write retried by the SDK, or another writer.
        if self.delegation(&d.delegator, &d.delegate).await?.as_ref() == Some(d) {
            return Ok(());
        }
        Err(StoreError::Conflict(format!(
            "the delegation from {} to {} changed concurrently",
            d.delegator, d.delegate
        )))
    }

    async fn remove_delegation(
        &self,
        delegator: &Principal,
        delegate: &Principal,
    ) -> Result<Option<Delegation>, StoreError> {
        let Some(current) = self.delegation(delegator, delegate).await? else {
            return Ok(None);
        };
        let (pk, sk) = pair_key(delegator, delegate);
        let delete_pair = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("#id = :id")
            .expression_attribute_names("#id", "id")
            .expression_attribute_values(":id", s(current.id.clone()))
            .build()
            .map_err(build_failed)?;
        let items = vec![
            TransactWriteItem::builder().delete(delete_pair).build(),
            self.delete_by_id(&current.id)?,
        ];
        if self.transact(items).await? || self.delegation(delegator, delegate).await?.is_none() {
            return Ok(Some(current));
        }
        Err(StoreError::Conflict(format!(
            "the delegation from {delegator} to {delegate} changed concurrently"
        )))
    }

    async fn delegation(
        &self,
        delegator: &Principal,
        delegate: &Principal,
    ) -> Result<Option<Delegation>, StoreError> {
        let (pk, sk) = pair_key(delegator, delegate);
        self.get(pk, &sk).await?.as_ref().map(decode).transpose()
    }

    async fn delegation_by_id(&self, id: &str) -> Result<Option<Delegation>, StoreError> {
        self.get(id_key(id), "DELEGATION")
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    async fn delegations_from(&self, delegator: &Principal) -> Result<Vec<Delegation>, StoreError> {
        self.gsi1_docs(&format!("DELEGATOR#{delegator}")).await
    }

    async fn delegations_to(&self, delegate: &Principal) -> Result<Vec<Delegation>, StoreError> {
        self.partition_docs(&format!("DELEGATE#{delegate}"), "DELEGATOR#")
            .await
    }
}
