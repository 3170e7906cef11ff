//! Why a command failed. `main` prints the [`Display`](std::fmt::Display) of a [`CliError`]
//! as one sentence on standard error; the cause, where there is one, stays reachable through
//! [`std::error::Error::source`].

use tokenmint::admin::AdminError;
use tokenmint::config::ConfigError;
use tokenmint::domain::{InvalidPrincipal, InvalidScope};
use tokenmint::jwt::verify;
use tokenmint::rotation::RotationError;
use tokenmint::setup::SetupError;
use tokenmint::store::StoreError;

pub type Result<T, E = CliError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A sentence with no cause below it: an operator's mistake, or a refusal.
    #[error("{0}")]
    Message(String),
    /// An environment variable, or the flag standing for one, that cannot be used.
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Setup(#[from] SetupError),
    /// A client, issuer or scope rule the administration rules refused, or could not store.
    #[error("{0}")]
    Admin(#[from] AdminError),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A store operation that failed, named: "list issuers".
    #[error("cannot {action}: {source}")]
    StoreAction {
        action: String,
        #[source]
        source: StoreError,
    },
    #[error("rotation failed: {0}")]
    Rotation(#[from] RotationError),
    #[error("the token is not acceptable: {0}")]
    Token(#[from] verify::Invalid),
    /// `--delegator` or `--delegate`.
    #[error("--{flag} {value:?}: {source}")]
    Principal {
        flag: &'static str,
        value: String,
        #[source]
        source: InvalidPrincipal,
    },
    #[error("--scope: {0}")]
    Scope(#[from] InvalidScope),
    #[error("--expires {value:?}: {source} (use e.g. 2027-01-01T00:00:00Z)")]
    Time {
        value: String,
        #[source]
        source: humantime::TimestampError,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Reading, listening or serving, named: "cannot listen on 127.0.0.1:8080".
    #[error("{context}: {source}")]
    IoAt {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Fetching a JWK Set, named: "cannot fetch https://…".
    #[error("{context}: {source}")]
    Http {
        context: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// JSON read from elsewhere that does not parse, named: "jwks.json is not a JWK Set".
    #[error("{context}: {source}")]
    JsonAt {
        context: String,
        #[source]
        source: serde_json::Error,
    },
}

impl CliError {
    /// A plain sentence.
    pub fn message(m: impl Into<String>) -> Self {
        Self::Message(m.into())
    }

    /// For `map_err`: a store failure while doing `action` ("list delegations").
    pub fn store(action: impl Into<String>) -> impl FnOnce(StoreError) -> Self {
        let action = action.into();
        move |source| Self::StoreAction { action, source }
    }

    /// For `map_err`: an I/O failure, said as `context`.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::IoAt { context, source }
    }

    /// For `map_err`: an HTTP failure, said as `context`.
    pub fn http(context: impl Into<String>) -> impl FnOnce(reqwest::Error) -> Self {
        let context = context.into();
        move |source| Self::Http { context, source }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_named_failure_keeps_its_cause() {
        let e = CliError::store("list issuers")(StoreError::unavailable("timed out"));
        assert_eq!(
            e.to_string(),
            "cannot list issuers: store unavailable: timed out"
        );
        assert_eq!(
            e.source().map(ToString::to_string).as_deref(),
            Some("store unavailable: timed out")
        );
        let e = CliError::io("cannot listen on 127.0.0.1:1")(std::io::Error::other("in use"));
        assert_eq!(e.to_string(), "cannot listen on 127.0.0.1:1: in use");
        assert!(e.source().is_some());
    }

    #[test]
    fn a_configuration_error_reads_as_it_is() {
        let e = CliError::from(ConfigError::new("TOKENMINT_MAX_TTL: bad"));
        assert_eq!(e.to_string(), "TOKENMINT_MAX_TTL: bad");
        assert!(e.source().is_some());
    }
}
