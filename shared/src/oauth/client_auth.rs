//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1), and `private_key_jwt`
//! (RFC 7523 §2.2, [`super::client_assertion`]); exactly one per request.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::OAuthError;
use super::form::{self, Form};
use crate::app::{App, Site};
use crate::clock::UnixTime;
use crate::domain::{Client, ClientId, ClientSecret, SecretHash};
use crate::federation::PlatformIdentity;
use crate::store::cache::ClientCache;
use std::sync::Arc;

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
    /// A signed assertion (`private_key_jwt`).
    PrivateKeyJwt,
}

/// What proves the client's identity.
#[derive(Debug)]
pub enum Proof {
    Secret(ClientSecret),
    /// A JWT the client signed. `Debug` shows nothing of it.
    Assertion(Assertion),
}

/// A client assertion as presented, and whether the request named the client (`client_id`).
pub struct Assertion(pub String, pub bool);

impl std::fmt::Debug for Assertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Assertion(<redacted>)")
    }
}

/// A client id and its proof, as presented.
#[derive(Debug)]
pub struct Credentials {
    pub method: Method,
    pub client_id: String,
    pub proof: Proof,
}

impl Credentials {
    /// The presented secret, for the secret methods.
    pub fn secret(&self) -> Option<&ClientSecret> {
        match &self.proof {
            Proof::Secret(s) => Some(s),
            Proof::Assertion(_) => None,
        }
    }
}

/// Extracts the credentials of a request. A body `client_id` equal to the Basic one is not a
/// second method; a body `client_secret` next to a Basic header is.
pub fn credentials(form: &Form, authorization: Option<&str>) -> Result<Credentials, OAuthError> {
    if form.contains("client_assertion") || form.contains("client_assertion_type") {
        return assertion(form, authorization);
    }
    let Some(header) = authorization else {
        return match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => Ok(Credentials {
                method: Method::Post,
                client_id: id.to_owned(),
                proof: Proof::Secret(ClientSecret::from_presented(secret.to_owned())),
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
        proof: Proof::Secret(ClientSecret::from_presented(secret)),
    })
}

/// `client_assertion_type` + `client_assertion` (RFC 7521 §4.2). For `private_key_jwt` the
/// client id is the assertion's `sub` (RFC 7523 §3), read before verification only to find the
/// client's keys, and a `client_id` parameter, if sent, must name the same client. A federated
/// credential's assertion is a platform token whose `sub` is the platform's identity, so
/// `client_id` is required and names the client (docs/federation.md).
fn assertion(form: &Form, authorization: Option<&str>) -> Result<Credentials, OAuthError> {
    if authorization.is_some() || form.contains("client_secret") {
        return Err(OAuthError::invalid_request(
            "use one client authentication method, not a client assertion and a secret",
        ));
    }
    if form.get("client_assertion_type") != Some(super::client_assertion::ASSERTION_TYPE) {
        return Err(OAuthError::invalid_client());
    }
    let jwt = form
        .get("client_assertion")
        .ok_or_else(OAuthError::invalid_client)?;
    let named = form.get("client_id");
    let client_id = match named {
        Some(id) => id.to_owned(),
        None => super::client_assertion::unverified_subject(jwt)
            .ok_or_else(OAuthError::invalid_client)?,
    };
    Ok(Credentials {
        method: Method::PrivateKeyJwt,
        client_id,
        proof: Proof::Assertion(Assertion(jwt.to_owned(), named.is_some())),
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

/// An authenticated client, and the platform identity it presented when a federated
/// credential authenticated it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client: Arc<Client>,
    pub platform: Option<Arc<PlatformIdentity>>,
}

impl std::ops::Deref for Caller {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl From<Arc<Client>> for Caller {
    fn from(client: Arc<Client>) -> Self {
        Self {
            client,
            platform: None,
        }
    }
}

/// Authenticates `creds`. Unknown clients, wrong secrets or assertions, clients registered for
/// the other kind of proof and disabled clients all get the same `invalid_client`.
pub async fn authenticate(
    app: &App,
    site: &Site,
    creds: &Credentials,
    now: UnixTime,
) -> Result<Caller, OAuthError> {
    match &creds.proof {
        Proof::Secret(secret) => authenticate_secret(&creds.client_id, secret, &app.clients, now)
            .await
            .map(Caller::from),
        Proof::Assertion(Assertion(jwt, named)) => {
            let Ok(id) = ClientId::new(&creds.client_id) else {
                return Err(OAuthError::invalid_client());
            };
            // A client's own assertion has the client as `iss`; a platform's token never does
            // (client ids hold no ':' or '/').
            let own =
                super::client_assertion::unverified_issuer(jwt).as_deref() == Some(id.as_str());
            let lookup = app.clients.get(&id).await?;
            match lookup.client {
                Some(c) if !c.disabled && own && c.keys.is_some() => {
                    if super::client_assertion::verify(app, site, &c, jwt, now).await? {
                        Ok(Caller::from(c))
                    } else {
                        Err(OAuthError::invalid_client())
                    }
                }
                // A platform token names no client: only `client_id` does (docs/federation.md).
                Some(c) if !c.disabled && !own && *named && c.keys.is_none() => {
                    let (client, platform) =
                        super::federated::authenticate(app, site, c, lookup.cached, jwt, now)
                            .await?;
                    Ok(Caller {
                        client,
                        platform: Some(Arc::new(platform)),
                    })
                }
                _ => Err(OAuthError::invalid_client()),
            }
        }
    }
}

/// A secret against every live stored secret, in constant time, with a decoy comparison for
/// unknown clients so that path does the same work.
async fn authenticate_secret(
    client_id: &str,
    secret: &ClientSecret,
    clients: &ClientCache,
    now: UnixTime,
) -> Result<std::sync::Arc<Client>, OAuthError> {
    let Ok(id) = ClientId::new(client_id) else {
        decoy().matches(secret);
        return Err(OAuthError::invalid_client());
    };
    let lookup = clients.get(&id).await?;
    let mut client = lookup.client;
    let mut ok = client.as_deref().map_or_else(
        || decoy().matches(secret),
        |c| c.secret_matches(secret, now),
    );
    if !ok && lookup.cached {
        // The cached record may predate a secret rotation: check against the store, at most
        // once a second per client (store::cache::RECHECK_SECS), else the cached record decides.
        let again = clients.recheck(&id).await?;
        if !again.cached {
            client = again.client;
            ok = client
                .as_deref()
                .is_some_and(|c| c.secret_matches(secret, now));
        }
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
        assert_eq!(c.secret().unwrap().expose(), "s+x y");
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

    /// Counts the client reads that reach the store.
    struct CountingClients {
        inner: crate::store::memory::MemoryStore,
        reads: std::sync::atomic::AtomicU32,
    }

    impl CountingClients {
        fn reads(&self) -> u32 {
            self.reads.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[async_trait::async_trait]
    impl crate::store::ClientStore for CountingClients {
        async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.get_client(id).await
        }
        async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
            self.inner.list_clients().await
        }
        async fn create_client(&self, c: &Client) -> Result<(), StoreError> {
            self.inner.create_client(c).await
        }
        async fn update_client(&self, c: &Client) -> Result<(), StoreError> {
            self.inner.update_client(c).await
        }
        async fn delete_client(&self, id: &ClientId, version: u64) -> Result<bool, StoreError> {
            self.inner.delete_client(id, version).await
        }
    }

    use crate::clock::{Clock as _, ManualClock};
    use crate::store::cache::RECHECK_SECS;
    use crate::store::{ClientStore as _, StoreError};

    /// A cached client with a known secret, its cache and the clock.
    async fn cached_client() -> (
        Arc<CountingClients>,
        ClientCache,
        Arc<ManualClock>,
        Client,
        ClientSecret,
    ) {
        let store = Arc::new(CountingClients {
            inner: crate::store::memory::MemoryStore::new(),
            reads: Default::default(),
        });
        let clock = Arc::new(ManualClock::new(1_000));
        let cache = ClientCache::new(store.clone(), clock.clone(), 5);
        let secret = ClientSecret::generate();
        let mut c = crate::store::contract::sample_client("public-id");
        c.secrets[0].hash = secret.hash();
        store.create_client(&c).await.unwrap();
        let ok = authenticate_secret("public-id", &secret, &cache, clock.now()).await;
        assert!(ok.is_ok());
        assert_eq!(store.reads(), 1);
        (store, cache, clock, c, secret)
    }

    #[tokio::test]
    async fn wrong_secrets_re_read_a_cached_client_at_most_once_a_second() {
        let (store, cache, clock, _, _) = cached_client().await;
        let wrong = ClientSecret::from_presented("not-the-secret".into());
        for _ in 0..50 {
            let e = authenticate_secret("public-id", &wrong, &cache, clock.now()).await;
            assert_eq!(e.unwrap_err().code, crate::oauth::ErrorCode::InvalidClient);
        }
        // One read to cache the client, one re-read for the first mismatch; the other 49 are
        // decided by the cached record.
        assert_eq!(store.reads(), 2);
        clock.advance(RECHECK_SECS);
        for _ in 0..50 {
            assert!(
                authenticate_secret("public-id", &wrong, &cache, clock.now())
                    .await
                    .is_err()
            );
        }
        assert_eq!(store.reads(), 3);
    }

    #[tokio::test]
    async fn a_rotated_secret_works_within_a_second_of_a_re_read() {
        let (store, cache, clock, mut c, old) = cached_client().await;
        let wrong = ClientSecret::from_presented("not-the-secret".into());
        assert!(
            authenticate_secret("public-id", &wrong, &cache, clock.now())
                .await
                .is_err()
        );
        // The secret rotates just after a re-read: within that second the cached record
        // decides, so the new secret is refused (and the old one still works).
        let new = ClientSecret::generate();
        c.secrets[0].hash = new.hash();
        c.version += 1;
        store.update_client(&c).await.unwrap();
        let now = clock.now();
        assert!(
            authenticate_secret("public-id", &new, &cache, now)
                .await
                .is_err()
        );
        assert!(
            authenticate_secret("public-id", &old, &cache, now)
                .await
                .is_ok()
        );
        // A second later the mismatch re-reads the store, and the new secret works.
        clock.advance(RECHECK_SECS);
        let now = clock.now();
        assert!(
            authenticate_secret("public-id", &new, &cache, now)
                .await
                .is_ok()
        );
        assert!(
            authenticate_secret("public-id", &old, &cache, now)
                .await
                .is_err()
        );
    }
}
