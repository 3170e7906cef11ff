//! Rotation drills: tokens signed by the old and the new key both verify through the overlap,
//! and a warm server follows the rotation without restarting.

use tokenmint::Clock;
use tokenmint::admin::NewClient;
use tokenmint::rotation::{Schedule, Step, rotate};
use tokenmint::setup;

use super::dynamodb::fresh_table;
use super::harness::{API, Creds, Server};
use super::kms::new_key;

async fn long_lived_client(s: &Server) -> Creds {
    s.client_with(NewClient {
        id: "svc".into(),
        scopes: "read".into(),
        audiences: vec![API.into()],
        ttl: Some(24 * 3600),
        introspect: true,
        ..Default::default()
    })
    .await
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn published(s: &Server) -> Vec<String> {
    let jwks = s.get("/.well-known/jwks.json").await.json;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs one scheduled rotation at the server's clock.
async fn step(s: &Server, force: bool) -> Vec<Step> {
    let source = setup::next_key_source(&s.config).await.unwrap();
    let schedule = Schedule::from_config(&s.config);
    rotate(
        s.stores.keys.as_ref(),
        source.as_ref(),
        &schedule,
        s.clock.now(),
        force,
    )
    .await
    .unwrap()
}

/// Lets the server's key cache expire, as time passes for a warm process.
fn after_key_cache(s: &Server, secs: u64) {
    s.clock.advance(secs + s.config.key_cache_ttl.as_secs());
}

/// A full rotation; returns the client, the old key and the new.
pub(super) async fn drill(s: &Server) -> (Creds, String, String) {
    let c = long_lived_client(s).await;
    let schedule = Schedule::from_config(&s.config);
    let old_token = s.token(&c, "").await;
    let old = kid(&old_token);
    assert_eq!(published(s).await, std::slice::from_ref(&old));

    let steps = step(s, true).await;
    let [Step::Published { kid: new }] = steps.as_slice() else {
        panic!("{steps:?}");
    };
    after_key_cache(s, 0);
    // Published before it signs anything.
    assert_eq!(published(s).await.len(), 2);
    assert!(published(s).await.contains(new));
    assert_eq!(kid(&s.token(&c, "").await), old);

    after_key_cache(s, schedule.publish_lead);
    let steps = step(s, false).await;
    assert!(
        matches!(steps.as_slice(), [Step::Promoted { .. }]),
        "{steps:?}"
    );
    s.clock.advance(s.config.key_cache_ttl.as_secs());
    let new_token = s.token(&c, "").await;
    assert_eq!(
        &kid(&new_token),
        new,
        "the warm server signs with the new key"
    );

    // Both verify, independently and by introspection, through the overlap.
    for t in [&old_token, &new_token] {
        assert_eq!(s.verify_independently(t, API).await["sub"], "svc");
        let r = s
            .post("/oauth2/introspect", &format!("token={t}"), Some(&c))
            .await;
        assert_eq!(r.json["active"], true, "{t}");
    }

    // After every token of the old key has expired, it is unpublished.
    after_key_cache(s, schedule.retire_lag);
    let steps = step(s, false).await;
    assert!(
        matches!(steps.first(), Some(Step::Retired { .. })),
        "{steps:?}"
    );
    s.clock.advance(s.config.key_cache_ttl.as_secs());
    assert!(!published(s).await.contains(&old));
    assert!(published(s).await.contains(new));
    let new = new.clone();
    (c, old, new)
}

#[tokio::test]
async fn rotation_drill_with_local_keys() {
    drill(&Server::start().await).await;
}

#[tokio::test]
async fn rotation_drill_with_kms_keys_over_dynamodb() {
    let first = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let spare = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let table = fresh_table().await;
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms:{first}");
    let s = Server::start_with(&[
        ("TOKENMINT_STORE", &store),
        ("TOKENMINT_SIGNER", &signer),
        ("TOKENMINT_KMS_KEYS", &spare),
    ])
    .await;
    drill(&s).await;
}

/// In `kms` mode the configured keys take turns: the record of a retired key is removed, and
/// the key is registered afresh from KMS when it comes round again.
#[tokio::test]
async fn a_kms_key_comes_round_again_after_its_record_is_removed() {
    let first = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let spare = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let table = fresh_table().await;
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms:{first}");
    let s = Server::start_with(&[
        ("TOKENMINT_STORE", &store),
        ("TOKENMINT_SIGNER", &signer),
        ("TOKENMINT_KMS_KEYS", &spare),
    ])
    .await;
    let (c, old, new) = drill(&s).await;
    let schedule = Schedule::from_config(&s.config);
    after_key_cache(&s, schedule.publish_lead);
    let steps = step(&s, true).await;
    assert!(
        matches!(steps.as_slice(), [Step::Removed { kid }, Step::Published { kid: next }]
            if *kid == old && *next == old),
        "{steps:?}"
    );
    let kids: Vec<String> = s
        .stores
        .keys
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
    after_key_cache(&s, schedule.publish_lead);
    let steps = step(&s, false).await;
    assert!(
        matches!(steps.as_slice(), [Step::Promoted { .. }]),
        "{steps:?}"
    );
    s.clock.advance(s.config.key_cache_ttl.as_secs());
    let token = s.token(&c, "").await;
    assert_eq!(kid(&token), old, "the first KMS key signs again");
    assert_eq!(s.verify_independently(&token, API).await["sub"], "svc");
    assert!(published(&s).await.contains(&new));
}
