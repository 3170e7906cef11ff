//! One module per grant type. Each lists the parameters it reads and cites its RFC; the token
//! endpoint dispatches to them with an exhaustive `match`.

pub mod client_credentials;
pub mod outcome;
pub mod refresh_token;
pub mod token_exchange;

use crate::domain::{Audience, Client, GrantType, InvalidAudience, ScopeSet};
use crate::oauth::form::Form;
use crate::oauth::{ErrorCode, OAuthError, shown};

/// Grant types this build serves; advertised in the metadata.
pub const SUPPORTED_GRANTS: &[GrantType] = &[
    GrantType::ClientCredentials,
    GrantType::TokenExchange,
    GrantType::RefreshToken,
];

/// The granted scope (RFC 6749 §3.3): the requested scopes if all are allowed, else
/// `invalid_scope`; without a request, the client's defaults.
pub fn scope(form: &Form, allowed: &ScopeSet, default: &ScopeSet) -> Result<ScopeSet, OAuthError> {
    let Some(raw) = form.get("scope") else {
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
pub fn audience(form: &Form, client: &Client) -> Result<Audience, OAuthError> {
    let target_error = |d: String| OAuthError::new(ErrorCode::InvalidTarget, d);
    let invalid = |e: InvalidAudience| target_error(e.to_string());
    let mut wanted: Vec<Audience> = Vec::new();
    for r in form.get_all("resource") {
        wanted.push(Audience::resource(r).map_err(invalid)?);
    }
    for a in form.get_all("audience") {
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

    fn form(s: &str) -> Form {
        Form::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn scopes() {
        let c = sample_client("c");
        assert_eq!(
            scope(&form(""), &c.scopes, &c.default_scopes)
                .unwrap()
                .to_string(),
            "read"
        );
        assert_eq!(
            scope(&form("scope=write+read"), &c.scopes, &c.default_scopes)
                .unwrap()
                .to_string(),
            "read write"
        );
        for bad in ["scope=admin", "scope=read+admin", "scope=a%22b"] {
            assert_eq!(
                scope(&form(bad), &c.scopes, &c.default_scopes)
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
            audience(&form(s), &c)
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
