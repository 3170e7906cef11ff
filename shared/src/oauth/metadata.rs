//! Authorization server metadata (RFC 8414), also served as `openid-configuration` because API
//! Gateway JWT authorizers discover keys there.

use serde::Serialize;

use super::grants::SUPPORTED_GRANTS;
use super::paths::*;
use crate::domain::Issuer;

const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];
/// Required by RFC 8414 §2 once `private_key_jwt` is listed.
const AUTH_SIGNING_ALGS: &[&str] = super::client_assertion::SIGNING_ALGS;

#[derive(Serialize)]
struct Metadata<'a> {
    issuer: &'a str,
    token_endpoint: String,
    jwks_uri: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    grant_types_supported: Vec<&'static str>,
    response_types_supported: [&'static str; 0],
    token_endpoint_auth_methods_supported: &'static [&'static str],
    introspection_endpoint_auth_methods_supported: &'static [&'static str],
    revocation_endpoint_auth_methods_supported: &'static [&'static str],
    token_endpoint_auth_signing_alg_values_supported: &'static [&'static str],
    introspection_endpoint_auth_signing_alg_values_supported: &'static [&'static str],
    revocation_endpoint_auth_signing_alg_values_supported: &'static [&'static str],
}

/// The metadata document for `issuer`, serialised once at start.
pub fn document(issuer: &Issuer) -> Vec<u8> {
    let base = issuer.base();
    let doc = Metadata {
        issuer: issuer.as_str(),
        token_endpoint: format!("{base}{TOKEN_PATH}"),
        jwks_uri: format!("{base}{JWKS_PATH}"),
        introspection_endpoint: format!("{base}{INTROSPECT_PATH}"),
        revocation_endpoint: format!("{base}{REVOKE_PATH}"),
        grant_types_supported: SUPPORTED_GRANTS.iter().map(|g| g.as_str()).collect(),
        response_types_supported: [],
        token_endpoint_auth_methods_supported: AUTH_METHODS,
        introspection_endpoint_auth_methods_supported: AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported: AUTH_SIGNING_ALGS,
        introspection_endpoint_auth_signing_alg_values_supported: AUTH_SIGNING_ALGS,
        revocation_endpoint_auth_signing_alg_values_supported: AUTH_SIGNING_ALGS,
    };
    // A struct of strings always serialises.
    serde_json::to_vec(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_metadata() {
        let issuer = Issuer::parse("https://auth.example.com").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&document(&issuer)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "issuer": "https://auth.example.com",
                "token_endpoint": "https://auth.example.com/oauth2/token",
                "jwks_uri": "https://auth.example.com/.well-known/jwks.json",
                "introspection_endpoint": "https://auth.example.com/oauth2/introspect",
                "revocation_endpoint": "https://auth.example.com/oauth2/revoke",
                "grant_types_supported": [
                    "client_credentials",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                    "refresh_token",
                ],
                "response_types_supported": [],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
                "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
                "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
                "introspection_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
                "revocation_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
            })
        );
    }

    #[test]
    fn trailing_slash_stays_on_the_issuer_only() {
        let issuer = Issuer::parse("https://auth.example.com/t1/").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&document(&issuer)).unwrap();
        assert_eq!(v["issuer"], "https://auth.example.com/t1/");
        assert_eq!(
            v["token_endpoint"],
            "https://auth.example.com/t1/oauth2/token"
        );
    }
}
