//! tokenmint: a self-hosted OAuth 2.0 token issuer.
//!
//! The crate holds every rule of the service; the Lambda functions and the local server are thin
//! adapters over `App::handle` (the router, [`http`]). Layers, from the inside out:
//! - [`domain`]: pure data (client ids, scopes, audiences, claims, keys, the token policy); no I/O.
//! - [`config`]: every environment variable, parsed and checked once.
//! - [`jwt`] and [`signer`]: JWS compact serialisation, signing keys, strict validation.
//! - [`store`]: narrow storage ports with SQLite (embedded) and DynamoDB adapters (and an
//!   in-memory one for tests, behind the `test-support` feature).
//! - [`hook`]: the claims-hook contract, its guard rails and transports.
//! - [`app`]: the services every endpoint runs on; [`setup`] builds it from the configuration.
//! - [`oauth`]: the protocol rules of each endpoint (RFC 6749, 7009, 7523, 7662, 8414, 8693,
//!   8707, 9068).
//! - [`http`]: `http::Request` in, `http::Response` out; the one code path every adapter calls.

pub mod admin;
pub mod app;
pub mod apply;
pub mod audit;
pub mod aws;
pub mod clock;
pub mod config;
pub mod domain;
pub mod federation;
pub mod hook;
pub mod http;
pub mod ids;
pub mod jwt;
pub mod keys;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod meter;
pub mod net;
pub mod oauth;
#[cfg(test)]
mod proptests;
pub mod rotation;
pub mod setup;
pub mod signer;
pub mod store;
pub mod telemetry;
pub mod trust;
pub mod upstream;

pub use app::App;
#[cfg(any(test, feature = "test-support"))]
pub use clock::ManualClock;
pub use clock::{Clock, SystemClock};
pub use config::Config;
