//! Refresh tokens with rotation (RFC 6749 §6, RFC 9700 §4.14): issued with exchanged tokens,
//! rotated on every use; reuse, revocation or a failed re-check ends the whole family.

use std::sync::Arc;

use serde_json::json;

use super::exchange::{exchange, exchanger, introspect};
use super::harness::{API, Creds, Reply, Server};
use super::idp::Idp;

async fn refresh(s: &Server, c: &Creds, token: &str, extra: &str) -> Reply {
    s.post(
        "/oauth2/token",
        &format!("grant_type=refresh_token&refresh_token={token}{extra}"),
        Some(c),
    )
    .await
}

async fn setup() -> (Server, Idp, Creds, String) {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let api = exchanger(&s, "build-api", "read:builds update:builds", |c| {
        c.grants.push("refresh_token".into());
    })
    .await;
    let r = exchange(&s, &api, &idp.token(json!({})), "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rt = r.json["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    assert_eq!(rt.len(), 43);
    (s, idp, api, rt)
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let (s, _idp, api, first) = setup().await;
    let r = refresh(&s, &api, &first, "&scope=update:builds").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["scope"], "update:builds");
    let second = r.json["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let access = r.json["access_token"].as_str().unwrap().to_owned();
    let c = s.verify_independently(&access, API).await;
    assert_eq!(
        (c["sub"].clone(), c["act"].clone()),
        (
            json!("u1"),
            json!({"sub": "build-api", "client_id": "build-api"})
        )
    );
    // Narrowed for good: the next refresh cannot widen again.
    refresh(&s, &api, &second, "&scope=read:builds")
        .await
        .assert_error(400, "invalid_scope");
    // Reuse of the first: the family ends, what the winner holds included.
    refresh(&s, &api, &first, "")
        .await
        .assert_error(400, "invalid_grant");
    refresh(&s, &api, &second, "")
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(introspect(&s, &api, &access).await["active"], false);
}

#[tokio::test]
async fn a_refresh_token_is_bound_to_its_client_and_revocable() {
    let (s, idp, api, rt) = setup().await;
    let thief = exchanger(&s, "thief", "read:builds", |c| {
        c.grants.push("refresh_token".into())
    })
    .await;
    refresh(&s, &thief, &rt, "")
        .await
        .assert_error(400, "invalid_grant");
    // Presented by another client, it is treated as stolen: the family is over.
    refresh(&s, &api, &rt, "")
        .await
        .assert_error(400, "invalid_grant");

    let r = exchange(&s, &api, &idp.token(json!({})), "").await;
    let rt = r.json["refresh_token"].as_str().unwrap().to_owned();
    let access = r.json["access_token"].as_str().unwrap().to_owned();
    let r = s
        .post(
            "/oauth2/revoke",
            &format!("token={rt}&token_type_hint=refresh_token"),
            Some(&api),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    refresh(&s, &api, &rt, "")
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(introspect(&s, &api, &access).await["active"], false);
    // Garbage and unknown tokens.
    for bad in ["x", &"A".repeat(43)] {
        refresh(&s, &api, bad, "")
            .await
            .assert_error(400, "invalid_grant");
    }
}

#[tokio::test]
async fn fifty_concurrent_redemptions_one_winner() {
    let (s, _idp, api, rt) = setup().await;
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (s, api, rt) = (s.clone(), api.clone(), rt.clone());
        tasks.push(tokio::spawn(
            async move { refresh(&s, &api, &rt, "").await },
        ));
    }
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => ok += 1,
            _ => r.assert_error(400, "invalid_grant"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn refresh_never_outlives_the_chain() {
    let (s, _idp, api, rt) = setup().await;
    // The user's token lived an hour: no refresh past it.
    s.clock.advance(3601);
    refresh(&s, &api, &rt, "")
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn a_revoked_delegation_ends_the_family() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let bank = exchanger(&s, "bank-app", "accounts:read", |c| {
        c.grants.push("refresh_token".into());
    })
    .await;
    let d = super::harness::delegation("dlg-1", "user:m1", "user:g1", "accounts:read", None);
    s.stores.delegations.put_delegation(&d).await.unwrap();
    let guardian = idp.token(json!({"sub": "g1", "scope": "accounts:read"}));
    let r = exchange(&s, &bank, &guardian, "&requested_subject=m1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rt = r.json["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh(&s, &bank, &rt, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.json["expires_in"].as_u64().unwrap() <= 300,
        "a delegated token stays short"
    );
    let rt = r.json["refresh_token"].as_str().unwrap().to_owned();
    s.stores
        .delegations
        .remove_delegation(&"user:m1".parse().unwrap(), &"user:g1".parse().unwrap())
        .await
        .unwrap();
    refresh(&s, &bank, &rt, "")
        .await
        .assert_error(400, "invalid_grant");
    // Re-granting does not revive the family: it was revoked.
    let d = super::harness::delegation("dlg-2", "user:m1", "user:g1", "accounts:read", None);
    s.stores.delegations.put_delegation(&d).await.unwrap();
    refresh(&s, &bank, &rt, "")
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn refresh_re_checks_what_the_first_token_rested_on() {
    // Revoking the access token that came with the refresh token ends the family.
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let api = exchanger(&s, "build-api", "read:builds update:builds", |c| {
        c.grants.push("refresh_token".into());
    })
    .await;
    let fresh = |scope: &'static str| {
        let (s, api, idp) = (&s, &api, &idp);
        async move {
            let r = exchange(s, api, &idp.token(json!({"acr": "pwd"})), scope).await;
            assert_eq!(r.status, 200, "{}", r.text);
            (
                r.json["access_token"].as_str().unwrap().to_owned(),
                r.json["refresh_token"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (access, rt) = fresh("").await;
    let r = s
        .post("/oauth2/revoke", &format!("token={access}"), Some(&api))
        .await;
    assert_eq!(r.status, 200);
    refresh(&s, &api, &rt, "")
        .await
        .assert_error(400, "invalid_grant");

    // A step-up rule added later applies on refresh, once the server's cached rules expire.
    let (_, rt) = fresh("&scope=update:builds").await;
    tokenmint::trust::set_scope_rule(
        s.stores.scope_rules.as_ref(),
        "update:builds",
        vec!["otp".into()],
        1,
    )
    .await
    .unwrap();
    s.clock.advance(s.config.client_cache_ttl.as_secs());
    refresh(&s, &api, &rt, "")
        .await
        .assert_error(400, "invalid_grant");

    // The upstream issuer no longer trusted: its families end (within the cache lifetime).
    let (_, rt) = fresh("&scope=read:builds").await;
    assert_eq!(refresh(&s, &api, &rt, "").await.status, 200);
    let (_, rt) = fresh("&scope=read:builds").await;
    tokenmint::trust::remove_issuer(s.stores.issuers.as_ref(), &idp.issuer)
        .await
        .unwrap();
    s.clock.advance(s.config.client_cache_ttl.as_secs());
    refresh(&s, &api, &rt, "")
        .await
        .assert_error(400, "invalid_grant");
}
