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

mod assertion_ids;
mod attrs;
mod auth_failures;
mod clients;
mod delegations;
mod errors;
mod issuers;
mod keys;
mod refresh_tokens;
mod revocations;
mod scope_rules;

pub use auth_failures::COUNTER_ATTEMPT;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::StoreError;
use attrs::{Item, decode, s};
use errors::{build_failed, unavailable};

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
                .map_err(build_failed)
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build_failed)
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
            .map_err(build_failed)?;
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
                    .map_err(build_failed)?,
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
}

impl DynamoStore {
    /// Writes the item `pk`/`sk` with `doc`, replacing any previous one.
    async fn put_doc(&self, pk: &str, sk: String, doc: String) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(pk))
            .item(SK, s(sk))
            .item("doc", s(doc))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Deletes the item `pk`/`sk`; whether there was one.
    async fn delete_doc(&self, pk: &str, sk: String) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    /// Every doc in the partition `pk` whose sort key starts with `prefix`, read consistently.
    async fn partition_docs<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true);
        query_docs(query).await
    }

    /// Every doc listed under `pk` in the `gsi1` index (eventually consistent: listings only).
    async fn gsi1_docs<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", GSI1_PK)
            .expression_attribute_values(":p", s(pk));
        query_docs(query).await
    }
}
