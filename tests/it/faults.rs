//! Fail closed: when the store fails, no token is issued and no revocation is reported done.

use std::sync::atomic::Ordering;

use super::harness::Server;

fn assert_unavailable(r: &super::harness::Reply) {
    r.assert_error(503, "temporarily_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.json.get("access_token").is_none());
    assert!(
        !r.text.contains("injected fault"),
        "the cause stays in the log"
    );
}

#[tokio::test]
async fn no_token_while_the_client_store_is_down() {
    let s = Server::start_with(&[("TOKENMINT_CLIENT_CACHE_TTL", "0")]).await;
    let c = s.client("svc").await;
    s.faults.clients.store(true, Ordering::SeqCst);
    let r = s
        .post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await;
    assert_unavailable(&r);
    s.faults.clients.store(false, Ordering::SeqCst);
    s.token(&c, "").await;
}

#[tokio::test]
async fn a_revocation_that_was_not_stored_is_never_200() {
    let s = Server::start().await;
    let c = s.introspector("svc").await;
    let token = s.token(&c, "").await;
    s.faults.revocations.store(true, Ordering::SeqCst);
    let r = s
        .post("/oauth2/revoke", &format!("token={token}"), Some(&c))
        .await;
    assert_unavailable(&r);
    // Introspection cannot tell whether the token is revoked, so it does not guess.
    let r = s
        .post("/oauth2/introspect", &format!("token={token}"), Some(&c))
        .await;
    assert_unavailable(&r);
    s.faults.revocations.store(false, Ordering::SeqCst);
    let r = s
        .post("/oauth2/introspect", &format!("token={token}"), Some(&c))
        .await;
    assert_eq!(
        r.json["active"], true,
        "the failed revocation left nothing behind"
    );
    assert_eq!(
        s.post("/oauth2/revoke", &format!("token={token}"), Some(&c))
            .await
            .status,
        200
    );
    let r = s
        .post("/oauth2/introspect", &format!("token={token}"), Some(&c))
        .await;
    assert_eq!(r.json["active"], false);
}
