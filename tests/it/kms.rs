//! Signing with KMS against a real protocol peer (moto server, started by `infra/test`).

use std::sync::Arc;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use jsonwebtoken::{DecodingKey, Validation};
use tokenmint::domain::AccessTokenClaims;
use tokenmint::domain::Algorithm;
use tokenmint::jwt::mint;
use tokenmint::signer::kms::{KMS_RAW_MESSAGE_LIMIT, KmsSigner};
use tokenmint::signer::{SignError, Signer};

use super::dynamodb::{emulator, fresh_table};
use super::harness::{API, Server};

async fn kms() -> aws_sdk_kms::Client {
    emulator();
    aws_sdk_kms::Client::new(&tokenmint::aws::sdk_config().await)
}

/// A new asymmetric signing key on the emulator; returns its id.
pub async fn new_key(spec: KeySpec) -> String {
    let out = kms()
        .await
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    out.key_metadata().unwrap().key_id().to_owned()
}

fn claims(i: usize) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://issuer.example".into(),
        sub: format!("client-{i}"),
        aud: API.into(),
        exp: 4_000_000_000,
        iat: 1_700_000_000,
        nbf: 1_700_000_000,
        jti: format!("jti-{i}"),
        client_id: format!("client-{i}"),
        scope: "read".into(),
        dlg: vec![],
        act: None,
        chain: None,
        acr: None,
        amr: None,
        auth_time: None,
        extra: Default::default(),
    }
}

fn validation(alg: jsonwebtoken::Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_audience(&[API]);
    v.set_issuer(&["https://issuer.example"]);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_kms_es256_signatures_verify_independently() {
    let key_id = new_key(KeySpec::EccNistP256).await;
    let signer = Arc::new(
        KmsSigner::connect(kms().await, &key_id, Algorithm::ES256)
            .await
            .unwrap(),
    );
    assert_eq!(signer.alg(), Algorithm::ES256);
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(serde_json::to_value(signer.public_jwk()).unwrap()).unwrap();
    let key = Arc::new(DecodingKey::from_jwk(&jwk).unwrap());
    let header: Arc<str> = mint::encoded_header(signer.alg(), signer.kid()).into();
    let mut tasks = tokio::task::JoinSet::new();
    // 16 workers, each minting and verifying its share: KMS returns DER of 70 to 72 bytes, and
    // every length must convert to a valid 64-byte r || s.
    for w in 0..16 {
        let (signer, key, header) = (signer.clone(), key.clone(), header.clone());
        tasks.spawn(async move {
            for i in (w..10_000).step_by(16) {
                let token = mint::mint(signer.as_ref(), &header, &claims(i))
                    .await
                    .unwrap();
                let decoded = jsonwebtoken::decode::<AccessTokenClaims>(
                    &token,
                    &key,
                    &validation(jsonwebtoken::Algorithm::ES256),
                )
                .unwrap_or_else(|e| panic!("token {i} did not verify: {e}"));
                assert_eq!(decoded.claims, claims(i));
            }
        });
    }
    let mut done = 0;
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
        done += 1;
    }
    assert_eq!(done, 16);
}

#[tokio::test]
async fn kms_rsa_keys_sign_rs256() {
    let key_id = new_key(KeySpec::Rsa2048).await;
    let signer = KmsSigner::connect(kms().await, &key_id, Algorithm::RS256)
        .await
        .unwrap();
    assert_eq!(signer.alg(), Algorithm::RS256);
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(serde_json::to_value(signer.public_jwk()).unwrap()).unwrap();
    let header = mint::encoded_header(signer.alg(), signer.kid());
    let token = mint::mint(&signer, &header, &claims(1)).await.unwrap();
    jsonwebtoken::decode::<AccessTokenClaims>(
        &token,
        &DecodingKey::from_jwk(&jwk).unwrap(),
        &validation(jsonwebtoken::Algorithm::RS256),
    )
    .unwrap();
}

#[tokio::test]
async fn signing_inputs_over_the_kms_raw_limit_are_refused_before_the_call() {
    let key_id = new_key(KeySpec::EccNistP256).await;
    let signer = KmsSigner::connect(kms().await, &key_id, Algorithm::ES256)
        .await
        .unwrap();
    let at_limit = vec![b'a'; KMS_RAW_MESSAGE_LIMIT];
    assert_eq!(signer.sign(&at_limit).await.unwrap().len(), 64);
    let over = vec![b'a'; KMS_RAW_MESSAGE_LIMIT + 1];
    assert!(matches!(
        signer.sign(&over).await,
        Err(SignError::TooLarge(4097))
    ));
}

#[tokio::test]
async fn the_server_signs_with_kms_over_dynamodb() {
    let key_id = new_key(KeySpec::EccNistP256).await;
    let table = fresh_table().await;
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms:{key_id}");
    let s = Server::start_with(&[("TOKENMINT_STORE", &store), ("TOKENMINT_SIGNER", &signer)]).await;
    let gw = s.introspector("gw").await;
    let token = s.token(&gw, "").await;
    assert_eq!(s.verify_independently(&token, API).await["sub"], "gw");
    let r = s
        .post("/oauth2/introspect", &format!("token={token}"), Some(&gw))
        .await;
    assert_eq!(r.json["active"], true);
}

#[tokio::test]
async fn an_unreachable_kms_is_unavailable_after_bounded_retries() {
    let key_id = new_key(KeySpec::EccNistP256).await;
    let good = KmsSigner::connect(kms().await, &key_id, Algorithm::ES256)
        .await
        .unwrap();
    // The same key through an endpoint where nothing listens (port 9 on loopback: discard).
    let sdk = tokenmint::aws::sdk_config().await;
    let conf = aws_sdk_kms::config::Builder::from(&sdk)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let dead = KmsSigner::from_record(
        aws_sdk_kms::Client::from_conf(conf),
        &key_id,
        Algorithm::ES256,
        good.public_jwk().clone(),
    );
    let started = std::time::Instant::now();
    let err = dead.sign(b"header.payload").await.unwrap_err();
    assert!(matches!(err, SignError::Unavailable { .. }), "{err}");
    // Three attempts with backoff, inside the 3 s operation timeout.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn the_largest_token_policy_allows_fits_the_kms_bound_with_room_for_hook_claims() {
    use tokenmint::admin::{MAX_SCOPE_BYTES, NewClient};
    use tokenmint::domain::MAX_AUDIENCE_BYTES;
    use tokenmint::domain::MAX_ISSUER_BYTES;

    let key_id = new_key(KeySpec::EccNistP256).await;
    let table = fresh_table().await;
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms:{key_id}");
    // The longest issuer: the server's base plus a path padded to the limit.
    let probe = Server::start().await;
    let path_len = MAX_ISSUER_BYTES - probe.base.len() - 1;
    drop(probe);
    let path = format!("/{}", "p".repeat(path_len));
    let issuer = format!("{{base}}{path}");
    let s = Server::start_with(&[
        ("TOKENMINT_STORE", &store),
        ("TOKENMINT_SIGNER", &signer),
        ("TOKENMINT_ISSUER", &issuer),
    ])
    .await;
    assert_eq!(
        s.config.issuer.as_ref().unwrap().as_str().len(),
        MAX_ISSUER_BYTES
    );
    let scopes: Vec<String> = (0..51).map(|i| format!("scope-{i:03}")).collect();
    let scope = scopes.join(" ");
    assert!(scope.len() <= MAX_SCOPE_BYTES && scope.len() > MAX_SCOPE_BYTES - 10);
    let audience = format!("https://{}", "a".repeat(MAX_AUDIENCE_BYTES - 8));
    let c = s
        .client_with(NewClient {
            id: "c".repeat(64),
            scopes: scope.clone(),
            audiences: vec![audience.clone()],
            ..Default::default()
        })
        .await;
    let r = s
        .post(
            &format!("{path}/oauth2/token"),
            "grant_type=client_credentials",
            Some(&c),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["access_token"].as_str().unwrap();
    assert_eq!(r.json["scope"], scope.as_str());
    assert_eq!(
        s.verify_independently(token, &audience).await["aud"],
        audience.as_str()
    );
    let signing_input = token.rfind('.').unwrap();
    // Room left for what a claims hook can add, base64url-encoded (4/3): its 1 KiB claims
    // budget, and a `dlg` claim of at most 4 delegation ids of at most 64 bytes.
    use tokenmint::config::hook::MAX_CLAIMS_BUDGET;
    use tokenmint::hook::guard::{MAX_DELEGATION_ID_BYTES, MAX_DELEGATIONS};
    let dlg = r#","dlg":[]"#.len() + MAX_DELEGATIONS * (MAX_DELEGATION_ID_BYTES + 3);
    let hook_room = (MAX_CLAIMS_BUDGET + dlg).div_ceil(3) * 4;
    assert!(
        signing_input + hook_room <= KMS_RAW_MESSAGE_LIMIT,
        "signing input of {signing_input} bytes leaves no room for {hook_room} bytes of hook claims"
    );
}
