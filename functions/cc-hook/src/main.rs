//! Wiring only: configuration and the delegation store once per cold start, then the Lambda
//! Runtime API loop over `handle`.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tokenmint::hook::in_process::DefaultHook;
use tokenmint::{Config, SystemClock, setup, telemetry};
use tokenmint_fn_cc_hook::handle;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let _log = telemetry::init(telemetry::Sink::Stdout);
    let config = Config::from_env()?;
    let stores = setup::open_shared_stores(&config).await?;
    let hook = Arc::new(DefaultHook {
        delegations: stores.delegations,
        clock: Arc::new(SystemClock),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let hook = Arc::clone(&hook);
        async move { handle(&hook, event.payload).await }
    }))
    .await
}
