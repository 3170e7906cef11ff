//! `POST /oauth2/revoke` (RFC 7009).

use super::harness::Server;

#[tokio::test]
async fn revoked_tokens_are_inactive_until_they_expire() {
    let s = Server::start().await;
    let c = s.introspector("svc").await;
    let token = s.token(&c, "").await;
    let keep = s.token(&c, "").await;
    let r = s
        .post(
            "/oauth2/revoke",
            &format!("token={token}&token_type_hint=access_token"),
            Some(&c),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let introspect = |t: String| {
        let c = c.clone();
        let s = &s;
        async move {
            s.post("/oauth2/introspect", &format!("token={t}"), Some(&c))
                .await
                .json["active"]
                .clone()
        }
    };
    assert_eq!(introspect(token.clone()).await, false);
    assert_eq!(introspect(keep.clone()).await, true);
    // Revoking again, garbage, or an expired token: 200 and nothing else happens.
    for t in [token.as_str(), "garbage", "a.b.c"] {
        assert_eq!(
            s.post("/oauth2/revoke", &format!("token={t}"), Some(&c))
                .await
                .status,
            200
        );
    }
    s.clock.advance(3599);
    assert_eq!(introspect(token.clone()).await, false);
    assert_eq!(introspect(keep.clone()).await, true);
    s.clock.advance(1);
    assert_eq!(
        s.post("/oauth2/revoke", &format!("token={keep}"), Some(&c))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn another_clients_token_is_refused_and_stays_valid() {
    let s = Server::start().await;
    let owner = s.introspector("owner").await;
    let thief = s.client("thief").await;
    let token = s.token(&owner, "").await;
    s.post("/oauth2/revoke", &format!("token={token}"), Some(&thief))
        .await
        .assert_error(400, "unauthorized_client");
    let r = s
        .post(
            "/oauth2/introspect",
            &format!("token={token}"),
            Some(&owner),
        )
        .await;
    assert_eq!(r.json["active"], true);
    s.post("/oauth2/revoke", "", Some(&owner))
        .await
        .assert_error(400, "invalid_request");
    s.post("/oauth2/revoke", &format!("token={token}"), None)
        .await
        .assert_error(401, "invalid_client");
}
