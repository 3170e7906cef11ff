//! Signing keys as data: the algorithms tokenmint signs with, a key's life, where its private
//! half lives, and the public JWK (RFC 7517) verifiers see. The signer port and the key store
//! work on these; nothing here signs or stores.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;

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

/// The life of a signing key (RFC 7517 keys published in the JWKS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Published, not yet signing: verifiers learn it before any token carries it.
    Next,
    /// Published and signing. At most one key is active.
    Active,
    /// Published, no longer signing; kept until the tokens it signed have expired.
    Retiring,
    /// Unpublished.
    Retired,
}

impl KeyStatus {
    /// The stored (and serialised) name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }

    pub fn is_published(self) -> bool {
        !matches!(self, Self::Retired)
    }
}

/// Where a key's private half lives. `Debug` never shows private key material.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyMaterial {
    /// A software key, PKCS#8 DER in base64url. Only for the embedded store.
    Local { pkcs8: String },
    /// An asymmetric AWS KMS key; the private half never leaves KMS.
    Kms { key_id: String },
    /// A software key whose PKCS#8 DER is encrypted under the symmetric KMS key
    /// `wrapping_key` (base64url ciphertext), with the encryption context of
    /// the `kms-wrapped` signer: only a process allowed `kms:Decrypt` can sign with it.
    KmsWrapped {
        wrapping_key: String,
        ciphertext: String,
    },
}

impl KeyMaterial {
    /// How the private key is protected: `local`, `kms` or `kms-wrapped`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Local { .. } => "local",
            Self::Kms { .. } => "kms",
            Self::KmsWrapped { .. } => "kms-wrapped",
        }
    }

    /// The KMS key that signs with, or wraps, this key.
    pub fn kms_key(&self) -> Option<&str> {
        match self {
            Self::Local { .. } => None,
            Self::Kms { key_id } => Some(key_id),
            Self::KmsWrapped { wrapping_key, .. } => Some(wrapping_key),
        }
    }
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local { .. } => f.write_str("Local { pkcs8: <redacted> }"),
            Self::Kms { key_id } => f.debug_struct("Kms").field("key_id", key_id).finish(),
            Self::KmsWrapped { wrapping_key, .. } => f
                .debug_struct("KmsWrapped")
                .field("wrapping_key", wrapping_key)
                .finish_non_exhaustive(),
        }
    }
}

/// A signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub kid: String,
    pub alg: Algorithm,
    pub status: KeyStatus,
    pub public_jwk: PublicJwk,
    pub material: KeyMaterial,
    pub created_at: UnixTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<UnixTime>,
    /// When the key was published as the next key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<UnixTime>,
    /// When a retiring key may be unpublished: once every token it signed has expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_after: Option<UnixTime>,
    /// How long the key stays published after it stops signing, as the configuration had it
    /// when the key began to sign (the longest token lifetime plus the leeway): a cap lowered
    /// later cannot retire it before the tokens it signed under the old cap expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_lag: Option<u64>,
}

/// A public signing key as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    pub kid: String,
    pub alg: Algorithm,
    #[serde(rename = "use")]
    pub use_: String,
}

/// A JWK Set document (RFC 7517 §5).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}
