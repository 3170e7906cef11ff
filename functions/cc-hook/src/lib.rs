//! The client-credentials exchange hook: a Lambda function that receives a JSON event and
//! answers with the custom claims to add to a token. This build answers every version-1 event
//! with no claims; the token function does not call it yet.

use serde::{Deserialize, Serialize};

/// The hook event (contract version 1). Unknown members are ignored.
#[derive(Debug, Deserialize)]
pub struct HookEvent {
    pub version: u32,
}

/// The hook response: claims to add, by their full names.
#[derive(Debug, Serialize, PartialEq)]
pub struct HookResponse {
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// Why an event was refused.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("unsupported hook event version {0}")]
    Version(u32),
}

impl From<HookError> for lambda_runtime::Diagnostic {
    fn from(e: HookError) -> Self {
        Self {
            error_type: "HookError".into(),
            error_message: e.to_string(),
        }
    }
}

/// Decides the claims for one event.
pub async fn handle(event: HookEvent) -> Result<HookResponse, HookError> {
    if event.version != 1 {
        return Err(HookError::Version(event.version));
    }
    Ok(HookResponse {
        claims: serde_json::Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_version_one_only() {
        let ok = handle(HookEvent { version: 1 }).await.unwrap();
        assert!(ok.claims.is_empty());
        assert!(handle(HookEvent { version: 2 }).await.is_err());
    }
}
