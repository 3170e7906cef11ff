//! The limits every grant applies to what it issues.

use super::Client;

/// Limits every grant applies to what it issues.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub issuer: String,
    pub default_ttl: u64,
    pub max_ttl: u64,
}

impl TokenPolicy {
    /// The lifetime of a token for `client`: its own, or the default, never above the maximum.
    pub fn ttl(&self, client: &Client) -> u64 {
        client
            .token_ttl
            .unwrap_or(self.default_ttl)
            .min(self.max_ttl)
    }
}
