//! Revoked token ids in the table ([`RevocationStore`]): `REVOKED#<jti>` / `REVOKED`.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;

use super::DynamoStore;
use super::attrs::{get_n, n, s};
use super::errors::conditional;
use super::schema::*;
use crate::clock::UnixTime;
use crate::store::{RevocationStore, StoreError};

#[async_trait]
impl RevocationStore for DynamoStore {
    async fn revoke(&self, jti: &str, until: UnixTime) -> Result<(), StoreError> {
        // Never shortens an existing revocation; a failed condition means one at least as
        // long is already stored (ours, if this is an SDK retry), which is success.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(format!("REVOKED#{jti}")))
            .item(SK, s("REVOKED"))
            .item("until", n(until))
            .item(TTL, n(until))
            .condition_expression("attribute_not_exists(#pk) OR #until < :until")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":until", n(until))
            .send()
            .await;
        conditional(result, PutItemError::is_conditional_check_failed_exception).map(drop)
    }

    async fn is_revoked(&self, jti: &str, now: UnixTime) -> Result<bool, StoreError> {
        match self.get(format!("REVOKED#{jti}"), "REVOKED").await? {
            None => Ok(false),
            Some(item) => Ok(now < get_n(&item, "until")?),
        }
    }
}
