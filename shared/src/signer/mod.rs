//! Signing: the [`Signer`] port, the JWS algorithms tokenmint issues with, and adapters.

pub mod dedicated;
#[cfg(feature = "aws")]
pub mod kms;
#[cfg(feature = "aws")]
pub mod kms_wrapped;
pub mod local;

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::UnixTime;
use crate::domain::{Algorithm, KeyRecord};

/// The error a signing failure was caused by, when there is one.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A signing failure. The message says what failed; the underlying error, if any, is kept as
/// its [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The signing service is unreachable or throttled; the request may be retried.
    #[error("signer unavailable: {context}")]
    Unavailable {
        context: String,
        #[source]
        source: Option<Cause>,
    },
    /// The signing service refused the request for its quota (KMS `ThrottlingException`,
    /// after the SDK's retries); retryable, like [`SignError::Unavailable`].
    #[error("signer throttled: {context}")]
    Throttled {
        context: String,
        #[source]
        source: Option<Cause>,
    },
    /// The key cannot sign (bad material, refused input).
    #[error("signing failed: {context}")]
    Failed {
        context: String,
        #[source]
        source: Option<Cause>,
    },
    /// The signing input is larger than the signer accepts: retrying cannot help.
    #[error("the signing input is {0} bytes, more than the signer accepts")]
    TooLarge(usize),
    /// The key is in a state that refuses every request until an operator acts (disabled,
    /// pending deletion, access denied, not found): retrying cannot help either.
    #[error("the signing key refuses to work: {0}")]
    Refused(String),
    /// Rotation has no key to publish next (every configured KMS key is in use).
    #[error("{0}")]
    NoNextKey(String),
}

impl SignError {
    /// [`SignError::Unavailable`] with no underlying error.
    pub fn unavailable(context: impl Into<String>) -> Self {
        Self::Unavailable {
            context: context.into(),
            source: None,
        }
    }

    /// [`SignError::Unavailable`] caused by `source`.
    pub fn unavailable_by(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        Self::Unavailable {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// [`SignError::Failed`] with no underlying error.
    pub fn failed(context: impl Into<String>) -> Self {
        Self::Failed {
            context: context.into(),
            source: None,
        }
    }

    /// [`SignError::Failed`] caused by `source`.
    pub fn failed_by(context: impl Into<String>, source: impl Into<Cause>) -> Self {
        Self::Failed {
            context: context.into(),
            source: Some(source.into()),
        }
    }
}

/// KMS error codes that no retry can get past: the key's state or its policy.
pub const PERMANENT_KMS_ERRORS: &[&str] = &[
    "DisabledException",
    "KMSInvalidStateException",
    "AccessDeniedException",
    "NotFoundException",
    "InvalidKeyUsageException",
    "IncorrectKeyException",
];

/// A failed KMS call: [`SignError::Refused`] for a permanent state, with a `signing_refused`
/// audit event naming it; [`SignError::Throttled`] for the request quota;
/// [`SignError::Unavailable`] (retryable, 503) for anything else.
pub fn kms_failure<E>(code: Option<&str>, kid: &str, e: E) -> SignError
where
    E: std::error::Error + Send + Sync + 'static,
{
    match code.filter(|c| PERMANENT_KMS_ERRORS.contains(c)) {
        Some(code) => {
            crate::audit!("signing_refused", kid = %kid, reason = %code);
            SignError::Refused(code.to_owned())
        }
        None if code == Some("ThrottlingException") => SignError::Throttled {
            context: format!("kms: {e:?}"),
            source: Some(e.into()),
        },
        None => SignError::unavailable_by(format!("kms: {e:?}"), e),
    }
}

/// Produces the JWS signature of a signing input (RFC 7515 §5.1) with one key.
#[async_trait]
pub trait Signer: Send + Sync {
    /// The key id published in the JWKS and carried in token headers.
    fn kid(&self) -> &str;
    fn alg(&self) -> Algorithm;
    /// How it signs, as metrics name it: `kms` (a remote call per signature), `kms-wrapped`
    /// or `local` (in process).
    fn mode(&self) -> &'static str;
    /// The signature, already in JWS form (ES256: `r || s`).
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// Where next keys come from.
#[async_trait]
pub trait NextKey: Send + Sync {
    /// A key record for the next key, with status [`KeyStatus::Next`] and `published_at` now.
    /// `existing` is every stored key, so a source can reuse a retired one.
    async fn next_key(&self, existing: &[KeyRecord], now: UnixTime)
    -> Result<KeyRecord, SignError>;
}

/// Turns a stored key record into a signer for the current process.
pub trait SignerFactory: Send + Sync {
    fn signer(&self, record: &KeyRecord) -> Result<Arc<dyn Signer>, SignError>;
}
