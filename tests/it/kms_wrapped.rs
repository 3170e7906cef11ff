//! Signing mode `kms-wrapped` against a real protocol peer (moto server, started by
//! `infra/test`): software keys encrypted under a symmetric KMS key, decrypted once per process.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokenmint::domain::Algorithm;
use tokenmint::domain::{KeyMaterial, KeyRecord, KeyStatus};
use tokenmint::signer::kms_wrapped::{PURPOSE, WrappedSigner, Wrapper};
use tokenmint::signer::{SignError, Signer};

use super::dynamodb::{emulator, fresh_table};
use super::harness::{API, Server};

async fn kms() -> aws_sdk_kms::Client {
    emulator();
    aws_sdk_kms::Client::new(&tokenmint::aws::sdk_config().await)
}

/// A new symmetric encryption key on the emulator; returns its id.
pub async fn new_wrapping_key() -> String {
    let out = kms()
        .await
        .create_key()
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap();
    out.key_metadata().unwrap().key_id().to_owned()
}

fn ciphertext(record: &KeyRecord) -> Vec<u8> {
    let KeyMaterial::KmsWrapped { ciphertext, .. } = &record.material else {
        panic!("not a wrapped key: {:?}", record.material);
    };
    URL_SAFE_NO_PAD.decode(ciphertext).unwrap()
}

async fn decrypt(key_id: &str, blob: Vec<u8>, kid: &str) -> Result<Vec<u8>, String> {
    kms()
        .await
        .decrypt()
        .key_id(key_id)
        .ciphertext_blob(Blob::new(blob))
        .encryption_context("purpose", PURPOSE)
        .encryption_context("kid", kid)
        .send()
        .await
        .map(|o| o.plaintext().unwrap().as_ref().to_vec())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn the_server_signs_with_wrapped_keys_and_stores_no_plaintext() {
    let wrapping = new_wrapping_key().await;
    let table = fresh_table().await;
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms-wrapped:{wrapping}");
    let s = Server::start_with(&[
        ("TOKENMINT_STORE", &store),
        ("TOKENMINT_SIGNER", &signer),
        ("TOKENMINT_SIGNING_ALG", "RS256"),
    ])
    .await;
    let gw = s.introspector("gw").await;
    let token = s.token(&gw, "").await;
    assert_eq!(s.verify_independently(&token, API).await["sub"], "gw");
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);

    let keys = s.stores.keys.list_keys().await.unwrap();
    let [active] = keys.as_slice() else {
        panic!("{keys:?}")
    };
    assert_eq!(active.status, KeyStatus::Active);
    assert_eq!(header.kid.as_deref(), Some(active.kid.as_str()));
    let KeyMaterial::KmsWrapped { wrapping_key, .. } = &active.material else {
        panic!("{:?}", active.material)
    };
    assert_eq!(wrapping_key, &wrapping);
    // The stored bytes are ciphertext: KMS turns them into a PKCS#8 RSA key only with the
    // encryption context naming this key, and not for another kid.
    let pkcs8 = decrypt(&wrapping, ciphertext(active), &active.kid)
        .await
        .unwrap();
    let key = tokenmint::signer::local::LocalKey::from_pkcs8(Algorithm::RS256, &pkcs8).unwrap();
    assert_eq!(key.public_jwk(), &active.public_jwk);
    assert!(!shares_a_run(&ciphertext(active), &pkcs8, 16));
    assert!(
        decrypt(&wrapping, ciphertext(active), "another-kid")
            .await
            .is_err()
    );
}

/// Whether `a` and `b` have a run of `n` equal bytes in common.
fn shares_a_run(a: &[u8], b: &[u8], n: usize) -> bool {
    a.windows(n).any(|w| b.windows(n).any(|v| v == w))
}

#[tokio::test]
async fn a_wrapped_key_is_decrypted_once_then_signs_without_kms() {
    // A private KMS that can be stopped: after the first signature, the warm signer needs no
    // KMS at all, and a process starting now cannot sign (no token without the key).
    let moto = super::outage::private_moto().await;
    let sdk = tokenmint::aws::sdk_config().await;
    let private = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&sdk)
            .endpoint_url(&moto.endpoint)
            .build(),
    );
    let wrapping = private
        .create_key()
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    let record = Wrapper::new(private.clone(), wrapping)
        .generate(Algorithm::ES256, KeyStatus::Active, 1)
        .await
        .unwrap();
    let warm = WrappedSigner::new(private.clone(), &record).unwrap();
    assert_eq!(warm.kid(), record.kid);
    let vk = record.public_jwk.verifying_key().unwrap();
    let sig = warm.sign(b"header.payload").await.unwrap();
    assert!(vk.verify("ES256", b"header.payload", &sig));

    drop(moto);
    for i in 0..100 {
        let msg = format!("header.payload{i}");
        let sig = warm.sign(msg.as_bytes()).await.unwrap();
        assert!(vk.verify("ES256", msg.as_bytes(), &sig));
    }
    let cold = WrappedSigner::new(private, &record).unwrap();
    let err = cold.sign(b"header.payload").await.unwrap_err();
    assert!(matches!(err, SignError::Unavailable { .. }), "{err}");
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_key_record_does_not_sign() {
    let wrapping = new_wrapping_key().await;
    let wrapper = Wrapper::new(kms().await, wrapping);
    let a = wrapper
        .generate(Algorithm::ES256, KeyStatus::Active, 1)
        .await
        .unwrap();
    let mut b = wrapper
        .generate(Algorithm::ES256, KeyStatus::Next, 1)
        .await
        .unwrap();
    // Key b's record carrying key a's ciphertext: the encryption context names b's kid.
    b.material = a.material.clone();
    let err = WrappedSigner::new(kms().await, &b)
        .unwrap()
        .sign(b"x")
        .await
        .unwrap_err();
    assert!(matches!(err, SignError::Unavailable { .. }), "{err}");
    // And a record whose stored public key is not the wrapped key's is refused after
    // decryption: a's kid with b's public key.
    let mut c = a.clone();
    c.public_jwk = b.public_jwk.clone();
    let err = WrappedSigner::new(kms().await, &c)
        .unwrap()
        .sign(b"x")
        .await
        .unwrap_err();
    assert!(matches!(err, SignError::Failed { .. }), "{err}");
}

#[tokio::test]
async fn rotation_drill_with_wrapped_keys_over_dynamodb() {
    let wrapping = new_wrapping_key().await;
    let table = fresh_table().await;
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms-wrapped:{wrapping}");
    let s = Server::start_with(&[("TOKENMINT_STORE", &store), ("TOKENMINT_SIGNER", &signer)]).await;
    super::rotation::drill(&s).await;
    let keys = s.stores.keys.list_keys().await.unwrap();
    assert!(
        keys.iter()
            .all(|k| matches!(k.material, KeyMaterial::KmsWrapped { .. })),
        "every generated key is wrapped: {keys:?}"
    );
}
