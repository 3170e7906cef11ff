//! Item attributes in the store's terms: building `S` and `N` values, reading them back, and
//! the record kept in an item's `doc`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use crate::store::StoreError;
use crate::store::codec;

/// One item, by attribute name.
pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::corrupt(format!(
            "attribute {name} missing or not a string"
        ))),
    }
}

pub(super) fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|e| {
            StoreError::corrupt_by(format!("attribute {name} is not a whole number"), e)
        }),
        _ => Err(StoreError::corrupt(format!(
            "attribute {name} missing or not a number"
        ))),
    }
}

/// The record in `item`'s `doc` attribute.
pub(super) fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    codec::decode(get_s(item, "doc")?)
}
