//! The claims hook as a Lambda function, invoked synchronously (`Invoke`, `RequestResponse`):
//! the template's `cc-hook` function, or an operator's own in any language.

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::{ClaimsHook, HookEvent, HookFailure, HookResponse};

/// The largest answer read from a hook function.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// A hook function, by name or ARN.
pub struct LambdaHook {
    client: Client,
    function: String,
    name: String,
}

impl LambdaHook {
    pub fn new(client: Client, function: impl Into<String>) -> Self {
        let function = function.into();
        Self {
            name: format!("lambda:{function}"),
            client,
            function,
        }
    }
}

#[async_trait]
impl ClaimsHook for LambdaHook {
    fn name(&self) -> &str {
        &self.name
    }

    async fn call(&self, event: &HookEvent) -> Result<HookResponse, HookFailure> {
        let body = serde_json::to_vec(event).map_err(|e| HookFailure::Malformed(e.to_string()))?;
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(body))
            .send()
            .await
            // Throttling, an unreachable endpoint, a missing permission: no answer, fail closed.
            .map_err(|e| HookFailure::Transient(format!("{}: {e:?}", self.name)))?;
        let payload = out.payload().map(Blob::as_ref).unwrap_or_default();
        if let Some(kind) = out.function_error() {
            // The function crashed or returned an error: no decision.
            return Err(HookFailure::Transient(format!(
                "{} failed ({kind}): {}",
                self.name,
                crate::audit::shown(&String::from_utf8_lossy(payload))
            )));
        }
        if payload.len() > MAX_RESPONSE_BYTES {
            return Err(HookFailure::Malformed(format!(
                "the answer is {} bytes, more than {MAX_RESPONSE_BYTES}",
                payload.len()
            )));
        }
        HookResponse::from_json(payload).map_err(HookFailure::Malformed)
    }
}
