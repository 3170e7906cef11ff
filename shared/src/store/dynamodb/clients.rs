//! Registered clients in the table ([`ClientStore`]): `CLIENT#<id>` / `CLIENT`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::attrs::{Item, decode, n, s};
use super::errors::conditional;
use super::schema::*;
use crate::domain::{Client as OAuthClient, ClientId};
use crate::store::codec::encode;
use crate::store::{ClientStore, StoreError};

fn client_key(id: &ClientId) -> String {
    format!("CLIENT#{id}")
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
        let mut out: Vec<OAuthClient> = self.gsi1_docs("CLIENTS").await?;
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

    async fn delete_client(&self, id: &ClientId, version: u64) -> Result<bool, StoreError> {
        let sent = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(client_key(id)))
            .key(SK, s("CLIENT"))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", n(version))
            .send()
            .await;
        if conditional(sent, DeleteItemError::is_conditional_check_failed_exception)?.is_some() {
            return Ok(true);
        }
        // The condition failed: gone already (an SDK retry of our own delete), or changed.
        match self.get(client_key(id), "CLIENT").await? {
            None => Ok(false),
            Some(_) => Err(StoreError::Conflict(format!(
                "client {id} changed concurrently"
            ))),
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
        let written = conditional(
            put.send().await,
            PutItemError::is_conditional_check_failed_exception,
        )?;
        Ok(written.is_some())
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
