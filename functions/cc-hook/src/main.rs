//! Wiring only: tracing, then the Lambda Runtime API loop over `handle`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tokenmint_fn_cc_hook::{HookEvent, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let _log = tokenmint::telemetry::init(tokenmint::telemetry::Sink::Stdout);
    lambda_runtime::run(service_fn(|event: LambdaEvent<HookEvent>| async move {
        handle(event.payload).await
    }))
    .await
}
