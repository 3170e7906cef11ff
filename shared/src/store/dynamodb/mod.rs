//! The DynamoDB store: one table, single-table design (see `docs/dynamodb.md`).
//!
//! | item | `pk` | `sk` | other attributes |
//! |---|---|---|---|
//! | client | `CLIENT#<id>` | `CLIENT` | `doc` (JSON), `version`, `gsi1pk` = `CLIENTS`, `gsi1sk` = id |
//! | signing key | `KEYS` | `KEY#<kid>` | `doc` (JSON), `status` |
//! | active-key pointer | `KEYS` | `ACTIVE` | `kid` |
//! | revoked token id | `REVOKED#<jti>` | `REVOKED` | `until`, `ttl` = `until` |
//! | failed authentications | `AUTHFAIL#<hash of client id and source>` | `AUTHFAIL` | `count`, `window_end`, `ttl` |
//! | used client assertion | `ASSERTION#<hash of client id and jti>` | `ASSERTION` | `until`, `ttl` = `until` |
//! | delegation | `DELEGATE#<delegate>` | `DELEGATOR#<delegator>` | `doc`, `id`, `gsi1pk` = `DELEGATOR#<delegator>`, `gsi1sk` = `DELEGATE#<delegate>`, `ttl` |
//! | delegation by id | `DELEGATION#<id>` | `DELEGATION` | `doc`, `ttl` |
//! | trusted issuer | `ISSUERS` | `ISSUER#<issuer>` | `doc` (JSON) |
//! | scope rule | `SCOPE_RULES` | `SCOPE#<scope>` | `doc` (JSON) |
//! | refresh token | `REFRESH#<hash>` | `REFRESH` | `doc` (JSON), `family`, `used_at` (once used), `ttl` = `expires_at` + 1 day |
//!
//! Security decisions (revocation, key status, delegations) read the base table with consistent reads; the
//! `gsi1` index serves only listings. DynamoDB's TTL deletion is lazy, so expiry is also
//! checked in code. Writes that can race are conditional, and a conditional failure is read
//! back before it is reported as a conflict, so an SDK retry of a write that had in fact
//! succeeded is recognised as success.

mod delegations;
mod exchange;
mod keys;
mod throttle;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::{ClientStore, RevocationStore, StoreError};
use crate::clock::UnixTime;
use crate::domain::{Client as OAuthClient, ClientId};

/// Names in the table's schema, shared with `template.yaml` (a test compares them).
pub mod schema {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const GSI1: &str = "gsi1";
    pub const GSI1_PK: &str = "gsi1pk";
    pub const GSI1_SK: &str = "gsi1sk";
    pub const TTL: &str = "ttl";

    /// The table's definition in CloudFormation's `AWS::DynamoDB::Table` terms: what
    /// [`super::DynamoStore::create_table`] creates and what `template.yaml` must declare.
    pub fn cloudformation() -> serde_json::Value {
        let attr = |n: &str| serde_json::json!({"AttributeName": n, "AttributeType": "S"});
        let key = |n: &str, t: &str| serde_json::json!({"AttributeName": n, "KeyType": t});
        serde_json::json!({
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [attr(PK), attr(SK), attr(GSI1_PK), attr(GSI1_SK)],
            "KeySchema": [key(PK, "HASH"), key(SK, "RANGE")],
            "GlobalSecondaryIndexes": [{
                "IndexName": GSI1,
                "KeySchema": [key(GSI1_PK, "HASH"), key(GSI1_SK, "RANGE")],
                "Projection": {"ProjectionType": "ALL"},
            }],
            "TimeToLiveSpecification": {"AttributeName": TTL, "Enabled": true},
        })
    }
}

use schema::*;

/// Every store port over one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn unavailable<E: std::fmt::Debug>(e: SdkError<E>) -> StoreError {
    // The Debug form names the AWS error code; it is logged, never sent to a client.
    StoreError::Unavailable(format!("dynamodb: {e:?}"))
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a string"
        ))),
    }
}

fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not a whole number"))),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a number"
        ))),
    }
}

fn decode<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(get_s(item, "doc")?).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Runs a query through every page and decodes each item's `doc`.
async fn query_docs<T: serde::de::DeserializeOwned>(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<T>, StoreError> {
    let items: Vec<Item> = query
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(unavailable)?;
    items.iter().map(decode).collect()
}

fn client_key(id: &ClientId) -> String {
    format!("CLIENT#{id}")
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A store on `table`, reached with the standard AWS environment ([`crate::aws::sdk_config`]).
    pub async fn from_env(table: impl Into<String>) -> Self {
        Self::new(Client::new(&crate::aws::sdk_config().await), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with the schema `template.yaml` declares (on-demand billing, the
    /// `gsi1` index, TTL on `ttl`) and waits until it is active.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key(GSI1_PK, KeyType::Hash)?)
            .key_schema(key(GSI1_SK, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(PK)?)
            .attribute_definitions(attr(SK)?)
            .attribute_definitions(attr(GSI1_PK)?)
            .attribute_definitions(attr(GSI1_SK)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .send()
            .await
            .map_err(unavailable)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL)
                    .enabled(true)
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            )
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    fn client_item(c: &OAuthClient) -> Result<Item, StoreError> {
        Ok(HashMap::from([
            (PK.to_owned(), s(client_key(&c.id))),
            (SK.to_owned(), s("CLIENT")),
            (GSI1_PK.to_owned(), s("CLIENTS")),
            (GSI1_SK.to_owned(), s(c.id.as_str())),
            ("version".to_owned(), n(c.version)),
            ("doc".to_owned(), s(encode(c)?)),
        ]))
    }

    /// After a conditional write failed: is the stored client exactly what we wrote (an SDK
    /// retry of our own successful write)?
    async fn client_is(&self, c: &OAuthClient) -> Result<Option<bool>, StoreError> {
        Ok(match self.get(client_key(&c.id), "CLIENT").await? {
            None => None,
            Some(item) => Some(decode::<OAuthClient>(&item)? == *c),
        })
    }
}

#[async_trait]
impl ClientStore for DynamoStore {
    async fn get_client(&self, id: &ClientId) -> Result<Option<OAuthClient>, StoreError> {
        self.get(client_key(id), "CLIENT")
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    async fn list_clients(&self) -> Result<Vec<OAuthClient>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", GSI1_PK)
            .expression_attribute_values(":p", s("CLIENTS"));
        let mut out: Vec<OAuthClient> = query_docs(query).await?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn create_client(&self, c: &OAuthClient) -> Result<(), StoreError> {
        let written = self
            .put_client_if(c, "attribute_not_exists(#pk)", ("#pk", PK), None)
            .await?;
        if written || self.client_is(c).await? == Some(true) {
            return Ok(());
        }
        Err(StoreError::Conflict(format!(
            "client {} already exists",
            c.id
        )))
    }

    async fn update_client(&self, c: &OAuthClient) -> Result<(), StoreError> {
        let previous = c
            .version
            .checked_sub(1)
            .ok_or_else(|| StoreError::Conflict("an update must bump the version".into()))?;
        let written = self
            .put_client_if(
                c,
                "#v = :prev",
                ("#v", "version"),
                Some((":prev", n(previous))),
            )
            .await?;
        if written {
            return Ok(());
        }
        match self.client_is(c).await? {
            Some(true) => Ok(()),
            Some(false) => Err(StoreError::Conflict(format!(
                "client {} changed concurrently",
                c.id
            ))),
            None => Err(StoreError::NotFound(format!("client {}", c.id))),
        }
    }
}

impl DynamoStore {
    /// Writes the client item under `condition`: `Ok(false)` when the condition failed.
    async fn put_client_if(
        &self,
        c: &OAuthClient,
        condition: &str,
        name: (&str, &str),
        value: Option<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::client_item(c)?))
            .condition_expression(condition)
            .expression_attribute_names(name.0, name.1);
        if let Some((k, v)) = value {
            put = put.expression_attribute_values(k, v);
        }
        match put.send().await {
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
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn is_revoked(&self, jti: &str, now: UnixTime) -> Result<bool, StoreError> {
        match self.get(format!("REVOKED#{jti}"), "REVOKED").await? {
            None => Ok(false),
            Some(item) => Ok(now < get_n(&item, "until")?),
        }
    }
}
