//! Pure data of the service: identifiers, scopes, audiences, client records, delegations and
//! token claims.
//! Nothing here performs I/O or reads the clock.

mod claims;
mod client;
mod delegation;
mod federation;
mod issuer;
mod issuer_url;
mod key;
mod policy;
mod principal;
mod refresh;
mod scope;
mod secret;
mod target;

pub use claims::{AccessTokenClaims, Actor, Chain, MAX_CHAIN_TTL, PrincipalKind};
pub use client::{
    Client, ClientAttribute, ClientId, ClientKeys, GrantType, InvalidAttribute, InvalidClientId,
    SecretEntry,
};
pub use delegation::Delegation;
pub use federation::{
    FederatedCredential, FederationProfile, GITHUB_ACTIONS_ISSUER, GITLAB_COM_ISSUER,
    MAX_CREDENTIALS, valid_credential_name,
};
pub use issuer::{ClaimMapping, RESERVED_NAMESPACED_CLAIMS, ScopeClaim, TrustedIssuer, TypRule};
pub use issuer_url::{InvalidIssuer, Issuer, MAX_ISSUER_BYTES, is_loopback};
pub use key::{Algorithm, Jwks, KeyMaterial, KeyRecord, KeyStatus, PublicJwk};
pub use policy::TokenPolicy;
pub use principal::{InvalidPrincipal, MAX_SUBJECT_BYTES, Principal, UserSub};
pub use refresh::{RefreshRecord, ScopeRule};
pub use scope::{InvalidScope, Scope, ScopeSet};
pub use secret::{ClientSecret, SecretHash};
pub use target::{Audience, InvalidAudience, MAX_AUDIENCE_BYTES};
