//! The claims hook on AWS, end to end: the token function binary invokes the hook function
//! through the Lambda `Invoke` API, and the cc-hook function binary answers. No Lambda service
//! runs here (moto's needs Docker), so a small bridge speaks the `Invoke` REST protocol
//! (`POST /2015-03-31/functions/{name}/invocations`, `X-Amz-Function-Error` on failure) and
//! hands each payload to the cc-hook binary through the Runtime API peer.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokenmint::admin::{self, NewClient};
use tokenmint::store::DelegationStore;
use tokenmint::{Clock, Config, SystemClock};

use super::dynamodb::fresh_table;
use super::harness::{API, basic_header, delegation};
use super::kms::new_key;
use super::runtime_api::{Function, Outcome};

/// Serves `Invoke` for any function name by invoking `hook`; counts invocations.
pub(super) async fn invoke_bridge(hook: Function) -> (String, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hook = Arc::new(tokio::sync::Mutex::new(hook));
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (hook, calls) = (hook.clone(), counter.clone());
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (hook, calls) = (hook.clone(), calls.clone());
                    async move {
                        assert!(
                            req.uri().path().starts_with("/2015-03-31/functions/"),
                            "{}",
                            req.uri()
                        );
                        assert!(req.uri().path().ends_with("/invocations"));
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        calls.fetch_add(1, Ordering::SeqCst);
                        let event: Value = serde_json::from_slice(&body).unwrap();
                        let mut answer = http::Response::builder().status(200);
                        let payload = match hook.lock().await.invoke(event).await {
                            Outcome::Response(v) => v.to_string(),
                            Outcome::Error(e) => {
                                answer = answer.header("x-amz-function-error", "Unhandled");
                                serde_json::json!({"errorMessage": e}).to_string()
                            }
                        };
                        Ok::<_, Infallible>(
                            answer
                                .header("content-type", "application/json")
                                .body(Full::new(bytes::Bytes::from(payload)))
                                .unwrap(),
                        )
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, calls)
}

/// The token function over `store`, configured as the template configures it to invoke the
/// cc-hook function, which runs over `hook_store` behind the Invoke bridge.
async fn token_with_hook(
    store: &str,
    hook_store: &str,
    signer: &str,
) -> (Function, Arc<AtomicU32>) {
    let hook = Function::start(
        "cc-hook",
        &[
            ("TOKENMINT_STORE", hook_store),
            ("TOKENMINT_SIGNER", signer),
        ],
    )
    .await;
    let (bridge, calls) = invoke_bridge(hook).await;
    let env = [
        ("TOKENMINT_STORE", store),
        ("TOKENMINT_SIGNER", signer),
        ("TOKENMINT_ISSUER", ""),
        ("TOKENMINT_HOOK", "lambda:tokenmint-cc-hook"),
        ("AWS_ENDPOINT_URL_LAMBDA", bridge.as_str()),
    ];
    (Function::start("token", &env).await, calls)
}

fn token_request(auth: &str, body: &str) -> Value {
    use base64::Engine as _;
    let fixture = format!(
        "{}/fixtures/apigw-v2/post-form.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(
        &std::fs::read_to_string(fixture)
            .unwrap()
            .replace("{{PATH}}", "/oauth2/token")
            .replace("{{AUTHORIZATION}}", auth)
            .replace("{{CONTENT_LENGTH}}", &body.len().to_string())
            .replace(
                "{{BODY_BASE64}}",
                &base64::engine::general_purpose::STANDARD.encode(body),
            ),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_function_invokes_the_hook_function() {
    let table = fresh_table().await;
    let key_id = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let config = Config::from_lookup(|_| None).unwrap();
    let now = SystemClock.now();
    let (client, secret) = admin::create_client(
        &table,
        &config,
        NewClient {
            id: "build-api".into(),
            scopes: "read update:builds".into(),
            audiences: vec![API.into()],
            hook: true,
            attributes: vec!["partner_id=p-17".into()],
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    table
        .put_delegation(&delegation(
            "dlg-alice",
            "user:alice",
            "client:build-api",
            "update:builds",
            Some(now + 900),
        ))
        .await
        .unwrap();
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms:{key_id}");
    let (mut token_fn, calls) = token_with_hook(&store, &store, &signer).await;
    let auth = basic_header(client.id.as_str(), secret.expose());
    let ok = |o: Outcome| match o {
        Outcome::Response(r) => r,
        Outcome::Error(e) => panic!("the token function failed: {e}"),
    };
    let r = ok(token_fn
        .invoke(token_request(
            &auth,
            "grant_type=client_credentials&scope=update:builds&user_id=alice",
        ))
        .await);
    assert_eq!(r["statusCode"], 200, "{r}");
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    let token = body["access_token"].as_str().unwrap();
    let claims: Value = {
        use base64::Engine as _;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    let ns = "https://abc123xyz0.execute-api.us-east-1.amazonaws.com/claims/";
    assert_eq!(claims[format!("{ns}partner_id")], "p-17", "{claims}");
    assert_eq!(claims[format!("{ns}user_id")], "alice");
    assert_eq!(claims["dlg"], serde_json::json!(["dlg-alice"]));
    // Resting on a delegation: 5 minutes at most, though the delegation lasts 15.
    assert_eq!(claims["exp"], claims["iat"].as_u64().unwrap() + 300);
    assert!(claims["exp"].as_u64().unwrap() <= now + 900);

    // A user with no delegation: the hook function denies, the token function answers 400.
    let r = ok(token_fn
        .invoke(token_request(
            &auth,
            "grant_type=client_credentials&scope=update:builds&user_id=mallory",
        ))
        .await);
    assert_eq!(r["statusCode"], 400, "{r}");
    assert!(r["body"].as_str().unwrap().contains("access_denied"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hook_function_fails_closed_after_bounded_retries() {
    let table = fresh_table().await;
    let key_id = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let config = Config::from_lookup(|_| None).unwrap();
    let (client, secret) = admin::create_client(
        &table,
        &config,
        NewClient {
            id: "build-api".into(),
            scopes: "update:builds".into(),
            audiences: vec![API.into()],
            hook: true,
            ..Default::default()
        },
        SystemClock.now(),
    )
    .await
    .unwrap();
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms:{key_id}");
    // The hook function's table does not exist: every lookup fails, and the function answers
    // with a function error (as a crash would).
    let (mut token_fn, calls) = token_with_hook(&store, "dynamodb:no-such-table", &signer).await;
    let auth = basic_header(client.id.as_str(), secret.expose());
    let Outcome::Response(r) = token_fn
        .invoke(token_request(
            &auth,
            "grant_type=client_credentials&user_id=alice",
        ))
        .await
    else {
        panic!("the token function failed")
    };
    assert_eq!(r["statusCode"], 503, "{r}");
    assert!(
        r["body"]
            .as_str()
            .unwrap()
            .contains("temporarily_unavailable")
    );
    assert!(r["headers"]["retry-after"].is_string(), "{r}");
    assert!(!r["body"].as_str().unwrap().contains("access_token"));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "three attempts, then 503");
    // What the dashboard's hook-failure alarm counts, and the refusal it caused.
    let docs = super::lambda_url::emf(
        &token_fn,
        &[
            "tokenmint_hook_calls_total",
            "tokenmint_token_refusals_total",
        ],
    )
    .await;
    let metric = |name: &str, dim: &str| {
        docs.iter()
            .filter(|d| d.get(name).is_some())
            .map(|d| (d[dim].as_str().unwrap_or("").to_owned(), d[name].as_u64()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        metric("tokenmint_hook_calls_total", "outcome"),
        [("failed".to_owned(), Some(1))]
    );
    assert_eq!(
        metric("tokenmint_token_refusals_total", "error"),
        [("temporarily_unavailable".to_owned(), Some(1))]
    );
}
