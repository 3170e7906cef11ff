//! Signing with an asymmetric AWS KMS key: the private key never leaves KMS.
//!
//! `ECC_NIST_P256` keys sign ES256, RSA keys RS256 (or PS256 when configured). Messages are
//! sent with `MessageType=RAW`, which KMS limits to 4,096 bytes, so the signing input is
//! checked against that bound before the call. KMS returns ECDSA signatures in DER; JWS wants
//! the fixed-width `r || s` ([`crate::jwt::der`]).

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata as _;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};

use super::{SignError, Signer, SignerFactory};
use crate::clock::UnixTime;
use crate::domain::Algorithm;
use crate::domain::PublicJwk;
use crate::domain::{KeyMaterial, KeyRecord, KeyStatus};
use crate::jwt::der::ecdsa_der_to_jose;

/// The most bytes KMS signs with `MessageType=RAW`.
pub const KMS_RAW_MESSAGE_LIMIT: usize = 4096;

/// The DER prefix of every P-256 `SubjectPublicKeyInfo` (RFC 5480): the algorithm
/// identifiers and the BIT STRING header in front of the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// An asymmetric KMS key used for signing.
pub struct KmsSigner {
    client: Client,
    key_id: String,
    alg: Algorithm,
    jwk: PublicJwk,
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> SignError {
    SignError::unavailable_by(format!("kms: {e:?}"), e)
}

impl KmsSigner {
    /// Fetches the key's public half once (`GetPublicKey`) and derives its JWK and `kid`.
    /// `rsa_alg` chooses RS256 or PS256 for RSA keys; P-256 keys always sign ES256.
    pub async fn connect(
        client: Client,
        key_id: &str,
        rsa_alg: Algorithm,
    ) -> Result<Self, SignError> {
        let out = client
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(unavailable)?;
        let der = out
            .public_key()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| SignError::failed(format!("KMS key {key_id} has no public key")))?;
        // The key type is read from the public key itself (RFC 5480 / RFC 8017 encodings),
        // not from the response's KeySpec member, which not every KMS endpoint fills in.
        let (alg, jwk) = if let Some(point) = der.strip_prefix(&P256_SPKI_PREFIX[..]) {
            if point.len() != 65 || point[0] != 4 {
                return Err(SignError::failed("unexpected P-256 public key"));
            }
            let jwk = PublicJwk::ec_p256(&point[1..33], &point[33..], Algorithm::ES256);
            (Algorithm::ES256, jwk)
        } else if let Ok(key) = aws_lc_rs::rsa::PublicKey::from_der(&der) {
            let alg = match rsa_alg {
                Algorithm::PS256 => Algorithm::PS256,
                _ => Algorithm::RS256,
            };
            let jwk = PublicJwk::rsa(
                key.modulus().big_endian_without_leading_zero(),
                key.exponent().big_endian_without_leading_zero(),
                alg,
            );
            (alg, jwk)
        } else {
            return Err(SignError::failed(format!(
                "KMS key {key_id} is neither ECC_NIST_P256 nor RSA ({:?})",
                out.key_spec()
            )));
        };
        Ok(Self {
            client,
            key_id: key_id.to_owned(),
            alg,
            jwk,
        })
    }

    /// A signer for a key whose public half was stored when it was registered: no KMS call.
    pub fn from_record(client: Client, key_id: &str, alg: Algorithm, jwk: PublicJwk) -> Self {
        Self {
            client,
            key_id: key_id.to_owned(),
            alg,
            jwk,
        }
    }

    /// The key record that registers this key, with `status`.
    pub fn record(&self, status: KeyStatus, now: UnixTime) -> KeyRecord {
        KeyRecord {
            kid: self.jwk.kid.clone(),
            alg: self.alg,
            status,
            public_jwk: self.jwk.clone(),
            material: KeyMaterial::Kms {
                key_id: self.key_id.clone(),
            },
            created_at: now,
            activated_at: (status == KeyStatus::Active).then_some(now),
            published_at: Some(now),
            retire_after: None,
            retire_lag: None,
        }
    }

    pub fn public_jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

#[async_trait]
impl Signer for KmsSigner {
    fn kid(&self) -> &str {
        &self.jwk.kid
    }

    fn alg(&self) -> Algorithm {
        self.alg
    }

    fn mode(&self) -> &'static str {
        "kms"
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        if signing_input.len() > KMS_RAW_MESSAGE_LIMIT {
            crate::audit!(
                "signing_refused",
                kid = %self.jwk.kid,
                reason = "signing input exceeds the KMS RAW message limit",
                bytes = signing_input.len(),
            );
            return Err(SignError::TooLarge(signing_input.len()));
        }
        let spec = match self.alg {
            Algorithm::ES256 => SigningAlgorithmSpec::EcdsaSha256,
            Algorithm::RS256 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            Algorithm::PS256 => SigningAlgorithmSpec::RsassaPssSha256,
        };
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(signing_input))
            .message_type(MessageType::Raw)
            .signing_algorithm(spec)
            .send()
            .await
            .map_err(|e| {
                let code = e.code().map(str::to_owned);
                super::kms_failure(code.as_deref(), &self.jwk.kid, e)
            })?;
        let sig = out
            .signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| SignError::unavailable("KMS returned no signature"))?;
        match self.alg {
            Algorithm::ES256 => ecdsa_der_to_jose(&sig, 32)
                .ok_or_else(|| SignError::failed("KMS returned a malformed ECDSA signature")),
            Algorithm::RS256 | Algorithm::PS256 => Ok(sig),
        }
    }
}

/// Builds signers for stored keys: KMS keys sign through `client`, wrapped keys are decrypted
/// through it on first use, local keys sign in process.
pub struct KmsSignerFactory {
    pub client: Client,
}

impl SignerFactory for KmsSignerFactory {
    fn signer(&self, record: &KeyRecord) -> Result<std::sync::Arc<dyn Signer>, SignError> {
        match &record.material {
            KeyMaterial::Kms { key_id } => Ok(std::sync::Arc::new(KmsSigner::from_record(
                self.client.clone(),
                key_id,
                record.alg,
                record.public_jwk.clone(),
            ))),
            KeyMaterial::KmsWrapped { .. } => Ok(std::sync::Arc::new(
                super::kms_wrapped::WrappedSigner::new(self.client.clone(), record)?,
            )),
            KeyMaterial::Local { .. } => super::dedicated::LocalSignerFactory.signer(record),
        }
    }
}

/// Next keys for rotation in `kms` mode: the first of the configured KMS keys (provisioned
/// ahead, e.g. by the template) that is not in use. A retired key can come round again.
pub struct KmsNextKey {
    pub client: Client,
    pub candidates: Vec<String>,
    pub rsa_alg: Algorithm,
}

#[async_trait]
impl super::NextKey for KmsNextKey {
    async fn next_key(
        &self,
        existing: &[KeyRecord],
        now: UnixTime,
    ) -> Result<KeyRecord, SignError> {
        let in_use = |kid: &str| {
            existing
                .iter()
                .any(|k| k.kid == kid && k.status != KeyStatus::Retired)
        };
        for key_id in &self.candidates {
            let signer = KmsSigner::connect(self.client.clone(), key_id, self.rsa_alg).await?;
            if !in_use(signer.kid()) {
                return Ok(signer.record(KeyStatus::Next, now));
            }
        }
        Err(SignError::NoNextKey(
            "every configured KMS key is in use: provision another and list it in \
             TOKENMINT_KMS_KEYS"
                .into(),
        ))
    }
}
