//! Runs a local key's signatures on dedicated threads instead of the async workers.
//!
//! Two reasons. A P-256 signature walks ~150 KiB of precomputed tables; interleaved with
//! request handling and the kernel's network work on the same core, those tables keep falling
//! out of cache, and under load a signature cost about twice what it costs in a tight loop.
//! One signing thread keeps them warm and signs back to back (measured in BENCHMARKS.md:
//! +25 % tokens/s on the local server). An RSA signature takes ~0.7 ms, far too long to hold an
//! async worker, so RSA keys get one thread per CPU instead.

use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::local::LocalKey;
use super::{SignError, Signer, SignerFactory};
use crate::domain::{Algorithm, KeyMaterial, KeyRecord};

type Reply = tokio::sync::oneshot::Sender<Result<Vec<u8>, SignError>>;

/// A [`LocalKey`] whose signatures run on its own threads.
pub struct DedicatedSigner {
    key: Arc<LocalKey>,
    jobs: mpsc::Sender<(Vec<u8>, Reply)>,
}

impl DedicatedSigner {
    /// Starts the signing threads: one for ES256, one per CPU for RSA. They end when the
    /// signer is dropped.
    pub fn spawn(key: LocalKey) -> Result<Self, SignError> {
        let threads = match key.alg() {
            Algorithm::ES256 => 1,
            Algorithm::RS256 | Algorithm::PS256 => {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            }
        };
        let key = Arc::new(key);
        let (jobs, rx) = mpsc::channel::<(Vec<u8>, Reply)>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let (key, rx) = (Arc::clone(&key), Arc::clone(&rx));
            std::thread::Builder::new()
                .name(format!("tokenmint-signer-{i}"))
                .spawn(move || {
                    loop {
                        // Holding the lock only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((input, reply)) = job else { return };
                        let _ = reply.send(key.sign_now(&input));
                    }
                })
                .map_err(|e| {
                    SignError::failed_by(format!("cannot start a signing thread: {e}"), e)
                })?;
        }
        Ok(Self { key, jobs })
    }
}

#[async_trait]
impl Signer for DedicatedSigner {
    fn kid(&self) -> &str {
        self.key.kid()
    }

    fn alg(&self) -> Algorithm {
        self.key.alg()
    }

    fn mode(&self) -> &'static str {
        "local"
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        let stopped = || SignError::unavailable("the signing thread stopped");
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send((signing_input.to_vec(), tx))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

/// Builds signers from records holding local key material; each key signs on its own
/// threads (see [`DedicatedSigner`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalSignerFactory;

impl SignerFactory for LocalSignerFactory {
    fn signer(&self, record: &KeyRecord) -> Result<Arc<dyn Signer>, SignError> {
        let KeyMaterial::Local { pkcs8 } = &record.material else {
            return Err(SignError::failed(format!(
                "key {} is not a local key; configure the signer it needs",
                record.kid
            )));
        };
        let der = URL_SAFE_NO_PAD
            .decode(pkcs8)
            .map_err(|e| SignError::failed_by(format!("key {}: {e}", record.kid), e))?;
        let key = LocalKey::from_pkcs8(record.alg, &der)?;
        if key.public_jwk().kid != record.kid {
            return Err(SignError::failed(format!(
                "key {} does not match its stored public key",
                record.kid
            )));
        }
        Ok(Arc::new(DedicatedSigner::spawn(key)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_signatures_all_verify() {
        for alg in [Algorithm::ES256, Algorithm::RS256] {
            let (key, _) = LocalKey::generate(alg).unwrap();
            let vk = key.public_jwk().verifying_key().unwrap();
            let signer = Arc::new(DedicatedSigner::spawn(key).unwrap());
            let mut tasks = Vec::new();
            for i in 0..32u32 {
                let s = Arc::clone(&signer);
                tasks.push(tokio::spawn(async move {
                    let msg = format!("message {i}");
                    (msg.clone(), s.sign(msg.as_bytes()).await.unwrap())
                }));
            }
            for t in tasks {
                let (msg, sig) = t.await.unwrap();
                assert!(vk.verify(alg.as_str(), msg.as_bytes(), &sig), "{alg}");
            }
        }
    }

    #[test]
    fn the_factory_signs_with_the_stored_key() {
        for alg in [Algorithm::ES256, Algorithm::RS256, Algorithm::PS256] {
            let (key, der) = LocalKey::generate(alg).unwrap();
            let rec = key.record(&der, crate::domain::KeyStatus::Active, 5);
            let s = LocalSignerFactory.signer(&rec).unwrap();
            assert_eq!(s.kid(), key.kid());
        }
    }
}
