//! Used client-assertion ids in the embedded store ([`AssertionIdStore`]).

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use super::sql::{to_i64, unavailable};
use crate::clock::UnixTime;
use crate::store::{AssertionIdStore, StoreError};

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
