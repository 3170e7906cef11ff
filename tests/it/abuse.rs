//! Hostile input never panics the server or earns a 5xx.

use super::harness::Server;

#[tokio::test]
async fn hostile_bodies_get_4xx() {
    let s = Server::start().await;
    let c = s.client("target").await;
    let long_scope = format!("grant_type=client_credentials&scope={}", "a".repeat(30_000));
    let bodies: Vec<String> = vec![
        String::new(),
        "=".into(),
        "&&&&".into(),
        "%00=%00".into(),
        "grant_type=%00".into(),
        "grant_type=client_credentials&resource=%00".into(),
        "grant_type=client_credentials&audience=%20".into(),
        "grant_type=client_credentials&resource=http://[::1".into(),
        "grant_type=client_credentials&scope=%E2%80%AE".into(),
        long_scope,
        "grant_type=".repeat(1000),
    ];
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        for b in &bodies {
            for creds in [Some(&c), None] {
                let r = s.post(path, b, creds).await;
                assert!(
                    (200..500).contains(&r.status),
                    "{path} {b:.60}: {} {}",
                    r.status,
                    r.text
                );
            }
        }
    }
}

#[tokio::test]
async fn hostile_authorization_headers_get_4xx() {
    let s = Server::start().await;
    let headers = [
        "Basic",
        "Basic ",
        "Basic ====",
        "Basic dGVzdA", // "test": no colon
        "Basic Og==",   // ":" only
        "Bearer abc",
        "Digest username=\"x\"",
        "Basic YTpi YTpi",
        &"Basic ".repeat(2000),
    ];
    let mut values: Vec<reqwest::header::HeaderValue> =
        headers.iter().map(|h| h.parse().unwrap()).collect();
    // obs-text: bytes that are not ASCII.
    values.push(reqwest::header::HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap());
    for h in values {
        for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
            let r = s
                .http
                .post(format!("{}{path}", s.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", h.clone())
                .body("grant_type=client_credentials&token=x")
                .send()
                .await
                .unwrap();
            assert!(
                (400..500).contains(&r.status().as_u16()),
                "{h:?} {path}: {}",
                r.status()
            );
        }
    }
}

#[tokio::test]
async fn hostile_tokens_are_inactive_or_ignored() {
    use base64::Engine as _;
    let s = Server::start().await;
    let c = s.introspector("gw").await;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let header = |h: &str| format!("{}.{}.AAAA", b64(h), b64(r#"{"sub":"x"}"#));
    let tokens = [
        header(r#"{"alg":"none","typ":"at+jwt","kid":"x"}"#),
        header(r#"{"alg":"HS256","typ":"at+jwt","kid":"../../etc/passwd"}"#),
        header(r#"{"alg":"ES256","typ":"at+jwt","kid":"' OR '1'='1"}"#),
        header(r#"{"alg":"ES256","typ":"at+jwt","kid":"arn:aws:kms:us-east-1:1:key/x"}"#),
        header(&format!(
            r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#,
            "k".repeat(10_000)
        )),
        header(r#"{"alg":"ES256","typ":"at+jwt","jku":"https://evil.example/jwks"}"#),
        "%00.%00.%00".to_owned(),
        "....".to_owned(),
        "a".repeat(20_000),
    ];
    for t in &tokens {
        let body = format!("token={}", super::harness::url_encode(t));
        let r = s.post("/oauth2/introspect", &body, Some(&c)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.text, r#"{"active":false}"#);
        let r = s.post("/oauth2/revoke", &body, Some(&c)).await;
        assert_eq!(r.status, 200);
    }
}

#[tokio::test]
async fn only_secret_hashes_are_stored() {
    let s = Server::start().await;
    let c = s.client("hashed").await;
    s.token(&c, "").await;
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(s.data_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        seen.push(bytes.len());
        assert!(
            !bytes
                .windows(c.secret.len())
                .any(|w| w == c.secret.as_bytes()),
            "the plaintext secret is in the store"
        );
    }
    assert!(seen.iter().sum::<usize>() > 0, "the store files were read");
}

#[tokio::test]
async fn failed_authentication_is_throttled_per_client_and_address_never_for_valid_credentials() {
    use super::harness::Creds;
    let s = Server::start().await;
    let c = s.client("throttled").await;
    let other = s.client("bystander").await;
    let wrong = |id: &str| Creds {
        id: id.into(),
        secret: "not-the-secret".into(),
    };
    let mut answers = std::collections::HashMap::new();
    for id in ["throttled", "no-such-client"] {
        for _ in 0..tokenmint::oauth::throttle::MAX_FAILURES {
            s.post(
                "/oauth2/token",
                "grant_type=client_credentials",
                Some(&wrong(id)),
            )
            .await
            .assert_error(401, "invalid_client");
        }
        let r = s
            .post(
                "/oauth2/token",
                "grant_type=client_credentials",
                Some(&wrong(id)),
            )
            .await;
        r.assert_error(429, "invalid_client");
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=tokenmint::oauth::throttle::WINDOW_SECS).contains(&retry));
        answers.insert(id, (r.status, r.text.clone()));
    }
    // An unknown client is throttled exactly like an existing one.
    assert_eq!(answers["throttled"], answers["no-such-client"]);
    // Valid credentials from the same address still get a token; other clients are untouched;
    // introspection and revocation count the same failures.
    s.token(&c, "").await;
    s.token(&other, "").await;
    s.post("/oauth2/introspect", "token=x", Some(&wrong("throttled")))
        .await
        .assert_error(429, "invalid_client");
    // The next window starts afresh.
    s.clock.advance(tokenmint::oauth::throttle::WINDOW_SECS);
    s.post(
        "/oauth2/token",
        "grant_type=client_credentials",
        Some(&wrong("throttled")),
    )
    .await
    .assert_error(401, "invalid_client");
}
