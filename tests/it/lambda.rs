//! The function binaries, run as processes against a Runtime API peer, fed API Gateway HTTP
//! API (payload 2.0) events, over DynamoDB and KMS on the emulator.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;
use tokenmint::admin::{self, NewClient};
use tokenmint::{Clock, Config, SystemClock};

use super::dynamodb::fresh_table;
use super::harness::{API, basic_header, delegation};
use super::kms::new_key;
use super::runtime_api::{Function, Outcome};

/// The API Gateway domain in the fixtures (API `abc123xyz0` in the emulator's region): with an
/// empty TOKENMINT_ISSUER, the API's id and the region name the issuer.
pub const DOMAIN: &str = "abc123xyz0.execute-api.us-east-1.amazonaws.com";

fn fixture(name: &str, pairs: &[(&str, &str)]) -> Value {
    let path = format!("{}/fixtures/apigw-v2/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(path).unwrap();
    for (k, v) in pairs {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    serde_json::from_str(&text).unwrap()
}

pub fn post(path: &str, authorization: &str, body: &str) -> Value {
    fixture(
        "post-form.json",
        &[
            ("PATH", path),
            ("AUTHORIZATION", authorization),
            ("CONTENT_LENGTH", &body.len().to_string()),
            ("BODY_BASE64", &STANDARD.encode(body)),
        ],
    )
}

fn get(path: &str) -> Value {
    fixture("get.json", &[("PATH", path)])
}

/// An API Gateway v2 response: status, headers and the decoded body.
pub struct Answer {
    pub status: u64,
    pub headers: Value,
    pub body: Value,
}

pub fn answer(outcome: Outcome) -> Answer {
    let Outcome::Response(r) = outcome else {
        panic!("the function failed: {outcome:?}");
    };
    let raw = r["body"].as_str().unwrap_or_default();
    let text = if r["isBase64Encoded"] == true {
        String::from_utf8(STANDARD.decode(raw).unwrap()).unwrap()
    } else {
        raw.to_owned()
    };
    Answer {
        status: r["statusCode"].as_u64().unwrap(),
        headers: r["headers"].clone(),
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functions_issue_publish_and_introspect_over_dynamodb_and_kms() {
    let key_id = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    end_to_end(&format!("kms:{key_id}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functions_issue_publish_and_introspect_with_kms_wrapped_keys() {
    let key_id = super::kms_wrapped::new_wrapping_key().await;
    end_to_end(&format!("kms-wrapped:{key_id}")).await;
}

/// Token, JWKS and introspection functions as processes, in the given signing mode.
async fn end_to_end(signer: &str) {
    let table = fresh_table().await;
    let config = Config::from_lookup(|_| None).unwrap();
    let (client, secret) = admin::create_client(
        &table,
        &config,
        NewClient {
            id: "gateway".into(),
            scopes: "read write".into(),
            audiences: vec![API.into()],
            introspect: true,
            ..Default::default()
        },
        SystemClock.now(),
    )
    .await
    .unwrap();
    let auth = basic_header(client.id.as_str(), secret.expose());
    let store = format!("dynamodb:{}", table.table());
    // What the template sets, and nothing else: TOKENMINT_ISSUER empty.
    let env = [
        ("TOKENMINT_STORE", store.as_str()),
        ("TOKENMINT_SIGNER", signer),
        ("TOKENMINT_ISSUER", ""),
    ];

    let mut token_fn = Function::start("token", &env).await;
    let a = answer(
        token_fn
            .invoke(post(
                "/oauth2/token",
                &auth,
                "grant_type=client_credentials&scope=read",
            ))
            .await,
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.headers["cache-control"], "no-store");
    let token = a.body["access_token"].as_str().unwrap().to_owned();

    // The token function answers only its own route.
    let a = answer(token_fn.invoke(get("/.well-known/jwks.json")).await);
    assert_eq!(a.status, 404);
    // A comma-joined Authorization header (API Gateway's way of joining repeats) is refused.
    let joined = format!("{auth}, {auth}");
    let a = answer(
        token_fn
            .invoke(post(
                "/oauth2/token",
                &joined,
                "grant_type=client_credentials",
            ))
            .await,
    );
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let mut jwks_fn = Function::start("jwks", &env).await;
    let a = answer(jwks_fn.invoke(get("/.well-known/jwks.json")).await);
    assert_eq!(a.status, 200);
    let set: JwkSet = serde_json::from_value(a.body).unwrap();
    let a = answer(
        jwks_fn
            .invoke(get("/.well-known/openid-configuration"))
            .await,
    );
    let issuer = format!("https://{DOMAIN}");
    assert_eq!(a.body["issuer"], issuer.as_str());
    assert_eq!(
        a.body["jwks_uri"],
        format!("{issuer}/.well-known/jwks.json")
    );

    // An independent library verifies the token against the published keys.
    let header = jsonwebtoken::decode_header(&token).unwrap();
    let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = Validation::new(header.alg);
    v.set_audience(&[API]);
    v.set_issuer(&[issuer.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &v)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "gateway");

    let mut introspect_fn = Function::start("introspect", &env).await;
    let body = format!("token={token}");
    let a = answer(
        introspect_fn
            .invoke(post("/oauth2/introspect", &auth, &body))
            .await,
    );
    assert_eq!(a.body["active"], true, "{:?}", a.body);
    let a = answer(
        introspect_fn
            .invoke(post("/oauth2/revoke", &auth, &body))
            .await,
    );
    assert_eq!(a.status, 200);
    let a = answer(
        introspect_fn
            .invoke(post("/oauth2/introspect", &auth, &body))
            .await,
    );
    assert_eq!(a.body, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn the_hook_function_decides_from_delegations_in_dynamodb() {
    use tokenmint::store::DelegationStore;

    let table = fresh_table().await;
    table
        .put_delegation(&delegation(
            "d-123",
            "user:u-123",
            "client:build-api",
            "update:builds",
            None,
        ))
        .await
        .unwrap();
    let store = format!("dynamodb:{}", table.table());
    // What the template sets (the signer is not used by the hook).
    let env = [
        ("TOKENMINT_STORE", store.as_str()),
        ("TOKENMINT_SIGNER", "kms:alias/unused-by-the-hook"),
    ];
    let mut hook = Function::start("cc-hook", &env).await;
    let event = fixture("cc-hook.json", &[]);
    match hook.invoke(event.clone()).await {
        Outcome::Response(r) => assert_eq!(
            r,
            serde_json::json!({
                "claims": {
                    "https://auth.example.com/claims/partner_id": "p-17",
                    "https://auth.example.com/claims/user_id": "u-123"
                },
                "delegations": ["d-123"]
            })
        ),
        other => panic!("{other:?}"),
    }
    // A user who delegated nothing to this client: denied, whatever the client claims.
    let mut stranger = event.clone();
    stranger["parameters"]["user_id"] = "u-999".into();
    match hook.invoke(stranger).await {
        Outcome::Response(r) => {
            let reason = r["deny"]["reason"].as_str().unwrap();
            assert!(reason.contains("user:u-999"), "{r}");
        }
        other => panic!("{other:?}"),
    }
    let mut bad = event;
    bad["version"] = 99.into();
    match hook.invoke(bad).await {
        Outcome::Error(e) => {
            assert!(e.contains("HookError") && e.contains("version 99"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}
