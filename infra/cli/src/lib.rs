//! The `tokenmint` operator CLI and local server. The server is a thin hyper adapter over
//! [`tokenmint::App::handle`], the same code path the Lambda functions run.

pub mod metrics;
pub mod server;
