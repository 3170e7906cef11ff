//! `POST /oauth2/token` with the client_credentials grant (RFC 6749 §4.4).

use super::harness::{API, Creds, Server, basic_header};
use tokenmint::admin::NewClient;

#[tokio::test]
async fn issues_rfc9068_tokens_that_an_independent_library_verifies() {
    for alg in ["ES256", "RS256", "PS256"] {
        let s = Server::start_with(&[("TOKENMINT_SIGNING_ALG", alg)]).await;
        let c = s.client("build-api").await;
        let r = s
            .post("/oauth2/token", "grant_type=client_credentials", Some(&c))
            .await;
        assert_eq!(r.status, 200, "{alg}: {}", r.text);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("pragma"), Some("no-cache"));
        assert_eq!(r.json["token_type"], "Bearer");
        assert_eq!(r.json["expires_in"], 3600);
        // No scope asked: the client's default scopes, echoed.
        assert_eq!(r.json["scope"], "read");
        let token = r.json["access_token"].as_str().unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        let claims = s.verify_independently(token, API).await;
        assert_eq!(claims["sub"], "build-api");
        assert_eq!(claims["client_id"], "build-api");
        assert_eq!(claims["scope"], "read");
        assert_eq!(claims["iss"], s.base.as_str());
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            3600
        );
        assert_eq!(claims["nbf"], claims["iat"]);
        assert!(claims["jti"].as_str().unwrap().len() >= 22);
    }
}

#[tokio::test]
async fn client_secret_post_and_basic_both_work_but_not_together() {
    let s = Server::start().await;
    let c = s.client("poster").await;
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        c.id, c.secret
    );
    let r = s.post("/oauth2/token", &body, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A body client_id equal to the Basic one is not a second method.
    let r = s
        .post(
            "/oauth2/token",
            "grant_type=client_credentials&client_id=poster",
            Some(&c),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    s.post("/oauth2/token", &body, Some(&c))
        .await
        .assert_error(400, "invalid_request");
}

#[tokio::test]
async fn scopes_audiences_and_jti() {
    let s = Server::start().await;
    let c = s.client("scoper").await;
    let r = s
        .post(
            "/oauth2/token",
            "grant_type=client_credentials&scope=write+read",
            Some(&c),
        )
        .await;
    assert_eq!(r.json["scope"], "read write");
    // An empty parameter counts as omitted (RFC 6749 §3.2).
    let r = s
        .post(
            "/oauth2/token",
            "grant_type=client_credentials&scope=&resource=",
            Some(&c),
        )
        .await;
    assert_eq!(r.json["scope"], "read", "{}", r.text);
    s.post(
        "/oauth2/token",
        "grant_type=client_credentials&scope=admin",
        Some(&c),
    )
    .await
    .assert_error(400, "invalid_scope");

    let t = s.token(&c, "&audience=billing").await;
    assert_eq!(
        s.verify_independently(&t, "billing").await["aud"],
        "billing"
    );
    let t = s
        .token(&c, &format!("&resource={API}&resource={API}"))
        .await;
    assert_eq!(s.verify_independently(&t, API).await["aud"], API);
    for bad in [
        "&resource=https://evil.example.com",
        "&resource=https://api.example.com%23frag",
        "&resource=relative/path",
        &format!("&resource={API}&audience=billing"),
    ] {
        s.post(
            "/oauth2/token",
            &format!("grant_type=client_credentials{bad}"),
            Some(&c),
        )
        .await
        .assert_error(400, "invalid_target");
    }

    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let t = s.token(&c, "").await;
        let claims = s.verify_independently(&t, API).await;
        assert!(seen.insert(claims["jti"].as_str().unwrap().to_owned()));
    }
}

#[tokio::test]
async fn lifetimes_follow_the_client_and_the_cap() {
    let s = Server::start_with(&[
        ("TOKENMINT_MAX_TTL", "30m"),
        ("TOKENMINT_DEFAULT_TTL", "10m"),
    ])
    .await;
    let short = s
        .client_with(NewClient {
            id: "short".into(),
            scopes: "read".into(),
            audiences: vec![API.into()],
            ttl: Some(60),
            ..Default::default()
        })
        .await;
    let default = s.client("default").await;
    let r = s
        .post(
            "/oauth2/token",
            "grant_type=client_credentials",
            Some(&short),
        )
        .await;
    assert_eq!(r.json["expires_in"], 60);
    let r = s
        .post(
            "/oauth2/token",
            "grant_type=client_credentials",
            Some(&default),
        )
        .await;
    assert_eq!(r.json["expires_in"], 600);
}

#[tokio::test]
async fn failed_authentication_looks_the_same_whatever_the_cause() {
    let s = Server::start_with(&[("TOKENMINT_CLIENT_CACHE_TTL", "0")]).await;
    let c = s.client("victim").await;
    let wrong = Creds {
        id: c.id.clone(),
        secret: format!("{}x", c.secret),
    };
    let unknown = Creds {
        id: "nobody".into(),
        secret: c.secret.clone(),
    };
    let bad_id = Creds {
        id: "not a client id".into(),
        secret: c.secret.clone(),
    };
    let mut answers = Vec::new();
    for creds in [&wrong, &unknown, &bad_id] {
        let r = s
            .post(
                "/oauth2/token",
                "grant_type=client_credentials",
                Some(creds),
            )
            .await;
        r.assert_error(401, "invalid_client");
        assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
        answers.push(r.text);
    }
    tokenmint::admin::disable_client(s.stores.clients.as_ref(), "victim")
        .await
        .unwrap();
    let r = s
        .post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await;
    r.assert_error(401, "invalid_client");
    answers.push(r.text);
    // Posted credentials and no credentials at all.
    let r = s
        .post(
            "/oauth2/token",
            "grant_type=client_credentials&client_id=nobody&client_secret=x",
            None,
        )
        .await;
    r.assert_error(401, "invalid_client");
    answers.push(r.text);
    let r = s
        .post("/oauth2/token", "grant_type=client_credentials", None)
        .await;
    r.assert_error(401, "invalid_client");
    answers.push(r.text);
    answers.dedup();
    assert_eq!(answers.len(), 1, "{answers:?}");
}

#[tokio::test]
async fn disabling_takes_effect_within_the_client_cache_lifetime() {
    let s = Server::start().await;
    let c = s.client("cached").await;
    s.token(&c, "").await;
    tokenmint::admin::disable_client(s.stores.clients.as_ref(), "cached")
        .await
        .unwrap();
    s.clock.advance(s.config.client_cache_ttl.as_secs());
    s.post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await
        .assert_error(401, "invalid_client");
}

#[tokio::test]
async fn rotated_secrets_overlap_for_the_grace_period() {
    let s = Server::start().await;
    let old = s.client("rotating").await;
    s.token(&old, "").await; // cache the record with only the old secret
    let (_, secret) = tokenmint::admin::rotate_secret(
        s.stores.clients.as_ref(),
        "rotating",
        3600,
        tokenmint::Clock::now(s.clock.as_ref()),
    )
    .await
    .unwrap();
    let new = Creds {
        id: old.id.clone(),
        secret: secret.expose().to_owned(),
    };
    // The new secret works at once, although the old record was cached.
    s.token(&new, "").await;
    s.token(&old, "").await;
    s.clock.advance(3600);
    s.token(&new, "").await;
    s.post("/oauth2/token", "grant_type=client_credentials", Some(&old))
        .await
        .assert_error(401, "invalid_client");
}

#[tokio::test]
async fn grant_errors() {
    let s = Server::start().await;
    let c = s.client("granter").await;
    s.post("/oauth2/token", "scope=read", Some(&c))
        .await
        .assert_error(400, "invalid_request");
    // The CLI's short name for token exchange is not a grant type on the wire.
    for g in ["password", "authorization_code", "token-exchange", "x"] {
        s.post("/oauth2/token", &format!("grant_type={g}"), Some(&c))
            .await
            .assert_error(400, "unsupported_grant_type");
    }
    // Grants this server has but the client was not given.
    for g in [
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "refresh_token",
    ] {
        s.post("/oauth2/token", &format!("grant_type={g}"), Some(&c))
            .await
            .assert_error(400, "unauthorized_client");
    }
    // A client registered without the grant.
    let mut record = s
        .stores
        .clients
        .get_client(&tokenmint::domain::ClientId::new("granter").unwrap())
        .await
        .unwrap()
        .unwrap();
    record.grants.clear();
    record.version += 1;
    s.stores.clients.update_client(&record).await.unwrap();
    s.clock.advance(s.config.client_cache_ttl.as_secs());
    s.post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await
        .assert_error(400, "unauthorized_client");
}

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    let s = Server::start().await;
    let c = s.client("parser").await;
    let cases: &[&str] = &[
        "grant_type=client_credentials&scope=read&scope=write",
        "grant_type=client_credentials&scope=%zz",
        "grant_type=client_credentials&scope=%",
        "grant_type=client_credentials&scope=%C3%28",
    ];
    for body in cases {
        s.post("/oauth2/token", body, Some(&c))
            .await
            .assert_error(400, "invalid_request");
    }
    // Wrong content types.
    for ct in [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
    ] {
        let r = s
            .http
            .post(format!("{}/oauth2/token", s.base))
            .header("content-type", ct)
            .header("authorization", basic_header(&c.id, &c.secret))
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{ct}");
    }
    // Raw invalid UTF-8 in the body.
    let r = s
        .http
        .post(format!("{}/oauth2/token", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic_header(&c.id, &c.secret))
        .body(b"grant_type=client_credentials&scope=\xff".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Too large.
    let big = format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(40 * 1024)
    );
    let r = s.post("/oauth2/token", &big, Some(&c)).await;
    r.assert_error(413, "invalid_request");
    // Wrong method.
    let r = s.get("/oauth2/token").await;
    r.assert_error(405, "invalid_request");
    assert_eq!(r.header("allow"), Some("POST"));
    // Two Authorization headers, as API Gateway would join them.
    let r = s
        .http
        .post(format!("{}/oauth2/token", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!(
                "{}, {}",
                basic_header(&c.id, &c.secret),
                basic_header(&c.id, &c.secret)
            ),
        )
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
