//! SQLite's errors and values in the store's terms, and the two ways an adapter file reads
//! stored docs: one row's, or every row's, decoded.

use rusqlite::{Connection, OptionalExtension, Params};
use serde::de::DeserializeOwned;

use crate::clock::UnixTime;
use crate::store::StoreError;
use crate::store::codec::decode;

pub(super) fn unavailable(e: rusqlite::Error) -> StoreError {
    crate::meter::store_failed(crate::meter::Failure::Failed);
    StoreError::unavailable_by(e.to_string(), e)
}

/// `t` as SQLite's INTEGER.
pub(super) fn to_i64(t: UnixTime) -> Result<i64, StoreError> {
    i64::try_from(t).map_err(|e| StoreError::corrupt_by(format!("time {t} out of range"), e))
}

/// The `doc` of the row `sql` selects, if there is one.
pub(super) fn one_doc(
    c: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<Option<String>, StoreError> {
    c.query_row(sql, params, |r| r.get(0))
        .optional()
        .map_err(unavailable)
}

/// The record in the `doc` of every row `sql` selects.
pub(super) fn decode_all<T: DeserializeOwned>(
    c: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = c.prepare(sql).map_err(unavailable)?;
    let docs = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(unavailable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unavailable)?;
    docs.iter().map(|d| decode(d)).collect()
}
