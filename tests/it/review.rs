//! Regressions for the defects a security review found (token exchange, lifetimes, typed
//! principals, revocation and key retirement under changed caps). Each test failed before its
//! fix; docs/security.md lists them.

use serde_json::{Value, json};
use tokenmint::Clock;
use tokenmint::admin::NewClient;
use tokenmint::rotation::{Schedule, Step, rotate};
use tokenmint::setup;

use super::dynamodb::fresh_table;
use super::exchange::{TE, exchange, exchanger, introspect, payload};
use super::harness::{API, Creds, Reply, Server, delegation, url_encode};
use super::idp::Idp;

const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

async fn exchange_as(s: &Server, c: &Creds, subject: &str, token_type: &str, extra: &str) -> Reply {
    s.post(
        "/oauth2/token",
        &format!(
            "grant_type={}&subject_token={subject}&subject_token_type={}{extra}",
            url_encode(TE),
            url_encode(token_type)
        ),
        Some(c),
    )
    .await
}

fn access_token(r: &Reply) -> String {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["access_token"].as_str().unwrap().to_owned()
}

/// Defect 1: the client's `id_token` label made tokenmint ignore the subject token's scope and
/// grant the issuer's whole ceiling.
#[tokio::test]
async fn an_id_token_label_never_widens_the_subject_tokens_scope() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |p| {
        p.typ = Some("any".into());
        p.max_scope = Some("read:builds update:builds".into());
    })
    .await;
    let api = exchanger(&s, "build-api", "read:builds update:builds", |_| {}).await;
    let narrow = idp.token(json!({"scope": "read:builds"}));
    // An at+jwt access token labelled id_token: refused (RFC 8725 §3.11), never widened.
    let r = exchange_as(&s, &api, &narrow, ID_TOKEN, "").await;
    r.assert_error(400, "invalid_request");
    assert!(
        r.json["error_description"]
            .as_str()
            .unwrap()
            .contains("at+jwt"),
        "{}",
        r.text
    );
    // A profile that does not accept ID tokens refuses the label.
    let untyped = idp.token_typ(Some("JWT"), json!({"scope": "read:builds"}));
    exchange_as(&s, &api, &untyped, ID_TOKEN, "")
        .await
        .assert_error(400, "invalid_request");
    // A scope-less access token gets nothing without an ID-token profile, whatever its label.
    let scope_less = idp.token_typ(Some("JWT"), json!({"scope": null}));
    exchange_as(&s, &api, &scope_less, super::exchange::AT, "")
        .await
        .assert_error(400, "invalid_scope");

    // With ID tokens accepted: a scope the token carries is still never ignored ...
    idp.trust_on(&s, |p| {
        p.typ = Some("any".into());
        p.max_scope = Some("read:builds update:builds".into());
        p.id_tokens = true;
    })
    .await;
    // The server follows the new profile once its cached issuer list expires.
    s.clock.advance(s.config.client_cache_ttl.as_secs());
    let r = exchange_as(&s, &api, &untyped, ID_TOKEN, "").await;
    assert_eq!(r.json["scope"], "read:builds", "{}", r.text);
    exchange_as(&s, &api, &untyped, ID_TOKEN, "&scope=update:builds")
        .await
        .assert_error(400, "invalid_scope");
    // ... and a scope-less ID token is granted the ceiling, whatever the client calls it.
    for label in [ID_TOKEN, super::exchange::AT] {
        let r = exchange_as(&s, &api, &scope_less, label, "").await;
        assert_eq!(r.json["scope"], "read:builds update:builds", "{}", r.text);
    }
    exchange_as(&s, &api, &narrow, ID_TOKEN, "")
        .await
        .assert_error(400, "invalid_request");
}

/// A client allowed long exchanges, with the refresh of its chain if `refresh`.
async fn long_runner(s: &Server, id: &str, refresh: bool) -> Creds {
    exchanger(s, id, "read:builds update:builds", |c| {
        c.max_exchange_ttl = Some(48 * 3600);
        if refresh {
            c.grants.push("refresh_token".into());
        }
    })
    .await
}

/// A second server over `s`'s store under the same issuer, with other settings: the same
/// deployment after an operator changed its configuration.
async fn reconfigured(s: &Server, env: &[(&str, &str)]) -> Server {
    let mut vars = vec![("TOKENMINT_ISSUER", s.base.as_str())];
    vars.extend_from_slice(env);
    let t = Server::start_on(&vars, Some(s.stores.clone())).await;
    t.clock.set(s.clock.now());
    t
}

/// Defect 3: revocations were sized by the exchange cap in force when revoking, while derived
/// tokens were bounded by the cap at their issue.
#[tokio::test]
async fn revocations_outlast_descendants_after_the_exchange_cap_is_lowered() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let gateway = exchanger(&s, "gateway", "read:builds update:builds", |_| {}).await;
    let builds = long_runner(&s, "builds", false).await;
    let user = idp.token(json!({}));
    let mut parents = Vec::new();
    let mut children = Vec::new();
    for _ in 0..2 {
        let parent = access_token(&exchange(&s, &gateway, &user, "").await);
        let child = access_token(&exchange(&s, &builds, &parent, "&expires_in=172800").await);
        assert_eq!(introspect(&s, &builds, &child).await["active"], true);
        parents.push(parent);
        children.push(child);
    }
    // The operator lowers the cap to 60 s (an incident) and revokes both parents: one at once,
    // one once it is older than the new cap and expired.
    let lowered = reconfigured(&s, &[("TOKENMINT_MAX_EXCHANGE_TTL", "60")]).await;
    lowered.clock.advance(600);
    let r = lowered
        .post(
            "/oauth2/revoke",
            &format!("token={}", parents[0]),
            Some(&gateway),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    lowered.clock.advance(2 * 3600);
    let r = lowered
        .post(
            "/oauth2/revoke",
            &format!("token={}", parents[1]),
            Some(&gateway),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Hours later, past the old parents' lives and the new cap, the 48 h children stay dead.
    for server in [&s, &lowered] {
        server.clock.set(lowered.clock.now() + 3600);
        for child in &children {
            assert_eq!(introspect(server, &builds, child).await["active"], false);
        }
    }
}

/// Defect 3, for refresh families: a family revoked under a lowered cap keeps denying tokens
/// exchanged from its access tokens by a client allowed longer chains.
#[tokio::test]
async fn a_revoked_refresh_family_outlasts_its_descendants_after_the_cap_is_lowered() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let short = exchanger(&s, "short", "read:builds", |c| {
        c.max_exchange_ttl = Some(3600);
        c.grants.push("refresh_token".into());
    })
    .await;
    let builds = long_runner(&s, "builds", false).await;
    let user = idp.token(json!({}));
    let r = exchange(&s, &short, &user, "").await;
    let parent = access_token(&r);
    let refresh = r.json["refresh_token"].as_str().unwrap().to_owned();
    let child = access_token(&exchange(&s, &builds, &parent, "&expires_in=172800").await);
    let lowered = reconfigured(&s, &[("TOKENMINT_MAX_EXCHANGE_TTL", "60")]).await;
    let r = lowered
        .post("/oauth2/revoke", &format!("token={refresh}"), Some(&short))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    s.clock.advance(40 * 3600);
    assert_eq!(introspect(&s, &builds, &child).await["active"], false);
}

/// Defect 4: `--max-exchange-ttl` let a client stretch its own client_credentials token.
#[tokio::test]
async fn max_exchange_ttl_never_stretches_a_clients_own_token() {
    let s = Server::start().await;
    let me = exchanger(&s, "stretcher", "read:builds", |c| {
        c.max_exchange_ttl = Some(7 * 86_400);
        c.grants.push("client_credentials".into());
    })
    .await;
    let own = s.token(&me, "").await;
    let r = exchange(&s, &me, &own, "&expires_in=604800").await;
    r.assert_error(400, "invalid_request");
    // Without expires_in: the ordinary rules, never past the subject token.
    let r = exchange(&s, &me, &own, "").await;
    let t = access_token(&r);
    let c = s.verify_independently(&t, API).await;
    assert!(c["exp"].as_u64().unwrap() <= payload(&own)["exp"].as_u64().unwrap());
    assert!(r.json["expires_in"].as_u64().unwrap() <= 3600, "{}", r.text);
    // Another client's token is no user either.
    let other = exchanger(&s, "other", "read:builds", |c| {
        c.max_exchange_ttl = Some(7 * 86_400);
    })
    .await;
    exchange(&s, &other, &own, "&expires_in=604800")
        .await
        .assert_error(400, "invalid_request");
    // A user's chain may still be extended.
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let r = exchange(&s, &other, &idp.token(json!({})), "&expires_in=172800").await;
    assert_eq!(r.json["expires_in"], 172_800, "{}", r.text);
}

/// Defect 6: a hook-named delegation did not cap a client_credentials token at 5 minutes.
#[tokio::test]
async fn tokens_resting_on_a_hook_named_delegation_live_five_minutes() {
    let s = Server::start().await;
    let c = s
        .client_with(NewClient {
            id: "hooked".into(),
            scopes: "update:builds".into(),
            audiences: vec![API.into()],
            hook: true,
            ..Default::default()
        })
        .await;
    let now = s.clock.now();
    let d = delegation(
        "dlg-a",
        "user:alice",
        "client:hooked",
        "update:builds",
        Some(now + 86_400),
    );
    s.stores.delegations.put_delegation(&d).await.unwrap();
    let r = s
        .post(
            "/oauth2/token",
            "grant_type=client_credentials&user_id=alice",
            Some(&c),
        )
        .await;
    let t = access_token(&r);
    assert_eq!(r.json["expires_in"], 300, "{}", r.text);
    let claims = s.verify_independently(&t, API).await;
    assert_eq!(claims["dlg"], json!(["dlg-a"]));
    assert_eq!(
        claims["exp"].as_u64().unwrap(),
        claims["iat"].as_u64().unwrap() + 300
    );
}

/// Defect 7: another client's token listed the accounts that delegated to that client.
#[tokio::test]
async fn the_delegations_scope_lists_only_the_callers_own_delegations() {
    let s = Server::start().await;
    let a = s
        .client_with(NewClient {
            id: "client-a".into(),
            scopes: "read delegations".into(),
            audiences: vec![API.into()],
            ..Default::default()
        })
        .await;
    let b = exchanger(&s, "client-b", "read delegations", |_| {}).await;
    let now = s.clock.now();
    let d = delegation(
        "dlg-m",
        "user:minor",
        "client:client-a",
        "read",
        Some(now + 86_400),
    );
    s.stores.delegations.put_delegation(&d).await.unwrap();
    let own = s.token(&a, "&scope=read+delegations").await;
    let r = exchange(&s, &b, &own, "&scope=delegations").await;
    let t = access_token(&r);
    let c = s.verify_independently(&t, API).await;
    assert_eq!(c["delegated_accounts"], json!([]), "{c}");
    assert!(c.get("dlg").is_none(), "{c}");
}

/// Defect 9: after one exchange hop a client's token was taken for a user of the same name.
#[tokio::test]
async fn a_client_is_never_taken_for_a_user_of_the_same_name() {
    let s = Server::start().await;
    let a = s.introspector("client-a").await;
    let b = exchanger(&s, "client-b", "read", |_| {}).await;
    let now = s.clock.now();
    // A delegation to the *user* named client-a.
    let d = delegation(
        "dlg-u",
        "user:minor",
        "user:client-a",
        "read",
        Some(now + 86_400),
    );
    s.stores.delegations.put_delegation(&d).await.unwrap();
    let own = s.token(&a, "").await;
    let hop = access_token(&exchange(&s, &b, &own, "").await);
    exchange(&s, &b, &hop, "&requested_subject=minor")
        .await
        .assert_error(400, "invalid_request");
    let c = s.verify_independently(&hop, API).await;
    assert_eq!(c["sub"], "client-a");
    assert_eq!(c["chain"]["sub_type"], "client", "{c}");
    assert_eq!(
        c["act"],
        json!({"sub": "client-b", "client_id": "client-b"})
    );
    exchange(&s, &b, &own, "&requested_subject=minor")
        .await
        .assert_error(400, "invalid_request");
    // The user client-a, through an upstream token, may use it.
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let user = idp.token(json!({"sub": "client-a", "scope": "read"}));
    let r = exchange(&s, &b, &user, "&requested_subject=minor").await;
    let t = access_token(&r);
    let c = s.verify_independently(&t, API).await;
    assert_eq!(
        (c["sub"].clone(), c["act"].clone()),
        (json!("minor"), json!({"sub": "client-a"}))
    );
    assert_eq!(introspect(&s, &b, &t).await["active"], true);
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn rotation_step(s: &Server, force: bool) -> Vec<Step> {
    let source = setup::next_key_source(&s.config).await.unwrap();
    rotate(
        s.stores.keys.as_ref(),
        source.as_ref(),
        &Schedule::from_config(&s.config),
        s.clock.now(),
        force,
    )
    .await
    .unwrap()
}

/// Publishes a next key and promotes it, moving the clock past the publish lead.
async fn rotate_once(s: &Server) -> String {
    let steps = rotation_step(s, true).await;
    let Some(Step::Published { kid }) = steps.last().cloned() else {
        panic!("{steps:?}");
    };
    s.clock
        .advance(Schedule::from_config(&s.config).publish_lead + s.config.key_cache_ttl.as_secs());
    let steps = rotation_step(s, false).await;
    assert!(
        steps.iter().any(|x| matches!(x, Step::Promoted { .. })),
        "{steps:?}"
    );
    s.clock.advance(s.config.key_cache_ttl.as_secs());
    kid
}

async fn active_and_verifiable(s: &Server, c: &Creds, token: &str) -> Value {
    let jwks = s.get("/.well-known/jwks.json").await.json;
    let published = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == kid(token));
    json!({"published": published, "active": introspect(s, c, token).await["active"]})
}

/// Defect 10: keys retired `TOKENMINT_MAX_TTL` after they stopped signing, killing exchanged
/// tokens that may live up to `TOKENMINT_MAX_EXCHANGE_TTL`.
async fn a_48h_token_survives_two_rotations(s: &Server) {
    let idp = Idp::start().await;
    idp.trust_on(s, |_| {}).await;
    let builds = long_runner(s, "builds", false).await;
    let t = access_token(&exchange(s, &builds, &idp.token(json!({})), "&expires_in=172800").await);
    let issued = s.clock.now();
    let first = kid(&t);
    assert_ne!(rotate_once(s).await, first);
    s.clock.set(issued + 20 * 3600);
    rotate_once(s).await;
    for at in [30, 47] {
        s.clock.set(issued + at * 3600);
        rotation_step(s, false).await;
        s.clock.advance(s.config.key_cache_ttl.as_secs());
        assert_eq!(
            active_and_verifiable(s, &builds, &t).await,
            json!({"published": true, "active": true}),
            "{at} h after issue"
        );
    }
    // Once it has expired, its key goes.
    s.clock.set(issued + 48 * 3600 + 3 * 3600);
    let steps = rotation_step(s, false).await;
    assert!(
        steps
            .iter()
            .any(|x| matches!(x, Step::Retired { kid } if *kid == first)),
        "{steps:?}"
    );
}

const SHORT_ACCESS: [(&str, &str); 3] = [
    ("TOKENMINT_MAX_TTL", "1h"),
    ("TOKENMINT_MAX_EXCHANGE_TTL", "48h"),
    ("TOKENMINT_KEY_ROTATION_PERIOD", "5d"),
];

#[tokio::test]
async fn a_48h_exchanged_token_verifies_across_two_rotations_on_sqlite() {
    a_48h_token_survives_two_rotations(&Server::start_with(&SHORT_ACCESS).await).await;
}

#[tokio::test]
async fn a_48h_exchanged_token_verifies_across_two_rotations_on_dynamodb() {
    let table = fresh_table().await;
    let store = format!("dynamodb:{}", table.table());
    let mut env = SHORT_ACCESS.to_vec();
    env.extend([
        ("TOKENMINT_STORE", store.as_str()),
        ("TOKENMINT_INSECURE_LOCAL_KEY", "1"),
    ]);
    a_48h_token_survives_two_rotations(&Server::start_with(&env).await).await;
}

/// Defect 10, under a lowered cap: a key that began signing under a 48 h exchange cap stays
/// published for it after the operator lowers the cap.
#[tokio::test]
async fn a_lowered_cap_does_not_retire_a_key_early() {
    let s = Server::start_with(&SHORT_ACCESS).await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    // The first key is registered at start, under the 48 h cap.
    let builds = long_runner(&s, "builds", false).await;
    let t = access_token(&exchange(&s, &builds, &idp.token(json!({})), "&expires_in=172800").await);
    let issued = s.clock.now();
    let lowered = reconfigured(
        &s,
        &[
            ("TOKENMINT_MAX_TTL", "1h"),
            ("TOKENMINT_MAX_EXCHANGE_TTL", "1h"),
            ("TOKENMINT_KEY_ROTATION_PERIOD", "5d"),
        ],
    )
    .await;
    lowered.clock.set(issued);
    rotate_once(&lowered).await;
    lowered.clock.set(issued + 40 * 3600);
    rotation_step(&lowered, false).await;
    lowered
        .clock
        .advance(lowered.config.key_cache_ttl.as_secs());
    assert_eq!(
        active_and_verifiable(&lowered, &builds, &t).await,
        json!({"published": true, "active": true})
    );
}
