//! Minting one access token in process beside one raw signature of the same algorithm.
//!
//! `cargo bench -p tokenmint --bench mint`; the ratio mint / raw_sign is what BENCHMARKS.md
//! records, since absolute times move with the machine.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

mod support;
use tokenmint::domain::AccessTokenClaims;
use tokenmint::domain::Algorithm;
use tokenmint::jwt::mint;
use tokenmint::signer::Signer;
use tokenmint::signer::local::LocalKey;

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "https://auth.example.com".into(),
        sub: "build-api".into(),
        aud: "https://api.example.com".into(),
        exp: 1_800_003_600,
        iat: 1_800_000_000,
        nbf: 1_800_000_000,
        jti: "yxwRhAdebuK7fH7sdWfIkw".into(),
        client_id: "build-api".into(),
        scope: "read write".into(),
        dlg: vec![],
        act: None,
        chain: None,
        acr: None,
        amr: None,
        auth_time: None,
        extra: Default::default(),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for alg in [Algorithm::ES256, Algorithm::RS256] {
        let (key, _) = LocalKey::generate(alg).expect("key");
        let header = mint::encoded_header(alg, key.kid());
        let claims = claims();
        // A signing input of the same length as a real token's.
        let sample = rt
            .block_on(mint::mint(&key, &header, &claims))
            .expect("mint");
        let input_len = sample.rfind('.').expect("three parts");
        let input = sample.as_bytes()[..input_len].to_vec();
        let mut group = c.benchmark_group(alg.as_str());
        group.bench_function("raw_sign", |b| {
            b.iter(|| key.sign_now(black_box(&input)).expect("sign"))
        });
        group.bench_function("mint", |b| {
            b.to_async(&rt).iter(|| async {
                mint::mint(&key, black_box(&header), black_box(&claims))
                    .await
                    .expect("mint")
            })
        });
        let threaded = tokenmint::signer::dedicated::DedicatedSigner::spawn(
            LocalKey::generate(alg).expect("key").0,
        )
        .expect("signer");
        let threaded_header = mint::encoded_header(alg, threaded.kid());
        group.bench_function("mint_on_signing_thread", |b| {
            b.to_async(&rt).iter(|| async {
                mint::mint(&threaded, black_box(&threaded_header), black_box(&claims))
                    .await
                    .expect("mint")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);

/// The whole token endpoint in process: form parsing, client authentication (cached record),
/// scope and audience rules, minting and the JSON answer, without HTTP or sockets.
fn endpoint(c: &mut Criterion) {
    use base64::Engine as _;
    use bytes::Bytes;
    use tokenmint::admin::{self, NewClient};

    let (rt, config, stores, app) = support::app(&[]);
    let spec = NewClient {
        id: "bench".into(),
        scopes: "read write".into(),
        audiences: vec!["https://api.example.com".into()],
        ..Default::default()
    };
    let (_, secret) = rt
        .block_on(admin::create_client(
            stores.clients.as_ref(),
            &config,
            spec,
            0,
        ))
        .expect("client");
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("bench:{}", secret.expose()))
    );
    let body = Bytes::from_static(
        b"grant_type=client_credentials&scope=read&resource=https%3A%2F%2Fapi.example.com",
    );
    let request = || {
        http::Request::post("/oauth2/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", &auth)
            .body(body.clone())
            .expect("request")
    };
    c.bench_function("ES256/token_endpoint", |b| {
        b.to_async(&rt).iter(|| async {
            let r = app.handle(request()).await;
            assert_eq!(r.status(), 200);
            r
        })
    });

    // The same request from a client whose tokens go through the in-process default hook
    // (two attributes become namespaced claims).
    let hooked = NewClient {
        id: "hooked".into(),
        scopes: "read write".into(),
        audiences: vec!["https://api.example.com".into()],
        hook: true,
        attributes: vec!["partner_id=p-17".into(), "tenant=acme".into()],
        ..Default::default()
    };
    let (_, hooked_secret) = rt
        .block_on(admin::create_client(
            stores.clients.as_ref(),
            &config,
            hooked,
            0,
        ))
        .expect("client");
    let hooked_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("hooked:{}", hooked_secret.expose()))
    );
    let hooked_request = || {
        http::Request::post("/oauth2/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", &hooked_auth)
            .body(body.clone())
            .expect("request")
    };
    c.bench_function("ES256/token_endpoint_with_hook", |b| {
        b.to_async(&rt).iter(|| async {
            let r = app.handle(hooked_request()).await;
            assert_eq!(r.status(), 200);
            r
        })
    });

    // And through a webhook on loopback that answers the same two claims.
    let answer = Bytes::from_static(
        br#"{"claims":{"https://auth.example.com/claims/partner_id":"p-17","https://auth.example.com/claims/tenant":"acme"}}"#,
    );
    let url = format!("{}/hook", support::loopback(move |_| answer.clone()));
    let (_, webhook_app) = support::app_on(
        &rt,
        &stores,
        &[
            ("TOKENMINT_HOOK", &url),
            ("TOKENMINT_HOOK_SECRET", "bench-secret-0123456789"),
        ],
    );
    c.bench_function("ES256/token_endpoint_with_webhook", |b| {
        b.to_async(&rt).iter(|| async {
            let r = webhook_app.handle(hooked_request()).await;
            assert_eq!(r.status(), 200);
            r
        })
    });
}

criterion_group!(endpoints, endpoint);
criterion_main!(benches, endpoints);
