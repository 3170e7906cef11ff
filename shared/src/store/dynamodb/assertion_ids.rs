//! Used client-assertion ids in the table ([`AssertionIdStore`]): `ASSERTION#<key>` /
//! `ASSERTION`, with `until` and `ttl` = `until`.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;

use super::DynamoStore;
use super::attrs::{n, s};
use super::errors::conditional;
use super::schema::*;
use crate::clock::UnixTime;
use crate::store::{AssertionIdStore, StoreError};

#[async_trait]
impl AssertionIdStore for DynamoStore {
    async fn first_use(
        &self,
        key: &str,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(format!("ASSERTION#{key}")))
            .item(SK, s("ASSERTION"))
            .item("until", n(until))
            .item(TTL, n(until))
            // A live use stands; only an expired one (TTL deletion is lazy) may be replaced.
            .condition_expression("attribute_not_exists(#pk) OR #until <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        let written = conditional(put, PutItemError::is_conditional_check_failed_exception)?;
        Ok(written.is_some())
    }
}
