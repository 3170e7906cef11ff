//! The one encoding of stored records: every adapter keeps a record as the JSON of its domain
//! type (the SQLite `doc` column, the DynamoDB `doc` attribute), written and read here.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// The stored form of `record`.
pub(crate) fn encode<T: Serialize>(record: &T) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::corrupt_by(e.to_string(), e))
}

/// The record stored as `doc`; [`StoreError::Corrupt`] if it is not one.
pub(crate) fn decode<T: DeserializeOwned>(doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::corrupt_by(e.to_string(), e))
}
