//! Trusted issuers, step-up rules and refresh tokens in the embedded store.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{SqliteStore, decode, encode, unavailable};
use crate::clock::UnixTime;
use crate::domain::{RefreshRecord, ScopeRule, TrustedIssuer};
use crate::store::{IssuerStore, RefreshTokenStore, ScopeRuleStore, StoreError};

/// Added in schema version 3.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS issuers (
    issuer TEXT PRIMARY KEY,
    doc    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scope_rules (
    scope TEXT PRIMARY KEY,
    doc   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash       TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    used_at    INTEGER,
    expires_at INTEGER NOT NULL,
    doc        TEXT NOT NULL
);
";

fn refresh_doc(c: &Connection, hash: &str) -> Result<Option<String>, StoreError> {
    c.query_row(
        "SELECT doc FROM refresh_tokens WHERE hash = ?1",
        [hash],
        |r| r.get(0),
    )
    .optional()
    .map_err(unavailable)
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

impl SqliteStore {
    /// Decodes the `doc` of every row `sql` selects.
    async fn docs<T>(&self, sql: &'static str) -> Result<Vec<T>, StoreError>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        self.run(move |c| {
            let mut stmt = c.prepare(sql).map_err(unavailable)?;
            let docs = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            docs.iter().map(|d| decode(d)).collect()
        })
        .await
    }

    /// Runs one write statement; whether it changed a row.
    async fn write(&self, sql: &'static str, values: Vec<String>) -> Result<bool, StoreError> {
        self.run(move |c| {
            let n = c
                .execute(sql, rusqlite::params_from_iter(values))
                .map_err(unavailable)?;
            Ok(n > 0)
        })
        .await
    }
}

#[async_trait]
impl IssuerStore for SqliteStore {
    async fn put_issuer(&self, issuer: &TrustedIssuer) -> Result<(), StoreError> {
        let doc = encode(issuer)?;
        self.write(
            "INSERT INTO issuers (issuer, doc) VALUES (?1, ?2)
             ON CONFLICT (issuer) DO UPDATE SET doc = excluded.doc",
            vec![issuer.issuer.clone(), doc],
        )
        .await
        .map(drop)
    }

    async fn list_issuers(&self) -> Result<Vec<TrustedIssuer>, StoreError> {
        self.docs("SELECT doc FROM issuers ORDER BY issuer").await
    }

    async fn remove_issuer(&self, issuer: &str) -> Result<bool, StoreError> {
        self.write(
            "DELETE FROM issuers WHERE issuer = ?1",
            vec![issuer.to_owned()],
        )
        .await
    }
}

#[async_trait]
impl ScopeRuleStore for SqliteStore {
    async fn put_scope_rule(&self, rule: &ScopeRule) -> Result<(), StoreError> {
        let doc = encode(rule)?;
        self.write(
            "INSERT INTO scope_rules (scope, doc) VALUES (?1, ?2)
             ON CONFLICT (scope) DO UPDATE SET doc = excluded.doc",
            vec![rule.scope.as_str().to_owned(), doc],
        )
        .await
        .map(drop)
    }

    async fn list_scope_rules(&self) -> Result<Vec<ScopeRule>, StoreError> {
        self.docs("SELECT doc FROM scope_rules ORDER BY scope")
            .await
    }

    async fn remove_scope_rule(&self, scope: &str) -> Result<bool, StoreError> {
        self.write(
            "DELETE FROM scope_rules WHERE scope = ?1",
            vec![scope.to_owned()],
        )
        .await
    }
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
