//! Failed client authentications in DynamoDB ([`AuthFailureStore`], see
//! [`crate::oauth::throttle`]): one item per key, `AUTHFAIL#<key>` / `AUTHFAIL`, with `count`,
//! `window_end` and `ttl` = `window_end`.
//!
//! The counter's writes are best effort: one attempt of at most [`COUNTER_ATTEMPT`] each,
//! never retried by the SDK, so a throttled or slow table never holds a request that is
//! failing anyway for seconds of retries (the answer is a refusal whether or not it counts).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValue;

use super::DynamoStore;
use super::attrs::{get_n, n, s};
use super::errors::conditional;
use super::schema::{PK, SK, TTL};
use crate::clock::UnixTime;
use crate::store::{AuthFailureStore, StoreError};

const SK_VALUE: &str = "AUTHFAIL";

/// The longest a counter write may take, connecting included.
pub const COUNTER_ATTEMPT: Duration = Duration::from_secs(1);

fn key_of(key: &str) -> String {
    format!("AUTHFAIL#{key}")
}

/// The per-operation configuration of the counter's writes: one attempt, [`COUNTER_ATTEMPT`].
fn best_effort() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::default()
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(COUNTER_ATTEMPT)
                .operation_attempt_timeout(COUNTER_ATTEMPT)
                .operation_timeout(COUNTER_ATTEMPT)
                .build(),
        )
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
                .customize()
                .config_override(best_effort())
                .send()
                .await;
            let counted = conditional(
                counted,
                UpdateItemError::is_conditional_check_failed_exception,
            )?;
            if let Some(out) = counted {
                let item = out.attributes.unwrap_or_default();
                let count = u32::try_from(get_n(&item, "count")?).unwrap_or(u32::MAX);
                return Ok((count, get_n(&item, "window_end")?));
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
                .customize()
                .config_override(best_effort())
                .send()
                .await;
            if conditional(opened, PutItemError::is_conditional_check_failed_exception)?.is_some() {
                return Ok((1, end));
            }
        }
        Err(StoreError::Conflict(
            "authentication failure counter kept changing".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use std::time::Instant;

    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

    use super::*;

    /// A DynamoDB endpoint that counts requests and answers each with a `500` (which the SDK
    /// retries) or never answers at all.
    fn failing_endpoint(answer: bool) -> (String, Arc<AtomicU32>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicU32::new(0));
        let count = Arc::clone(&requests);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let (Ok(mut conn), count) = (conn, Arc::clone(&count)) else {
                    return;
                };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    if conn.read(&mut buf).unwrap_or(0) == 0 {
                        return;
                    }
                    count.fetch_add(1, SeqCst);
                    if !answer {
                        std::thread::sleep(std::time::Duration::from_secs(10));
                        return;
                    }
                    let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"stub"}"#;
                    let _ = write!(
                        conn,
                        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        (url, requests)
    }

    /// A client configured as [`crate::aws::sdk_config`] configures every function's: standard
    /// retries (3 attempts), 1 s per attempt, 3 s in all.
    fn client(url: &str) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .endpoint_url(url)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_attempt_timeout(Duration::from_secs(1))
                    .operation_timeout(Duration::from_secs(3))
                    .build(),
            )
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    #[tokio::test]
    async fn a_failing_counter_write_is_one_short_attempt() {
        for answer in [true, false] {
            let (url, requests) = failing_endpoint(answer);
            let store = DynamoStore::new(client(&url), "t");
            let started = Instant::now();
            let counted = store.add_auth_failure("k", 1_000, 300).await;
            let took = started.elapsed();
            assert!(
                matches!(counted, Err(StoreError::Unavailable { .. })),
                "{counted:?}"
            );
            assert_eq!(requests.load(SeqCst), 1, "answer: {answer}");
            assert!(
                took < COUNTER_ATTEMPT + Duration::from_millis(400),
                "answer: {answer}, took {took:?}"
            );
        }
    }
}
