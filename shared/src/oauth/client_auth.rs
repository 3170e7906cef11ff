//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3.1): `client_secret_basic` and `client_secret_post`, exactly one per request.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::OAuthError;
use super::form::{self, Form};
use crate::clock::UnixTime;
use crate::domain::{Client, ClientId, ClientSecret, SecretHash};
use crate::store::cache::ClientCache;

/// Standard base64; padding optional, since some clients omit it.
const BASIC_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How the client presented its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// Form parameters (`client_secret_post`).
    Post,
}

/// A client id and secret as presented.
#[derive(Debug)]
pub struct Credentials {
    pub method: Method,
    pub client_id: String,
    pub secret: ClientSecret,
}

/// Extracts the credentials of a request. A body `client_id` equal to the Basic one is not a
/// second method; a body `client_secret` next to a Basic header is.
pub fn credentials(form: &Form, authorization: Option<&str>) -> Result<Credentials, OAuthError> {
    let Some(header) = authorization else {
        return match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => Ok(Credentials {
                method: Method::Post,
                client_id: id.to_owned(),
                secret: ClientSecret::from_presented(secret.to_owned()),
            }),
            _ => Err(OAuthError::invalid_client()),
        };
    };
    let (client_id, secret) = parse_basic(header).ok_or_else(OAuthError::invalid_client)?;
    if form.contains("client_secret") {
        return Err(OAuthError::invalid_request(
            "use one client authentication method, not both Basic and client_secret",
        ));
    }
    if form.get("client_id").is_some_and(|id| id != client_id) {
        return Err(OAuthError::invalid_request(
            "client_id does not match the authenticated client",
        ));
    }
    Ok(Credentials {
        method: Method::Basic,
        client_id,
        secret: ClientSecret::from_presented(secret),
    })
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`; the scheme is case-insensitive.
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASIC_B64.decode(rest.trim()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let id = form::decode(&decoded[..colon]).ok()?;
    let secret = form::decode(&decoded[colon + 1..]).ok()?;
    Some((id, secret)).filter(|(id, s)| !id.is_empty() && !s.is_empty())
}

/// A hash compared against when the client is unknown, so that path does the same work as a
/// wrong secret. Its result is ignored: an unknown client never authenticates.
fn decoy() -> &'static SecretHash {
    static DECOY: std::sync::OnceLock<SecretHash> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| SecretHash::of(b"tokenmint: no such client"))
}

/// Authenticates `creds`. Unknown clients, wrong secrets and disabled clients all get the same
/// `invalid_client`, with a `WWW-Authenticate` challenge.
pub async fn authenticate(
    creds: &Credentials,
    clients: &ClientCache,
    now: UnixTime,
) -> Result<std::sync::Arc<Client>, OAuthError> {
    let Ok(id) = ClientId::new(&creds.client_id) else {
        decoy().matches(&creds.secret);
        return Err(OAuthError::invalid_client());
    };
    let lookup = clients.get(&id).await?;
    let mut client = lookup.client;
    let mut ok = client.as_deref().map_or_else(
        || decoy().matches(&creds.secret),
        |c| c.secret_matches(&creds.secret, now),
    );
    if !ok && lookup.cached {
        // The cached record may predate a secret rotation: check once against the store.
        client = clients.refresh(&id).await?;
        ok = client
            .as_deref()
            .is_some_and(|c| c.secret_matches(&creds.secret, now));
    }
    match client {
        Some(c) if ok && !c.disabled => Ok(c),
        _ => Err(OAuthError::invalid_client()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let f = Form::default();
        let c = credentials(&f, Some(&basic("my%3Aclient:s%2Bx+y"))).unwrap();
        assert_eq!(c.method, Method::Basic);
        assert_eq!(c.client_id, "my:client");
        assert_eq!(c.secret.expose(), "s+x y");
        // Lower-case scheme, unpadded base64.
        let unpadded = basic("ab:cd")
            .trim_end_matches('=')
            .replace("Basic", "basic");
        assert_eq!(credentials(&f, Some(&unpadded)).unwrap().client_id, "ab");
    }

    #[test]
    fn exactly_one_method() {
        let both = Form::parse(b"client_id=a&client_secret=b").unwrap();
        let e = credentials(&both, Some(&basic("a:b"))).unwrap_err();
        assert_eq!(e.code, crate::oauth::ErrorCode::InvalidRequest);
        let same_id = Form::parse(b"client_id=a").unwrap();
        assert!(credentials(&same_id, Some(&basic("a:b"))).is_ok());
        let other_id = Form::parse(b"client_id=z").unwrap();
        assert_eq!(
            credentials(&other_id, Some(&basic("a:b")))
                .unwrap_err()
                .code,
            crate::oauth::ErrorCode::InvalidRequest
        );
        let post = credentials(&both, None).unwrap();
        assert_eq!(post.method, Method::Post);
    }

    #[test]
    fn missing_or_malformed_is_invalid_client() {
        let f = Form::default();
        for h in [
            None,
            Some("Bearer abc"),
            Some("Basic !!!"),
            Some("Basic"),
            Some(&*basic("nocolon")),
            Some(&*basic(":secret")),
            Some(&*basic("id:")),
            Some(&*basic("id:%zz")),
        ] {
            let e = credentials(&f, h).unwrap_err();
            assert_eq!(e.code, crate::oauth::ErrorCode::InvalidClient, "{h:?}");
        }
        let id_only = Form::parse(b"client_id=a").unwrap();
        assert!(credentials(&id_only, None).is_err());
    }
}
