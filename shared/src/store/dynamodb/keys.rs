//! Signing keys in DynamoDB: `KEYS` / `KEY#<kid>` per key (`doc`, `status`) and the
//! active-key pointer `KEYS` / `ACTIVE` (`kid`), all in one partition read with one consistent
//! `Query`.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::DynamoStore;
use super::attrs::{decode, get_s, s};
use super::errors::{build_failed, conditional};
use super::schema::{PK, SK};
use crate::domain::{KeyRecord, KeyStatus};
use crate::store::codec::encode;
use crate::store::{KeyChange, KeyStore, StoreError};

const KEYS_PK: &str = "KEYS";
const ACTIVE_SK: &str = "ACTIVE";

#[async_trait]
impl KeyStore for DynamoStore {
    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let mut out: Vec<KeyRecord> = self.partition_docs(KEYS_PK, "KEY#").await?;
        out.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
        Ok(out)
    }

    async fn init_active_key(&self, key: &KeyRecord) -> Result<KeyRecord, StoreError> {
        let mut key = key.clone();
        key.status = KeyStatus::Active;
        let build =
            |p: aws_sdk_dynamodb::types::builders::PutBuilder| p.build().map_err(build_failed);
        let pointer = build(
            Put::builder()
                .table_name(&self.table)
                .item(PK, s(KEYS_PK))
                .item(SK, s(ACTIVE_SK))
                .item("kid", s(&key.kid))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
        )?;
        let record = build(
            Put::builder()
                .table_name(&self.table)
                .item(PK, s(KEYS_PK))
                .item(SK, s(format!("KEY#{}", key.kid)))
                .item("status", s("active"))
                .item("doc", s(encode(&key)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(pointer).build())
            .transact_items(TransactWriteItem::builder().put(record).build())
            .send()
            .await;
        conditional(
            result,
            TransactWriteItemsError::is_transaction_canceled_exception,
        )?;
        // Whether we won or lost (or an SDK retry of our own success was cancelled), the
        // pointer now names the one active key.
        let pointer = self
            .get(KEYS_PK.to_owned(), ACTIVE_SK)
            .await?
            .ok_or_else(|| StoreError::unavailable("the active-key pointer is missing"))?;
        let kid = get_s(&pointer, "kid")?.to_owned();
        let item = self
            .get(KEYS_PK.to_owned(), &format!("KEY#{kid}"))
            .await?
            .ok_or_else(|| StoreError::corrupt(format!("active key {kid} has no record")))?;
        decode(&item)
    }

    async fn transition(&self, changes: &[KeyChange]) -> Result<(), StoreError> {
        let built =
            |p: aws_sdk_dynamodb::types::builders::PutBuilder| p.build().map_err(build_failed);
        let mut request = self.client.transact_write_items();
        for ch in changes {
            let mut put = Put::builder()
                .table_name(&self.table)
                .item(PK, s(KEYS_PK))
                .item(SK, s(format!("KEY#{}", ch.record.kid)))
                .item("status", s(ch.record.status.as_str()))
                .item("doc", s(encode(&ch.record)?));
            put = match ch.expected {
                None => put
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK),
                Some(status) => put
                    .condition_expression("#status = :expected")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":expected", s(status.as_str())),
            };
            request = request.transact_items(TransactWriteItem::builder().put(built(put)?).build());
            if ch.record.status == KeyStatus::Active {
                let pointer = Put::builder()
                    .table_name(&self.table)
                    .item(PK, s(KEYS_PK))
                    .item(SK, s(ACTIVE_SK))
                    .item("kid", s(&ch.record.kid));
                request = request
                    .transact_items(TransactWriteItem::builder().put(built(pointer)?).build());
            }
        }
        // The SDK gives every TransactWriteItems call an idempotency token, so its own retry
        // of a transaction that succeeded succeeds again instead of failing its conditions.
        let sent = conditional(
            request.send().await,
            TransactWriteItemsError::is_transaction_canceled_exception,
        )?;
        sent.map(drop)
            .ok_or_else(|| StoreError::Conflict("a signing key changed concurrently".into()))
    }

    async fn remove_retired_key(&self, kid: &str) -> Result<bool, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(KEYS_PK))
            .key(SK, s(format!("KEY#{kid}")))
            .condition_expression("#status = :retired")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":retired", s(KeyStatus::Retired.as_str()))
            .send()
            .await;
        // A failed condition: not retired, or not there (an SDK retry of a delete that
        // succeeded).
        let deleted = conditional(
            deleted,
            DeleteItemError::is_conditional_check_failed_exception,
        )?;
        Ok(deleted.is_some())
    }
}
