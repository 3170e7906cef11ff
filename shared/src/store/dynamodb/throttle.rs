//! Failed client authentications in DynamoDB (see [`crate::throttle`]): one item per key,
//! `AUTHFAIL#<key>` / `AUTHFAIL`, with `count`, `window_end` and `ttl` = `window_end`. Used
//! client-assertion ids: `ASSERTION#<key>` / `ASSERTION`, with `until` and `ttl` = `until`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::schema::{PK, SK, TTL};
use super::{DynamoStore, get_n, n, s, unavailable};
use crate::clock::UnixTime;
use crate::store::{AssertionIdStore, AuthFailureStore, StoreError};

const SK_VALUE: &str = "AUTHFAIL";

fn key_of(key: &str) -> String {
    format!("AUTHFAIL#{key}")
}

#[async_trait]
impl AuthFailureStore for DynamoStore {
    async fn add_auth_failure(
        &self,
        key: &str,
        now: UnixTime,
        window: u64,
    ) -> Result<(u32, UnixTime), StoreError> {
        // Count in the open window; when there is none, open one; if another writer opened
        // it first, count in theirs. Two rounds settle any race between two writers.
        for _ in 0..3 {
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(key_of(key)))
                .key(SK, s(SK_VALUE))
                .update_expression("ADD #count :one")
                .condition_expression("#window_end > :now")
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#window_end", "window_end")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match counted {
                Ok(out) => {
                    let item = out.attributes.unwrap_or_default();
                    let count = u32::try_from(get_n(&item, "count")?).unwrap_or(u32::MAX);
                    return Ok((count, get_n(&item, "window_end")?));
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
            let end = now.saturating_add(window);
            let opened = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(PK, s(key_of(key)))
                .item(SK, s(SK_VALUE))
                .item("count", n(1))
                .item("window_end", n(end))
                .item(TTL, n(end))
                .condition_expression("attribute_not_exists(#pk) OR #window_end <= :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#window_end", "window_end")
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match opened {
                Ok(_) => return Ok((1, end)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Conflict(
            "authentication failure counter kept changing".into(),
        ))
    }
}

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
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}
