//! Signing with an asymmetric AWS KMS key: the private key never leaves KMS.
//!
//! `ECC_NIST_P256` keys sign ES256, RSA keys RS256 (or PS256 when configured). Messages are
//! sent with `MessageType=RAW`, which KMS limits to 4,096 bytes, so the signing input is
//! checked against that bound before the call. KMS returns ECDSA signatures in DER; JWS wants
//! the fixed-width `r || s` ([`crate::jwt::der`]).

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, MessageType, SigningAlgorithmSpec};

use super::{Algorithm, SignError, Signer};
use crate::jwt::PublicJwk;
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

fn unavailable(e: impl std::fmt::Debug) -> SignError {
    SignError::Unavailable(format!("kms: {e:?}"))
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
            .ok_or_else(|| SignError::Failed(format!("KMS key {key_id} has no public key")))?;
        let (alg, jwk) = match out.key_spec() {
            Some(KeySpec::EccNistP256) => {
                let point = der
                    .strip_prefix(&P256_SPKI_PREFIX[..])
                    .filter(|p| p.len() == 65 && p[0] == 4)
                    .ok_or_else(|| SignError::Failed("unexpected P-256 public key".into()))?;
                let jwk = PublicJwk::ec_p256(&point[1..33], &point[33..], Algorithm::ES256);
                (Algorithm::ES256, jwk)
            }
            Some(KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096) => {
                let alg = match rsa_alg {
                    Algorithm::PS256 => Algorithm::PS256,
                    _ => Algorithm::RS256,
                };
                let key = aws_lc_rs::rsa::PublicKey::from_der(&der)
                    .map_err(|e| SignError::Failed(format!("unexpected RSA public key: {e}")))?;
                let jwk = PublicJwk::rsa(
                    key.modulus().big_endian_without_leading_zero(),
                    key.exponent().big_endian_without_leading_zero(),
                    alg,
                );
                (alg, jwk)
            }
            other => {
                return Err(SignError::Failed(format!(
                    "KMS key {key_id} has key spec {other:?}; use ECC_NIST_P256 or RSA_2048"
                )));
            }
        };
        Ok(Self {
            client,
            key_id: key_id.to_owned(),
            alg,
            jwk,
        })
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

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        if signing_input.len() > KMS_RAW_MESSAGE_LIMIT {
            crate::audit!(
                "signing_refused",
                kid = %self.jwk.kid,
                reason = "signing input exceeds the KMS RAW message limit",
                bytes = signing_input.len(),
            );
            return Err(SignError::Failed(format!(
                "the signing input is {} bytes; KMS signs at most {KMS_RAW_MESSAGE_LIMIT} in RAW mode",
                signing_input.len()
            )));
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
            .map_err(unavailable)?;
        let sig = out
            .signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| SignError::Unavailable("KMS returned no signature".into()))?;
        match self.alg {
            Algorithm::ES256 => ecdsa_der_to_jose(&sig, 32).ok_or_else(|| {
                SignError::Failed("KMS returned a malformed ECDSA signature".into())
            }),
            Algorithm::RS256 | Algorithm::PS256 => Ok(sig),
        }
    }
}
