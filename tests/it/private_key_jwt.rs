//! `private_key_jwt` client authentication (RFC 7523 §2.2): clients with registered public
//! keys and no shared secret, single-use assertions, and every malformed assertion refused
//! with the same `invalid_client`.

use std::sync::Arc;

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tokenmint::admin::{self, NewClient};
use tokenmint::domain::Algorithm;
use tokenmint::domain::ClientKeys;
use tokenmint::signer::Signer;
use tokenmint::signer::local::LocalKey;
use tokenmint::{Clock, SystemClock};

use super::harness::{API, Reply, Server, url_encode};
use super::idp::Idp;

const TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

struct KeyClient {
    id: String,
    kid: String,
    key: EncodingKey,
}

impl KeyClient {
    /// An assertion with the standard claims (`iss` = `sub` = the client, `aud` the token
    /// endpoint, one minute, a fresh `jti`) adjusted by `claims` (`null` removes one).
    fn assertion(&self, s: &Server, claims: Value) -> String {
        self.assertion_with(s, Header::new(jsonwebtoken::Algorithm::ES256), claims)
    }

    fn assertion_with(&self, s: &Server, mut header: Header, claims: Value) -> String {
        let now = SystemClock.now();
        let mut c = json!({
            "iss": self.id, "sub": self.id, "aud": format!("{}/oauth2/token", s.base),
            "exp": now + 60, "iat": now, "jti": format!("{}-{}", now, rand_id()),
        });
        for (k, v) in claims.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        header.kid.get_or_insert_with(|| self.kid.clone());
        let t = jsonwebtoken::encode(&header, &c, &self.key).unwrap();
        super::harness::canary(&t);
        t
    }
}

fn rand_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

async fn key_client(s: &Server, id: &str) -> KeyClient {
    let (key, pkcs8) = LocalKey::generate(Algorithm::ES256).unwrap();
    let jwks = json!({"keys": [key.public_jwk()]}).to_string();
    admin::create_key_client(
        s.stores.clients.as_ref(),
        &s.config,
        NewClient {
            id: id.into(),
            scopes: "read write".into(),
            audiences: vec![API.into()],
            introspect: true,
            keys: Some(ClientKeys::Jwks(jwks)),
            ..Default::default()
        },
        SystemClock.now(),
    )
    .await
    .unwrap();
    KeyClient {
        id: id.into(),
        kid: key.kid().to_owned(),
        key: EncodingKey::from_ec_der(&pkcs8),
    }
}

async fn post(s: &Server, path: &str, assertion: &str, extra: &str) -> Reply {
    s.post(
        path,
        &format!(
            "client_assertion_type={}&client_assertion={}{extra}",
            url_encode(TYPE),
            url_encode(assertion)
        ),
        None,
    )
    .await
}

async fn token(s: &Server, assertion: &str) -> Reply {
    post(
        s,
        "/oauth2/token",
        assertion,
        "&grant_type=client_credentials",
    )
    .await
}

#[tokio::test]
async fn a_client_with_keys_gets_tokens_and_no_assertion_works_twice() {
    let s = Server::start().await;
    let c = key_client(&s, "keyed").await;
    let a = c.assertion(&s, json!({}));
    let r = token(&s, &a).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let claims = s
        .verify_independently(r.json["access_token"].as_str().unwrap(), API)
        .await;
    assert_eq!(claims["sub"], "keyed");
    // The same assertion again is a replay.
    token(&s, &a).await.assert_error(401, "invalid_client");
    // The issuer as audience does as well; introspection and revocation take assertions too
    // (audience_injection_is_invalid_client has the rule in full).
    let by_issuer = c.assertion(&s, json!({"aud": s.base}));
    assert_eq!(token(&s, &by_issuer).await.status, 200);
    let access = r.json["access_token"].as_str().unwrap();
    let r = post(
        &s,
        "/oauth2/introspect",
        &c.assertion(&s, json!({"aud": s.base})),
        &format!("&token={access}"),
    )
    .await;
    assert_eq!(r.json["active"], true, "{}", r.text);
    let r = post(
        &s,
        "/oauth2/revoke",
        &c.assertion(&s, json!({})),
        &format!("&token={access}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // No secret exists to guess: secret authentication fails like any other.
    let r = s
        .post(
            "/oauth2/token",
            "grant_type=client_credentials&client_id=keyed&client_secret=anything-at-all-0123456789",
            None,
        )
        .await;
    r.assert_error(401, "invalid_client");
}

#[tokio::test]
async fn bad_assertions_are_all_invalid_client() {
    let s = Server::start().await;
    let c = key_client(&s, "keyed").await;
    let other = key_client(&s, "other").await;
    let now = SystemClock.now();
    let mut forged = Header::new(jsonwebtoken::Algorithm::ES256);
    forged.kid = Some(c.kid.clone());
    let mut jku = Header::new(jsonwebtoken::Algorithm::ES256);
    jku.jku = Some("https://evil.example/jwks".into());
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong aud",
            c.assertion(&s, json!({"aud": "https://other.example/token"})),
        ),
        ("no aud", c.assertion(&s, json!({"aud": null}))),
        ("iss is not sub", c.assertion(&s, json!({"iss": "other"}))),
        (
            "sub of another client",
            c.assertion(&s, json!({"sub": "other", "iss": "other"})),
        ),
        ("expired", c.assertion(&s, json!({"exp": now - 1}))),
        (
            "too long-lived",
            c.assertion(&s, json!({"exp": now + 3600})),
        ),
        ("no exp", c.assertion(&s, json!({"exp": null}))),
        ("no jti", c.assertion(&s, json!({"jti": null}))),
        ("huge jti", c.assertion(&s, json!({"jti": "j".repeat(300)}))),
        ("iat ahead", c.assertion(&s, json!({"iat": now + 3600}))),
        (
            "another client's key under this kid",
            other.assertion_with(&s, forged, json!({"iss": "keyed", "sub": "keyed"})),
        ),
        ("key-pointing header", c.assertion_with(&s, jku, json!({}))),
        ("not a JWT", "abc".into()),
    ];
    for (name, a) in cases {
        let r = token(&s, &a).await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (401, Some("invalid_client")),
            "{name}: {}",
            r.text
        );
    }
    // A wrong assertion type, or an assertion beside a secret.
    let a = c.assertion(&s, json!({}));
    let r = s
        .post(
            "/oauth2/token",
            &format!(
                "grant_type=client_credentials&client_assertion_type=urn%3Ax&client_assertion={a}"
            ),
            None,
        )
        .await;
    r.assert_error(401, "invalid_client");
    post(
        &s,
        "/oauth2/token",
        &a,
        "&grant_type=client_credentials&client_secret=x",
    )
    .await
    .assert_error(400, "invalid_request");
    // A client_id that is not the assertion's subject.
    post(
        &s,
        "/oauth2/token",
        &a,
        "&grant_type=client_credentials&client_id=other",
    )
    .await
    .assert_error(401, "invalid_client");
}

/// Audience injection (CVE-2025-27370/27371, draft-ietf-oauth-rfc7523bis): `aud` is one
/// string, the issuer identifier or the token endpoint URL, whichever endpoint the assertion
/// authenticates to; an array, even of one element, or another endpoint URL is
/// `invalid_client`. A server of its own: each refusal counts towards the failure throttle.
#[tokio::test]
async fn audience_injection_is_invalid_client() {
    let s = Server::start().await;
    let c = key_client(&s, "keyed").await;
    let issuer = s.base.clone();
    let endpoint = |path: &str| format!("{issuer}/oauth2/{path}");
    let refused = [
        json!(["https://attacker.example/token", endpoint("revoke")]),
        json!([issuer]),
        json!([endpoint("token")]),
        json!(endpoint("revoke")),
        json!(endpoint("introspect")),
    ];
    for aud in refused {
        let r = token(&s, &c.assertion(&s, json!({ "aud": aud }))).await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (401, Some("invalid_client")),
            "aud {aud}: {}",
            r.text
        );
    }
    // Nor is the URL of the endpoint called an audience there.
    for path in ["introspect", "revoke"] {
        let a = c.assertion(&s, json!({ "aud": endpoint(path) }));
        post(&s, &format!("/oauth2/{path}"), &a, "&token=x")
            .await
            .assert_error(401, "invalid_client");
    }
    // The issuer identifier, and the token endpoint for older clients, at every endpoint.
    for aud in [issuer.clone(), endpoint("token")] {
        let r = token(&s, &c.assertion(&s, json!({ "aud": aud }))).await;
        assert_eq!(r.status, 200, "token, aud {aud}: {}", r.text);
        let access = r.json["access_token"].as_str().unwrap();
        let form = format!("&token={access}");
        let a = c.assertion(&s, json!({ "aud": aud }));
        let r = post(&s, "/oauth2/introspect", &a, &form).await;
        assert_eq!(r.json["active"], true, "introspect, aud {aud}: {}", r.text);
        let a = c.assertion(&s, json!({ "aud": aud }));
        let r = post(&s, "/oauth2/revoke", &a, &form).await;
        assert_eq!(r.status, 200, "revoke, aud {aud}: {}", r.text);
        let r = post(&s, "/oauth2/introspect", &c.assertion(&s, json!({})), &form).await;
        assert_eq!(r.json["active"], false, "revoked, aud {aud}: {}", r.text);
    }
}

#[tokio::test]
async fn fifty_parallel_uses_of_one_assertion_one_wins() {
    let s = Arc::new(Server::start().await);
    let c = key_client(&s, "keyed").await;
    let a = Arc::new(c.assertion(&s, json!({})));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (s, a) = (s.clone(), a.clone());
        tasks.push(tokio::spawn(async move { token(&s, &a).await.status }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            401 | 429 => {}
            other => panic!("status {other}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn keys_can_live_at_the_clients_jwks_uri() {
    let s = Server::start().await;
    let idp = Idp::start().await;
    admin::create_key_client(
        s.stores.clients.as_ref(),
        &s.config,
        NewClient {
            id: "remote-keys".into(),
            scopes: "read".into(),
            audiences: vec![API.into()],
            keys: Some(ClientKeys::JwksUri(idp.jwks_uri.clone())),
            ..Default::default()
        },
        SystemClock.now(),
    )
    .await
    .unwrap();
    let now = SystemClock.now();
    let claims = json!({
        "iss": "remote-keys", "sub": "remote-keys", "aud": format!("{}/oauth2/token", s.base),
        "exp": now + 60, "jti": "remote-1", "scope": null,
    });
    let a = idp.token_typ(None, claims);
    let r = token(&s, &a).await;
    assert_eq!(r.status, 200, "{}", r.text);
    token(&s, &a).await.assert_error(401, "invalid_client");
}
