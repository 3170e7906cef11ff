//! Federated client authentication (docs/federation.md) beside a secret client's, in the same
//! run: the whole token endpoint in process, the platform's discovery document and keys
//! cached after the first request; and the cost of one typical condition alone.
//!
//! `cargo bench -p tokenmint --bench federation`; BENCHMARKS.md records the ratio
//! federated / secret, since absolute times move with the machine.

use base64::Engine as _;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};

mod support;
use serde_json::json;
use tokenmint::admin::{self, NewClient};
use tokenmint::domain::Algorithm;
use tokenmint::federation::{Conditions, NewCredential, create_federated_client};
use tokenmint::signer::Signer;
use tokenmint::signer::local::LocalKey;
use tokenmint::{Clock, SystemClock};

const CONDITION: &str = r#"claims.repository_id == "42" && claims.ref == "refs/heads/main" && claims.event_name != "pull_request_target""#;

fn claims(issuer: &str) -> serde_json::Value {
    let now = SystemClock.now();
    json!({
        "iss": issuer, "aud": "https://auth.example.com",
        "sub": "repo:octo-org/app:ref:refs/heads/main", "iat": now, "exp": now + 3600,
        "jti": "b6f2c6a0", "repository": "octo-org/app", "repository_id": "42",
        "repository_owner": "octo-org", "repository_owner_id": "7", "ref": "refs/heads/main",
        "ref_type": "branch", "event_name": "push", "workflow": "deploy", "run_id": "9001",
        "run_attempt": "1", "actor": "octocat", "actor_id": "1",
        "job_workflow_ref": "octo-org/app/.github/workflows/deploy.yml@refs/heads/main",
        "runner_environment": "github-hosted",
    })
}

fn bench(c: &mut Criterion) {
    let (rt, config, stores, app) = support::app(&[]);
    let spec = |id: &str| NewClient {
        id: id.into(),
        scopes: "read write".into(),
        audiences: vec!["https://api.example.com".into()],
        ..Default::default()
    };
    let (_, secret) = rt
        .block_on(admin::create_client(
            stores.clients.as_ref(),
            &config,
            spec("secret"),
            0,
        ))
        .expect("client");
    // Every platform of docs/federation.md signs with RS256; ES256 beside it for comparison.
    let mut platform_tokens = Vec::new();
    for alg in [Algorithm::RS256, Algorithm::ES256] {
        let (key, _) = LocalKey::generate(alg).expect("key");
        let issuer = platform(serde_json::to_value(key.public_jwk()).expect("jwk"));
        let id = format!("federated-{}", alg.as_str());
        rt.block_on(create_federated_client(
            stores.clients.as_ref(),
            &config,
            spec(&id),
            NewCredential {
                issuer: issuer.clone(),
                condition: CONDITION.into(),
                ..Default::default()
            },
            0,
        ))
        .expect("federated client");
        let header = json!({"alg": alg.as_str(), "typ": "JWT", "kid": key.kid()});
        let input = format!(
            "{}.{}",
            tokenmint::jwt::b64(header.to_string().as_bytes()),
            tokenmint::jwt::b64(claims(&issuer).to_string().as_bytes())
        );
        let sig = rt.block_on(key.sign(input.as_bytes())).expect("sign");
        platform_tokens.push((alg, id, format!("{input}.{}", tokenmint::jwt::b64(&sig))));
    }

    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("secret:{}", secret.expose()))
    );
    let secret_body = Bytes::from_static(b"grant_type=client_credentials&scope=read");
    let federated_body = |id: &str, jwt: &str| {
        Bytes::from(format!(
            "grant_type=client_credentials&scope=read&client_id={id}&client_assertion_type=\
             urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={jwt}"
        ))
    };
    let post = |body: &Bytes, auth: Option<&str>| {
        let mut r = http::Request::post("/oauth2/token")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.body(body.clone()).expect("request")
    };
    let mut group = c.benchmark_group("client_auth");
    group.bench_function("secret/token_endpoint", |b| {
        b.to_async(&rt).iter(|| async {
            let r = app.handle(post(&secret_body, Some(&auth))).await;
            assert_eq!(r.status(), 200);
            r
        })
    });
    for (alg, id, jwt) in &platform_tokens {
        let body = federated_body(id, jwt);
        // The first request fetches the discovery document and the JWKS.
        let first = rt.block_on(app.handle(post(&body, None)));
        assert_eq!(first.status(), 200, "{:?}", first.body());
        group.bench_function(format!("federated_{}/token_endpoint", alg.as_str()), |b| {
            b.to_async(&rt).iter(|| async {
                let r = app.handle(post(&body, None)).await;
                assert_eq!(r.status(), 200);
                r
            })
        });
    }
    group.finish();

    let conditions = Conditions::new();
    let condition = conditions.get(CONDITION).expect("condition");
    let serde_json::Value::Object(payload) = claims("https://token.actions.githubusercontent.com")
    else {
        unreachable!("an object literal")
    };
    let mut group = c.benchmark_group("condition");
    group.bench_function("evaluate", |b| {
        b.iter(|| condition.evaluate(std::hint::black_box(&payload)))
    });
    group.bench_function("compile_and_check", |b| {
        b.iter(|| conditions.compile(std::hint::black_box(CONDITION)))
    });
    group.finish();
}

/// A platform on loopback serving its discovery document and one key; its issuer URL.
fn platform(jwk: serde_json::Value) -> String {
    let listening = Arc::new(std::sync::OnceLock::<String>::new());
    let jwks = Bytes::from(json!({"keys": [jwk]}).to_string());
    let issuer_of = Arc::clone(&listening);
    let base = support::loopback(move |path| {
        if path == "/jwks" {
            return jwks.clone();
        }
        let issuer = issuer_of.get().cloned().unwrap_or_default();
        Bytes::from(json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")}).to_string())
    });
    listening.set(base.clone()).expect("set once");
    base
}

criterion_group!(benches, bench);
criterion_main!(benches);
