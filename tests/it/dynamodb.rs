//! The DynamoDB store against a real protocol peer (moto server, started by `infra/test`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokenmint::store::dynamodb::DynamoStore;
use tokenmint::store::{ClientStore, StoreError, Stores, contract};

use super::harness::Server;

/// The emulator's address. Never falls back to real AWS, and never skips: without the
/// emulator these tests fail with instructions.
pub fn emulator() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run infra/test, which starts moto server on 127.0.0.1")
    })
}

/// A fresh, empty table on the emulator.
pub async fn fresh_table() -> DynamoStore {
    static N: AtomicU32 = AtomicU32::new(0);
    let endpoint = emulator();
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "tests only talk to loopback: {endpoint}"
    );
    let name = format!(
        "tm-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let store = DynamoStore::from_env(name).await;
    store.create_table().await.unwrap();
    store
}

#[tokio::test]
async fn contract_suite_on_dynamodb() {
    contract::run_all(Stores::from_one(Arc::new(fresh_table().await))).await;
}

#[tokio::test]
async fn racing_updates_have_exactly_one_winner() {
    let store = Arc::new(fresh_table().await);
    let base = contract::sample_client("raced");
    store.create_client(&base).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20u64 {
        let (store, mut c) = (Arc::clone(&store), base.clone());
        tasks.push(tokio::spawn(async move {
            c.version += 1;
            c.token_ttl = Some(100 + i);
            store.update_client(&c).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn a_retried_write_that_succeeded_is_not_a_conflict() {
    // What the SDK does when a response is lost: send the same conditional write again.
    let store = fresh_table().await;
    let c = contract::sample_client("retried");
    store.create_client(&c).await.unwrap();
    store.create_client(&c).await.unwrap();
    let mut next = c.clone();
    next.version += 1;
    next.disabled = true;
    store.update_client(&next).await.unwrap();
    store.update_client(&next).await.unwrap();
    // A different write still conflicts.
    let mut other = contract::sample_client("retried");
    other.created_at = 99;
    assert!(matches!(
        store.create_client(&other).await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn the_endpoints_run_unchanged_over_dynamodb() {
    let table = fresh_table().await;
    let store = format!("dynamodb:{}", table.table());
    let s = Server::start_with(&[
        ("TOKENMINT_STORE", &store),
        ("TOKENMINT_INSECURE_LOCAL_KEY", "1"),
        ("TOKENMINT_CLIENT_CACHE_TTL", "0"),
    ])
    .await;
    let gw = s.introspector("gw").await;
    let token = s.token(&gw, "").await;
    let claims = s.verify_independently(&token, super::harness::API).await;
    assert_eq!(claims["sub"], "gw");
    let r = s
        .post("/oauth2/introspect", &format!("token={token}"), Some(&gw))
        .await;
    assert_eq!(r.json["active"], true);
    assert_eq!(
        s.post("/oauth2/revoke", &format!("token={token}"), Some(&gw))
            .await
            .status,
        200
    );
    let r = s
        .post("/oauth2/introspect", &format!("token={token}"), Some(&gw))
        .await;
    assert_eq!(r.json["active"], false);
}
