//! Signing keys in the embedded store ([`KeyStore`]).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::SqliteStore;
use super::sql::{one_doc, unavailable};
use crate::domain::{KeyRecord, KeyStatus};
use crate::store::codec::{decode, encode};
use crate::store::{KeyChange, KeyStore, StoreError};

#[async_trait]
impl KeyStore for SqliteStore {
    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.docs("SELECT doc FROM signing_keys ORDER BY created_at, kid")
            .await
    }

    async fn init_active_key(&self, key: &KeyRecord) -> Result<KeyRecord, StoreError> {
        let mut key = key.clone();
        key.status = KeyStatus::Active;
        let doc = encode(&key)?;
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let active = "SELECT doc FROM signing_keys WHERE status = 'active' LIMIT 1";
            if let Some(doc) = one_doc(&tx, active, [])? {
                return decode(&doc);
            }
            tx.execute(
                "INSERT INTO signing_keys (kid, status, created_at, doc) VALUES (?1, 'active', ?2, ?3)",
                params![key.kid, key.created_at as i64, doc],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(key)
        })
        .await
    }

    async fn transition(&self, changes: &[KeyChange]) -> Result<(), StoreError> {
        let changes = changes.to_vec();
        let docs = changes
            .iter()
            .map(|c| encode(&c.record))
            .collect::<Result<Vec<_>, _>>()?;
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            for ch in &changes {
                let stored: Option<String> = tx
                    .query_row(
                        "SELECT status FROM signing_keys WHERE kid = ?1",
                        [&ch.record.kid],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(unavailable)?;
                if stored.as_deref() != ch.expected.map(KeyStatus::as_str) {
                    return Err(StoreError::Conflict(format!(
                        "key {} is {stored:?}, not {:?}",
                        ch.record.kid, ch.expected
                    )));
                }
            }
            for (ch, doc) in changes.iter().zip(&docs) {
                tx.execute(
                    "INSERT INTO signing_keys (kid, status, created_at, doc) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (kid) DO UPDATE SET status = excluded.status, doc = excluded.doc",
                    params![
                        ch.record.kid,
                        ch.record.status.as_str(),
                        ch.record.created_at as i64,
                        doc
                    ],
                )
                .map_err(unavailable)?;
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn remove_retired_key(&self, kid: &str) -> Result<bool, StoreError> {
        let kid = kid.to_owned();
        self.run(move |c| {
            c.execute(
                "DELETE FROM signing_keys WHERE kid = ?1 AND status = 'retired'",
                [&kid],
            )
            .map(|deleted| deleted > 0)
            .map_err(unavailable)
        })
        .await
    }
}
