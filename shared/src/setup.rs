//! Wiring shared by every entry point: open the configured adapters and build an [`App`].
//! Adapters are chosen here, from configuration, and never inside protocol logic.

use std::sync::Arc;

use crate::app::App;
use crate::clock::Clock;
use crate::config::{Config, SignerConfig, StoreConfig};
use crate::domain::{KeyRecord, KeyStatus};
use crate::keys::{KeyError, KeyPolicy, KeyRing};
use crate::signer::dedicated::LocalSignerFactory;
use crate::signer::local::{LocalKey, LocalNextKey};
use crate::signer::{SignError, SignerFactory};
use crate::store::cache::ClientCache;
use crate::store::list_cache;
use crate::store::sqlite::SqliteStore;
use crate::store::{KeyChange, StoreError, Stores};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot load signing keys: {0}")]
    Keys(#[from] KeyError),
    #[error("cannot create a signing key: {0}")]
    Signer(#[from] SignError),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
}

/// Opens the stores named by the configuration.
pub async fn open_stores(config: &Config) -> Result<Stores, StoreError> {
    match &config.store {
        StoreConfig::Sqlite(path) => Ok(Stores::from_one(Arc::new(SqliteStore::open(path)?))),
        #[cfg(feature = "aws")]
        StoreConfig::DynamoDb(table) => {
            let client = aws_sdk_dynamodb::Client::new(config.aws.config().await);
            let store = crate::store::dynamodb::DynamoStore::new(client, table.as_str());
            Ok(Stores::from_one(Arc::new(store)))
        }
        #[cfg(not(feature = "aws"))]
        StoreConfig::DynamoDb(_) => Err(StoreError::unavailable(
            "this build has no AWS support (the `aws` feature is off)",
        )),
    }
}

/// Opens the stores of a Lambda function: DynamoDB only ([`Config::check_lambda_store`]).
pub async fn open_shared_stores(config: &Config) -> Result<Stores, SetupError> {
    config.check_lambda_store()?;
    Ok(open_stores(config).await?)
}

/// The signer factory named by the configuration.
pub async fn signer_factory(config: &Config) -> Result<Arc<dyn SignerFactory>, SetupError> {
    match config.signer {
        SignerConfig::Local => Ok(Arc::new(LocalSignerFactory)),
        #[cfg(feature = "aws")]
        SignerConfig::Kms(_) => Ok(Arc::new(crate::signer::kms::KmsSignerFactory {
            client: aws_sdk_kms::Client::new(config.aws.config().await),
        })),
        #[cfg(feature = "aws")]
        SignerConfig::KmsWrapped(_) => Ok(Arc::new(crate::signer::kms::KmsSignerFactory {
            client: aws_sdk_kms::Client::new(config.aws.config().await),
        })),
        #[cfg(not(feature = "aws"))]
        SignerConfig::Kms(_) | SignerConfig::KmsWrapped(_) => Err(no_aws()),
    }
}

#[cfg(not(feature = "aws"))]
fn no_aws() -> SetupError {
    SetupError::Signer(SignError::failed(
        "this build has no AWS support (the `aws` feature is off)",
    ))
}

/// Where rotation gets its next keys: fresh local keys, or the configured KMS keys in turn.
pub async fn next_key_source(
    config: &Config,
) -> Result<Box<dyn crate::signer::NextKey>, SetupError> {
    match &config.signer {
        SignerConfig::Local => Ok(Box::new(LocalNextKey(config.signing_alg))),
        #[cfg(feature = "aws")]
        SignerConfig::Kms(key) => Ok(Box::new(crate::signer::kms::KmsNextKey {
            client: aws_sdk_kms::Client::new(config.aws.config().await),
            candidates: std::iter::once(key.clone())
                .chain(config.kms_rotation_keys.iter().cloned())
                .collect(),
            rsa_alg: config.signing_alg,
        })),
        #[cfg(feature = "aws")]
        SignerConfig::KmsWrapped(key) => Ok(Box::new(crate::signer::kms_wrapped::WrappedNextKey {
            wrapper: crate::signer::kms_wrapped::Wrapper::new(
                aws_sdk_kms::Client::new(config.aws.config().await),
                key.clone(),
            ),
            alg: config.signing_alg,
        })),
        #[cfg(not(feature = "aws"))]
        SignerConfig::Kms(_) | SignerConfig::KmsWrapped(_) => Err(no_aws()),
    }
}

/// Makes sure an active signing key exists, for a process that signs: on first start a local
/// key is generated, a `kms:` key registered, or a `kms-wrapped:` key generated and wrapped.
/// A next key waiting with none active (a rotation that ran first on a fresh registry) signs
/// at once instead: nothing was signed before it. Processes starting together agree on one
/// key (see [`crate::store::KeyStore::init_active_key`]). Returns every key record, so the
/// key ring is built without reading the registry again.
pub async fn ensure_signing_key(
    config: &Config,
    stores: &Stores,
    clock: &dyn Clock,
) -> Result<Vec<KeyRecord>, SetupError> {
    let mut keys = stores.keys.list_keys().await?;
    if keys.iter().any(|k| k.status == KeyStatus::Active) {
        return Ok(keys);
    }
    let lag = crate::rotation::Schedule::from_config(config).retire_lag;
    if let Some(next) = keys.iter().find(|k| k.status == KeyStatus::Next) {
        let mut record = next.clone();
        record.status = KeyStatus::Active;
        record.activated_at = Some(clock.now());
        record.retire_lag = Some(lag);
        let kid = record.kid.clone();
        let change = KeyChange {
            expected: Some(KeyStatus::Next),
            record,
        };
        match stores.keys.transition(&[change]).await {
            Ok(()) => crate::audit!("signing_key_promoted", kid = %kid),
            // Another process promoted it (or registered a key) first.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(stores.keys.list_keys().await?);
    }
    let record = match &config.signer {
        SignerConfig::Local => {
            let (key, pkcs8) = LocalKey::generate(config.signing_alg)?;
            key.record(&pkcs8, KeyStatus::Active, clock.now())
        }
        #[cfg(feature = "aws")]
        SignerConfig::Kms(key_id) => {
            // Seeds an empty registry with the configured key; its public half is fetched
            // once here and stored, so signing processes never call GetPublicKey.
            let client = aws_sdk_kms::Client::new(config.aws.config().await);
            crate::signer::kms::KmsSigner::connect(client, key_id, config.signing_alg)
                .await?
                .record(KeyStatus::Active, clock.now())
        }
        #[cfg(feature = "aws")]
        SignerConfig::KmsWrapped(key_id) => {
            let client = aws_sdk_kms::Client::new(config.aws.config().await);
            crate::signer::kms_wrapped::Wrapper::new(client, key_id.clone())
                .generate(config.signing_alg, KeyStatus::Active, clock.now())
                .await?
        }
        #[cfg(not(feature = "aws"))]
        SignerConfig::Kms(_) | SignerConfig::KmsWrapped(_) => return Err(no_aws()),
    };
    let mut record = record;
    record.retire_lag = Some(lag);
    let active = stores.keys.init_active_key(&record).await?;
    crate::audit!("signing_key_registered", kid = %active.kid, alg = %active.alg);
    keys.retain(|k| k.kid != active.kid);
    keys.push(active);
    Ok(keys)
}

/// What a process does with the signing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Signs tokens: may seed an empty registry at start (the token function, `serve`).
    Sign,
    /// Only verifies and publishes: reads the registry, never writes it, and never builds a
    /// signer, so it never holds or decrypts a private key (the jwks and introspect
    /// functions).
    Verify,
}

/// Builds the application over `stores`, with the claims hook the configuration names.
pub async fn build_app(
    config: Arc<Config>,
    stores: &Stores,
    clock: Arc<dyn Clock>,
) -> Result<App, SetupError> {
    let hook = claims_hook(&config, stores, &clock).await?;
    build_app_with_hook(config, stores, clock, hook).await
}

/// Builds the application over `stores` with `hook`.
pub async fn build_app_with_hook(
    config: Arc<Config>,
    stores: &Stores,
    clock: Arc<dyn Clock>,
    hook: Arc<dyn crate::hook::ClaimsHook>,
) -> Result<App, SetupError> {
    build_app_for(config, stores, clock, hook, KeyUse::Sign).await
}

/// Builds the application over `stores` with `hook`, signing or only verifying.
pub async fn build_app_for(
    config: Arc<Config>,
    stores: &Stores,
    clock: Arc<dyn Clock>,
    hook: Arc<dyn crate::hook::ClaimsHook>,
    key_use: KeyUse,
) -> Result<App, SetupError> {
    let (records, factory) = match key_use {
        KeyUse::Sign => (
            ensure_signing_key(&config, stores, clock.as_ref()).await?,
            Some(signer_factory(&config).await?),
        ),
        KeyUse::Verify => (stores.keys.list_keys().await?, None),
    };
    let keys = KeyRing::from_records(
        Arc::clone(&stores.keys),
        factory,
        KeyPolicy::from_config(&config),
        Arc::clone(&clock),
        config.key_cache_ttl.as_secs(),
        records,
    )?;
    let clients = ClientCache::new(
        Arc::clone(&stores.clients),
        Arc::clone(&clock),
        config.client_cache_ttl.as_secs(),
    );
    let stores = &list_cache::cached_lists(
        stores,
        Arc::clone(&clock),
        config.client_cache_ttl.as_secs(),
    );
    Ok(App::new(config, clock, clients, keys, stores, hook))
}

/// The claims hook of a Lambda function: the default hook or another Lambda function
/// ([`Config::check_lambda_hook`]).
pub async fn lambda_claims_hook(
    config: &Config,
    stores: &Stores,
    clock: &Arc<dyn Clock>,
) -> Result<Arc<dyn crate::hook::ClaimsHook>, SetupError> {
    config.check_lambda_hook()?;
    claims_hook(config, stores, clock).await
}

fn default_hook(stores: &Stores, clock: &Arc<dyn Clock>) -> Arc<dyn crate::hook::ClaimsHook> {
    Arc::new(crate::hook::in_process::DefaultHook {
        delegations: Arc::clone(&stores.delegations),
        clock: Arc::clone(clock),
    })
}

#[cfg(feature = "aws")]
async fn lambda_hook(
    aws: &crate::aws::Sdk,
    function: &str,
    budget: std::time::Duration,
) -> Arc<dyn crate::hook::ClaimsHook> {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    // The hook step owns the retries and the time budget (hook::run): the SDK makes one
    // attempt, allowed the whole budget, so a hook slower than the SDK's usual 1 s attempt
    // timeout still answers, and retries never nest (3 SDK attempts × 3 hook attempts).
    let sdk = aws.config().await;
    let config = aws_sdk_lambda::config::Builder::from(sdk)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(1))
                .operation_attempt_timeout(budget)
                .operation_timeout(budget)
                .build(),
        )
        .build();
    Arc::new(crate::hook::lambda::LambdaHook::new(
        aws_sdk_lambda::Client::from_conf(config),
        function,
    ))
}

/// The claims hook named by the configuration.
pub async fn claims_hook(
    config: &Config,
    stores: &Stores,
    clock: &Arc<dyn Clock>,
) -> Result<Arc<dyn crate::hook::ClaimsHook>, SetupError> {
    use crate::config::hook::HookTarget;
    match &config.hook.target {
        HookTarget::Default => Ok(default_hook(stores, clock)),
        HookTarget::Webhook { url, secret } => Ok(Arc::new(
            crate::hook::webhook::Webhook::new(url, secret.clone(), Arc::clone(clock))
                .map_err(SetupError::Unsupported)?,
        )),
        #[cfg(feature = "aws")]
        HookTarget::Lambda(function) => {
            Ok(lambda_hook(&config.aws, function, config.hook.settings.timeout).await)
        }
        #[cfg(not(feature = "aws"))]
        HookTarget::Lambda(_) => Err(no_aws()),
    }
}
