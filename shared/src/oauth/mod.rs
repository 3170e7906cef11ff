//! The protocol rules of each endpoint. Handlers take a parsed request and the narrow services
//! they need, and return a response or an [`OAuthError`].

mod claims_hook;
pub mod client_assertion;
pub mod client_auth;
mod error;
mod federated;
pub mod form;
pub mod grants;
pub mod introspection;
pub mod metadata;
pub mod paths;
pub mod refresh;
pub mod request;
pub mod response;
pub mod revocation;
pub mod step_up;
pub mod throttle;
pub mod token;
pub mod validation;

pub use error::{ErrorCode, OAuthError, RETRY_AFTER_SECS};

pub use crate::audit::shown;
