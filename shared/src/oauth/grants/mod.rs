//! One module per grant type. Each lists the parameters it reads and cites its RFC; the token
//! endpoint dispatches to them with an exhaustive `match`.

pub mod client_credentials;
pub mod outcome;
pub mod refresh_token;
pub mod request;
pub mod token_exchange;
pub mod token_types;

use crate::domain::{Audience, Client, GrantType, InvalidAudience, ScopeSet};
use crate::oauth::{ErrorCode, OAuthError, shown};
use request::Targets;

/// Grant types this build serves; advertised in the metadata.
pub const SUPPORTED_GRANTS: &[GrantType] = &[
    GrantType::ClientCredentials,
    GrantType::TokenExchange,
    GrantType::RefreshToken,
];

/// The granted scope (RFC 6749 §3.3): the requested scopes if all are allowed, else
/// `invalid_scope`; without a request, the client's defaults.
pub fn scope(
    requested: Option<&str>,
    allowed: &ScopeSet,
    default: &ScopeSet,
) -> Result<ScopeSet, OAuthError> {
    let Some(raw) = requested else {
        return Ok(default.clone());
    };
    let requested = ScopeSet::parse(raw).map_err(|_| {
        OAuthError::new(
            ErrorCode::InvalidScope,
            "scope must be space-separated RFC 6749 §3.3 scope tokens",
        )
    })?;
    if requested.is_empty() {
        return Ok(default.clone());
    }
    if let Some(extra) = requested.difference(allowed).next() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!(
                "scope {:?} is not allowed for this client",
                shown(extra.as_str())
            ),
        ));
    }
    Ok(requested)
}

/// The one audience of the token: from `resource` (RFC 8707 §2) or `audience` (RFC 8693 §2.1),
/// which must name one of the client's audiences; repeats of one value are fine, two distinct
/// values are not (tokens carry one audience). Without either, the client's default audience.
pub fn audience(targets: &Targets, client: &Client) -> Result<Audience, OAuthError> {
    let target_error = |d: String| OAuthError::new(ErrorCode::InvalidTarget, d);
    let invalid = |e: InvalidAudience| target_error(e.to_string());
    let mut wanted: Vec<Audience> = Vec::new();
    for r in &targets.resources {
        wanted.push(Audience::resource(r).map_err(invalid)?);
    }
    for a in &targets.audiences {
        wanted.push(Audience::new(a).map_err(invalid)?);
    }
    wanted.sort();
    wanted.dedup();
    match wanted.as_slice() {
        [] => client
            .default_audience()
            .cloned()
            .ok_or_else(|| target_error("the client has no audience configured".into())),
        [one] if client.audiences.contains(one) => Ok(one.clone()),
        [one] => Err(target_error(format!(
            "{:?} is not an audience of this client",
            shown(one.as_str())
        ))),
        _ => Err(target_error(
            "more than one distinct target; a token carries one audience".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract::sample_client;

    use crate::oauth::form::Form;

    fn form(s: &str) -> Form {
        Form::parse(s.as_bytes()).unwrap()
    }

    fn targets(f: &Form) -> Targets<'_> {
        Targets {
            scope: f.get("scope"),
            resources: f.get_all("resource").collect(),
            audiences: f.get_all("audience").collect(),
        }
    }

    #[test]
    fn scopes() {
        let c = sample_client("c");
        assert_eq!(
            scope(form("").get("scope"), &c.scopes, &c.default_scopes)
                .unwrap()
                .to_string(),
            "read"
        );
        assert_eq!(
            scope(
                form("scope=write+read").get("scope"),
                &c.scopes,
                &c.default_scopes
            )
            .unwrap()
            .to_string(),
            "read write"
        );
        for bad in ["scope=admin", "scope=read+admin", "scope=a%22b"] {
            assert_eq!(
                scope(form(bad).get("scope"), &c.scopes, &c.default_scopes)
                    .unwrap_err()
                    .code,
                ErrorCode::InvalidScope
            );
        }
    }

    #[test]
    fn audiences() {
        let mut c = sample_client("c");
        c.audiences.push(Audience::new("billing").unwrap());
        let aud = |s: &str| {
            audience(&targets(&form(s)), &c)
                .map(|a| a.to_string())
                .map_err(|e| e.code)
        };
        assert_eq!(aud(""), Ok("https://api.example.com".into()));
        assert_eq!(
            aud("resource=https://api.example.com&resource=https://api.example.com"),
            Ok("https://api.example.com".into())
        );
        assert_eq!(aud("audience=billing"), Ok("billing".into()));
        assert_eq!(
            aud("audience=https://api.example.com&resource=https://api.example.com"),
            Ok("https://api.example.com".into())
        );
        for bad in [
            "resource=https://other.example.com",
            "resource=billing",
            "resource=https://api.example.com%23x",
            "resource=https://api.example.com&audience=billing",
        ] {
            assert_eq!(aud(bad), Err(ErrorCode::InvalidTarget), "{bad}");
        }
    }
}
