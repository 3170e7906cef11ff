//! The SDK's errors in the store's terms.

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

use crate::meter::Failure;
use crate::store::StoreError;

/// DynamoDB's error codes for a request over the table's or the account's throughput.
const THROTTLED: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

/// A failed call: the table could not be reached, or refused.
pub(super) fn unavailable<E>(e: SdkError<E>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let kind = match e.code() {
        Some(code) if THROTTLED.contains(&code) => Failure::Throttled,
        _ => Failure::Failed,
    };
    crate::meter::store_failed(kind);
    // The Debug form names the AWS error code; it is logged, never sent to a client.
    StoreError::unavailable_by(format!("dynamodb: {e:?}"), e)
}

/// A conditional call's output, or `None` when the service refused it in the way `refused`
/// recognises (a failed condition, a cancelled transaction): what that means is the caller's
/// to decide. Any other failure is [`unavailable`].
pub(super) fn conditional<T, E>(
    sent: Result<T, SdkError<E>>,
    refused: fn(&E) -> bool,
) -> Result<Option<T>, StoreError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    match sent {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(refused) => Ok(None),
        Err(e) => Err(unavailable(e)),
    }
}

/// A request the SDK would not build (a required field left unset).
pub(super) fn build_failed(e: BuildError) -> StoreError {
    StoreError::unavailable_by(e.to_string(), e)
}

/// Whether a transaction was cancelled because a condition failed: a conflict, or our own
/// retried write, which the caller reads back. A cancellation for any other reason (a
/// concurrent transaction, throttling) is transient.
pub(super) fn condition_failed(e: &TransactWriteItemsError) -> bool {
    match e {
        TransactWriteItemsError::TransactionCanceledException(c) => c
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}
