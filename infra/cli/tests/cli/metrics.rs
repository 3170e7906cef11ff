//! `tokenmint serve --metrics-addr`: the Prometheus text of what the server did.

use super::{data_dir, serve_demo_by};

/// The value of the series `name{labels}` in Prometheus text, if it is there.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn serve_exports_prometheus_metrics_of_issuance_refusals_and_introspection() {
    let d = data_dir("metrics");
    let s = serve_demo_by(
        std::process::Command::new(super::bin()),
        &d,
        &["--metrics-addr", "127.0.0.1:0"],
    );
    let metrics = s.metrics.clone().expect("serve prints the metrics URL");
    let http = reqwest::Client::new();
    let token = |secret: &str| {
        http.post(format!("{}/oauth2/token", s.base))
            .basic_auth("demo", Some(secret.to_owned()))
            .form(&[("grant_type", "client_credentials"), ("scope", "read")])
            .send()
    };
    for _ in 0..3 {
        assert_eq!(token(&s.secret).await.unwrap().status(), 200);
    }
    assert_eq!(token("wrong-secret").await.unwrap().status(), 401);
    let r: serde_json::Value = token(&s.secret).await.unwrap().json().await.unwrap();
    let access = r["access_token"].as_str().unwrap().to_owned();
    let introspected = http
        .post(format!("{}/oauth2/introspect", s.base))
        .basic_auth("demo", Some(&s.secret))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(introspected.status(), 200);

    let resp = reqwest::get(&metrics).await.unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let text = resp.text().await.unwrap();
    let issued = r#"tokenmint_tokens_issued_total{grant="client_credentials",client="demo"}"#;
    assert_eq!(value(&text, issued), Some(4.0), "{text}");
    let refused = r#"tokenmint_token_refusals_total{error="invalid_client"}"#;
    assert_eq!(value(&text, refused), Some(1.0), "{text}");
    let active = r#"tokenmint_introspections_total{active="true"}"#;
    assert_eq!(value(&text, active), Some(1.0), "{text}");
    let served = r#"tokenmint_request_duration_seconds_count{endpoint="token"}"#;
    assert_eq!(value(&text, served), Some(5.0), "{text}");
    for leaked in [s.secret.as_str(), access.as_str(), "wrong-secret"] {
        assert!(
            !text.contains(leaked),
            "the metrics carry a secret or a token"
        );
    }
    // Nothing else is served there.
    let other = reqwest::get(metrics.replace("/metrics", "/oauth2/token"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    drop(s);
    std::fs::remove_dir_all(&d).unwrap();
}
