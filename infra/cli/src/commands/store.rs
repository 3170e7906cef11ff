//! `tokenmint store`: the DynamoDB table, for deployments that do not create it with SAM.

use tokenmint::config::StoreConfig;
use tokenmint::store::dynamodb::{DynamoStore, schema};
use tokenmint::telemetry::Sink;

use crate::args::StoreCommand;
use crate::context::{Flags, configure};
use crate::error::{CliError, Result};
use crate::output::print_json;

pub async fn run(cmd: StoreCommand, flags: &Flags) -> Result<()> {
    match cmd {
        StoreCommand::Schema => print_json(&schema::cloudformation()),
        StoreCommand::Init => init(flags).await,
    }
}

async fn init(flags: &Flags) -> Result<()> {
    let (config, _log) = configure(flags, Sink::Stderr)?;
    let StoreConfig::DynamoDb(table) = &config.store else {
        return Err(CliError::message(
            "store init creates a DynamoDB table: set TOKENMINT_STORE=dynamodb:TABLE \
             (the SQLite store creates itself)",
        ));
    };
    DynamoStore::from_env(table.as_str())
        .await
        .create_table()
        .await
        .map_err(CliError::store(format!("create table {table}")))?;
    eprintln!("created DynamoDB table {table}");
    Ok(())
}
