//! `POST /oauth2/introspect` (RFC 7662).

use super::harness::{API, Creds, Server};

#[tokio::test]
async fn active_tokens_carry_their_metadata() {
    let s = Server::start().await;
    let c = s.client("svc").await;
    let gw = s.introspector("gateway").await;
    let token = s.token(&c, "&scope=read+write").await;
    let r = s
        .post("/oauth2/introspect", &format!("token={token}"), Some(&gw))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let j = &r.json;
    assert_eq!(j["active"], true);
    assert_eq!(j["scope"], "read write");
    assert_eq!(j["client_id"], "svc");
    assert_eq!(j["sub"], "svc");
    assert_eq!(j["aud"], API);
    assert_eq!(j["iss"], s.base.as_str());
    assert_eq!(j["token_type"], "Bearer");
    for k in ["exp", "iat", "nbf"] {
        assert!(j[k].is_u64(), "{k}");
    }
    assert!(j["jti"].is_string());
    // token_type_hint is accepted and changes nothing.
    let r = s
        .post(
            "/oauth2/introspect",
            &format!("token={token}&token_type_hint=refresh_token"),
            Some(&gw),
        )
        .await;
    assert_eq!(r.json["active"], true);
}

#[tokio::test]
async fn everything_else_is_exactly_inactive() {
    let s = Server::start().await;
    let other = Server::start().await;
    let c = s.client("svc").await;
    let gw = s.introspector("gateway").await;
    let foreign = other.token(&other.client("svc").await, "").await;
    let billing = s.token(&c, "&audience=billing").await;
    let good = s.token(&c, "").await;
    let mut tampered = good.clone();
    tampered.replace_range(good.len() - 4.., "AAAA");
    let cases = [
        "garbage".to_owned(),
        format!("{good}x"),
        tampered,
        foreign, // another issuer's key
        billing, // not addressed to the caller's audiences
        "a.b.c".to_owned(),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_owned(),
    ];
    for t in cases {
        let r = s
            .post("/oauth2/introspect", &format!("token={t}"), Some(&gw))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.text, r#"{"active":false}"#, "{t}");
    }
}

#[tokio::test]
async fn expiry_follows_the_clock() {
    let s = Server::start_with(&[
        ("TOKENMINT_DEFAULT_TTL", "60s"),
        ("TOKENMINT_LEEWAY", "10s"),
    ])
    .await;
    let c = s.client("svc").await;
    let gw = s.introspector("gateway").await;
    let token = s.token(&c, "").await;
    s.clock.advance(59);
    assert_eq!(active(&s, &gw, &token).await, Some(true));
    s.clock.advance(1);
    assert_eq!(active(&s, &gw, &token).await, Some(false));
    // Not yet valid beyond the leeway: a token minted "in the future" of a lagging verifier.
    let fresh = s.token(&c, "").await;
    s.clock.set(tokenmint::Clock::now(s.clock.as_ref()) - 11);
    assert_eq!(active(&s, &gw, &fresh).await, Some(false));
    s.clock.advance(1);
    assert_eq!(active(&s, &gw, &fresh).await, Some(true));
}

async fn active(s: &Server, gw: &Creds, t: &str) -> Option<bool> {
    s.post("/oauth2/introspect", &format!("token={t}"), Some(gw))
        .await
        .json["active"]
        .as_bool()
}

#[tokio::test]
async fn only_introspection_clients_may_ask() {
    let s = Server::start().await;
    let c = s.client("svc").await;
    let token = s.token(&c, "").await;
    s.post("/oauth2/introspect", &format!("token={token}"), Some(&c))
        .await
        .assert_error(400, "unauthorized_client");
    s.post("/oauth2/introspect", &format!("token={token}"), None)
        .await
        .assert_error(401, "invalid_client");
    let gw = s.introspector("gateway").await;
    s.post("/oauth2/introspect", "", Some(&gw))
        .await
        .assert_error(400, "invalid_request");
}
