//! Refresh tokens in the table ([`RefreshTokenStore`], docs/dynamodb.md): `REFRESH#<hash>` /
//! `REFRESH`, a refresh token, read with one consistent `GetItem`.
//!   Rotation marks the used token and writes the next one in one transaction, conditional on
//!   the used token existing unused and the next one not existing.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::DynamoStore;
use super::attrs::{Item, decode, n, s};
use super::errors::{build_failed, condition_failed, conditional};
use super::schema::{PK, SK, TTL};
use crate::clock::UnixTime;
use crate::domain::RefreshRecord;
use crate::store::codec::encode;
use crate::store::{RefreshTokenStore, StoreError};

const REFRESH_SK: &str = "REFRESH";

/// Seconds a refresh token's item outlives its family's end before TTL may delete it (expiry
/// is always checked in code; keeping used tokens a little longer still detects late reuse).
const EXPIRED_RETENTION: u64 = 86_400;

fn refresh_key(hash: &str) -> String {
    format!("REFRESH#{hash}")
}

fn refresh_item(r: &RefreshRecord) -> Result<Item, StoreError> {
    let mut item: Item = HashMap::from([
        (PK.to_owned(), s(refresh_key(&r.hash))),
        (SK.to_owned(), s(REFRESH_SK)),
        ("family".to_owned(), s(r.family.clone())),
        ("doc".to_owned(), s(encode(r)?)),
        (
            TTL.to_owned(),
            n(r.expires_at.saturating_add(EXPIRED_RETENTION)),
        ),
    ]);
    if let Some(used_at) = r.used_at {
        item.insert("used_at".to_owned(), n(used_at));
    }
    Ok(item)
}

impl DynamoStore {
    /// After a rotation's condition failed: had `used` already been rotated into exactly
    /// `next` (the first attempt of a retried call succeeded)?
    async fn rotated_into(&self, used: &str, next: &RefreshRecord) -> Result<bool, StoreError> {
        let Some(current) = self.refresh_token(used).await? else {
            return Ok(false);
        };
        Ok(current.used_at.is_some()
            && current.replaced_by.as_ref() == Some(&next.hash)
            && self.refresh_token(&next.hash).await?.as_ref() == Some(next))
    }
}

#[async_trait]
impl RefreshTokenStore for DynamoStore {
    async fn put_refresh_token(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(refresh_item(record)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        if conditional(result, PutItemError::is_conditional_check_failed_exception)?.is_some() {
            return Ok(());
        }
        // The hash is taken: by this very record (an SDK retry of our own write), or not.
        if self.refresh_token(&record.hash).await?.as_ref() == Some(record) {
            return Ok(());
        }
        Err(StoreError::Conflict(format!(
            "refresh token {} already exists",
            record.hash
        )))
    }

    async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        self.get(refresh_key(hash), REFRESH_SK)
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    async fn rotate_refresh_token(
        &self,
        used: &str,
        now: UnixTime,
        next: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let conflict = || StoreError::Conflict(format!("refresh token {used} is used or unknown"));
        // One transaction cannot touch an item twice; a token cannot replace itself anyway.
        if next.hash == used {
            return Err(conflict());
        }
        // The used token's doc is rewritten whole, so it is read first; the update's
        // condition still decides, so a concurrent rotation between the read and the write
        // loses there.
        let Some(mut current) = self.refresh_token(used).await? else {
            return Err(conflict());
        };
        if current.used_at.is_none() {
            current.used_at = Some(now);
            current.replaced_by = Some(next.hash.clone());
            let mark = Update::builder()
                .table_name(&self.table)
                .key(PK, s(refresh_key(used)))
                .key(SK, s(REFRESH_SK))
                .update_expression("SET #used = :now, #doc = :doc")
                .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#used)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#used", "used_at")
                .expression_attribute_names("#doc", "doc")
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":doc", s(encode(&current)?))
                .build()
                .map_err(build_failed)?;
            let store_next = Put::builder()
                .table_name(&self.table)
                .set_item(Some(refresh_item(next)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(build_failed)?;
            // The SDK gives every TransactWriteItems call an idempotency token, so its own
            // retry of a transaction that succeeded succeeds again.
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(mark).build())
                .transact_items(TransactWriteItem::builder().put(store_next).build())
                .send()
                .await;
            if conditional(result, condition_failed)?.is_some() {
                return Ok(());
            }
        }
        // Used already, or a condition failed: success only if this very rotation happened
        // (a retried call whose first attempt succeeded).
        if self.rotated_into(used, next).await? {
            return Ok(());
        }
        Err(conflict())
    }
}
