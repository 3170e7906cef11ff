//! Signing mode `kms-wrapped`: software signing keys, generated in process at rotation and
//! stored encrypted under a symmetric AWS KMS key (`Encrypt`, not `GenerateDataKeyPair*`, so
//! the same code runs against every KMS endpoint, including the test emulator).
//!
//! The ciphertext is bound to its purpose and key by an encryption context
//! (`{"purpose": "tokenmint-signing-key", "kid": <kid>}`): a key policy or IAM condition on
//! `kms:EncryptionContext:purpose` confines `Decrypt` to signing keys, and a ciphertext copied
//! onto another key record does not decrypt. A signing process decrypts a key the first time
//! it signs with it and keeps it in memory, so a warm process makes no KMS call per token.
//! The trade-off against `kms` mode: the private key exists in the memory of the processes
//! that sign (see `docs/kms.md`).

use aws_sdk_kms::error::ProvideErrorMetadata as _;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use super::local::LocalKey;
use super::{SignError, Signer};
use crate::clock::UnixTime;
use crate::domain::Algorithm;
use crate::domain::{KeyMaterial, KeyRecord, KeyStatus};

/// The `purpose` member of every wrapped key's encryption context.
pub const PURPOSE: &str = "tokenmint-signing-key";

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> SignError {
    SignError::unavailable_by(format!("kms: {e:?}"), e)
}

/// Wraps and unwraps signing keys with one symmetric KMS key.
#[derive(Clone)]
pub struct Wrapper {
    client: Client,
    key_id: String,
}

impl Wrapper {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }

    /// Generates a key pair for `alg`, encrypts its PKCS#8 DER under the wrapping key and
    /// returns the record to store, with `status`. The plaintext is wiped when this returns.
    pub async fn generate(
        &self,
        alg: Algorithm,
        status: KeyStatus,
        now: UnixTime,
    ) -> Result<KeyRecord, SignError> {
        let (key, pkcs8) = LocalKey::generate(alg)?;
        let pkcs8 = Zeroizing::new(pkcs8);
        let kid = key.public_jwk().kid.clone();
        let out = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(pkcs8.as_slice()))
            .encryption_context("purpose", PURPOSE)
            .encryption_context("kid", &kid)
            .send()
            .await
            .map_err(unavailable)?;
        let ciphertext = out
            .ciphertext_blob()
            .ok_or_else(|| SignError::unavailable("KMS returned no ciphertext"))?;
        let mut record = key.record(&[], status, now);
        record.material = KeyMaterial::KmsWrapped {
            wrapping_key: self.key_id.clone(),
            ciphertext: URL_SAFE_NO_PAD.encode(ciphertext.as_ref()),
        };
        Ok(record)
    }

    /// Decrypts a wrapped key and checks that it is the key its record publishes.
    async fn unwrap_key(
        &self,
        record: &KeyRecord,
        ciphertext: &str,
    ) -> Result<LocalKey, SignError> {
        let blob = URL_SAFE_NO_PAD.decode(ciphertext).map_err(|e| {
            SignError::failed_by(format!("key {}: bad ciphertext: {e}", record.kid), e)
        })?;
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(blob))
            .encryption_context("purpose", PURPOSE)
            .encryption_context("kid", &record.kid)
            .send()
            .await
            .map_err(|e| {
                let code = e.code().map(str::to_owned);
                super::kms_failure(code.as_deref(), &record.kid, e)
            })?;
        let plaintext = Zeroizing::new(
            out.plaintext()
                .map(|b| b.as_ref().to_vec())
                .ok_or_else(|| SignError::unavailable("KMS returned no plaintext"))?,
        );
        let key = LocalKey::from_pkcs8(record.alg, &plaintext)?;
        if key.public_jwk() != &record.public_jwk || key.public_jwk().kid != record.kid {
            return Err(SignError::failed(format!(
                "key {} does not match its stored public key",
                record.kid
            )));
        }
        Ok(key)
    }
}

/// A wrapped key: published from its record at once, decrypted the first time it signs.
/// Processes that only verify (JWKS, introspection) therefore never decrypt it. A failed
/// decryption is not remembered: the next signature tries again.
pub struct WrappedSigner {
    wrapper: Wrapper,
    record: KeyRecord,
    ciphertext: String,
    key: OnceCell<Arc<dyn Signer>>,
}

impl WrappedSigner {
    /// A signer for `record`, whose material must be [`KeyMaterial::KmsWrapped`].
    pub fn new(client: Client, record: &KeyRecord) -> Result<Self, SignError> {
        let KeyMaterial::KmsWrapped {
            wrapping_key,
            ciphertext,
        } = &record.material
        else {
            return Err(SignError::failed(format!(
                "key {} is not a KMS-wrapped key",
                record.kid
            )));
        };
        Ok(Self {
            wrapper: Wrapper::new(client, wrapping_key.clone()),
            ciphertext: ciphertext.clone(),
            record: record.clone(),
            key: OnceCell::new(),
        })
    }

    async fn key(&self) -> Result<&Arc<dyn Signer>, SignError> {
        self.key
            .get_or_try_init(|| async {
                let key = self
                    .wrapper
                    .unwrap_key(&self.record, &self.ciphertext)
                    .await?;
                crate::audit!("signing_key_unwrapped", kid = %self.record.kid);
                let signer: Arc<dyn Signer> =
                    Arc::new(super::dedicated::DedicatedSigner::spawn(key)?);
                Ok(signer)
            })
            .await
    }
}

#[async_trait]
impl Signer for WrappedSigner {
    fn kid(&self) -> &str {
        &self.record.kid
    }

    fn alg(&self) -> Algorithm {
        self.record.alg
    }

    fn mode(&self) -> &'static str {
        "kms-wrapped"
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key().await?.sign(signing_input).await
    }
}

/// Next keys for rotation in `kms-wrapped` mode: a fresh key pair, wrapped.
pub struct WrappedNextKey {
    pub wrapper: Wrapper,
    pub alg: Algorithm,
}

#[async_trait]
impl super::NextKey for WrappedNextKey {
    async fn next_key(&self, _: &[KeyRecord], now: UnixTime) -> Result<KeyRecord, SignError> {
        Ok(self
            .wrapper
            .generate(self.alg, KeyStatus::Next, now)
            .await?)
    }
}
