//! Configuration, read once at start from the environment and validated with clear messages.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TOKENMINT_ISSUER` | issuer URL (`iss`, metadata) | on Lambda, the API's default endpoint (`https://{api id}.execute-api.{region}.amazonaws.com`); `serve` derives it from `--addr` |
//! | `TOKENMINT_DATA` | directory of the embedded store | `.tokenmint` |
//! | `TOKENMINT_STORE` | `sqlite:PATH` or `dynamodb:TABLE` | `sqlite:$TOKENMINT_DATA/tokenmint.db` |
//! | `TOKENMINT_SIGNER` | `local`, `kms:KEY_ID_OR_ARN` or `kms-wrapped:KEY_ID_OR_ARN` | `local` |
//! | `TOKENMINT_SIGNING_ALG` | `ES256`, `RS256` or `PS256`, for generated keys | `ES256` |
//! | `TOKENMINT_DEFAULT_TTL` | access-token lifetime when a client sets none | `1h` |
//! | `TOKENMINT_MAX_TTL` | cap on every access-token lifetime (at most 30 days) | `24h` |
//! | `TOKENMINT_CLIENT_CACHE_TTL` | how long client records, trusted issuers and step-up rules are cached | `5s` |
//! | `TOKENMINT_KEY_CACHE_TTL` | how long signing keys are cached (≤ 60 s) | `60s` |
//! | `TOKENMINT_JWKS_MAX_AGE` | `Cache-Control: max-age` of the JWKS and metadata | `300s` |
//! | `TOKENMINT_LEEWAY` | clock skew tolerated for `nbf`/`iat` | `30s` |
//! | `TOKENMINT_INSECURE_LOCAL_KEY` | `1` allows a `local` key in a `dynamodb:` store | unset |
//! | `TOKENMINT_KEY_ROTATION_PERIOD` | age at which the active signing key is replaced | `30d` |
//! | `TOKENMINT_KMS_KEYS` | further KMS keys rotation promotes in turn (comma-separated) | none |
//! | `TOKENMINT_MAX_EXCHANGE_TTL` | cap on any client's `--max-exchange-ttl` (at most 30 days) | `7d` |
//! | `TOKENMINT_REFRESH_TTL` | absolute lifetime of a refresh-token family | `7d` |
//! | `TOKENMINT_REFRESH_IDLE_TTL` | a refresh token unused this long lapses | `24h` |
//! | `TOKENMINT_REQUEST_DEADLINE` | the most one request may take before it is answered `503` (below the Lambda timeout) | `8s` |
//! | `TOKENMINT_HOOK`, `TOKENMINT_HOOK_*`, `TOKENMINT_CLAIMS_*` | the claims hook ([`hook`]) | in process |

use std::path::PathBuf;
use std::time::Duration;

use crate::domain::{Algorithm, Issuer};

mod error;
pub mod hook;
mod lambda;
mod parse;

pub use error::ConfigError;
pub use parse::{InvalidDuration, comma_list, duration, parse_duration};

/// The largest `TOKENMINT_MAX_TTL` accepted: 30 days.
pub const MAX_TTL_CEILING: u64 = crate::domain::MAX_CHAIN_TTL;

/// Where state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// The embedded store: one SQLite file.
    Sqlite(PathBuf),
    /// One DynamoDB table, reached with the standard AWS environment (`AWS_REGION`,
    /// credentials, `AWS_ENDPOINT_URL`).
    DynamoDb(String),
}

/// Where the private signing key lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerConfig {
    /// A software key generated on first start and kept in the store.
    Local,
    /// An asymmetric KMS key (id, ARN or alias): every token is signed by KMS `Sign`.
    Kms(String),
    /// A symmetric KMS key (id, ARN or alias) that wraps software signing keys: they are
    /// generated at rotation, stored encrypted, and decrypted once per process to sign.
    KmsWrapped(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The issuer, or `None` on Lambda when each request's API Gateway domain names it.
    pub issuer: Option<Issuer>,
    pub store: StoreConfig,
    pub signer: SignerConfig,
    pub signing_alg: Algorithm,
    /// Access-token lifetime when a client sets none (`TOKENMINT_DEFAULT_TTL`). Defaults to 1 h.
    pub default_ttl: Duration,
    /// Cap on every access-token lifetime (`TOKENMINT_MAX_TTL`, at most 30 days). Defaults to 24 h.
    pub max_ttl: Duration,
    /// How long client records, trusted issuers and step-up rules are cached
    /// (`TOKENMINT_CLIENT_CACHE_TTL`). Defaults to 5 s.
    pub client_cache_ttl: Duration,
    /// How long signing keys are cached (`TOKENMINT_KEY_CACHE_TTL`, at most 60 s). Defaults to
    /// 60 s.
    pub key_cache_ttl: Duration,
    /// `Cache-Control: max-age` of the JWKS and metadata (`TOKENMINT_JWKS_MAX_AGE`). Defaults to
    /// 300 s.
    pub jwks_max_age: Duration,
    /// Clock skew tolerated for `nbf`/`iat` (`TOKENMINT_LEEWAY`, at most 300 s). Defaults to 30 s.
    pub leeway: Duration,
    /// Allows a `local` signing key in a `dynamodb:` store, where its private half would sit
    /// in plaintext in the table (`TOKENMINT_INSECURE_LOCAL_KEY=1`).
    pub insecure_local_key: bool,
    /// The age at which the active signing key is replaced (`TOKENMINT_KEY_ROTATION_PERIOD`).
    /// Defaults to 30 days.
    pub key_rotation_period: Duration,
    /// Further KMS keys that rotation promotes in turn with the one in `TOKENMINT_SIGNER`
    /// (`TOKENMINT_KMS_KEYS`, comma-separated ids or ARNs).
    pub kms_rotation_keys: Vec<String>,
    /// The longest any client may extend an exchange chain (`TOKENMINT_MAX_EXCHANGE_TTL`);
    /// at most 30 days. Defaults to 7 days.
    pub max_exchange_ttl: Duration,
    /// A refresh-token family's absolute lifetime (`TOKENMINT_REFRESH_TTL`). Defaults to 7 days.
    pub refresh_ttl: Duration,
    /// How long an unused refresh token stays valid (`TOKENMINT_REFRESH_IDLE_TTL`). Defaults to
    /// 24 h.
    pub refresh_idle_ttl: Duration,
    /// The claims hook (`TOKENMINT_HOOK*`, `TOKENMINT_CLAIMS_*`; see [`hook`]).
    pub hook: hook::HookConfig,
    /// The most one request may take (`TOKENMINT_REQUEST_DEADLINE`, 1 s to 60 s): then it is
    /// answered `503 temporarily_unavailable` with `Retry-After`, before a Lambda function's
    /// timeout would cut it off with a bare gateway error. Defaults to 8 s.
    pub request_deadline: Duration,
    /// The region a Lambda function runs in (`AWS_REGION`, set by Lambda): with no
    /// `TOKENMINT_ISSUER`, the issuer is the API's default endpoint in this region.
    pub aws_region: Option<String>,
    /// A Lambda function that answers every endpoint, as `tokenmint serve` does, behind a
    /// Lambda function URL (`TOKENMINT_ENDPOINTS=all`): with no `TOKENMINT_ISSUER`, the
    /// issuer is then the function URL. Unset: each function answers its own endpoints.
    pub all_endpoints: bool,
    /// The CloudWatch namespace of the metrics a Lambda function writes
    /// (`TOKENMINT_METRICS_NAMESPACE`). Defaults to `tokenmint`.
    pub metrics_namespace: String,
    /// The AWS SDK configuration (region, credentials, `AWS_ENDPOINT_URL` from the standard
    /// environment), loaded once on first use and shared by every AWS adapter.
    pub aws: crate::aws::Sdk,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get`, so tests never touch the process environment.
    /// An empty value counts as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let issuer = get("TOKENMINT_ISSUER")
            .map(|s| Issuer::parse(&s).map_err(ConfigError::from))
            .transpose()?;
        let data = PathBuf::from(get("TOKENMINT_DATA").unwrap_or_else(|| ".tokenmint".into()));
        let store = match get("TOKENMINT_STORE") {
            None => StoreConfig::Sqlite(data.join("tokenmint.db")),
            Some(s) => match s.split_once(':') {
                Some(("sqlite", path)) if !path.is_empty() => StoreConfig::Sqlite(path.into()),
                Some(("dynamodb", table)) if is_table_name(table) => {
                    StoreConfig::DynamoDb(table.to_owned())
                }
                _ => {
                    return Err(ConfigError::new(format!(
                        "TOKENMINT_STORE {s:?} is not understood; use sqlite:PATH or dynamodb:TABLE"
                    )));
                }
            },
        };
        let signer = match get("TOKENMINT_SIGNER").as_deref() {
            None | Some("local") => SignerConfig::Local,
            Some(s) => match s.split_once(':') {
                Some(("kms", key)) if !key.is_empty() => SignerConfig::Kms(key.to_owned()),
                Some(("kms-wrapped", key)) if !key.is_empty() => {
                    SignerConfig::KmsWrapped(key.to_owned())
                }
                _ => {
                    return Err(ConfigError::new(format!(
                        "TOKENMINT_SIGNER {s:?} is not understood; use local, kms:KEY_ID_OR_ARN \
                         or kms-wrapped:KEY_ID_OR_ARN"
                    )));
                }
            },
        };
        let signing_alg = match get("TOKENMINT_SIGNING_ALG") {
            None => Algorithm::default(),
            Some(s) => s
                .parse()
                .map_err(|e| ConfigError::new(format!("TOKENMINT_SIGNING_ALG: {e}")))?,
        };
        let secs = |k: &str, default: u64| -> Result<Duration, ConfigError> {
            get(k).map_or(Ok(Duration::from_secs(default)), |v| {
                duration(&v).map_err(|e| ConfigError::caused(format!("{k}: {e}"), e))
            })
        };
        let config = Self {
            issuer,
            store,
            signer,
            signing_alg,
            default_ttl: secs("TOKENMINT_DEFAULT_TTL", 3600)?,
            max_ttl: secs("TOKENMINT_MAX_TTL", 86_400)?,
            client_cache_ttl: secs("TOKENMINT_CLIENT_CACHE_TTL", 5)?,
            key_cache_ttl: secs("TOKENMINT_KEY_CACHE_TTL", 60)?,
            jwks_max_age: secs("TOKENMINT_JWKS_MAX_AGE", 300)?,
            leeway: secs("TOKENMINT_LEEWAY", 30)?,
            insecure_local_key: get("TOKENMINT_INSECURE_LOCAL_KEY").as_deref() == Some("1"),
            key_rotation_period: secs("TOKENMINT_KEY_ROTATION_PERIOD", 30 * 86_400)?,
            kms_rotation_keys: get("TOKENMINT_KMS_KEYS")
                .map(|v| comma_list(&v))
                .unwrap_or_default(),
            max_exchange_ttl: secs("TOKENMINT_MAX_EXCHANGE_TTL", 7 * 86_400)?,
            refresh_ttl: secs("TOKENMINT_REFRESH_TTL", 7 * 86_400)?,
            refresh_idle_ttl: secs("TOKENMINT_REFRESH_IDLE_TTL", 86_400)?,
            hook: hook::HookConfig::from_lookup(&get)?,
            request_deadline: secs("TOKENMINT_REQUEST_DEADLINE", 8)?,
            aws_region: get("AWS_REGION"),
            all_endpoints: match get("TOKENMINT_ENDPOINTS").as_deref() {
                None => false,
                Some("all") => true,
                Some(v) => {
                    return Err(ConfigError::new(format!(
                        "TOKENMINT_ENDPOINTS {v:?} is not understood; use all, or leave it unset"
                    )));
                }
            },
            metrics_namespace: metrics_namespace(get("TOKENMINT_METRICS_NAMESPACE"))?,
            aws: crate::aws::Sdk::default(),
        };
        config.validate()
    }

    /// Whether the private signing key is used in this process (`local`, `kms-wrapped`), as
    /// opposed to inside KMS.
    pub fn signer_signs_in_process(&self) -> bool {
        !matches!(self.signer, SignerConfig::Kms(_))
    }

    /// The longest lifetime any token tokenmint signs can have, from its signing: an access
    /// token's `TOKENMINT_MAX_TTL`, or an exchanged (or refreshed) one's
    /// `TOKENMINT_MAX_EXCHANGE_TTL`. A signing key stays published this long (plus the
    /// leeway) after it stops signing.
    pub fn longest_token_ttl(&self) -> u64 {
        self.max_ttl.max(self.max_exchange_ttl).as_secs()
    }

    fn validate(self) -> Result<Self, ConfigError> {
        if self.max_ttl.as_secs() == 0 || self.default_ttl.as_secs() == 0 {
            return Err(ConfigError::new(
                "token lifetimes must be at least one second",
            ));
        }
        if self.max_ttl.as_secs() > MAX_TTL_CEILING {
            return Err(ConfigError::new(format!(
                "TOKENMINT_MAX_TTL may be at most {}d: access tokens are meant to be short-lived",
                MAX_TTL_CEILING / 86_400
            )));
        }
        if self.default_ttl.as_secs() > self.max_ttl.as_secs() {
            return Err(ConfigError::new(format!(
                "TOKENMINT_DEFAULT_TTL ({}s) exceeds TOKENMINT_MAX_TTL ({}s)",
                self.default_ttl.as_secs(),
                self.max_ttl.as_secs()
            )));
        }
        if self.max_exchange_ttl.as_secs() == 0 || self.max_exchange_ttl.as_secs() > MAX_TTL_CEILING
        {
            return Err(ConfigError::new(format!(
                "TOKENMINT_MAX_EXCHANGE_TTL must be between 1s and {}d",
                MAX_TTL_CEILING / 86_400
            )));
        }
        if self.refresh_ttl.as_secs() == 0 || self.refresh_idle_ttl.as_secs() == 0 {
            return Err(ConfigError::new(
                "refresh-token lifetimes must be at least one second",
            ));
        }
        if self.key_cache_ttl.as_secs() > 60 {
            return Err(ConfigError::new(
                "TOKENMINT_KEY_CACHE_TTL may be at most 60s, so rotations reach warm processes",
            ));
        }
        if matches!(self.store, StoreConfig::DynamoDb(_))
            && self.signer == SignerConfig::Local
            && !self.insecure_local_key
        {
            return Err(ConfigError::new(
                "TOKENMINT_SIGNER=local with a dynamodb: store would keep a plaintext private key \
                 in the table; use a KMS signer, or set TOKENMINT_INSECURE_LOCAL_KEY=1 for tests",
            ));
        }
        // A retiring key stays published for the longest token lifetime (exchanged tokens
        // included) plus the leeway; a rotation period of twice that leaves room to publish the
        // next key ahead and to retire the previous one before a key comes round again.
        let lag = self.longest_token_ttl() + self.leeway.as_secs();
        if self.key_rotation_period.as_secs() < 2 * lag.max(3 * 3600) {
            return Err(ConfigError::new(format!(
                "TOKENMINT_KEY_ROTATION_PERIOD ({}s) must leave room for publishing a key ahead and \
                 for retiring the previous one after the longest token lifetime: at least twice \
                 max(max(TOKENMINT_MAX_TTL, TOKENMINT_MAX_EXCHANGE_TTL) + leeway, 3h) = {}s",
                self.key_rotation_period.as_secs(),
                2 * lag.max(3 * 3600)
            )));
        }
        if self.request_deadline.as_secs() == 0 || self.request_deadline.as_secs() > 60 {
            return Err(ConfigError::new(
                "TOKENMINT_REQUEST_DEADLINE must be between 1s and 60s",
            ));
        }
        if self.hook.settings.timeout.as_secs() >= self.request_deadline.as_secs() {
            return Err(ConfigError::new(format!(
                "TOKENMINT_HOOK_TIMEOUT must be shorter than TOKENMINT_REQUEST_DEADLINE ({}s), \
                 so a slow hook is answered as a hook failure",
                self.request_deadline.as_secs()
            )));
        }
        if self.leeway.as_secs() > 300 {
            return Err(ConfigError::new("TOKENMINT_LEEWAY may be at most 300s"));
        }
        Ok(self)
    }
}

/// A CloudWatch namespace: 1 to 255 letters, digits and `. - _ / #`, not `AWS/…`.
fn metrics_namespace(value: Option<String>) -> Result<String, ConfigError> {
    let Some(ns) = value else {
        return Ok("tokenmint".to_owned());
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#".contains(c);
    if ns.len() > 255 || !ns.chars().all(allowed) || ns.starts_with("AWS/") {
        return Err(ConfigError::new(format!(
            "TOKENMINT_METRICS_NAMESPACE {ns:?} is not a CloudWatch namespace: at most 255 \
             letters, digits and . - _ / #, not starting with AWS/"
        )));
    }
    Ok(ns)
}

/// A DynamoDB table name: 3 to 255 of `A-Z a-z 0-9 _ - .`.
fn is_table_name(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = from(&[("TOKENMINT_ISSUER", "https://auth.example.com")]).unwrap();
        assert_eq!(c.issuer.unwrap().as_str(), "https://auth.example.com");
        assert_eq!(
            c.store,
            StoreConfig::Sqlite(".tokenmint/tokenmint.db".into())
        );
        assert_eq!(c.signer, SignerConfig::Local);
        assert_eq!(c.signing_alg, Algorithm::ES256);
        assert_eq!(
            (c.default_ttl.as_secs(), c.max_ttl.as_secs()),
            (3600, 86_400)
        );
    }

    #[test]
    fn clear_errors() {
        let err = |pairs: &[(&str, &str)]| from(pairs).unwrap_err().to_string();
        // No issuer is fine: on Lambda each request's API Gateway domain names it.
        assert_eq!(from(&[]).unwrap().issuer, None);
        assert!(err(&[("TOKENMINT_ISSUER", "http://auth.example.com")]).contains("https"));
        assert!(err(&[("TOKENMINT_ISSUER", "https://a.example?x=1")]).contains("query"));
        let base = ("TOKENMINT_ISSUER", "https://a.example");
        assert!(err(&[base, ("TOKENMINT_SIGNING_ALG", "HS256")]).contains("HS256"));
        assert!(err(&[base, ("TOKENMINT_MAX_TTL", "soon")]).contains("TOKENMINT_MAX_TTL"));
        assert!(err(&[base, ("TOKENMINT_DEFAULT_TTL", "2d")]).contains("exceeds"));
        assert!(err(&[base, ("TOKENMINT_MAX_TTL", "31d")]).contains("at most 30d"));
        assert!(err(&[base, ("TOKENMINT_STORE", "postgres:x")]).contains("TOKENMINT_STORE"));
        assert!(err(&[base, ("TOKENMINT_STORE", "dynamodb:a b")]).contains("TOKENMINT_STORE"));
        assert!(err(&[base, ("TOKENMINT_SIGNER", "kms:")]).contains("TOKENMINT_SIGNER"));
        let kms = from(&[base, ("TOKENMINT_SIGNER", "kms:alias/tokenmint")]).unwrap();
        assert_eq!(kms.signer, SignerConfig::Kms("alias/tokenmint".into()));
        let wrapped = from(&[base, ("TOKENMINT_SIGNER", "kms-wrapped:alias/wrap")]).unwrap();
        assert_eq!(
            wrapped.signer,
            SignerConfig::KmsWrapped("alias/wrap".into())
        );
        assert!(err(&[base, ("TOKENMINT_SIGNER", "kms-wrapped:")]).contains("kms-wrapped:"));
        assert!(err(&[base, ("TOKENMINT_STORE", "dynamodb:tokenmint-prod")]).contains("plaintext"));
        let c = from(&[
            base,
            ("TOKENMINT_STORE", "dynamodb:tokenmint-prod"),
            ("TOKENMINT_INSECURE_LOCAL_KEY", "1"),
        ])
        .unwrap();
        assert_eq!(c.store, StoreConfig::DynamoDb("tokenmint-prod".into()));
    }

    #[test]
    fn issuers() {
        assert!(Issuer::parse("http://127.0.0.1:8080").is_ok());
        assert!(Issuer::parse("http://localhost:8080").is_ok());
        assert!(Issuer::parse("http://[::1]:8080").is_ok());
        assert!(Issuer::parse("http://10.0.0.1").is_err());
        let i = Issuer::parse("https://auth.example.com/tenant/").unwrap();
        assert_eq!(i.as_str(), "https://auth.example.com/tenant/");
        assert_eq!(i.base(), "https://auth.example.com/tenant");
        assert_eq!(i.path(), "/tenant");
        assert_eq!(
            Issuer::parse("https://auth.example.com").unwrap().path(),
            ""
        );
    }
}
