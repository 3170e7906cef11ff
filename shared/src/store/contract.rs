//! The contract every store adapter must meet. Adapter tests call [`run_all`] with a fresh,
//! empty store; the same assertions then hold for SQLite, memory and any later backend.

// Test support: a failed unwrap here is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::{KeyChange, StoreError, Stores};
use crate::domain::Algorithm;
use crate::domain::PublicJwk;
use crate::domain::{
    AccessTokenClaims, Actor, Audience, Chain, ClaimMapping, Client, ClientId, ClientSecret,
    Delegation, GrantType, Principal, RefreshRecord, Scope, ScopeClaim, ScopeRule, ScopeSet,
    SecretEntry, TrustedIssuer, TypRule,
};
use crate::domain::{KeyMaterial, KeyRecord, KeyStatus};

/// Runs every contract check against `stores`, which must start empty.
pub async fn run_all(stores: Stores) {
    // Each check uses its own ids, so the order is free.
    clients(&stores).await;
    keys(&stores).await;
    revocations(&stores).await;
    delegations(&stores).await;
    issuers(&stores).await;
    scope_rules(&stores).await;
    refresh_tokens(&stores).await;
    auth_failures(&stores).await;
    assertion_ids(&stores).await;
}

async fn assertion_ids(stores: &Stores) {
    let s = stores.assertion_ids.as_ref();
    assert!(s.first_use("a1", 1_300, 1_000).await.unwrap());
    assert!(!s.first_use("a1", 1_300, 1_100).await.unwrap());
    assert!(s.first_use("a2", 1_300, 1_100).await.unwrap());
    // Once expired, the id may be used again (its assertion cannot be, being expired too).
    assert!(s.first_use("a1", 1_700, 1_300).await.unwrap());
    // Of 50 concurrent uses, exactly one is the first.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let st = Arc::clone(&stores.assertion_ids);
        tasks.push(tokio::spawn(async move {
            st.first_use("a3", 3_000, 2_000).await
        }));
    }
    let mut firsts = 0;
    for t in tasks {
        firsts += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(firsts, 1);
}

async fn auth_failures(stores: &Stores) {
    let s = stores.auth_failures.as_ref();
    assert_eq!(
        s.add_auth_failure("k1", 1_000, 300).await.unwrap(),
        (1, 1_300)
    );
    assert_eq!(
        s.add_auth_failure("k1", 1_100, 300).await.unwrap(),
        (2, 1_300)
    );
    // Another key counts apart.
    assert_eq!(
        s.add_auth_failure("k2", 1_100, 300).await.unwrap(),
        (1, 1_400)
    );
    // At the window's end a new one opens.
    assert_eq!(
        s.add_auth_failure("k1", 1_300, 300).await.unwrap(),
        (1, 1_600)
    );
    // Concurrent failures each count.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let st = Arc::clone(&stores.auth_failures);
        tasks.push(tokio::spawn(async move {
            st.add_auth_failure("k3", 2_000, 300).await
        }));
    }
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap().unwrap().0);
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=10).collect::<Vec<u32>>());
}

pub fn sample_client(id: &str) -> Client {
    Client {
        id: ClientId::new(id).expect("valid test id"),
        secrets: vec![SecretEntry {
            hash: ClientSecret::generate().hash(),
            created_at: 1,
            expires_at: None,
        }],
        scopes: ScopeSet::parse("read write").expect("valid scopes"),
        default_scopes: ScopeSet::parse("read").expect("valid scopes"),
        audiences: vec![Audience::new("https://api.example.com").expect("valid audience")],
        token_ttl: Some(600),
        grants: vec![GrantType::ClientCredentials],
        max_exchange_ttl: None,
        keys: None,
        federated: vec![],
        introspect: false,
        hook: false,
        attributes: vec![],
        disabled: false,
        created_at: 1,
        version: 1,
    }
}

fn sample_key(n: u8) -> KeyRecord {
    let public_jwk = PublicJwk::ec_p256(&[n; 32], &[2; 32], Algorithm::ES256);
    KeyRecord {
        kid: public_jwk.kid.clone(),
        alg: Algorithm::ES256,
        status: KeyStatus::Active,
        public_jwk,
        material: KeyMaterial::Local {
            pkcs8: "not-a-real-key".into(),
        },
        created_at: 10,
        activated_at: Some(10),
        published_at: Some(10),
        retire_after: None,
        retire_lag: None,
    }
}

async fn clients(s: &Stores) {
    let c = sample_client("contract-a");
    assert!(s.clients.get_client(&c.id).await.unwrap().is_none());
    s.clients.create_client(&c).await.unwrap();
    assert_eq!(s.clients.get_client(&c.id).await.unwrap(), Some(c.clone()));
    // Writing the identical record again is what a retry of a successful write looks like:
    // success. A different record under the same id is a conflict.
    s.clients.create_client(&c).await.unwrap();
    let mut other = c.clone();
    other.created_at += 1;
    assert!(matches!(
        s.clients.create_client(&other).await,
        Err(StoreError::Conflict(_))
    ));

    let mut next = c.clone();
    next.version += 1;
    next.disabled = true;
    s.clients.update_client(&next).await.unwrap();
    assert_eq!(
        s.clients.get_client(&c.id).await.unwrap(),
        Some(next.clone())
    );
    // Retrying the same update succeeds; a writer that read the old version loses.
    s.clients.update_client(&next).await.unwrap();
    let mut stale = c.clone();
    stale.version += 1;
    assert!(matches!(
        s.clients.update_client(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    let ghost = sample_client("contract-ghost");
    let mut ghost_next = ghost.clone();
    ghost_next.version += 1;
    assert!(matches!(
        s.clients.update_client(&ghost_next).await,
        Err(StoreError::NotFound(_))
    ));

    s.clients
        .create_client(&sample_client("contract-0"))
        .await
        .unwrap();
    assert_eq!(client_ids(s).await, ["contract-0", "contract-a"]);

    // A delete by a writer that read an older version loses; the current version deletes,
    // and deleting again finds nothing.
    assert!(matches!(
        s.clients.delete_client(&c.id, c.version).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.clients.delete_client(&c.id, next.version).await.unwrap());
    assert!(!s.clients.delete_client(&c.id, next.version).await.unwrap());
    assert!(s.clients.get_client(&c.id).await.unwrap().is_none());
    assert_eq!(client_ids(s).await, ["contract-0"]);
}

async fn client_ids(s: &Stores) -> Vec<String> {
    let clients = s.clients.list_clients().await.unwrap();
    clients.into_iter().map(|c| c.id.to_string()).collect()
}

async fn keys(s: &Stores) {
    assert!(s.keys.list_keys().await.unwrap().is_empty());
    // Racing first starts agree on a single active key.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let keys = Arc::clone(&s.keys);
        tasks.push(tokio::spawn(async move {
            keys.init_active_key(&sample_key(i)).await.unwrap()
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        winners.push(t.await.unwrap().kid);
    }
    winners.dedup();
    assert_eq!(winners.len(), 1, "{winners:?}");
    let listed = s.keys.list_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kid, winners[0]);
    assert_eq!(listed[0].status, KeyStatus::Active);

    // Rotation's steps: publish a next key, promote it, retire the old one.
    let a = listed[0].clone();
    let with = |k: &KeyRecord, status: KeyStatus| KeyRecord {
        status,
        ..k.clone()
    };
    let b = with(&sample_key(200), KeyStatus::Next);
    let publish = [KeyChange {
        expected: None,
        record: b.clone(),
    }];
    s.keys.transition(&publish).await.unwrap();
    assert!(matches!(
        s.keys.transition(&publish).await,
        Err(StoreError::Conflict(_))
    ));
    let promote = [
        KeyChange {
            expected: Some(KeyStatus::Next),
            record: with(&b, KeyStatus::Active),
        },
        KeyChange {
            expected: Some(KeyStatus::Active),
            record: with(&a, KeyStatus::Retiring),
        },
    ];
    s.keys.transition(&promote).await.unwrap();
    let status =
        |kid: &str, keys: &[KeyRecord]| keys.iter().find(|k| k.kid == kid).map(|k| k.status);
    let keys = s.keys.list_keys().await.unwrap();
    assert_eq!(status(&a.kid, &keys), Some(KeyStatus::Retiring));
    assert_eq!(status(&b.kid, &keys), Some(KeyStatus::Active));
    // The new active key is the one a starting process finds.
    assert_eq!(
        s.keys.init_active_key(&sample_key(201)).await.unwrap().kid,
        b.kid
    );
    // All or nothing: one stale expectation and no change is applied.
    let mixed = [
        KeyChange {
            expected: Some(KeyStatus::Retiring),
            record: with(&a, KeyStatus::Retired),
        },
        KeyChange {
            expected: Some(KeyStatus::Next),
            record: with(&b, KeyStatus::Retired),
        },
    ];
    assert!(matches!(
        s.keys.transition(&mixed).await,
        Err(StoreError::Conflict(_))
    ));
    let keys = s.keys.list_keys().await.unwrap();
    assert_eq!(status(&a.kid, &keys), Some(KeyStatus::Retiring));
    assert_eq!(status(&b.kid, &keys), Some(KeyStatus::Active));
    assert_eq!(keys.len(), 2);
    removing_retired_keys(s, &a, &b).await;
}

/// Only a retired record is removed; its key may then be stored again (a KMS key coming
/// round as the next key).
async fn removing_retired_keys(s: &Stores, retiring: &KeyRecord, active: &KeyRecord) {
    let with = |k: &KeyRecord, status: KeyStatus| KeyRecord {
        status,
        ..k.clone()
    };
    let status =
        |kid: &str, keys: &[KeyRecord]| keys.iter().find(|k| k.kid == kid).map(|k| k.status);
    for k in [retiring, active] {
        assert!(!s.keys.remove_retired_key(&k.kid).await.unwrap());
    }
    assert!(!s.keys.remove_retired_key("no-such-kid").await.unwrap());
    assert_eq!(s.keys.list_keys().await.unwrap().len(), 2);
    s.keys
        .transition(&[KeyChange {
            expected: Some(KeyStatus::Retiring),
            record: with(retiring, KeyStatus::Retired),
        }])
        .await
        .unwrap();
    assert!(s.keys.remove_retired_key(&retiring.kid).await.unwrap());
    assert!(!s.keys.remove_retired_key(&retiring.kid).await.unwrap());
    let keys = s.keys.list_keys().await.unwrap();
    assert_eq!(status(&retiring.kid, &keys), None);
    assert_eq!(status(&active.kid, &keys), Some(KeyStatus::Active));
    // Stored again as new, it is a record like any other.
    let again = [KeyChange {
        expected: None,
        record: with(retiring, KeyStatus::Next),
    }];
    s.keys.transition(&again).await.unwrap();
    let keys = s.keys.list_keys().await.unwrap();
    assert_eq!(status(&retiring.kid, &keys), Some(KeyStatus::Next));
    assert!(!s.keys.remove_retired_key(&retiring.kid).await.unwrap());
}

async fn revocations(s: &Stores) {
    let r = &s.revocations;
    assert!(!r.is_revoked("j", 0).await.unwrap());
    r.revoke("j", 100).await.unwrap();
    assert!(r.is_revoked("j", 99).await.unwrap());
    // Expiry is decided by the caller's clock, not by a sweeper.
    assert!(!r.is_revoked("j", 100).await.unwrap());
    // Idempotent, and a later revocation never shortens an earlier one.
    r.revoke("j", 50).await.unwrap();
    assert!(r.is_revoked("j", 99).await.unwrap());
    r.revoke("j", 200).await.unwrap();
    assert!(r.is_revoked("j", 150).await.unwrap());
    assert!(!r.is_revoked("other", 0).await.unwrap());
}

fn delegation(id: &str, delegator: &str, delegate: &str, scopes: &str) -> Delegation {
    Delegation {
        id: id.into(),
        delegator: delegator.parse().unwrap(),
        delegate: delegate.parse().unwrap(),
        scopes: ScopeSet::parse(scopes).unwrap(),
        expires_at: Some(1_000),
        created_by: "contract".into(),
        created_at: 1,
    }
}

async fn delegations(stores: &Stores) {
    let s = stores.delegations.as_ref();
    let p = |v: &str| v.parse::<Principal>().unwrap();
    let minor = delegation(
        "d-minor",
        "user:minor-7",
        "user:guardian-3",
        "accounts:read pay",
    );
    let build = delegation("d-build", "user:alice", "client:build-api", "update:builds");
    let other = delegation(
        "d-other",
        "user:minor-8",
        "user:guardian-3",
        "accounts:read",
    );
    for d in [&minor, &build, &other] {
        s.put_delegation(d).await.unwrap();
    }
    // A retried identical write succeeds.
    s.put_delegation(&minor).await.unwrap();
    assert_eq!(
        s.delegation(&p("user:minor-7"), &p("user:guardian-3"))
            .await
            .unwrap(),
        Some(minor.clone())
    );
    assert_eq!(
        s.delegation_by_id("d-build").await.unwrap(),
        Some(build.clone())
    );
    assert_eq!(
        s.delegation(&p("user:guardian-3"), &p("user:minor-7"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.delegation_by_id("d-none").await.unwrap(), None);
    let to_guardian = s.delegations_to(&p("user:guardian-3")).await.unwrap();
    assert_eq!(to_guardian.len(), 2, "{to_guardian:?}");
    let from_alice = s.delegations_from(&p("user:alice")).await.unwrap();
    assert_eq!(from_alice, vec![build.clone()]);

    // Granting again replaces the delegation under a new id: the old id no longer counts.
    let mut wider = minor.clone();
    wider.id = "d-minor-2".into();
    wider.scopes = ScopeSet::parse("accounts:read pay transfer").unwrap();
    s.put_delegation(&wider).await.unwrap();
    assert_eq!(s.delegation_by_id("d-minor").await.unwrap(), None);
    assert_eq!(
        s.delegation_by_id("d-minor-2").await.unwrap(),
        Some(wider.clone())
    );
    assert_eq!(
        s.delegation(&p("user:minor-7"), &p("user:guardian-3"))
            .await
            .unwrap(),
        Some(wider.clone())
    );

    // Removal deletes both views; removing again finds nothing.
    let removed = s
        .remove_delegation(&p("user:minor-7"), &p("user:guardian-3"))
        .await
        .unwrap();
    assert_eq!(removed, Some(wider));
    assert_eq!(s.delegation_by_id("d-minor-2").await.unwrap(), None);
    assert_eq!(
        s.remove_delegation(&p("user:minor-7"), &p("user:guardian-3"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.delegations_to(&p("user:guardian-3")).await.unwrap(),
        vec![other]
    );
}

fn sample_issuer(issuer: &str) -> TrustedIssuer {
    TrustedIssuer {
        issuer: issuer.into(),
        jwks_uri: format!("{issuer}/jwks.json"),
        audiences: vec!["tokenmint".into()],
        typ: TypRule::Jwt,
        scope_claim: ScopeClaim::Scp,
        max_scope: Some(ScopeSet::parse("read").unwrap()),
        id_tokens: true,
        subject_prefix: Some("idp|".into()),
        claim_map: vec!["groups=roles".parse::<ClaimMapping>().unwrap()],
        created_at: 1,
    }
}

async fn issuers(stores: &Stores) {
    let s = stores.issuers.as_ref();
    let sorted = |mut v: Vec<TrustedIssuer>| {
        v.sort_by(|a, b| a.issuer.cmp(&b.issuer));
        v
    };
    assert!(s.list_issuers().await.unwrap().is_empty());
    let a = sample_issuer("https://idp-a.example.com");
    let b = sample_issuer("https://idp-b.example.com");
    s.put_issuer(&a).await.unwrap();
    s.put_issuer(&b).await.unwrap();
    assert_eq!(
        sorted(s.list_issuers().await.unwrap()),
        vec![a.clone(), b.clone()]
    );
    // Putting a profile with the same `issuer` replaces it.
    let a2 = TrustedIssuer {
        typ: TypRule::AtJwt,
        max_scope: None,
        created_at: 2,
        ..a.clone()
    };
    s.put_issuer(&a2).await.unwrap();
    assert_eq!(sorted(s.list_issuers().await.unwrap()), vec![a2, b.clone()]);
    assert!(s.remove_issuer(&a.issuer).await.unwrap());
    assert!(!s.remove_issuer(&a.issuer).await.unwrap());
    assert_eq!(s.list_issuers().await.unwrap(), vec![b]);
}

async fn scope_rules(stores: &Stores) {
    let s = stores.scope_rules.as_ref();
    let rule = |scope: &str, acr: &[&str], at| ScopeRule {
        scope: Scope::new(scope).unwrap(),
        acr: acr.iter().map(|&a| a.to_owned()).collect(),
        updated_at: at,
    };
    let sorted = |mut v: Vec<ScopeRule>| {
        v.sort_by(|a, b| a.scope.cmp(&b.scope));
        v
    };
    assert!(s.list_scope_rules().await.unwrap().is_empty());
    let pay = rule("pay", &["mfa"], 1);
    let transfer = rule("transfer", &["mfa", "hwk"], 1);
    s.put_scope_rule(&pay).await.unwrap();
    s.put_scope_rule(&transfer).await.unwrap();
    assert_eq!(
        sorted(s.list_scope_rules().await.unwrap()),
        vec![pay.clone(), transfer.clone()]
    );
    // Putting a rule for the same scope replaces it.
    let pay2 = rule("pay", &["hwk"], 2);
    s.put_scope_rule(&pay2).await.unwrap();
    assert_eq!(
        sorted(s.list_scope_rules().await.unwrap()),
        vec![pay2, transfer.clone()]
    );
    assert!(s.remove_scope_rule("pay").await.unwrap());
    assert!(!s.remove_scope_rule("pay").await.unwrap());
    assert_eq!(s.list_scope_rules().await.unwrap(), vec![transfer]);
}

/// An unused refresh token record with every claim set, for store tests.
pub fn sample_refresh(hash: &str, family: &str) -> RefreshRecord {
    let mut extra = serde_json::Map::new();
    extra.insert(
        "https://tokenmint.example/roles".into(),
        serde_json::json!(["admin"]),
    );
    RefreshRecord {
        hash: hash.into(),
        family: family.into(),
        client_id: ClientId::new("contract-refresh").expect("valid test id"),
        claims: AccessTokenClaims {
            iss: "https://tokenmint.example".into(),
            sub: "user-1".into(),
            aud: "https://api.example.com".into(),
            exp: 1_600,
            iat: 1_000,
            nbf: 1_000,
            jti: format!("jti-{hash}"),
            client_id: "contract-refresh".into(),
            scope: "read write".into(),
            act: Some(Actor::new("gateway", Some(Actor::new("edge", None)))),
            dlg: vec!["d-1".into()],
            chain: Some(Chain {
                iat: 900,
                until: 10_000,
                jti: vec![family.into()],
                sub_type: Some(crate::domain::PrincipalKind::User),
            }),
            acr: Some("mfa".into()),
            amr: Some(vec!["pwd".into(), "otp".into()]),
            auth_time: Some(950),
            extra,
        },
        created_at: 1_000,
        expires_at: 100_000,
        idle_expires_at: 10_000,
        used_at: None,
        upstream_issuer: Some("https://idp.example/".into()),
        replaced_by: None,
    }
}

async fn refresh_tokens(stores: &Stores) {
    let s = stores.refresh_tokens.as_ref();
    let conflict = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Conflict(_)));
    let now = 2_000;
    let a = sample_refresh("rt-a", "fam-1");
    s.put_refresh_token(&a).await.unwrap();
    assert_eq!(s.refresh_token("rt-a").await.unwrap(), Some(a.clone()));
    // The identical record again is a retried write; a different one under the hash is not.
    s.put_refresh_token(&a).await.unwrap();
    let mut other = a.clone();
    other.family = "fam-other".into();
    assert!(conflict(s.put_refresh_token(&other).await));
    assert_eq!(s.refresh_token("rt-a").await.unwrap(), Some(a.clone()));
    assert_eq!(s.refresh_token("rt-unknown").await.unwrap(), None);

    // Rotation marks the used token and stores the next one.
    let b = sample_refresh("rt-b", "fam-1");
    s.rotate_refresh_token("rt-a", now, &b).await.unwrap();
    let used = s.refresh_token("rt-a").await.unwrap().unwrap();
    assert_eq!(used.used_at, Some(now));
    assert_eq!(used.replaced_by.as_deref(), Some("rt-b"));
    assert_eq!(
        used,
        RefreshRecord {
            used_at: Some(now),
            replaced_by: Some("rt-b".into()),
            ..a.clone()
        }
    );
    assert_eq!(s.refresh_token("rt-b").await.unwrap(), Some(b.clone()));
    // The same rotation again is a retried call: success. Any other rotation of a used token
    // is reuse, and stores nothing.
    s.rotate_refresh_token("rt-a", now, &b).await.unwrap();
    let c = sample_refresh("rt-c", "fam-1");
    assert!(conflict(s.rotate_refresh_token("rt-a", now, &c).await));
    assert_eq!(s.refresh_token("rt-c").await.unwrap(), None);
    assert!(conflict(
        s.rotate_refresh_token("rt-unknown", now, &c).await
    ));
    assert_eq!(s.refresh_token("rt-c").await.unwrap(), None);

    // Concurrent redemptions of one token: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = Arc::clone(&stores.refresh_tokens);
        let next = sample_refresh(&format!("rt-race-{i}"), "fam-1");
        tasks.push(tokio::spawn(async move {
            store.rotate_refresh_token("rt-b", now + 1, &next).await
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
    let mut stored = Vec::new();
    for i in 0..20 {
        let hash = format!("rt-race-{i}");
        if s.refresh_token(&hash).await.unwrap().is_some() {
            stored.push(hash);
        }
    }
    assert_eq!(stored.len(), 1, "{stored:?}");
    let used = s.refresh_token("rt-b").await.unwrap().unwrap();
    assert_eq!(used.used_at, Some(now + 1));
    assert_eq!(used.replaced_by.as_ref(), Some(&stored[0]));
}
