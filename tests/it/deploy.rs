//! The deployment's start-up and key-trust rules, with the function binaries as processes
//! over DynamoDB and KMS on the emulator: whichever of rotate and the HTTP functions runs
//! first, the others start; only the signing function writes keys; a planted key never signs.

use serde_json::{Value, json};
use tokenmint::admin::{self, NewClient};
use tokenmint::signer::Algorithm;
use tokenmint::signer::local::LocalKey;
use tokenmint::store::{KeyStatus, KeyStore};
use tokenmint::{Clock, Config, SystemClock};

use super::dynamodb::fresh_table;
use super::harness::{API, basic_header};
use super::kms::new_key;
use super::runtime_api::{Function, Outcome};

fn event(method: &str, path: &str, authorization: &str, body: &str) -> Value {
    use base64::Engine as _;
    let name = if method == "GET" {
        "get.json"
    } else {
        "post-form.json"
    };
    let path_file = format!("{}/fixtures/apigw-v2/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(path_file).unwrap();
    for (k, v) in [
        ("PATH", path.to_owned()),
        ("AUTHORIZATION", authorization.to_owned()),
        ("CONTENT_LENGTH", body.len().to_string()),
        (
            "BODY_BASE64",
            base64::engine::general_purpose::STANDARD.encode(body),
        ),
    ] {
        text = text.replace(&format!("{{{{{k}}}}}"), &v);
    }
    serde_json::from_str(&text).unwrap()
}

/// Status and JSON body of an HTTP function's answer.
async fn call(f: &mut Function, event: Value) -> (u64, Value) {
    match f.invoke(event).await {
        Outcome::Response(r) => (
            r["statusCode"].as_u64().unwrap(),
            serde_json::from_str(r["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null),
        ),
        other => panic!("the function failed: {other:?}"),
    }
}

/// A fresh table with an introspecting client, and the environment the template sets.
async fn deployment(
    signer: &str,
) -> (
    tokenmint::store::dynamodb::DynamoStore,
    String,
    Vec<(String, String)>,
) {
    let table = fresh_table().await;
    let (client, secret) = admin::create_client(
        &table,
        &Config::from_lookup(|_| None).unwrap(),
        NewClient {
            id: "gateway".into(),
            scopes: "read".into(),
            audiences: vec![API.into()],
            introspect: true,
            ..Default::default()
        },
        SystemClock.now(),
    )
    .await
    .unwrap();
    super::harness::canary(secret.expose());
    let env = vec![
        (
            "TOKENMINT_STORE".to_owned(),
            format!("dynamodb:{}", table.table()),
        ),
        ("TOKENMINT_SIGNER".to_owned(), signer.to_owned()),
        ("TOKENMINT_ISSUER".to_owned(), String::new()),
    ];
    (
        table,
        basic_header(client.id.as_str(), secret.expose()),
        env,
    )
}

async fn start(name: &str, env: &[(String, String)]) -> Function {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Function::start(name, &pairs).await
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn rotate_first_then_every_function(signer: &str) {
    let (table, auth, env) = deployment(signer).await;
    let mut rotate = start("rotate", &env).await;
    let steps = match rotate.invoke(json!({})).await {
        Outcome::Response(r) => r,
        other => panic!("rotate failed: {other:?}"),
    };
    assert_eq!(steps[0]["step"], "registered", "{steps}");
    let keys = table.list_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].status, KeyStatus::Active);

    let mut token_fn = start("token", &env).await;
    let (status, body) = call(
        &mut token_fn,
        event(
            "POST",
            "/oauth2/token",
            &auth,
            "grant_type=client_credentials",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let mut jwks_fn = start("jwks", &env).await;
    let (status, set) = call(&mut jwks_fn, event("GET", "/.well-known/jwks.json", "", "")).await;
    assert_eq!(status, 200);
    assert_eq!(set["keys"][0]["kid"], kid(&token).as_str());
    let mut introspect_fn = start("introspect", &env).await;
    let (_, i) = call(
        &mut introspect_fn,
        event(
            "POST",
            "/oauth2/introspect",
            &auth,
            &format!("token={token}"),
        ),
    )
    .await;
    assert_eq!(i["active"], true, "{i}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_before_the_first_request_on_a_fresh_kms_stack() {
    let key = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    rotate_first_then_every_function(&format!("kms:{key}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_before_the_first_request_on_a_fresh_kms_wrapped_stack() {
    let key = super::kms_wrapped::new_wrapping_key().await;
    rotate_first_then_every_function(&format!("kms-wrapped:{key}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functions_that_only_verify_never_write_keys() {
    let key = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let (table, auth, env) = deployment(&format!("kms:{key}")).await;
    let mut jwks_fn = start("jwks", &env).await;
    let (status, set) = call(&mut jwks_fn, event("GET", "/.well-known/jwks.json", "", "")).await;
    assert_eq!((status, set), (200, json!({"keys": []})));
    let mut introspect_fn = start("introspect", &env).await;
    let (status, i) = call(
        &mut introspect_fn,
        event("POST", "/oauth2/introspect", &auth, "token=x.y.z"),
    )
    .await;
    assert_eq!((status, i), (200, json!({"active": false})));
    assert!(
        table.list_keys().await.unwrap().is_empty(),
        "no key written"
    );
    // The signing function seeds the registry; the warm introspection function follows.
    let mut token_fn = start("token", &env).await;
    let (status, body) = call(
        &mut token_fn,
        event(
            "POST",
            "/oauth2/token",
            &auth,
            "grant_type=client_credentials",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let (_, i) = call(
        &mut introspect_fn,
        event(
            "POST",
            "/oauth2/introspect",
            &auth,
            &format!("token={token}"),
        ),
    )
    .await;
    assert_eq!(i["active"], true, "{i}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_plaintext_key_neither_signs_nor_is_published() {
    let key = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let (table, auth, env) = deployment(&format!("kms:{key}")).await;
    // What a role able to write the KEYS partition could leave: an active plaintext key.
    let (planted, pkcs8) = LocalKey::generate(Algorithm::ES256).unwrap();
    let record = planted.record(&pkcs8, KeyStatus::Active, SystemClock.now());
    table.init_active_key(&record).await.unwrap();
    let mut token_fn = start("token", &env).await;
    let (status, body) = call(
        &mut token_fn,
        event(
            "POST",
            "/oauth2/token",
            &auth,
            "grant_type=client_credentials",
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (500, json!("server_error")),
        "{body}"
    );
    let mut jwks_fn = start("jwks", &env).await;
    let (_, set) = call(&mut jwks_fn, event("GET", "/.well-known/jwks.json", "", "")).await;
    assert_eq!(set, json!({"keys": []}));
}
