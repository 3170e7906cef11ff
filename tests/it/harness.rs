//! Starts `tokenmint serve`'s server in process over a fresh SQLite file and a manual clock.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use base64::Engine as _;
use jsonwebtoken::{DecodingKey, Validation, jwk::JwkSet};
use serde_json::Value;
use tokenmint::admin::{self, NewClient};
use tokenmint::domain::KeyRecord;
use tokenmint::domain::{Client, ClientId};
use tokenmint::store::{ClientStore, KeyChange, KeyStore, RevocationStore, StoreError, Stores};
use tokenmint::{Clock, Config, ManualClock, SystemClock, setup};

pub const API: &str = "https://api.example.com";

pub struct Server {
    pub base: String,
    /// Switches that make the store fail, port by port.
    pub faults: Arc<Faults>,
    pub clock: Arc<ManualClock>,
    pub stores: Stores,
    pub config: Arc<Config>,
    pub http: reqwest::Client,
    dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("tokenmint-it-{}-{n}", std::process::id()))
}

/// A client's id and secret.
#[derive(Clone)]
pub struct Creds {
    pub id: String,
    pub secret: String,
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra configuration variables; `{base}` in a value stands for the
    /// server's own `http://127.0.0.1:PORT`.
    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        Self::start_on(env, None).await
    }

    /// Starts a server over the given stores instead of the ones the configuration names.
    pub async fn start_on(env: &[(&str, &str)], stores: Option<Stores>) -> Self {
        init_test_log();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let dir = temp_dir();
        let mut vars: HashMap<String, String> = HashMap::from([
            ("TOKENMINT_ISSUER".into(), base.clone()),
            (
                "TOKENMINT_STORE".into(),
                format!("sqlite:{}", dir.join("t.db").display()),
            ),
        ]);
        for (k, v) in env {
            vars.insert((*k).into(), v.replace("{base}", &base));
        }
        let config = Arc::new(Config::from_lookup(|k| vars.get(k).cloned()).unwrap());
        let faults = Arc::new(Faults::default());
        let stores = match stores {
            Some(s) => s,
            None => setup::open_stores(&config).await.unwrap(),
        };
        let stores = Flaky::wrap(stores, Arc::clone(&faults));
        // Start at the real time so that independent verifiers, which read the system
        // clock, accept fresh tokens.
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let app = setup::build_app(Arc::clone(&config), &stores, clock.clone())
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(tokenmint_cli::server::serve(
            listener,
            Arc::new(app),
            async {
                let _ = rx.await;
            },
        ));
        Self {
            base,
            faults,
            clock,
            stores,
            config,
            http: reqwest::Client::new(),
            dir,
            stop: Some(tx),
        }
    }

    /// The directory holding the SQLite store's files.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Registers a client with scopes "read write" (default "read") and audience [`API`].
    pub async fn client(&self, id: &str) -> Creds {
        self.client_with(NewClient {
            id: id.into(),
            scopes: "read write".into(),
            default_scopes: Some("read".into()),
            audiences: vec![API.into(), "billing".into()],
            ..Default::default()
        })
        .await
    }

    /// Registers a client that may introspect, with scope "read" and audience [`API`].
    pub async fn introspector(&self, id: &str) -> Creds {
        self.client_with(NewClient {
            id: id.into(),
            scopes: "read".into(),
            audiences: vec![API.into()],
            introspect: true,
            ..Default::default()
        })
        .await
    }

    pub async fn client_with(&self, spec: NewClient) -> Creds {
        let (c, s) = admin::create_client(
            self.stores.clients.as_ref(),
            &self.config,
            spec,
            self.clock.now(),
        )
        .await
        .unwrap();
        canary(s.expose());
        Creds {
            id: c.id.to_string(),
            secret: s.expose().to_owned(),
        }
    }

    /// POSTs a raw form body with optional Basic credentials.
    pub async fn post(&self, path: &str, body: &str, basic: Option<&Creds>) -> Reply {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some(c) = basic {
            req = req.header("authorization", basic_header(&c.id, &c.secret));
        }
        Reply::from(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        Reply::from(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A client_credentials token for `c` with extra form parameters; panics unless 200.
    pub async fn token(&self, c: &Creds, extra: &str) -> String {
        let r = self
            .post(
                "/oauth2/token",
                &format!("grant_type=client_credentials{extra}"),
                Some(c),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["access_token"].as_str().unwrap().to_owned()
    }

    /// Verifies `token` with `jsonwebtoken` against the served JWKS and returns its claims.
    pub async fn verify_independently(&self, token: &str, aud: &str) -> Value {
        let jwks: JwkSet =
            serde_json::from_str(&self.get("/.well-known/jwks.json").await.text).unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let kid = header.kid.clone().unwrap();
        let jwk = jwks.find(&kid).expect("kid published in the JWKS");
        let key = DecodingKey::from_jwk(jwk).unwrap();
        let mut v = Validation::new(header.alg);
        v.set_audience(&[aud]);
        v.set_issuer(&[self.config.issuer.as_ref().unwrap().as_str()]);
        v.set_required_spec_claims(&["exp", "iat", "nbf", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Value>(token, &key, &v)
            .unwrap()
            .claims
    }
}

/// A delegation made by a test (created now, by "test").
pub fn delegation(
    id: &str,
    delegator: &str,
    delegate: &str,
    scopes: &str,
    expires_at: Option<u64>,
) -> tokenmint::domain::Delegation {
    tokenmint::domain::Delegation {
        id: id.into(),
        delegator: delegator.parse().unwrap(),
        delegate: delegate.parse().unwrap(),
        scopes: tokenmint::domain::ScopeSet::parse(scopes).unwrap(),
        expires_at,
        created_by: "test".into(),
        created_at: SystemClock.now(),
    }
}

/// Records a secret or token the tests created in `TOKENMINT_TEST_CANARIES` (set by
/// infra/test), which checks afterwards that none of them appears in any log of the run.
pub fn canary(value: &str) {
    use std::io::Write as _;
    static FILE: std::sync::OnceLock<Option<std::sync::Mutex<std::fs::File>>> =
        std::sync::OnceLock::new();
    let file = FILE.get_or_init(|| {
        let path = std::env::var_os("TOKENMINT_TEST_CANARIES")?;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        Some(std::sync::Mutex::new(f))
    });
    if let Some(f) = file {
        writeln!(f.lock().unwrap(), "{value}").unwrap();
    }
}

/// Sends the in-process servers' logs, audit events and debug lines included, as JSON lines to
/// `TOKENMINT_TEST_LOG` (set by infra/test), for the scan for secrets and tokens.
fn init_test_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(path) = std::env::var_os("TOKENMINT_TEST_LOG") else {
            return;
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        use tracing_subscriber::filter::{LevelFilter, Targets};
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        // tokenmint's own lines down to debug (rejection reasons included); libraries at info.
        let filter = Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target("tokenmint", LevelFilter::DEBUG)
            .with_target("tokenmint_cli", LevelFilter::DEBUG)
            .with_target("audit", LevelFilter::DEBUG);
        let _ = tracing_subscriber::fmt()
            .json()
            .with_writer(std::sync::Mutex::new(file))
            .finish()
            .with(filter)
            .try_init();
    });
}

pub fn basic_header(id: &str, secret: &str) -> String {
    let enc = |s: &str| url_encode(s);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    async fn from(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        for name in ["access_token", "refresh_token"] {
            if let Some(t) = json.get(name).and_then(Value::as_str) {
                canary(t);
            }
        }
        Self {
            status,
            headers,
            text,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an OAuth error answer (RFC 6749 §5.2) with the no-store headers.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.json["error"], code, "{}", self.text);
        assert!(self.json["error_description"].is_string());
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert_eq!(self.header("pragma"), Some("no-cache"));
    }
}

/// Which store ports fail. Off by default.
#[derive(Default)]
pub struct Faults {
    pub clients: AtomicBool,
    pub revocations: AtomicBool,
    pub keys: AtomicBool,
}

/// A store that fails on demand, as DynamoDB does when throttled or unreachable: a test double
/// around the real SQLite store.
pub struct Flaky {
    inner: Stores,
    faults: Arc<Faults>,
}

impl Flaky {
    fn wrap(inner: Stores, faults: Arc<Faults>) -> Stores {
        let flaky = Arc::new(Self { inner, faults });
        Stores {
            clients: flaky.clone(),
            keys: flaky.clone(),
            delegations: Arc::clone(&flaky.inner.delegations),
            issuers: Arc::clone(&flaky.inner.issuers),
            scope_rules: Arc::clone(&flaky.inner.scope_rules),
            refresh_tokens: Arc::clone(&flaky.inner.refresh_tokens),
            auth_failures: Arc::clone(&flaky.inner.auth_failures),
            assertion_ids: Arc::clone(&flaky.inner.assertion_ids),
            revocations: flaky,
        }
    }

    fn check(&self, flag: &AtomicBool) -> Result<(), StoreError> {
        if flag.load(Ordering::SeqCst) {
            Err(StoreError::unavailable("injected fault"))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl ClientStore for Flaky {
    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        self.check(&self.faults.clients)?;
        self.inner.clients.get_client(id).await
    }
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        self.check(&self.faults.clients)?;
        self.inner.clients.list_clients().await
    }
    async fn create_client(&self, c: &Client) -> Result<(), StoreError> {
        self.check(&self.faults.clients)?;
        self.inner.clients.create_client(c).await
    }
    async fn update_client(&self, c: &Client) -> Result<(), StoreError> {
        self.check(&self.faults.clients)?;
        self.inner.clients.update_client(c).await
    }
    async fn delete_client(&self, id: &ClientId, version: u64) -> Result<bool, StoreError> {
        self.check(&self.faults.clients)?;
        self.inner.clients.delete_client(id, version).await
    }
}

#[async_trait::async_trait]
impl KeyStore for Flaky {
    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.check(&self.faults.keys)?;
        self.inner.keys.list_keys().await
    }
    async fn init_active_key(&self, key: &KeyRecord) -> Result<KeyRecord, StoreError> {
        self.check(&self.faults.keys)?;
        self.inner.keys.init_active_key(key).await
    }
    async fn transition(&self, changes: &[KeyChange]) -> Result<(), StoreError> {
        self.check(&self.faults.keys)?;
        self.inner.keys.transition(changes).await
    }
    async fn remove_retired_key(&self, kid: &str) -> Result<bool, StoreError> {
        self.check(&self.faults.keys)?;
        self.inner.keys.remove_retired_key(kid).await
    }
}

#[async_trait::async_trait]
impl RevocationStore for Flaky {
    async fn revoke(&self, jti: &str, until: u64) -> Result<(), StoreError> {
        self.check(&self.faults.revocations)?;
        self.inner.revocations.revoke(jti, until).await
    }
    async fn is_revoked(&self, jti: &str, now: u64) -> Result<bool, StoreError> {
        self.check(&self.faults.revocations)?;
        self.inner.revocations.is_revoked(jti, now).await
    }
}
