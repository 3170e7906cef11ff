//! The protocol rules of each endpoint. Handlers take a parsed request and the narrow services
//! they need, and return a response or an [`OAuthError`].

pub mod client_auth;
mod error;
pub mod form;
pub mod grants;
pub mod introspection;
pub mod metadata;
pub mod request;
pub mod response;
pub mod revocation;
pub mod token;

pub use error::{ErrorCode, OAuthError, RETRY_AFTER_SECS};
