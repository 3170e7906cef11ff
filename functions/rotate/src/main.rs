//! Wiring only: configuration, the store and the next-key source once, then the Runtime API
//! loop.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tokenmint::rotation::Schedule;
use tokenmint::{Config, setup, telemetry};
use tokenmint_fn_rotate::{Rotator, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let _log = telemetry::init(telemetry::Sink::Stdout);
    let config = Config::from_env()?;
    let stores = setup::open_shared_stores(&config).await?;
    let rotator = Arc::new(Rotator {
        keys: stores.keys,
        source: setup::next_key_source(&config).await?,
        schedule: Schedule::from_config(&config),
    });
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let rotator = Arc::clone(&rotator);
        async move { handle(&rotator).await }
    }))
    .await
}
