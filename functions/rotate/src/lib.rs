//! The key-rotation function: run by an EventBridge schedule, it takes one rotation step
//! (`tokenmint::rotation::rotate`) and answers with what it did.

use std::sync::Arc;

use tokenmint::rotation::{self, Schedule, Step};
use tokenmint::signer::NextKey;
use tokenmint::store::KeyStore;
use tokenmint::{Clock, SystemClock};

/// Everything a run needs, built once per cold start.
pub struct Rotator {
    pub keys: Arc<dyn KeyStore>,
    pub source: Box<dyn NextKey>,
    pub schedule: Schedule,
}

/// A failed run; the schedule retries it next time.
#[derive(Debug, thiserror::Error)]
#[error("rotation failed: {0}")]
pub struct RotateError(#[from] rotation::RotationError);

impl From<RotateError> for lambda_runtime::Diagnostic {
    fn from(e: RotateError) -> Self {
        Self {
            error_type: "RotateError".into(),
            error_message: e.to_string(),
        }
    }
}

/// One scheduled run. The event's content does not matter: the schedule is the trigger.
pub async fn handle(r: &Rotator) -> Result<Vec<Step>, RotateError> {
    Ok(rotation::rotate(
        r.keys.as_ref(),
        r.source.as_ref(),
        &r.schedule,
        SystemClock.now(),
        false,
    )
    .await?)
}
