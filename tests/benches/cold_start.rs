//! Cold start of each function binary: process start until its first invocation is answered,
//! under the same Runtime API peer the integration tests use. Median of 20 starts. Then, in the
//! last started process, the same invocation [`WARM`] times more: the warm invocation's median
//! and 99th percentile (round trip through the Runtime API peer), and the bytes the function
//! writes to its log (standard output: audit lines and EMF metrics) per warm invocation, which
//! CloudWatch Logs bills.
//!
//! ```sh
//! cargo build --release --bins
//! bash -c 'source infra/aws-emulator.sh && aws_emulator_start && cargo bench -p tokenmint-tests --bench cold_start'
//! ```
//!
//! The functions run as on AWS: over DynamoDB and KMS, here moto server on loopback, so each
//! figure includes moto's latency for every call a cold start makes (AWS SDK configuration,
//! the key registry, the client record, a KMS call), as well as the process's own start-up.

#![allow(clippy::unwrap_used)]

#[path = "../it/runtime_api.rs"]
mod runtime_api;

use std::time::Instant;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use base64::Engine as _;
use runtime_api::{Function, Outcome};
use serde_json::{Value, json};
use tokenmint::admin::{self, NewClient};
use tokenmint::store::dynamodb::DynamoStore;
use tokenmint::{Clock, Config, SystemClock, setup};

const RUNS: usize = 20;
const WARM: usize = 200;

fn event(fixture: &str, pairs: &[(&str, &str)]) -> Value {
    let path = format!("{}/fixtures/apigw-v2/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(path).unwrap();
    for (k, v) in pairs {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    serde_json::from_str(&text).unwrap()
}

/// A `client_credentials` request to `path` from client `bench` with `secret`.
fn form_for(path: &str, secret: &str) -> Value {
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("bench:{secret}"))
    );
    let body = "grant_type=client_credentials";
    event(
        "post-form.json",
        &[
            ("PATH", path),
            ("AUTHORIZATION", &auth),
            ("CONTENT_LENGTH", &body.len().to_string()),
            (
                "BODY_BASE64",
                &base64::engine::general_purpose::STANDARD.encode(body),
            ),
        ],
    )
}

/// Registers the client `bench` and returns its secret.
async fn bench_client(clients: &dyn tokenmint::store::ClientStore, config: &Config) -> String {
    let spec = NewClient {
        id: "bench".into(),
        scopes: "read".into(),
        audiences: vec!["https://api.example.com".into()],
        ..Default::default()
    };
    let (_, secret) = admin::create_client(clients, config, spec, SystemClock.now())
        .await
        .unwrap();
    secret.expose().to_owned()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: start moto with infra/aws-emulator.sh first");
    let kms = aws_sdk_kms::Client::new(&tokenmint::aws::sdk_config().await);
    let new_key = |spec: KeySpec, usage: KeyUsageType| {
        let kms = kms.clone();
        async move {
            let out = kms
                .create_key()
                .key_spec(spec)
                .key_usage(usage)
                .send()
                .await
                .unwrap();
            out.key_metadata().unwrap().key_id().to_owned()
        }
    };
    let rsa = format!(
        "kms:{}",
        new_key(KeySpec::Rsa2048, KeyUsageType::SignVerify).await
    );
    let wrapped = format!(
        "kms-wrapped:{}",
        new_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await
    );
    println!(
        "function, signing mode       median_ms  min_ms  max_ms  (process start -> first answer, {RUNS} runs)  warm_p50_ms  warm_p99_ms  log_bytes/inv  lines/inv  ({WARM} warm)"
    );
    let (kms_env, kms_secret) = deployment(&rsa).await;
    let form = |path: &str| form_for(path, &kms_secret);
    let cases: Vec<(&str, Value)> = vec![
        ("token", form("/oauth2/token")),
        (
            "jwks",
            event("get.json", &[("PATH", "/.well-known/jwks.json")]),
        ),
        ("introspect", form("/oauth2/revoke")),
        (
            "rotate",
            json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
        ),
    ];
    for (name, ev) in cases {
        measure(name, "kms", &kms_env, &ev).await;
    }
    let (wrapped_env, wrapped_secret) = deployment(&wrapped).await;
    let first = form_for("/oauth2/token", &wrapped_secret);
    measure("token", "kms-wrapped", &wrapped_env, &first).await;
    measure("cc-hook", "-", &kms_env, &event("cc-hook.json", &[])).await;
    moto_baseline(&kms_env).await;
}

/// The latency of one DynamoDB call to moto from a warm client, measured in the same run: the
/// unit in which the figures above pay for the calls a cold start makes.
async fn moto_baseline(env: &[(String, String)]) {
    use tokenmint::store::KeyStore;

    let table = env[0].1.trim_start_matches("dynamodb:").to_owned();
    let store = DynamoStore::from_env(table).await;
    store.list_keys().await.unwrap();
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        store.list_keys().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "baseline: one DynamoDB Query to moto, warm client: median {:.2} ms",
        median(times)
    );
}

/// A fresh table with a registered key (RS256) and client `bench`: the environment the
/// template gives a function, and the client's secret.
async fn deployment(signer: &str) -> (Vec<(String, String)>, String) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let table = format!(
        "tm-cold-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    DynamoStore::from_env(table.clone())
        .await
        .create_table()
        .await
        .unwrap();
    let env: Vec<(String, String)> = [
        ("TOKENMINT_STORE", format!("dynamodb:{table}")),
        ("TOKENMINT_SIGNER", signer.to_owned()),
        ("TOKENMINT_SIGNING_ALG", "RS256".into()),
        ("TOKENMINT_ISSUER", String::new()),
        // The template's level (its default): the log as deployed, audit lines included.
        ("RUST_LOG", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config =
        Config::from_lookup(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap();
    let stores = setup::open_stores(&config).await.unwrap();
    setup::ensure_signing_key(&config, &stores, &SystemClock)
        .await
        .unwrap();
    let secret = bench_client(stores.clients.as_ref(), &config).await;
    (env, secret)
}

/// Starts `name` RUNS times and prints the median time to its first answer, then the warm
/// figures of the last process.
async fn measure(name: &str, mode: &str, env: &[(String, String)], first: &Value) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut f = Function::start(name, &env).await;
        let outcome = f.invoke(first.clone()).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        answered(name, outcome);
        last = Some(f);
    }
    let (min, max) = (
        times.iter().copied().fold(f64::MAX, f64::min),
        times.iter().copied().fold(0.0, f64::max),
    );
    let cold = median(times);
    let mut f = last.unwrap();
    let (lines_before, bytes_before) = log_size(&settled(&f).await);
    let mut warm = Vec::new();
    for _ in 0..WARM {
        let started = Instant::now();
        let outcome = f.invoke(first.clone()).await;
        warm.push(started.elapsed().as_secs_f64() * 1000.0);
        answered(name, outcome);
    }
    let (lines_after, bytes_after) = log_size(&settled(&f).await);
    warm.sort_by(f64::total_cmp);
    let p99 = warm[warm.len() * 99 / 100];
    let label = format!("{name}, {mode}");
    println!(
        "{label:<28} {cold:>9.2} {min:>7.2} {max:>7.2} {:>49.2} {p99:>12.2} {:>14} {:>10.1}",
        median(warm),
        (bytes_after - bytes_before) / WARM,
        (lines_after - lines_before) as f64 / WARM as f64,
    );
}

fn answered(name: &str, outcome: Outcome) {
    match outcome {
        Outcome::Error(e) => panic!("{name} failed: {e}"),
        // HTTP functions answer an API Gateway response; none may be a server error.
        Outcome::Response(r) => {
            assert!(
                r["statusCode"].as_u64().is_none_or(|s| s < 500),
                "{name}: {r}"
            )
        }
    }
}

/// The function's log once the thread reading it has caught up: no new line for 200 ms.
async fn settled(f: &Function) -> Vec<String> {
    let mut seen = f.stdout();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let now = f.stdout();
        if now.len() == seen.len() {
            return now;
        }
        seen = now;
    }
}

/// Lines and bytes (with their newlines) of a log.
fn log_size(lines: &[String]) -> (usize, usize) {
    (lines.len(), lines.iter().map(|l| l.len() + 1).sum())
}
