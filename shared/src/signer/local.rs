//! A software signing key held in process memory (the embedded default).

use async_trait::async_trait;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{NextKey, SignError, Signer};
use crate::clock::UnixTime;
use crate::domain::{Algorithm, KeyMaterial, KeyRecord, KeyStatus, PublicJwk};

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A key pair in memory.
pub struct LocalKey {
    alg: Algorithm,
    pair: Pair,
    jwk: PublicJwk,
    rng: SystemRandom,
}

impl LocalKey {
    /// Generates a fresh key for `alg` (P-256 for ES256, 2048-bit RSA otherwise) and returns it
    /// with its PKCS#8 DER encoding.
    pub fn generate(alg: Algorithm) -> Result<(Self, Vec<u8>), SignError> {
        let failed = |e: aws_lc_rs::error::Unspecified| {
            SignError::failed_by(format!("key generation: {e}"), e)
        };
        let der = match alg {
            Algorithm::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                    .map_err(failed)?
                    .as_ref()
                    .to_vec()
            }
            Algorithm::RS256 | Algorithm::PS256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        Ok((Self::from_pkcs8(alg, &der)?, der))
    }

    /// Loads a PKCS#8 DER private key for `alg`.
    pub fn from_pkcs8(alg: Algorithm, der: &[u8]) -> Result<Self, SignError> {
        let rejected =
            |e: aws_lc_rs::error::KeyRejected| SignError::failed_by(format!("bad key: {e}"), e);
        let pair = match alg {
            Algorithm::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(rejected)?,
            ),
            Algorithm::RS256 | Algorithm::PS256 => {
                Pair::Rsa(RsaKeyPair::from_pkcs8(der).map_err(rejected)?)
            }
        };
        let jwk = match &pair {
            Pair::Ec(k) => {
                // An uncompressed SEC1 point: 0x04 || x || y.
                let point = k.public_key().as_ref();
                if point.len() != 65 {
                    return Err(SignError::failed(
                        "bad key: not an uncompressed P-256 point",
                    ));
                }
                PublicJwk::ec_p256(&point[1..33], &point[33..], alg)
            }
            Pair::Rsa(k) => {
                let public = k.public_key();
                PublicJwk::rsa(
                    public.modulus().big_endian_without_leading_zero(),
                    public.exponent().big_endian_without_leading_zero(),
                    alg,
                )
            }
        };
        Ok(Self {
            alg,
            pair,
            jwk,
            rng: SystemRandom::new(),
        })
    }

    pub fn public_jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// Signs synchronously; the local key never waits on I/O.
    pub fn sign_now(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        let failed = |e: aws_lc_rs::error::Unspecified| SignError::failed_by(e.to_string(), e);
        match (&self.pair, self.alg) {
            (Pair::Ec(k), _) => Ok(k.sign(&self.rng, msg).map_err(failed)?.as_ref().to_vec()),
            (Pair::Rsa(k), alg) => {
                let padding: &'static dyn signature::RsaEncoding = match alg {
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(padding, &self.rng, msg, &mut sig).map_err(failed)?;
                Ok(sig)
            }
        }
    }

    /// A key record for storing this key with the given status.
    pub fn record(&self, pkcs8: &[u8], status: KeyStatus, now: UnixTime) -> KeyRecord {
        KeyRecord {
            kid: self.jwk.kid.clone(),
            alg: self.alg,
            status,
            public_jwk: self.jwk.clone(),
            material: KeyMaterial::Local {
                pkcs8: URL_SAFE_NO_PAD.encode(pkcs8),
            },
            created_at: now,
            activated_at: (status == KeyStatus::Active).then_some(now),
            published_at: Some(now),
            retire_after: None,
            retire_lag: None,
        }
    }
}

#[async_trait]
impl Signer for LocalKey {
    fn kid(&self) -> &str {
        &self.jwk.kid
    }

    fn alg(&self) -> Algorithm {
        self.alg
    }

    fn mode(&self) -> &'static str {
        "local"
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_now(signing_input)
    }
}

/// Seeds the process's random generator on a background thread. The first signature in a
/// process otherwise pays for it: aws-lc seeds its generator from the operating system and a
/// CPU-jitter entropy source, which takes tens of milliseconds of CPU once. Started at the top
/// of a cold start, the seeding overlaps the start's network round trips (store, KMS).
pub fn seed_rng_in_background() {
    let spawned = std::thread::Builder::new()
        .name("rng-seed".into())
        .spawn(|| {
            let mut byte = [0u8; 1];
            // A failure here is not an error: the first signature seeds the generator then.
            let _ = aws_lc_rs::rand::fill(&mut byte);
        });
    if let Err(e) = spawned {
        tracing::debug!("rng seeding thread not started: {e}");
    }
}

/// Generates a fresh local key for each rotation.
pub struct LocalNextKey(pub Algorithm);

#[async_trait]
impl NextKey for LocalNextKey {
    async fn next_key(&self, _: &[KeyRecord], now: UnixTime) -> Result<KeyRecord, SignError> {
        let (key, pkcs8) = LocalKey::generate(self.0)?;
        Ok(key.record(&pkcs8, KeyStatus::Next, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn signatures_verify_with_the_published_key() {
        for alg in [Algorithm::ES256, Algorithm::RS256, Algorithm::PS256] {
            let (key, der) = LocalKey::generate(alg).unwrap();
            let sig = key.sign(b"header.payload").await.unwrap();
            let vk = key.public_jwk().verifying_key().unwrap();
            assert!(vk.verify(alg.as_str(), b"header.payload", &sig), "{alg}");
            assert!(!vk.verify(alg.as_str(), b"header.payloaD", &sig), "{alg}");
            // Reloading from PKCS#8 yields the same key id.
            let again = LocalKey::from_pkcs8(alg, &der).unwrap();
            assert_eq!(again.kid(), key.kid());
        }
    }

    #[test]
    fn a_rejected_key_keeps_its_cause() {
        let e = LocalKey::from_pkcs8(Algorithm::ES256, b"not a key")
            .err()
            .unwrap();
        assert!(e.to_string().starts_with("signing failed: bad key:"), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn es256_signatures_are_raw_r_s() {
        let (key, _) = LocalKey::generate(Algorithm::ES256).unwrap();
        assert_eq!(key.sign_now(b"x").unwrap().len(), 64);
    }
}
