//! Failed client authentications (see [`crate::throttle`]) and used client-assertion ids in
//! the embedded store.

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, unavailable};
use crate::clock::UnixTime;
use crate::store::{AssertionIdStore, AuthFailureStore, StoreError};

/// Added in schema version 4.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS auth_failures (
    key        TEXT PRIMARY KEY,
    count      INTEGER NOT NULL,
    window_end INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assertion_ids (
    key   TEXT PRIMARY KEY,
    until INTEGER NOT NULL
);
";

#[async_trait]
impl AssertionIdStore for SqliteStore {
    async fn first_use(
        &self,
        key: &str,
        until: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let key = key.to_owned();
        let (until, now) = (to_i64(until)?, to_i64(now)?);
        self.run(move |c| {
            // Inserted, or an expired use replaced: one row changed. A live use: none.
            let changed = c
                .execute(
                    "INSERT INTO assertion_ids (key, until) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE until <= ?3",
                    params![key, until, now],
                )
                .map_err(unavailable)?;
            c.execute("DELETE FROM assertion_ids WHERE until <= ?1", params![now])
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }
}

#[async_trait]
impl AuthFailureStore for SqliteStore {
    async fn add_auth_failure(
        &self,
        key: &str,
        now: UnixTime,
        window: u64,
    ) -> Result<(u32, UnixTime), StoreError> {
        let key = key.to_owned();
        let (now, end) = (to_i64(now)?, to_i64(now.saturating_add(window))?);
        self.run(move |c| {
            // One statement: concurrent writers each count, and a closed window restarts.
            let (count, window_end): (i64, i64) = c
                .query_row(
                    "INSERT INTO auth_failures (key, count, window_end) VALUES (?1, 1, ?3)
                     ON CONFLICT (key) DO UPDATE SET
                         count = CASE WHEN window_end > ?2 THEN count + 1 ELSE 1 END,
                         window_end = CASE WHEN window_end > ?2 THEN window_end ELSE ?3 END
                     RETURNING count, window_end",
                    params![key, now, end],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(unavailable)?;
            // Expired windows of other keys go with it, so the table stays small.
            c.execute(
                "DELETE FROM auth_failures WHERE window_end <= ?1 AND key <> ?2",
                params![now, key],
            )
            .map_err(unavailable)?;
            Ok((
                u32::try_from(count).unwrap_or(u32::MAX),
                u64::try_from(window_end).unwrap_or_default(),
            ))
        })
        .await
    }
}

fn to_i64(t: UnixTime) -> Result<i64, StoreError> {
    i64::try_from(t).map_err(|_| StoreError::Corrupt(format!("time {t} out of range")))
}
