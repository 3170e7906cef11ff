//! Delegation through token exchange: a guardian acting for a minor (`requested_subject`),
//! the `delegations` scope, and step-up for high-privilege scopes.

use serde_json::json;
use tokenmint::{Clock, SystemClock};

use super::exchange::{exchange, exchanger, introspect};
use super::harness::{API, Server, delegation};
use super::idp::Idp;

const BANK: &str = "accounts:read accounts:transact delegations";

#[tokio::test]
async fn a_guardian_acts_for_a_minor_only_with_a_live_delegation() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let bank = exchanger(&s, "bank-app", BANK, |_| {}).await;
    let guardian = idp.token(json!({"sub": "g1", "scope": BANK}));
    // No delegation: the same answer as for an account that does not exist.
    let r = exchange(&s, &bank, &guardian, "&requested_subject=m1").await;
    r.assert_error(400, "invalid_request");
    let nobody = exchange(&s, &bank, &guardian, "&requested_subject=nobody").await;
    assert_eq!(
        nobody.json["error_description"],
        r.json["error_description"]
    );

    let now = SystemClock.now();
    let d = delegation(
        "dlg-m1",
        "user:m1",
        "user:g1",
        "accounts:read accounts:transact",
        Some(now + 86_400),
    );
    s.stores.delegations.put_delegation(&d).await.unwrap();
    let r = exchange(
        &s,
        &bank,
        &guardian,
        "&requested_subject=m1&scope=accounts:read",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["access_token"].as_str().unwrap().to_owned();
    let c = s.verify_independently(&token, API).await;
    assert_eq!(c["sub"], "m1");
    assert_eq!(c["act"], json!({"sub": "g1"}));
    assert_eq!(c["dlg"], json!(["dlg-m1"]));
    assert!(c["exp"].as_u64().unwrap() <= s.clock.now() + 300);
    let i = introspect(&s, &bank, &token).await;
    assert_eq!(
        (i["active"].clone(), i["act"].clone()),
        (json!(true), json!({"sub": "g1"}))
    );

    // Re-exchanged, even by a client allowed long exchanges, it stays short.
    let long = exchanger(&s, "long-runner", BANK, |c| {
        c.max_exchange_ttl = Some(48 * 3600)
    })
    .await;
    let r = exchange(&s, &long, &token, "&expires_in=172800&scope=accounts:read").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["expires_in"].as_u64().unwrap() <= 300, "{}", r.text);
    // The accounts of the account one acts for are not listed: no chained delegation.
    exchange(
        &s,
        &bank,
        &guardian,
        "&requested_subject=m1&scope=accounts:read+delegations",
    )
    .await
    .assert_error(400, "invalid_scope");
    // Beyond the delegation's scopes, or on to another account from a delegated token: no.
    exchange(
        &s,
        &bank,
        &guardian,
        "&requested_subject=m1&scope=delegations",
    )
    .await
    .assert_error(400, "invalid_scope");
    let other = delegation("dlg-m2", "user:m2", "user:m1", "accounts:read", None);
    s.stores.delegations.put_delegation(&other).await.unwrap();
    exchange(&s, &bank, &token, "&requested_subject=m2")
        .await
        .assert_error(400, "invalid_request");

    // Revoked: the token is inactive at once; no new one is issued.
    s.stores
        .delegations
        .remove_delegation(&"user:m1".parse().unwrap(), &"user:g1".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(introspect(&s, &bank, &token).await["active"], false);
    exchange(&s, &bank, &guardian, "&requested_subject=m1")
        .await
        .assert_error(400, "invalid_request");
    // Expired: the same.
    let d = delegation(
        "dlg-m1b",
        "user:m1",
        "user:g1",
        "accounts:read",
        Some(now - 1),
    );
    s.stores.delegations.put_delegation(&d).await.unwrap();
    exchange(&s, &bank, &guardian, "&requested_subject=m1")
        .await
        .assert_error(400, "invalid_request");
}

#[tokio::test]
async fn the_delegations_scope_lists_accounts_within_a_bound() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let bank = exchanger(&s, "bank-app", BANK, |_| {}).await;
    let guardian = idp.token(json!({"sub": "g1", "scope": BANK}));
    for i in 0..3 {
        let d = delegation(
            &format!("d{i}"),
            &format!("user:minor-{i:02}"),
            "user:g1",
            "accounts:read",
            None,
        );
        s.stores.delegations.put_delegation(&d).await.unwrap();
    }
    let r = exchange(&s, &bank, &guardian, "&scope=delegations").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["access_token"].as_str().unwrap().to_owned();
    let c = s.verify_independently(&token, API).await;
    assert_eq!(c["sub"], "g1");
    assert_eq!(
        c["delegated_accounts"][0],
        json!({"id": "minor-00", "scope": "accounts:read"})
    );
    assert_eq!(c["delegated_accounts"].as_array().unwrap().len(), 3);
    assert!(c.get("delegated_accounts_truncated").is_none());
    assert!(c["exp"].as_u64().unwrap() <= s.clock.now() + 300);
    // Any listed delegation revoked: the token no longer stands.
    s.stores
        .delegations
        .remove_delegation(
            &"user:minor-01".parse().unwrap(),
            &"user:g1".parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(introspect(&s, &bank, &token).await["active"], false);
    for i in 3..25 {
        let d = delegation(
            &format!("d{i}"),
            &format!("user:minor-{i:02}"),
            "user:g1",
            "accounts:read",
            None,
        );
        s.stores.delegations.put_delegation(&d).await.unwrap();
    }
    let r = exchange(&s, &bank, &guardian, "&scope=delegations").await;
    let c = s
        .verify_independently(r.json["access_token"].as_str().unwrap(), API)
        .await;
    assert_eq!(c["delegated_accounts"].as_array().unwrap().len(), 20);
    assert_eq!(c["delegated_accounts_truncated"], true);
}

#[tokio::test]
async fn high_privilege_scopes_need_a_strong_login() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    tokenmint::trust::set_scope_rule(
        s.stores.scope_rules.as_ref(),
        "accounts:transact",
        vec!["urn:example:otp".into(), "urn:example:webauthn".into()],
        1,
    )
    .await
    .unwrap();
    let bank = exchanger(&s, "bank-app", BANK, |_| {}).await;
    for acr in [None, Some("urn:example:pwd")] {
        let mut claims = json!({"sub": "g1", "scope": BANK});
        if let Some(a) = acr {
            claims["acr"] = a.into();
        }
        let r = exchange(&s, &bank, &idp.token(claims), "&scope=accounts:transact").await;
        r.assert_error(400, "insufficient_user_authentication");
        assert_eq!(r.json["acr_values"], "urn:example:otp urn:example:webauthn");
    }
    // Scopes without a rule need nothing.
    let weak = idp.token(json!({"sub": "g1", "scope": BANK, "acr": "urn:example:pwd"}));
    assert_eq!(
        exchange(&s, &bank, &weak, "&scope=accounts:read")
            .await
            .status,
        200
    );
    let strong = idp.token(json!({"sub": "g1", "scope": BANK, "acr": "urn:example:webauthn", "amr": ["hwk"], "auth_time": 5}));
    let r = exchange(&s, &bank, &strong, "&scope=accounts:transact").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = s
        .verify_independently(r.json["access_token"].as_str().unwrap(), API)
        .await;
    assert_eq!(
        (c["acr"].clone(), c["amr"].clone(), c["auth_time"].clone()),
        (json!("urn:example:webauthn"), json!(["hwk"]), json!(5))
    );
}

#[tokio::test]
async fn a_clients_delegations_serve_that_client_only() {
    let s = Server::start().await;
    let a = s.client("client-a").await;
    let b = exchanger(&s, "client-b", "read", |_| {}).await;
    let d = delegation("dlg-a", "user:alice", "client:client-a", "read", None);
    s.stores.delegations.put_delegation(&d).await.unwrap();
    // A's token is addressed to an audience B serves, so B may exchange it, but not use A's
    // delegation to become alice.
    let a_token = s.token(&a, "").await;
    exchange(&s, &b, &a_token, "&requested_subject=alice")
        .await
        .assert_error(400, "invalid_request");
    assert_eq!(exchange(&s, &b, &a_token, "").await.status, 200);
}
