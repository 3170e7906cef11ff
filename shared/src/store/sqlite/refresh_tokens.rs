//! Refresh tokens in the embedded store ([`RefreshTokenStore`]).

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior, params};

use super::SqliteStore;
use super::sql::{one_doc, unavailable};
use crate::clock::UnixTime;
use crate::domain::RefreshRecord;
use crate::store::codec::{decode, encode};
use crate::store::{RefreshTokenStore, StoreError};

fn refresh_doc(c: &Connection, hash: &str) -> Result<Option<String>, StoreError> {
    one_doc(c, "SELECT doc FROM refresh_tokens WHERE hash = ?1", [hash])
}

/// Inserts `record` unless its hash is taken; `Conflict` if it is taken by a different record
/// (the identical record is a retried write).
fn insert_refresh(c: &Connection, record: &RefreshRecord, doc: &str) -> Result<(), StoreError> {
    let n = c
        .execute(
            "INSERT INTO refresh_tokens (hash, family, used_at, expires_at, doc)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hash) DO NOTHING",
            params![
                record.hash,
                record.family,
                record.used_at.map(|t| t as i64),
                record.expires_at as i64,
                doc
            ],
        )
        .map_err(unavailable)?;
    if n == 1 || refresh_doc(c, &record.hash)?.as_deref() == Some(doc) {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "refresh token {} already exists",
        record.hash
    )))
}

#[async_trait]
impl RefreshTokenStore for SqliteStore {
    async fn put_refresh_token(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        let (record, doc) = (record.clone(), encode(record)?);
        self.run(move |c| insert_refresh(c, &record, &doc)).await
    }

    async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshRecord>, StoreError> {
        let hash = hash.to_owned();
        self.run(move |c| refresh_doc(c, &hash)?.as_deref().map(decode).transpose())
            .await
    }

    async fn rotate_refresh_token(
        &self,
        used: &str,
        now: UnixTime,
        next: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let (used, next, next_doc) = (used.to_owned(), next.clone(), encode(next)?);
        self.run(move |c| {
            // IMMEDIATE takes the write lock first, so the read below and the guarded update
            // see the same row, also against other processes on the file.
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let conflict =
                || StoreError::Conflict(format!("refresh token {used} is used or unknown"));
            let mut current: RefreshRecord =
                decode(&refresh_doc(&tx, &used)?.ok_or_else(conflict)?)?;
            if current.used_at.is_some() {
                // Already rotated: success only if it was this very rotation (a retried call).
                let retried = current.replaced_by.as_ref() == Some(&next.hash)
                    && refresh_doc(&tx, &next.hash)?.as_deref() == Some(next_doc.as_str());
                return if retried { Ok(()) } else { Err(conflict()) };
            }
            current.used_at = Some(now);
            current.replaced_by = Some(next.hash.clone());
            let changed = tx
                .execute(
                    "UPDATE refresh_tokens SET used_at = ?1, doc = ?2
                     WHERE hash = ?3 AND used_at IS NULL",
                    params![now as i64, encode(&current)?, used],
                )
                .map_err(unavailable)?;
            if changed != 1 {
                return Err(conflict());
            }
            // Dropping the transaction on a conflict here rolls the update back.
            insert_refresh(&tx, &next, &next_doc)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }
}
