//! `tokenmint`: run the local server and administer clients.

mod args;
mod commands;
mod context;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::error::CliError;

/// mimalloc: the server allocates a few small buffers per request, and glibc's allocator
/// showed up at several per cent of CPU under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every failure is one sentence on standard error and a non-zero exit; clap's usage errors
/// exit with 2 before this runs.
fn main() -> ExitCode {
    let args = args::Args::parse();
    let done = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("cannot start the async runtime"))
        .and_then(|runtime| runtime.block_on(commands::run(args)));
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
