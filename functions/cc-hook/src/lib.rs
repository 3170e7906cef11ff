//! The client-credentials exchange hook as a Lambda function: the token function invokes it
//! synchronously with a contract-version-1 event (docs/hook.md) and it answers with the
//! default hook's decision, from the delegations and client attributes in DynamoDB.

use serde_json::Value;
use tokenmint::hook::in_process::DefaultHook;
use tokenmint::hook::{CONTRACT_VERSION, ClaimsHook, HookEvent, HookFailure};

/// Why an event got no decision. The token function treats these as the hook failing:
/// no token.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("unsupported hook event version {0}; this hook speaks version {CONTRACT_VERSION}")]
    Version(u32),
    #[error("malformed hook event: {0}")]
    Event(String),
    #[error(transparent)]
    Hook(#[from] HookFailure),
}

impl From<HookError> for lambda_runtime::Diagnostic {
    fn from(e: HookError) -> Self {
        Self {
            error_type: "HookError".into(),
            error_message: e.to_string(),
        }
    }
}

/// Decides one event: `{"claims": ...}` or `{"deny": {"reason": ...}}`.
pub async fn handle(hook: &DefaultHook, event: Value) -> Result<Value, HookError> {
    // The version is checked before the rest, so a newer event gets a clear answer.
    let version = event.get("version").and_then(Value::as_u64).unwrap_or(0);
    if version != u64::from(CONTRACT_VERSION) {
        return Err(HookError::Version(
            u32::try_from(version).unwrap_or(u32::MAX),
        ));
    }
    let event: HookEvent =
        serde_json::from_value(event).map_err(|e| HookError::Event(e.to_string()))?;
    Ok(hook.call(&event).await?.to_json())
}
