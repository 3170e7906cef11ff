//! AWS calls per `client_credentials` token on a warm token function, counted by a proxy
//! between the function binary and moto server:
//!
//! ```sh
//! cargo build --bins
//! bash -c 'source infra/aws-emulator.sh && aws_emulator_start && cargo test -p tokenmint-tests --bench aws_calls'
//! ```
//!
//! (A count, not a timing: the debug build, run as a test, gives the same figures.)

#![allow(clippy::unwrap_used)]

#[path = "../it/runtime_api.rs"]
mod runtime_api;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use runtime_api::{Function, Outcome};
use tokenmint::admin::{self, NewClient};
use tokenmint::store::dynamodb::DynamoStore;
use tokenmint::{Clock, Config, SystemClock};

type Counts = Arc<Mutex<BTreeMap<String, u64>>>;

/// Forwards every request to `upstream` and counts it by its `X-Amz-Target` operation.
async fn counting_proxy(upstream: String, counts: Counts) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let http = reqwest::Client::new();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (http, upstream, counts) = (http.clone(), upstream.clone(), counts.clone());
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (http, upstream, counts) = (http.clone(), upstream.clone(), counts.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        if let Some(op) = parts
                            .headers
                            .get("x-amz-target")
                            .and_then(|v| v.to_str().ok())
                        {
                            *counts.lock().unwrap().entry(op.to_owned()).or_default() += 1;
                        }
                        let mut out =
                            http.request(parts.method.clone(), format!("{upstream}{}", parts.uri));
                        for (k, v) in &parts.headers {
                            if k != "host" {
                                out = out.header(k, v);
                            }
                        }
                        let resp = out.body(body).send().await.unwrap();
                        let mut answer = http::Response::builder().status(resp.status().as_u16());
                        for (k, v) in resp.headers() {
                            answer = answer.header(k.as_str(), v.as_bytes());
                        }
                        let bytes = resp.bytes().await.unwrap();
                        Ok::<_, Infallible>(answer.body(Full::new(bytes)).unwrap())
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    format!("http://{addr}")
}

/// The API Gateway v2 event of a `client_credentials` request from `bench`.
fn token_request(secret: &str) -> serde_json::Value {
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("bench:{secret}"))
    );
    let body = "grant_type=client_credentials";
    let fixture = format!(
        "{}/fixtures/apigw-v2/post-form.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(
        &std::fs::read_to_string(fixture)
            .unwrap()
            .replace("{{PATH}}", "/oauth2/token")
            .replace("{{AUTHORIZATION}}", &auth)
            .replace("{{CONTENT_LENGTH}}", &body.len().to_string())
            .replace(
                "{{BODY_BASE64}}",
                &base64::engine::general_purpose::STANDARD.encode(body),
            ),
    )
    .unwrap()
}

#[tokio::main]
async fn main() {
    let upstream = std::env::var("AWS_ENDPOINT_URL").expect("run under infra/aws-emulator.sh");
    let kms = aws_sdk_kms::Client::new(&tokenmint::aws::sdk_config().await);
    let key = kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let wrapping = kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap();
    let wrapping_id = wrapping.key_metadata().unwrap().key_id().to_owned();
    let config = Config::from_lookup(|_| None).unwrap();
    let spec = NewClient {
        id: "bench".into(),
        scopes: "read".into(),
        audiences: vec!["https://api.example.com".into()],
        ..Default::default()
    };
    // One table per signing mode: the key registry, not the configuration, decides which key
    // signs, so a table seeded in one mode keeps that mode's key until a rotation.
    let mut events = Vec::new();
    for mode in ["kms", "wrapped"] {
        let table = format!("tm-calls-{}-{mode}", std::process::id());
        let ddb = DynamoStore::from_env(table.clone()).await;
        ddb.create_table().await.unwrap();
        let (_, secret) = admin::create_client(&ddb, &config, spec.clone(), SystemClock.now())
            .await
            .unwrap();
        events.push((format!("dynamodb:{table}"), token_request(secret.expose())));
    }

    const TOKENS: u64 = 100;
    println!("AWS calls per client_credentials token, warm token function, {TOKENS} tokens");
    let modes = [
        ("5s", format!("kms:{key_id}"), &events[0]),
        ("0", format!("kms:{key_id}"), &events[0]),
        ("5s", format!("kms-wrapped:{wrapping_id}"), &events[1]),
        ("0", format!("kms-wrapped:{wrapping_id}"), &events[1]),
    ];
    for (cache, signer, (store, event)) in modes {
        let counts: Counts = Arc::default();
        let proxy = counting_proxy(upstream.clone(), counts.clone()).await;
        let env = [
            ("AWS_ENDPOINT_URL", proxy.as_str()),
            ("TOKENMINT_STORE", store.as_str()),
            ("TOKENMINT_SIGNER", signer.as_str()),
            ("TOKENMINT_ISSUER", ""),
            ("TOKENMINT_CLIENT_CACHE_TTL", cache),
            ("TOKENMINT_SIGNING_ALG", "RS256"),
        ];
        let mut f = Function::start("token", &env).await;
        let ok = |o: Outcome| match o {
            Outcome::Response(r) => r["statusCode"] == 200,
            Outcome::Error(e) => panic!("the token function failed: {e}"),
        };
        assert!(ok(f.invoke(event.clone()).await), "warm-up");
        let cold = std::mem::take(&mut *counts.lock().unwrap());
        for _ in 0..TOKENS {
            assert!(ok(f.invoke(event.clone()).await));
        }
        let counts = counts.lock().unwrap().clone();
        let per = |op: &str| counts.get(op).copied().unwrap_or(0) as f64 / TOKENS as f64;
        let mode = signer.split(':').next().unwrap();
        println!(
            "{mode:<11} client cache {cache:>2}: per token: DynamoDB GetItem {:.2}, Query {:.2}, \
             KMS Sign {:.2}, Decrypt {:.2}; all calls {counts:?}; start + first token: {cold:?}",
            per("DynamoDB_20120810.GetItem"),
            per("DynamoDB_20120810.Query"),
            per("TrentService.Sign"),
            per("TrentService.Decrypt"),
        );
    }
}
