//! Pure data of the service: identifiers, scopes, audiences, client records and token claims.
//! Nothing here performs I/O or reads the clock.

mod claims;
mod client;
mod scope;
mod secret;
mod target;

pub use claims::AccessTokenClaims;
pub use client::{Client, ClientId, GrantType, InvalidClientId, SecretEntry};
pub use scope::{InvalidScope, Scope, ScopeSet};
pub use secret::{ClientSecret, SecretHash};
pub use target::{Audience, InvalidAudience, MAX_AUDIENCE_BYTES};
