//! Revoked token ids in the embedded store ([`RevocationStore`]).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::sql::unavailable;
use crate::clock::UnixTime;
use crate::store::{RevocationStore, StoreError};

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn revoke(&self, jti: &str, until: UnixTime) -> Result<(), StoreError> {
        let jti = jti.to_owned();
        self.run(move |c| {
            c.execute(
                "INSERT INTO revocations (jti, until) VALUES (?1, ?2)
                 ON CONFLICT (jti) DO UPDATE SET until = max(until, excluded.until)",
                params![jti, until as i64],
            )
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn is_revoked(&self, jti: &str, now: UnixTime) -> Result<bool, StoreError> {
        let jti = jti.to_owned();
        self.run(move |c| {
            let until: Option<i64> = c
                .query_row(
                    "SELECT until FROM revocations WHERE jti = ?1",
                    [&jti],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            Ok(until.is_some_and(|u| u >= 0 && now < u as u64))
        })
        .await
    }
}
