//! The client credentials grant (RFC 6749 §4.4).
//!
//! Parameters read (RFC 6749 §4.4.2, RFC 8707 §2, RFC 8693 §2.1): `scope`, `resource`,
//! `audience`. Client authentication is done before dispatch; anything else is ignored
//! (RFC 6749 §3.2).

use super::outcome::{Granted, RefreshPlan};
use super::request::{ClientCredentialsRequest, Targets};
use super::{audience, scope};
use crate::clock::UnixTime;
use crate::domain::TokenPolicy;
use crate::domain::{AccessTokenClaims, Client};
use crate::oauth::OAuthError;

/// The client-credentials grant: the client's own token, through the hook, no refresh token
/// (RFC 6749 §4.4.3).
pub fn grant(
    client: &Client,
    request: &ClientCredentialsRequest,
    policy: &TokenPolicy,
    now: UnixTime,
    jti: String,
) -> Result<Granted, OAuthError> {
    let claims = claims(client, &request.targets, policy, now, jti)?;
    Ok(Granted::new(claims, RefreshPlan::None))
}

/// The claims of the token to issue: `sub` is the client itself (RFC 9068 §2.2).
pub fn claims(
    client: &Client,
    targets: &Targets,
    policy: &TokenPolicy,
    now: UnixTime,
    jti: String,
) -> Result<AccessTokenClaims, OAuthError> {
    let scope = scope(targets.scope, &client.scopes, &client.default_scopes)?;
    let aud = audience(targets, client)?;
    Ok(AccessTokenClaims {
        iss: policy.issuer.clone(),
        sub: client.id.to_string(),
        aud: aud.to_string(),
        exp: now.saturating_add(policy.ttl(client)),
        iat: now,
        nbf: now,
        jti,
        client_id: client.id.to_string(),
        scope: scope.to_string(),
        dlg: vec![],
        act: None,
        chain: None,
        acr: None,
        amr: None,
        auth_time: None,
        extra: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::sample_client;

    #[test]
    fn claims_of_a_client_credentials_token() {
        let c = sample_client("ci-bot");
        let p = TokenPolicy {
            issuer: "https://iss".into(),
            default_ttl: 3600,
            max_ttl: 300,
        };
        let targets = Targets {
            scope: Some("write"),
            ..Targets::default()
        };
        let t = claims(&c, &targets, &p, 1000, "j".into()).unwrap();
        assert_eq!(t.sub, "ci-bot");
        assert_eq!(t.client_id, "ci-bot");
        assert_eq!(t.scope, "write");
        assert_eq!(t.aud, "https://api.example.com");
        // The client's 600 s is capped by the service maximum.
        assert_eq!((t.iat, t.nbf, t.exp), (1000, 1000, 1300));
    }
}
