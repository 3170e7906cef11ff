//! The deployment's start-up and key-trust rules, with the function binaries as processes
//! over DynamoDB and KMS on the emulator: whichever of rotate and the HTTP functions runs
//! first, the others start; only the signing function writes keys; a planted key never signs.

use serde_json::{Value, json};
use tokenmint::admin::{self, NewClient};
use tokenmint::domain::Algorithm;
use tokenmint::domain::KeyStatus;
use tokenmint::signer::local::LocalKey;
use tokenmint::store::KeyStore;
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

/// Item 5: a key-registry read that fails past the SDK's retries keeps the last good ring for
/// a bounded grace, instead of turning into a signing and JWKS outage within a minute.
#[tokio::test]
async fn a_registry_brownout_keeps_the_last_good_ring_for_a_bounded_grace() {
    use std::sync::atomic::Ordering;
    let s = super::harness::Server::start().await;
    let c = s.client("svc").await;
    s.token(&c, "").await;
    s.faults.keys.store(true, Ordering::SeqCst);
    s.clock.advance(s.config.key_cache_ttl.as_secs() + 1);
    s.token(&c, "").await;
    assert_eq!(s.get("/.well-known/jwks.json").await.status, 200);
    // Past the grace: fail closed.
    s.clock
        .advance(tokenmint::keys::STALE_GRACE_SECS + s.config.key_cache_ttl.as_secs());
    let r = s
        .post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await;
    r.assert_error(503, "temporarily_unavailable");
    assert!(r.header("retry-after").is_some());
    s.faults.keys.store(false, Ordering::SeqCst);
    s.clock.advance(tokenmint::keys::STALE_RETRY_SECS);
    s.token(&c, "").await;
}

/// Item 5: a KMS key in a permanent state (here: gone, `NotFoundException`; moto does not
/// model a disabled key refusing to sign) is answered 500 without Retry-After, not 503.
#[tokio::test]
async fn a_kms_key_that_is_gone_is_a_server_error_not_a_retry() {
    use tokenmint::domain::KeyMaterial;
    let key = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let table = fresh_table().await;
    // An active record for a configured key that no longer exists in KMS.
    let (stand_in, pkcs8) = LocalKey::generate(Algorithm::ES256).unwrap();
    let mut record = stand_in.record(&pkcs8, KeyStatus::Active, SystemClock.now());
    record.material = KeyMaterial::Kms {
        key_id: "alias/tokenmint-gone".into(),
    };
    table.init_active_key(&record).await.unwrap();
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms:{key}");
    let s = super::harness::Server::start_with(&[
        ("TOKENMINT_STORE", &store),
        ("TOKENMINT_SIGNER", &signer),
        ("TOKENMINT_KMS_KEYS", "alias/tokenmint-gone"),
    ])
    .await;
    let c = s.client("svc").await;
    let r = s
        .post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await;
    r.assert_error(500, "server_error");
    assert_eq!(r.header("retry-after"), None);
}

/// Item 6: one deadline per request. A dependency that never answers (here an upstream JWKS
/// that accepts the connection and stays silent; its own limit is 3 s) is cut at
/// `TOKENMINT_REQUEST_DEADLINE` with `503` and `Retry-After`, before a Lambda timeout would
/// answer a bare gateway error.
#[tokio::test]
async fn a_request_is_answered_503_at_its_deadline() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks = format!("http://{}/jwks", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            open.push(conn);
        }
    });
    let s = super::harness::Server::start_with(&[
        ("TOKENMINT_REQUEST_DEADLINE", "1"),
        ("TOKENMINT_HOOK_TIMEOUT", "500ms"),
    ])
    .await;
    let idp = super::idp::Idp::start().await;
    idp.trust_on(&s, |p| p.jwks_uri = jwks.clone()).await;
    let api = super::exchange::exchanger(&s, "build-api", "read:builds", |_| {}).await;
    let started = std::time::Instant::now();
    let r = super::exchange::exchange(&s, &api, &idp.token(json!({})), "").await;
    let took = started.elapsed();
    r.assert_error(503, "temporarily_unavailable");
    assert!(r.header("retry-after").is_some());
    // Cut by the 1 s deadline, not by the JWKS client's own 3 s limit.
    assert!(took < std::time::Duration::from_millis(2500), "{took:?}");
    held.abort();
}

/// `event` as it arrives through `domain` (a custom domain in front of the API).
fn through(domain: &str, e: Value) -> Value {
    let text = e
        .to_string()
        .replace("abc123xyz0.execute-api.us-east-1.amazonaws.com", domain);
    serde_json::from_str(&text).unwrap()
}

/// Item 8: with `Issuer` empty the API's id and region name the issuer, so a token minted
/// through a custom domain is known through the default endpoint (and revoking it there
/// revokes it), instead of being "unknown" and its revocation a false `200`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_does_not_change_with_the_domain_a_request_came_through() {
    let key = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let (_table, auth, env) = deployment(&format!("kms:{key}")).await;
    let mut token_fn = start("token", &env).await;
    let (status, body) = call(
        &mut token_fn,
        through(
            "auth.example.com",
            event(
                "POST",
                "/oauth2/token",
                &auth,
                "grant_type=client_credentials",
            ),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let claims = super::exchange::payload(&token);
    assert_eq!(
        claims["iss"],
        "https://abc123xyz0.execute-api.us-east-1.amazonaws.com"
    );
    let mut introspect_fn = start("introspect", &env).await;
    let form = format!("token={token}");
    let (_, i) = call(
        &mut introspect_fn,
        event("POST", "/oauth2/introspect", &auth, &form),
    )
    .await;
    assert_eq!(i["active"], true, "{i}");
    let (status, _) = call(
        &mut introspect_fn,
        event("POST", "/oauth2/revoke", &auth, &form),
    )
    .await;
    assert_eq!(status, 200);
    let (_, i) = call(
        &mut introspect_fn,
        through(
            "auth.example.com",
            event("POST", "/oauth2/introspect", &auth, &form),
        ),
    )
    .await;
    assert_eq!(i, json!({"active": false}));
}

/// Item 8: with `Issuer` set, the API answers under that name only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_issuer_set_requests_for_other_hosts_are_refused() {
    let key = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let (_table, auth, mut env) = deployment(&format!("kms:{key}")).await;
    env.retain(|(k, _)| k != "TOKENMINT_ISSUER");
    env.push(("TOKENMINT_ISSUER".into(), "https://auth.example.com".into()));
    let mut token_fn = start("token", &env).await;
    let request = || {
        event(
            "POST",
            "/oauth2/token",
            &auth,
            "grant_type=client_credentials",
        )
    };
    let (status, body) = call(&mut token_fn, request()).await;
    assert_eq!(
        (status, body["error"].clone()),
        (404, json!("not_found")),
        "{body}"
    );
    let (status, body) = call(&mut token_fn, through("auth.example.com", request())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        super::exchange::payload(body["access_token"].as_str().unwrap())["iss"],
        "https://auth.example.com"
    );
}

/// The active local key of `s`, to sign tokens as only someone holding it could.
async fn forge(s: &super::harness::Server, claims: Value) -> String {
    use base64::Engine as _;
    let keys = s.stores.keys.list_keys().await.unwrap();
    let active = keys.iter().find(|k| k.status == KeyStatus::Active).unwrap();
    let tokenmint::domain::KeyMaterial::Local { pkcs8 } = &active.material else {
        panic!("a local key");
    };
    let der = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(pkcs8)
        .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(active.kid.clone());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(&der),
    )
    .unwrap();
    super::harness::canary(&token);
    token
}

/// Item 2: in `kms` mode rotation alternates keys, so a token forged while a key was
/// compromised would verify again when the key comes round. Introspection refuses a token
/// issued before its key last began to sign, and one living longer than any token signed.
#[tokio::test]
async fn tokens_outside_their_keys_limits_are_inactive() {
    let s = super::harness::Server::start().await;
    let c = s.introspector("svc").await;
    let now = s.clock.now();
    let claims = |iat: u64, exp: u64| {
        json!({
            "iss": s.base, "sub": "svc", "aud": API, "client_id": "svc", "scope": "read",
            "jti": format!("forged-{iat}-{exp}"), "iat": iat, "nbf": iat, "exp": exp,
        })
    };
    let introspect = |t: String| {
        let s = &s;
        let c = &c;
        async move {
            s.post("/oauth2/introspect", &format!("token={t}"), Some(c))
                .await
                .json["active"]
                .clone()
        }
    };
    // Within the limits: active (the check is not a blanket refusal).
    assert_eq!(
        introspect(forge(&s, claims(now, now + 3600)).await).await,
        true
    );
    // Forty days: longer than any token this deployment signs.
    let long = forge(&s, claims(now, now + 40 * 86_400)).await;
    assert_eq!(introspect(long).await, false);
    // Issued a day before its key (as if it came round again) last began to sign.
    let early = forge(&s, claims(now - 86_400, now + 3600)).await;
    assert_eq!(introspect(early).await, false);
}
