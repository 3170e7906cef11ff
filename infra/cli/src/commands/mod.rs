//! The commands, one file per group. Each opens what it needs through [`crate::context`] and
//! prints through [`crate::output`].

mod apply;
mod client;
mod delegation;
mod federation;
mod issuer;
mod keys;
mod scope;
mod serve;
mod store;
mod token;

use tokenmint::telemetry::Sink;

use crate::args::{Args, Command};
use crate::context::{Context, Flags};
use crate::error::Result;

pub async fn run(args: Args) -> Result<()> {
    let flags = Flags::data(&args.data);
    match args.command {
        Command::Serve(cmd) => serve::run(cmd, flags).await,
        Command::Client(cmd) => client::run(cmd, &open(&flags).await?).await,
        Command::Token(cmd) => token::run(cmd).await,
        Command::Store(cmd) => store::run(cmd, &flags).await,
        Command::Keys(cmd) => keys::run(cmd, &open(&flags).await?).await,
        Command::Delegation(cmd) => delegation::run(cmd, &open(&flags).await?).await,
        Command::Issuer(cmd) => issuer::run(cmd, &open(&flags).await?).await,
        Command::Scope(cmd) => scope::run(cmd, &open(&flags).await?).await,
        Command::Apply(cmd) => apply::run(cmd, &open(&flags).await?).await,
        Command::Export => apply::export(&open(&flags).await?).await,
    }
}

/// The context of an administrative command, which logs to standard error: its standard
/// output is its result.
async fn open(flags: &Flags) -> Result<Context> {
    Context::open(flags, Sink::Stderr).await
}
