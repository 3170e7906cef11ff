//! Token exchange (RFC 8693) end to end: downscoping a user's upstream token for a build job,
//! re-exchanging, lifetimes and chain revocation, and every escalation attempt.

use serde_json::{Value, json};
use tokenmint::Clock;
use tokenmint::admin::NewClient;

use super::harness::{API, Creds, Reply, Server, url_encode};
use super::idp::Idp;

pub const TE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const AT: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Posts an exchange of `subject` (an access token) with extra form parameters.
pub async fn exchange(s: &Server, c: &Creds, subject: &str, extra: &str) -> Reply {
    s.post(
        "/oauth2/token",
        &format!(
            "grant_type={}&subject_token={subject}&subject_token_type={}{extra}",
            url_encode(TE),
            url_encode(AT)
        ),
        Some(c),
    )
    .await
}

/// A client allowed token exchange with `scopes` and the test API as audience.
pub async fn exchanger(
    s: &Server,
    id: &str,
    scopes: &str,
    f: impl FnOnce(&mut NewClient),
) -> Creds {
    let mut spec = NewClient {
        id: id.into(),
        scopes: scopes.into(),
        audiences: vec![API.into()],
        grants: vec!["token-exchange".into()],
        introspect: true,
        ..Default::default()
    };
    f(&mut spec);
    s.client_with(spec).await
}

/// A JWT's claims, unverified (the test's own upstream tokens).
pub fn payload(token: &str) -> Value {
    use base64::Engine as _;
    let p = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub async fn introspect(s: &Server, c: &Creds, token: &str) -> Value {
    let r = s
        .post("/oauth2/introspect", &format!("token={token}"), Some(c))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

#[tokio::test]
async fn a_build_job_gets_a_narrower_token_that_keeps_the_user() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let api = exchanger(&s, "build-api", "read:builds update:builds", |_| {}).await;
    let user = idp.token(json!({"acr": "urn:example:pwd", "amr": ["pwd"], "auth_time": 1}));
    let r = exchange(&s, &api, &user, "&scope=update:builds").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.json["issued_token_type"], AT);
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(r.json["scope"], "update:builds");
    assert!(r.json.get("refresh_token").is_none());
    let token = r.json["access_token"].as_str().unwrap();
    let c = s.verify_independently(token, API).await;
    assert_eq!(c["sub"], "u1");
    assert_eq!(
        c["act"],
        json!({"sub": "build-api", "client_id": "build-api"})
    );
    assert_eq!(c["client_id"], "build-api");
    assert_eq!(c["scope"], "update:builds");
    assert_eq!(c["acr"], "urn:example:pwd");
    assert_eq!(c["amr"], json!(["pwd"]));
    assert_eq!(c["auth_time"], 1);
    assert_eq!(c[format!("{}/claims/idp", s.base)], idp.issuer.as_str());
    // Never outlives the subject token.
    let upstream = payload(&user);
    assert!(c["exp"].as_u64().unwrap() <= upstream["exp"].as_u64().unwrap());
    let i = introspect(&s, &api, token).await;
    assert_eq!(i["active"], true);
    assert_eq!(
        i["act"],
        json!({"sub": "build-api", "client_id": "build-api"})
    );
    // Without a scope: all the subject and client have in common.
    let r = exchange(&s, &api, &user, "").await;
    assert_eq!(r.json["scope"], "read:builds update:builds", "{}", r.text);
    // requested_token_type jwt is the same token, named so.
    let r = exchange(
        &s,
        &api,
        &user,
        "&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt",
    )
    .await;
    assert_eq!(
        r.json["issued_token_type"],
        "urn:ietf:params:oauth:token-type:jwt"
    );
}

#[tokio::test]
async fn escalations_are_refused() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let api = exchanger(&s, "build-api", "read:builds update:builds admin", |_| {}).await;
    let plain = s.client("no-exchange").await;
    let user = idp.token(json!({}));
    let cases: Vec<(String, String, u16, &str)> = vec![
        // More scope than the subject token has, though the client may have it.
        (user.clone(), "&scope=admin".into(), 400, "invalid_scope"),
        (user.clone(), "&scope=update:builds+admin".into(), 400, "invalid_scope"),
        // An audience the client does not have.
        (user.clone(), "&audience=https://other.example".into(), 400, "invalid_target"),
        // A subject token addressed to another API.
        (idp.token(json!({"aud": "https://other.example"})), String::new(), 400, "invalid_request"),
        // An external token claiming our client as client_id or azp does not count.
        (
            idp.token(json!({"aud": "https://other.example", "client_id": "build-api", "azp": "build-api", "may_act": {"sub": "build-api"}})),
            String::new(),
            400,
            "invalid_request",
        ),
        (idp.token(json!({"exp": 1000, "iat": 900})), String::new(), 400, "invalid_request"),
        (idp.token_typ(Some("JWT"), json!({})), String::new(), 400, "invalid_request"),
        (idp.token_typ(None, json!({})), String::new(), 400, "invalid_request"),
        (idp.token(json!({"iss": "https://evil.example/"})), String::new(), 400, "invalid_request"),
        ("not-a-token".into(), String::new(), 400, "invalid_request"),
        (user.clone(), "&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token".into(), 400, "invalid_request"),
        (user.clone(), format!("&actor_token={user}&actor_token_type={}", url_encode(AT)), 400, "invalid_request"),
        (user.clone(), "&expires_in=99999".into(), 400, "invalid_request"),
    ];
    for (subject, extra, status, code) in cases {
        let r = exchange(&s, &api, &subject, &extra).await;
        r.assert_error(status, code);
    }
    // Parameters cannot forge the actor.
    let r = exchange(
        &s,
        &api,
        &idp.token(json!({})),
        "&act=%7B%22sub%22%3A%22root%22%7D&actor=root",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = s
        .verify_independently(r.json["access_token"].as_str().unwrap(), API)
        .await;
    assert_eq!(
        c["act"],
        json!({"sub": "build-api", "client_id": "build-api"})
    );
    // A signature by a key the IdP does not publish.
    idp.add_key_published(false);
    exchange(&s, &api, &idp.token(json!({})), "")
        .await
        .assert_error(400, "invalid_request");
    // Missing parameters; a client without the grant.
    let r = s
        .post(
            "/oauth2/token",
            &format!("grant_type={}&subject_token={user}", url_encode(TE)),
            Some(&api),
        )
        .await;
    r.assert_error(400, "invalid_request");
    exchange(&s, &plain, &user, "")
        .await
        .assert_error(400, "unauthorized_client");
}

#[tokio::test]
async fn re_exchanging_only_narrows_and_nests_actors() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let api = exchanger(&s, "build-api", "read:builds update:builds", |_| {}).await;
    let worker = exchanger(&s, "worker", "read:builds update:builds", |_| {}).await;
    let r = exchange(&s, &api, &idp.token(json!({})), "&scope=update:builds").await;
    let first = r.json["access_token"].as_str().unwrap().to_owned();
    let first_claims = s.verify_independently(&first, API).await;
    // Addressed to the API, which the worker also serves: it may exchange it, narrower only.
    exchange(&s, &worker, &first, "&scope=read:builds")
        .await
        .assert_error(400, "invalid_scope");
    let r = exchange(&s, &worker, &first, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let second = s
        .verify_independently(r.json["access_token"].as_str().unwrap(), API)
        .await;
    assert_eq!(second["sub"], "u1");
    assert_eq!(second["scope"], "update:builds");
    assert_eq!(
        second["act"],
        json!({"sub": "worker", "client_id": "worker", "act": {"sub": "build-api", "client_id": "build-api"}})
    );
    assert_eq!(second["chain"]["jti"], json!([first_claims["jti"]]));
    assert!(second["exp"].as_u64() <= first_claims["exp"].as_u64());
    // Nesting stops at the documented depth.
    let mut token = r.json["access_token"].as_str().unwrap().to_owned();
    let mut depth = 2;
    loop {
        let r = exchange(&s, &api, &token, "").await;
        if depth == 4 {
            r.assert_error(400, "invalid_request");
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        token = r.json["access_token"].as_str().unwrap().to_owned();
        depth += 1;
    }
}

#[tokio::test]
async fn a_build_outlives_the_users_token_but_not_a_revoked_parent() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let gateway = exchanger(&s, "gateway", "read:builds update:builds", |_| {}).await;
    let builds = exchanger(&s, "build-api", "update:builds", |c| {
        c.max_exchange_ttl = Some(48 * 3600);
    })
    .await;
    // The gateway's token (tokenmint's own, derived from the user's) lives an hour at most.
    let user = idp.token(json!({}));
    let r = exchange(&s, &gateway, &user, "").await;
    let parent = r.json["access_token"].as_str().unwrap().to_owned();
    let pc = s.verify_independently(&parent, API).await;
    // The build job asks for two days from the chain's first token.
    let r = exchange(&s, &builds, &parent, "&expires_in=172800").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let child = r.json["access_token"].as_str().unwrap().to_owned();
    let cc = s.verify_independently(&child, API).await;
    let root_iat = pc["chain"]["iat"].as_u64().unwrap();
    assert!(cc["exp"].as_u64().unwrap() > pc["exp"].as_u64().unwrap());
    assert!(cc["exp"].as_u64().unwrap() <= root_iat + 48 * 3600);
    assert_eq!(cc["chain"]["until"].as_u64().unwrap(), root_iat + 48 * 3600);
    // More than allowed is cut to the cap; re-exchanging cannot reset the clock, and a
    // client without the privilege cannot extend at all.
    let r = exchange(&s, &builds, &child, "&expires_in=999999").await;
    let again = s
        .verify_independently(r.json["access_token"].as_str().unwrap(), API)
        .await;
    assert!(again["exp"].as_u64().unwrap() <= root_iat + 48 * 3600);
    let r = exchange(&s, &gateway, &child, "").await;
    let short = s
        .verify_independently(r.json["access_token"].as_str().unwrap(), API)
        .await;
    assert!(short["exp"].as_u64().unwrap() <= cc["exp"].as_u64().unwrap());
    assert!(short["exp"].as_u64().unwrap() <= s.clock.now() + 3600);

    // The parent expiring does not end the child.
    s.clock.advance(3 * 3600);
    assert_eq!(introspect(&s, &gateway, &parent).await["active"], false);
    assert_eq!(introspect(&s, &builds, &child).await["active"], true);
    // The parent revoked does, at once, and for as long as the child could live.
    let r = s
        .post("/oauth2/revoke", &format!("token={parent}"), Some(&gateway))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(introspect(&s, &builds, &child).await["active"], false);
    s.clock.advance(40 * 3600);
    assert_eq!(introspect(&s, &builds, &child).await["active"], false);
}

#[tokio::test]
async fn id_tokens_and_scp_follow_the_issuer_profile() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |p| {
        p.typ = Some("JWT".into());
        p.scope_claim = Some("scp".into());
        p.max_scope = Some("read:builds".into());
        p.id_tokens = true;
        p.subject_prefix = Some("okta|".into());
        p.map_claims = vec!["groups=roles".into()];
        p.audiences = vec![API.into()];
    })
    .await;
    let api = exchanger(&s, "build-api", "read:builds update:builds", |_| {}).await;
    // scp as an array; the ceiling cuts update:builds.
    let t = idp.token_typ(
        Some("JWT"),
        json!({"scope": null, "scp": ["read:builds", "update:builds"], "groups": ["admins"]}),
    );
    let r = exchange(&s, &api, &t, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = s
        .verify_independently(r.json["access_token"].as_str().unwrap(), API)
        .await;
    assert_eq!(c["sub"], "okta|u1");
    assert_eq!(c["scope"], "read:builds");
    assert_eq!(c[format!("{}/claims/roles", s.base)], json!(["admins"]));
    // An ID token gets the ceiling.
    let id_token = idp.token_typ(None, json!({"scope": null}));
    let r = s
        .post(
            "/oauth2/token",
            &format!(
                "grant_type={}&subject_token={id_token}&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token",
                url_encode(TE)
            ),
            Some(&api),
        )
        .await;
    assert_eq!(r.json["scope"], "read:builds", "{}", r.text);
}

#[tokio::test]
async fn scope_less_tokens_without_a_ceiling_get_nothing() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let api = exchanger(&s, "build-api", "read:builds", |_| {}).await;
    exchange(&s, &api, &idp.token(json!({"scope": null})), "")
        .await
        .assert_error(400, "invalid_scope");
}

#[tokio::test]
async fn made_up_key_ids_cannot_make_tokenmint_hammer_the_jwks() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let api = exchanger(&s, "build-api", "read:builds", |_| {}).await;
    assert_eq!(
        exchange(&s, &api, &idp.token(json!({})), "").await.status,
        200
    );
    assert_eq!(idp.fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
    idp.add_key_published(false);
    for _ in 0..10 {
        exchange(&s, &api, &idp.token(json!({})), "")
            .await
            .assert_error(400, "invalid_request");
    }
    assert!(idp.fetches.load(std::sync::atomic::Ordering::SeqCst) <= 2);
}

#[tokio::test]
async fn jwks_fetch_failure_fails_closed() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    // Trusted with a JWKS URI nobody listens on.
    idp.trust_on(&s, |p| p.jwks_uri = "http://127.0.0.1:9/jwks".into())
        .await;
    let api = exchanger(&s, "build-api", "read:builds", |_| {}).await;
    let r = exchange(&s, &api, &idp.token(json!({})), "").await;
    r.assert_error(503, "temporarily_unavailable");
    // A failed fetch is not retried for 30 s: that is when an answer can change.
    assert_eq!(r.header("retry-after"), Some("30"));
}

/// Counts the reads of the trusted-issuer list and of the step-up rules that reach the store.
struct CountingLists {
    inner: tokenmint::store::Stores,
    issuers: std::sync::atomic::AtomicU32,
    rules: std::sync::atomic::AtomicU32,
}

#[async_trait::async_trait]
impl tokenmint::store::IssuerStore for CountingLists {
    async fn put_issuer(
        &self,
        i: &tokenmint::domain::TrustedIssuer,
    ) -> Result<(), tokenmint::store::StoreError> {
        self.inner.issuers.put_issuer(i).await
    }
    async fn list_issuers(
        &self,
    ) -> Result<Vec<tokenmint::domain::TrustedIssuer>, tokenmint::store::StoreError> {
        self.issuers
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.issuers.list_issuers().await
    }
    async fn remove_issuer(&self, i: &str) -> Result<bool, tokenmint::store::StoreError> {
        self.inner.issuers.remove_issuer(i).await
    }
}

#[async_trait::async_trait]
impl tokenmint::store::ScopeRuleStore for CountingLists {
    async fn put_scope_rule(
        &self,
        r: &tokenmint::domain::ScopeRule,
    ) -> Result<(), tokenmint::store::StoreError> {
        self.inner.scope_rules.put_scope_rule(r).await
    }
    async fn list_scope_rules(
        &self,
    ) -> Result<Vec<tokenmint::domain::ScopeRule>, tokenmint::store::StoreError> {
        self.rules.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.scope_rules.list_scope_rules().await
    }
    async fn remove_scope_rule(&self, s: &str) -> Result<bool, tokenmint::store::StoreError> {
        self.inner.scope_rules.remove_scope_rule(s).await
    }
}

#[tokio::test]
async fn exchanges_read_issuers_and_step_up_rules_once_per_cache_lifetime() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::SeqCst;

    let sqlite = Arc::new(tokenmint::store::sqlite::SqliteStore::open_in_memory().unwrap());
    let counting = Arc::new(CountingLists {
        inner: tokenmint::store::Stores::from_one(sqlite),
        issuers: Default::default(),
        rules: Default::default(),
    });
    let mut stores = counting.inner.clone();
    stores.issuers = counting.clone();
    stores.scope_rules = counting.clone();
    let s = Server::start_on(&[], Some(stores)).await;
    let idp = Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let api = exchanger(&s, "busy-api", "read:builds", |_| {}).await;
    let reads = || (counting.issuers.load(SeqCst), counting.rules.load(SeqCst));
    let before = reads();
    for _ in 0..5 {
        let r = exchange(&s, &api, &idp.token(json!({})), "&scope=read:builds").await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(reads(), (before.0 + 1, before.1 + 1));
    // Once the cache lifetime (TOKENMINT_CLIENT_CACHE_TTL) has passed, each is read again.
    s.clock.advance(s.config.client_cache_ttl.as_secs());
    let r = exchange(&s, &api, &idp.token(json!({})), "&scope=read:builds").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(reads(), (before.0 + 2, before.1 + 2));
}
