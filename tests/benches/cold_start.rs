//! Cold start of each function binary: process start until its first invocation is answered,
//! under the same Runtime API peer the integration tests use. Median of 20 starts.
//!
//! ```sh
//! cargo build --release --bins && cargo bench -p tokenmint-tests --bench cold_start
//! ```
//!
//! The functions run over the embedded store and a local key, so the figure is the process's
//! own start-up (configuration, store, key ring, runtime loop), not network latency.

#![allow(clippy::unwrap_used)]

#[path = "../it/runtime_api.rs"]
mod runtime_api;

use std::time::Instant;

use base64::Engine as _;
use runtime_api::{Function, Outcome};
use serde_json::{Value, json};
use tokenmint::admin::{self, NewClient};
use tokenmint::{Clock, Config, SystemClock, setup};

const RUNS: usize = 20;

fn event(fixture: &str, pairs: &[(&str, &str)]) -> Value {
    let path = format!("{}/fixtures/apigw-v2/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(path).unwrap();
    for (k, v) in pairs {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    serde_json::from_str(&text).unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("tokenmint-cold-{}", std::process::id()));
    let db = dir.join("t.db");
    let store = format!("sqlite:{}", db.display());
    let config = Config::from_lookup(|k| (k == "TOKENMINT_STORE").then(|| store.clone())).unwrap();
    let stores = setup::open_stores(&config).await.unwrap();
    setup::ensure_signing_key(&config, &stores, &SystemClock)
        .await
        .unwrap();
    let (_, secret) = admin::create_client(
        stores.clients.as_ref(),
        &config,
        NewClient {
            id: "bench".into(),
            scopes: "read".into(),
            audiences: vec!["https://api.example.com".into()],
            ..Default::default()
        },
        SystemClock.now(),
    )
    .await
    .unwrap();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("bench:{}", secret.expose()))
    );
    let body = "grant_type=client_credentials";
    let form = |path: &str| {
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
    };
    let cases: Vec<(&str, Value)> = vec![
        ("token", form("/oauth2/token")),
        (
            "jwks",
            event("get.json", &[("PATH", "/.well-known/jwks.json")]),
        ),
        ("introspect", form("/oauth2/revoke")),
        ("cc-hook", json!({"version": 1})),
        (
            "rotate",
            json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
        ),
    ];
    let env = [
        ("TOKENMINT_STORE", store.as_str()),
        ("TOKENMINT_ISSUER", ""),
    ];
    println!(
        "function     median_ms  min_ms  max_ms  (process start -> first answer, {RUNS} runs)"
    );
    for (name, ev) in cases {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let mut f = Function::start(name, &env).await;
            let outcome = f.invoke(ev.clone()).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
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
        let (min, max) = (
            times.iter().copied().fold(f64::MAX, f64::min),
            times.iter().copied().fold(0.0, f64::max),
        );
        println!("{name:<12} {:>9.2} {min:>7.2} {max:>7.2}", median(times));
    }
    let _ = std::fs::remove_dir_all(dir);
}
