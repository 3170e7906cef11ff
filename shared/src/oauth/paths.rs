//! Where the endpoints live, relative to the issuer (RFC 8414 §3 for the metadata).

/// Paths of the endpoints, relative to the issuer.
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";
pub const REVOKE_PATH: &str = "/oauth2/revoke";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const OAUTH_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
pub const OIDC_METADATA_PATH: &str = "/.well-known/openid-configuration";
