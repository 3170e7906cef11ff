//! Failed client authentications in the embedded store ([`AuthFailureStore`], see
//! [`crate::oauth::throttle`]).

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use super::sql::{to_i64, unavailable};
use crate::clock::UnixTime;
use crate::store::{AuthFailureStore, StoreError};

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
