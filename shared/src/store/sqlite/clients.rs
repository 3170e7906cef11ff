//! Registered clients in the embedded store ([`ClientStore`]).

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::SqliteStore;
use super::sql::{one_doc, unavailable};
use crate::domain::{Client, ClientId};
use crate::store::codec::{decode, encode};
use crate::store::{ClientStore, StoreError};

fn stored_doc(c: &Connection, id: &str) -> Result<Option<String>, StoreError> {
    one_doc(c, "SELECT doc FROM clients WHERE id = ?1", [id])
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let id = id.as_str().to_owned();
        self.run(move |c| stored_doc(c, &id)?.as_deref().map(decode).transpose())
            .await
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        self.docs("SELECT doc FROM clients ORDER BY id").await
    }

    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let (id, version, doc) = (client.id.to_string(), client.version, encode(client)?);
        self.run(move |c| {
            let n = c
                .execute(
                    "INSERT INTO clients (id, version, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO NOTHING",
                    params![id, version as i64, doc],
                )
                .map_err(unavailable)?;
            if n == 1 || stored_doc(c, &id)?.as_deref() == Some(doc.as_str()) {
                return Ok(());
            }
            Err(StoreError::Conflict(format!("client {id} already exists")))
        })
        .await
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let (id, version, doc) = (client.id.to_string(), client.version, encode(client)?);
        let previous = version
            .checked_sub(1)
            .ok_or_else(|| StoreError::Conflict("an update must bump the version".into()))?;
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE clients SET version = ?2, doc = ?3 WHERE id = ?1 AND version = ?4",
                    params![id, version as i64, doc, previous as i64],
                )
                .map_err(unavailable)?;
            if n == 1 {
                return Ok(());
            }
            match stored_doc(c, &id)? {
                Some(stored) if stored == doc => Ok(()),
                Some(_) => Err(StoreError::Conflict(format!(
                    "client {id} changed concurrently"
                ))),
                None => Err(StoreError::NotFound(format!("client {id}"))),
            }
        })
        .await
    }

    async fn delete_client(&self, id: &ClientId, version: u64) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        self.run(move |c| {
            let n = c
                .execute(
                    "DELETE FROM clients WHERE id = ?1 AND version = ?2",
                    params![id, version as i64],
                )
                .map_err(unavailable)?;
            match (n, stored_doc(c, &id)?) {
                (1, _) => Ok(true),
                (_, None) => Ok(false),
                (_, Some(_)) => Err(StoreError::Conflict(format!(
                    "client {id} changed concurrently"
                ))),
            }
        })
        .await
    }
}
