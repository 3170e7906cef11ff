//! Signing: the [`Signer`] port, the JWS algorithms tokenmint issues with, and adapters.

pub mod dedicated;
#[cfg(feature = "aws")]
pub mod kms;
#[cfg(feature = "aws")]
pub mod kms_wrapped;
pub mod local;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::KeyRecord;

/// JWS algorithms (RFC 7518 §3.1) tokenmint signs with. Defaults to ES256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Algorithm {
    /// ECDSA P-256 SHA-256, signature as the 64-byte `r || s` (RFC 7518 §3.4).
    #[default]
    ES256,
    /// RSASSA-PKCS1-v1_5 SHA-256 (RFC 7518 §3.3).
    RS256,
    /// RSASSA-PSS SHA-256, MGF1 SHA-256, salt of 32 bytes (RFC 7518 §3.5).
    PS256,
}

impl Algorithm {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ES256" => Ok(Self::ES256),
            "RS256" => Ok(Self::RS256),
            "PS256" => Ok(Self::PS256),
            other => Err(format!(
                "unsupported signing algorithm {other:?}; use ES256, RS256 or PS256"
            )),
        }
    }
}

/// A signing failure.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The signing service is unreachable or throttled; the request may be retried.
    #[error("signer unavailable: {0}")]
    Unavailable(String),
    /// The key cannot sign (bad material, refused input).
    #[error("signing failed: {0}")]
    Failed(String),
    /// The signing input is larger than the signer accepts: retrying cannot help.
    #[error("the signing input is {0} bytes, more than the signer accepts")]
    TooLarge(usize),
    /// The key is in a state that refuses every request until an operator acts (disabled,
    /// pending deletion, access denied, not found): retrying cannot help either.
    #[error("the signing key refuses to work: {0}")]
    Refused(String),
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
/// audit event naming it; [`SignError::Unavailable`] (retryable, 503) for anything else.
pub fn kms_failure(code: Option<&str>, kid: &str, detail: impl std::fmt::Debug) -> SignError {
    match code.filter(|c| PERMANENT_KMS_ERRORS.contains(c)) {
        Some(code) => {
            crate::audit!("signing_refused", kid = %kid, reason = %code);
            SignError::Refused(code.to_owned())
        }
        None => SignError::Unavailable(format!("kms: {detail:?}")),
    }
}

/// Produces the JWS signature of a signing input (RFC 7515 §5.1) with one key.
#[async_trait]
pub trait Signer: Send + Sync {
    /// The key id published in the JWKS and carried in token headers.
    fn kid(&self) -> &str;
    fn alg(&self) -> Algorithm;
    /// The signature, already in JWS form (ES256: `r || s`).
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// Turns a stored key record into a signer for the current process.
pub trait SignerFactory: Send + Sync {
    fn signer(&self, record: &KeyRecord) -> Result<Arc<dyn Signer>, SignError>;
}
