//! Operator actions on clients, shared by the CLI and tests: create, rotate a secret, disable.
//! Each validates its input and writes with the store's conditional operations, so two
//! operators racing cannot silently overwrite each other.

use crate::clock::UnixTime;
use crate::config::Config;
use crate::domain::{
    Audience, Client, ClientAttribute, ClientId, ClientKeys, ClientSecret, GrantType,
    InvalidAttribute, ScopeSet, SecretEntry,
};
use crate::store::{ClientStore, StoreError};

/// The most bytes a client's space-separated scopes may take: a bound on every token's size
/// (see [`crate::domain::MAX_AUDIENCE_BYTES`]).
pub const MAX_SCOPE_BYTES: usize = 512;

/// An operator error, phrased for a person.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("client {0} does not exist")]
    NoSuchClient(String),
    #[error("client {0} already exists")]
    Exists(String),
    #[error("client {0} was changed by someone else at the same time; try again")]
    Raced(String),
    #[error("the store failed: {0}")]
    Store(StoreError),
}

/// What an operator asks for when registering a client.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub id: String,
    pub scopes: String,
    /// Defaults to all of `scopes`.
    pub default_scopes: Option<String>,
    pub audiences: Vec<String>,
    pub ttl: Option<u64>,
    pub introspect: bool,
    /// Tokens go through the claims hook.
    pub hook: bool,
    /// `name=value` or `name=value@scope` (docs/hook.md).
    pub attributes: Vec<String>,
    /// Grant types by name (`client_credentials`, `token-exchange` or its URN,
    /// `refresh_token`). Defaults to `client_credentials` alone.
    pub grants: Vec<String>,
    /// Exchanged tokens may be asked to live this long from their chain's first token
    /// (docs/token-exchange.md). Needs the token-exchange grant.
    pub max_exchange_ttl: Option<u64>,
    /// Public keys for `private_key_jwt`: such a client is created with
    /// [`create_key_client`] and has no secret.
    pub keys: Option<ClientKeys>,
}

/// The largest JWK Set registered inline.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Registers a client and returns it with its secret, which is not stored and cannot be shown
/// again.
pub async fn create_client(
    store: &dyn ClientStore,
    config: &Config,
    spec: NewClient,
    now: UnixTime,
) -> Result<(Client, ClientSecret), AdminError> {
    if spec.keys.is_some() {
        return Err(AdminError::Invalid(
            "a client with public keys authenticates with them, not a secret".into(),
        ));
    }
    let secret = ClientSecret::generate();
    let mut client = new_client(config, &spec, now)?;
    client.secrets.push(SecretEntry {
        hash: secret.hash(),
        created_at: now,
        expires_at: None,
    });
    store_new(store, &client, &spec.id).await?;
    Ok((client, secret))
}

/// Registers a `private_key_jwt` client (RFC 7523): it proves itself with assertions signed by
/// the keys in `spec.keys`, and no shared secret is ever made.
pub async fn create_key_client(
    store: &dyn ClientStore,
    config: &Config,
    spec: NewClient,
    now: UnixTime,
) -> Result<Client, AdminError> {
    check_keys(spec.keys.as_ref())?;
    let client = new_client(config, &spec, now)?;
    store_new(store, &client, &spec.id).await?;
    Ok(client)
}

/// A key client's public keys: an inline JWK Set holding at least one usable signing key, or
/// a JWK Set URL tokenmint fetches from.
pub(crate) fn check_keys(keys: Option<&ClientKeys>) -> Result<(), AdminError> {
    let invalid = AdminError::Invalid;
    match keys {
        None => {
            return Err(invalid(
                "a key client needs a JWK Set or its URL (--jwks)".into(),
            ));
        }
        Some(ClientKeys::Jwks(doc)) => {
            let keys = (doc.len() <= MAX_JWKS_BYTES)
                .then(|| crate::upstream::parse_jwks(doc.as_bytes()))
                .ok_or_else(|| invalid(format!("the JWK Set exceeds {MAX_JWKS_BYTES} bytes")))?
                .map_err(|e| invalid(format!("--jwks: {e}")))?;
            if keys.is_empty() {
                return Err(invalid(
                    "--jwks: no usable signing key (EC P-256 or RSA, with a kid, not for \
                     encryption)"
                        .into(),
                ));
            }
        }
        Some(ClientKeys::JwksUri(uri)) => {
            crate::upstream::check_uri(uri).map_err(|e| invalid(format!("--jwks {e}")))?;
        }
    }
    Ok(())
}

pub(crate) async fn store_new(
    store: &dyn ClientStore,
    client: &Client,
    id: &str,
) -> Result<(), AdminError> {
    store.create_client(client).await.map_err(|e| match e {
        StoreError::Conflict(_) => AdminError::Exists(id.to_owned()),
        other => AdminError::Store(other),
    })?;
    crate::audit!("client_created", client_id = %client.id, scope = %client.scopes, auth = auth_kind(client));
    Ok(())
}

fn auth_kind(c: &Client) -> &'static str {
    if c.keys.is_some() {
        "private_key_jwt"
    } else if c.secrets.is_empty() && !c.federated.is_empty() {
        "federated"
    } else {
        "client_secret"
    }
}

/// A client record from `spec`, validated, without credentials.
pub(crate) fn new_client(
    config: &Config,
    spec: &NewClient,
    now: UnixTime,
) -> Result<Client, AdminError> {
    let id = ClientId::new(&spec.id).map_err(|e| invalid(format!("{:?}: {e}", spec.id)))?;
    let (scopes, default_scopes) = scopes_of(spec)?;
    let audiences = audiences_of(spec)?;
    if let Some(ttl) = spec.ttl {
        if ttl == 0 || ttl > config.max_ttl.as_secs() {
            return Err(invalid(format!(
                "the token lifetime must be between 1s and the service maximum of {}s",
                config.max_ttl.as_secs()
            )));
        }
    }
    let attributes = attributes_of(spec, &scopes)?;
    let grants = grants(spec)?;
    check_exchange_ttl(config, spec, &grants)?;
    Ok(Client {
        id,
        secrets: vec![],
        scopes,
        default_scopes,
        audiences,
        token_ttl: spec.ttl,
        grants,
        max_exchange_ttl: spec.max_exchange_ttl,
        keys: spec.keys.clone(),
        federated: vec![],
        introspect: spec.introspect,
        hook: spec.hook,
        attributes,
        disabled: false,
        created_at: now,
        version: 1,
    })
}

fn invalid(s: String) -> AdminError {
    AdminError::Invalid(s)
}

/// The client's scopes and its default scopes (all of them when none are named).
fn scopes_of(spec: &NewClient) -> Result<(ScopeSet, ScopeSet), AdminError> {
    let scopes = ScopeSet::parse(&spec.scopes).map_err(|e| invalid(e.to_string()))?;
    let default_scopes = match &spec.default_scopes {
        None => scopes.clone(),
        Some(d) => ScopeSet::parse(d).map_err(|e| invalid(e.to_string()))?,
    };
    if scopes.to_string().len() > MAX_SCOPE_BYTES {
        return Err(invalid(format!(
            "a client's scopes may take at most {MAX_SCOPE_BYTES} bytes, space-separated"
        )));
    }
    if !default_scopes.is_subset(&scopes) {
        return Err(invalid(
            "the default scopes must be among the client's scopes".into(),
        ));
    }
    Ok((scopes, default_scopes))
}

/// The client's audiences, each once; at least one.
fn audiences_of(spec: &NewClient) -> Result<Vec<Audience>, AdminError> {
    if spec.audiences.is_empty() {
        return Err(invalid(
            "a client needs at least one audience (--audience)".into(),
        ));
    }
    let mut audiences = Vec::new();
    for a in &spec.audiences {
        let aud = Audience::new(a).map_err(|e| invalid(format!("audience {a:?}: {e}")))?;
        if !audiences.contains(&aud) {
            audiences.push(aud);
        }
    }
    Ok(audiences)
}

/// The business attributes the default hook issues, each named once, none taking a name
/// tokenmint issues itself, each `@scope` one of the client's scopes.
fn attributes_of(spec: &NewClient, scopes: &ScopeSet) -> Result<Vec<ClientAttribute>, AdminError> {
    let mut attributes: Vec<ClientAttribute> = Vec::new();
    for a in &spec.attributes {
        let attr: ClientAttribute = a
            .parse()
            .map_err(|e: InvalidAttribute| invalid(e.to_string()))?;
        if attributes.iter().any(|x| x.name == attr.name) {
            return Err(invalid(format!("attribute {:?} is given twice", attr.name)));
        }
        if attr.name == crate::hook::in_process::USER_ID_PARAMETER {
            return Err(invalid(
                "the attribute name user_id belongs to the default hook, which issues it only \
                 with a delegation"
                    .into(),
            ));
        }
        if crate::domain::RESERVED_NAMESPACED_CLAIMS.contains(&attr.name.as_str()) {
            return Err(invalid(format!(
                "the attribute name {} is a claim tokenmint issues and reads itself",
                attr.name
            )));
        }
        // `name=value@scope`: a scope the client cannot have is more likely part of the value
        // (an e-mail address) than a condition that can never hold; refuse rather than guess.
        if let Some(sc) = attr.scope.as_deref().filter(|sc| !scopes.contains(sc)) {
            return Err(invalid(format!(
                "attribute {:?}: {sc:?} after the last @ is not one of the client's scopes; \
                 a value containing @ needs an explicit @scope at the end",
                attr.name
            )));
        }
        attributes.push(attr);
    }
    Ok(attributes)
}

/// `--max-exchange-ttl`: only with the token-exchange grant, within the service's cap.
fn check_exchange_ttl(
    config: &Config,
    spec: &NewClient,
    grants: &[GrantType],
) -> Result<(), AdminError> {
    let Some(max) = spec.max_exchange_ttl else {
        return Ok(());
    };
    if !grants.contains(&GrantType::TokenExchange) {
        return Err(invalid(
            "--max-exchange-ttl needs the token-exchange grant".into(),
        ));
    }
    if max == 0 || max > config.max_exchange_ttl.as_secs() {
        return Err(invalid(format!(
            "the exchange lifetime must be between 1s and the service maximum of {}s \
             (TOKENMINT_MAX_EXCHANGE_TTL)",
            config.max_exchange_ttl.as_secs()
        )));
    }
    Ok(())
}

/// The grants of a new client, each named once; `client_credentials` when none is named.
fn grants(spec: &NewClient) -> Result<Vec<GrantType>, AdminError> {
    let mut grants = Vec::new();
    for name in &spec.grants {
        let g: GrantType = name.parse().map_err(|()| {
            AdminError::Invalid(format!(
                "grant {name:?}: expected client_credentials, token-exchange or refresh_token"
            ))
        })?;
        if !grants.contains(&g) {
            grants.push(g);
        }
    }
    if grants.is_empty() {
        grants.push(GrantType::ClientCredentials);
    }
    if grants.contains(&GrantType::RefreshToken) && !grants.contains(&GrantType::TokenExchange) {
        return Err(AdminError::Invalid(
            "refresh tokens are issued with exchanged tokens only: refresh_token needs the \
             token-exchange grant"
                .into(),
        ));
    }
    Ok(grants)
}

/// Issues a new secret; the current ones stay valid for `grace` seconds.
pub async fn rotate_secret(
    store: &dyn ClientStore,
    id: &str,
    grace: u64,
    now: UnixTime,
) -> Result<(Client, ClientSecret), AdminError> {
    let secret = ClientSecret::generate();
    let client = update(store, id, |c| c.rotate_secret(&secret, now, grace)).await?;
    crate::audit!("client_secret_rotated", client_id = %client.id, grace_secs = grace);
    Ok((client, secret))
}

/// Disables a client: it can no longer authenticate (within the client cache lifetime).
pub async fn disable_client(store: &dyn ClientStore, id: &str) -> Result<Client, AdminError> {
    let client = update(store, id, |c| c.disabled = true).await?;
    crate::audit!("client_disabled", client_id = %client.id);
    Ok(client)
}

/// Reads a client.
pub async fn get_client(store: &dyn ClientStore, id: &str) -> Result<Client, AdminError> {
    let cid = ClientId::new(id).map_err(|_| AdminError::NoSuchClient(id.to_owned()))?;
    store
        .get_client(&cid)
        .await
        .map_err(AdminError::Store)?
        .ok_or_else(|| AdminError::NoSuchClient(id.to_owned()))
}

async fn update(
    store: &dyn ClientStore,
    id: &str,
    change: impl FnOnce(&mut Client),
) -> Result<Client, AdminError> {
    try_update(store, id, |c| {
        change(c);
        Ok(())
    })
    .await
}

/// Reads a client, applies `change`, and writes it back conditional on the version read;
/// nothing is written when `change` fails.
pub(crate) async fn try_update(
    store: &dyn ClientStore,
    id: &str,
    change: impl FnOnce(&mut Client) -> Result<(), AdminError>,
) -> Result<Client, AdminError> {
    let mut client = get_client(store, id).await?;
    change(&mut client)?;
    client.version += 1;
    store.update_client(&client).await.map_err(|e| match e {
        StoreError::Conflict(_) => AdminError::Raced(id.to_owned()),
        StoreError::NotFound(_) => AdminError::NoSuchClient(id.to_owned()),
        other => AdminError::Store(other),
    })?;
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn config() -> Config {
        Config::from_lookup(|k| (k == "TOKENMINT_ISSUER").then(|| "https://i.example".into()))
            .unwrap()
    }

    fn spec() -> NewClient {
        NewClient {
            id: "build-api".into(),
            scopes: "read write".into(),
            audiences: vec!["https://api.example.com".into()],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn create_rotate_disable() {
        let store = MemoryStore::new();
        let (c, s) = create_client(&store, &config(), spec(), 100).await.unwrap();
        assert!(c.secret_matches(&s, 100));
        assert_eq!(c.default_scopes.to_string(), "read write");
        assert!(matches!(
            create_client(&store, &config(), spec(), 100).await,
            Err(AdminError::Exists(_))
        ));
        let (c2, s2) = rotate_secret(&store, "build-api", 60, 200).await.unwrap();
        assert!(c2.secret_matches(&s, 259) && c2.secret_matches(&s2, 259));
        assert!(!c2.secret_matches(&s, 260));
        assert!(disable_client(&store, "build-api").await.unwrap().disabled);
        assert!(matches!(
            disable_client(&store, "nobody").await,
            Err(AdminError::NoSuchClient(_))
        ));
    }

    #[tokio::test]
    async fn refuses_bad_specs() {
        let store = MemoryStore::new();
        let cases = [
            NewClient {
                id: "a b".into(),
                ..spec()
            },
            NewClient {
                scopes: "a\"b".into(),
                ..spec()
            },
            NewClient {
                default_scopes: Some("admin".into()),
                ..spec()
            },
            NewClient {
                audiences: vec![],
                ..spec()
            },
            NewClient {
                ttl: Some(0),
                ..spec()
            },
            NewClient {
                ttl: Some(10 * 86_400),
                ..spec()
            },
            NewClient {
                scopes: (0..100)
                    .map(|i| format!("scope-{i:03}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                ..spec()
            },
            NewClient {
                audiences: vec![format!("https://{}", "a".repeat(300))],
                ..spec()
            },
        ];
        for c in cases {
            let e = create_client(&store, &config(), c.clone(), 1)
                .await
                .unwrap_err();
            assert!(matches!(e, AdminError::Invalid(_)), "{c:?}: {e}");
        }
    }
}
