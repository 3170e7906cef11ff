//! The one result every grant returns to the token endpoint: the claims it decided, and what
//! the endpoint does with them (the hook, the size bound, refresh tokens).

use crate::domain::{AccessTokenClaims, RefreshRecord};

/// What a grant decided, before the hook and the signature.
#[derive(Debug)]
pub struct Granted {
    pub claims: AccessTokenClaims,
    /// `issued_token_type` of the answer (RFC 8693 §2.2.1); `None` outside token exchange.
    pub issued_token_type: Option<&'static str>,
    /// The subject token's issuer, told to the hook and the audit trail.
    pub subject_issuer: Option<String>,
    /// Whether the claims hook runs, for clients with `hook` enabled.
    pub runs_hook: bool,
    /// Whether the claims are bounded ([`crate::oauth::token::MAX_DERIVED_CLAIMS_BYTES`]): they
    /// carry what subject tokens, delegations and mappings brought.
    pub size_bound: bool,
    pub refresh: RefreshPlan,
}

impl Granted {
    /// Claims that go through the hook, unbounded, with `refresh`.
    pub fn new(claims: AccessTokenClaims, refresh: RefreshPlan) -> Self {
        Self {
            claims,
            issued_token_type: None,
            subject_issuer: None,
            runs_hook: true,
            size_bound: false,
            refresh,
        }
    }
}

/// What happens to refresh tokens when the access token is issued.
#[derive(Debug)]
pub enum RefreshPlan {
    /// None is issued.
    None,
    /// A new family begins beside the access token; its id joins the token's chain.
    NewFamily {
        /// The trusted external issuer the chain started from, if any.
        upstream_issuer: Option<String>,
    },
    /// The presented refresh token is rotated: committed once the access token is signed.
    Rotate(Box<Redemption>),
}

/// A redemption about to happen: the token presented, and the record of its successor, whose
/// claims are the access token to issue. Nothing is written until the access token is signed.
#[derive(Debug)]
pub struct Redemption {
    pub presented: RefreshRecord,
    pub next: RefreshRecord,
    pub next_token: String,
}
