//! Workload identity federation end to end (docs/federation.md): a build job presents the OIDC
//! token its platform gave it (here a fake platform on loopback, with a discovery document and
//! a JWKS) as an RFC 7523 client assertion, and gets the client's token when the client's CEL
//! condition holds.

use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokenmint::admin::NewClient;
use tokenmint::federation::{self, NewCredential};
use tokenmint::{Clock, SystemClock};

use super::exchange::payload;
use super::harness::{API, Reply, Server, url_encode};
use super::idp::Idp;

const TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const TE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const CONDITION: &str = r#"claims.repository_id == "42" && claims.ref == "refs/heads/main" && claims.event_name != "pull_request_target""#;

/// A platform token of the job: GitHub Actions' claims, addressed to the server.
fn job_token(idp: &Idp, s: &Server, over: Value) -> String {
    let mut claims = json!({
        "sub": "repo:octo-org/app:ref:refs/heads/main",
        "aud": s.base,
        "scope": null,
        "jti": format!("job-{}", SystemClock.now()),
        "repository": "octo-org/app",
        "repository_id": "42",
        "repository_owner_id": "7",
        "ref": "refs/heads/main",
        "event_name": "push",
        "run_id": "9001",
    });
    for (k, v) in over.as_object().unwrap() {
        claims[k] = v.clone();
    }
    idp.token_typ(Some("JWT"), claims)
}

/// Registers `id`, authenticated only by `idp`'s tokens satisfying [`CONDITION`].
async fn federated_client(s: &Server, idp: &Idp, id: &str, f: impl FnOnce(&mut NewClient)) {
    let mut spec = NewClient {
        id: id.into(),
        scopes: "update:builds read:builds".into(),
        audiences: vec![API.into()],
        introspect: true,
        ..Default::default()
    };
    f(&mut spec);
    federation::create_federated_client(
        s.stores.clients.as_ref(),
        &s.config,
        spec,
        NewCredential {
            issuer: idp.issuer.clone(),
            condition: CONDITION.into(),
            map_claims: vec!["repository=repo".into(), "run_id=run".into()],
            ..Default::default()
        },
        s.clock.now(),
    )
    .await
    .unwrap();
}

/// POSTs with the platform token as the client assertion.
async fn post_as(s: &Server, path: &str, client_id: Option<&str>, jwt: &str, body: &str) -> Reply {
    let id = client_id.map_or(String::new(), |c| format!("&client_id={c}"));
    s.post(
        path,
        &format!(
            "{body}{id}&client_assertion_type={}&client_assertion={}",
            url_encode(TYPE),
            url_encode(jwt)
        ),
        None,
    )
    .await
}

async fn token_as(s: &Server, client_id: &str, jwt: &str) -> Reply {
    post_as(
        s,
        "/oauth2/token",
        Some(client_id),
        jwt,
        "grant_type=client_credentials",
    )
    .await
}

#[tokio::test]
async fn a_build_job_authenticates_with_its_platform_token() {
    let s = Server::start().await;
    let ci = Idp::start().await;
    federated_client(&s, &ci, "deploy", |_| {}).await;
    let jwt = job_token(&ci, &s, json!({}));
    let r = token_as(&s, "deploy", &jwt).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["access_token"].as_str().unwrap().to_owned();
    let c = s.verify_independently(&token, API).await;
    assert_eq!(
        (c["sub"].as_str(), c["client_id"].as_str()),
        (Some("deploy"), Some("deploy"))
    );
    assert_eq!(c[format!("{}/claims/repo", s.base)], "octo-org/app");
    assert_eq!(c[format!("{}/claims/run", s.base)], "9001");
    // A platform token is the job's credential for its whole life, as a secret would be: it
    // may be presented again (GitHub hands out one token per request, not per use).
    assert_eq!(token_as(&s, "deploy", &jwt).await.status, 200);
    // One discovery document and one JWKS fetch, then the cache.
    assert_eq!(ci.discoveries.load(Ordering::SeqCst), 1);
    assert_eq!(ci.fetches.load(Ordering::SeqCst), 1);
    // The same credential serves introspection and revocation.
    let form = format!("token={token}");
    let about = |path: &'static str| post_as(&s, path, Some("deploy"), &jwt, &form);
    let r = about("/oauth2/introspect").await;
    assert_eq!(
        (r.status, &r.json["active"]),
        (200, &json!(true)),
        "{}",
        r.text
    );
    let r = about("/oauth2/revoke").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = about("/oauth2/introspect").await;
    assert_eq!(r.json["active"], false);
    // The array form of a single audience is the same audience.
    let one = job_token(&ci, &s, json!({"aud": [s.base]}));
    assert_eq!(token_as(&s, "deploy", &one).await.status, 200);
}

/// Signs `payload` under `header` with nothing: for the alg-none and forged cases.
fn unsigned(header: Value, payload: &Value) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", enc(&header), enc(payload))
}

#[tokio::test]
async fn hostile_and_mismatched_platform_tokens_are_invalid_client() {
    let s = Server::start().await;
    let ci = Idp::start().await;
    let elsewhere = Idp::start().await;
    federated_client(&s, &ci, "deploy", |_| {}).await;
    let secret_client = s.client("plain").await;
    let now = SystemClock.now();
    let valid = job_token(&ci, &s, json!({}));
    let claims = payload(&valid);
    let kid = jsonwebtoken::decode_header(&valid).unwrap().kid.unwrap();
    let tampered = {
        let mut parts: Vec<String> = valid.split('.').map(String::from).collect();
        let mut p = claims.clone();
        p["repository_id"] = json!("43");
        parts[1] = URL_SAFE_NO_PAD.encode(p.to_string());
        parts.join(".")
    };
    let mut cases: Vec<(&str, String)> = vec![
        (
            "condition false",
            job_token(&ci, &s, json!({"repository_id": "43"})),
        ),
        (
            "fork PR event",
            job_token(&ci, &s, json!({"event_name": "pull_request_target"})),
        ),
        (
            "claim missing",
            job_token(&ci, &s, json!({"repository_id": null})),
        ),
        (
            "claim of another type",
            job_token(&ci, &s, json!({"repository_id": 42})),
        ),
        (
            "expired",
            job_token(&ci, &s, json!({"iat": now - 900, "exp": now - 60})),
        ),
        (
            "not yet valid",
            job_token(&ci, &s, json!({"nbf": now + 600})),
        ),
        ("no exp", job_token(&ci, &s, json!({"exp": null}))),
        (
            "wrong audience",
            job_token(&ci, &s, json!({"aud": "https://other.example"})),
        ),
        (
            "audience of several",
            job_token(&ci, &s, json!({"aud": [s.base, "https://other.example"]})),
        ),
        ("no audience", job_token(&ci, &s, json!({"aud": null}))),
        ("untrusted issuer", job_token(&elsewhere, &s, json!({}))),
        ("tampered payload", tampered),
        (
            "alg none",
            unsigned(json!({"alg": "none", "kid": kid}), &claims),
        ),
        (
            "alg HS256",
            unsigned(json!({"alg": "HS256", "kid": kid, "typ": "JWT"}), &claims),
        ),
        (
            "jku elsewhere",
            unsigned(
                json!({"alg": "ES256", "kid": kid, "jku": elsewhere.jwks_uri}),
                &claims,
            ),
        ),
        (
            "x5u elsewhere",
            unsigned(
                json!({"alg": "ES256", "kid": kid, "x5u": elsewhere.jwks_uri}),
                &claims,
            ),
        ),
        ("no kid", unsigned(json!({"alg": "ES256"}), &claims)),
        ("not a JWT", "garbage".into()),
        ("empty", String::new()),
        ("oversized", "a".repeat(20_000)),
    ];
    // Validly signed by the platform's own key, and still not acceptable.
    let signed = |header: Value, payload: &Value| ci.sign_raw(&header, payload);
    let with = |k: &str, v: Value| {
        let mut p = claims.clone();
        p[k] = v;
        p
    };
    let es = |extra: Value| {
        let mut h = json!({"alg": "ES256", "kid": kid, "typ": "JWT"});
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        h
    };
    let der = {
        // The same signature DER-encoded: only the 64-byte r‖s form is ES256.
        let sig = URL_SAFE_NO_PAD
            .decode(valid.rsplit('.').next().unwrap())
            .unwrap();
        let der = tokenmint::jwt::der::ecdsa_jose_to_der(&sig).unwrap();
        let (input, _) = valid.rsplit_once('.').unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(der))
    };
    let zero = {
        let (input, _) = valid.rsplit_once('.').unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]))
    };
    cases.extend([
        (
            "crit header",
            signed(es(json!({"crit": ["exp"], "exp": 1})), &claims),
        ),
        (
            "jwk header",
            signed(es(json!({"jwk": {"kty": "EC"}})), &claims),
        ),
        ("x5c header", signed(es(json!({"x5c": ["MIIB"]})), &claims)),
        (
            "kid path",
            signed(es(json!({"kid": "../../etc/passwd"})), &claims),
        ),
        (
            "kid injection",
            signed(es(json!({"kid": "' OR 1=1 --"})), &claims),
        ),
        (
            "kid 10 KiB",
            signed(es(json!({"kid": "k".repeat(10_240)})), &claims),
        ),
        ("kid empty", signed(es(json!({"kid": ""})), &claims)),
        (
            "alg RS256 on an EC key",
            signed(es(json!({"alg": "RS256"})), &claims),
        ),
        ("alg ES384", signed(es(json!({"alg": "ES384"})), &claims)),
        ("alg None", signed(es(json!({"alg": "None"})), &claims)),
        ("alg NONE", signed(es(json!({"alg": "NONE"})), &claims)),
        (
            "iss array",
            signed(es(json!({})), &with("iss", json!([ci.issuer]))),
        ),
        (
            "iss respelled",
            signed(
                es(json!({})),
                &with("iss", json!(ci.issuer.trim_end_matches('/'))),
            ),
        ),
        (
            "exp a string",
            signed(es(json!({})), &with("exp", json!((now + 600).to_string()))),
        ),
        (
            "exp fractional",
            signed(es(json!({})), &with("exp", json!(now as f64 + 600.5))),
        ),
        (
            "nbf a string",
            signed(es(json!({})), &with("nbf", json!("0"))),
        ),
        ("DER signature", der),
        ("r = s = 0", zero),
        ("two segments", valid.rsplit_once('.').unwrap().0.to_owned()),
        ("four segments", format!("{valid}.x")),
        ("bad base64url", valid.replacen('.', ".*", 1)),
    ]);
    // Last: from here on the platform signs with a key its JWKS does not publish.
    ci.add_key_published(false);
    cases.push(("trusted iss, another key", job_token(&ci, &s, json!({}))));
    for (i, (name, jwt)) in cases.iter().enumerate() {
        // Past ten failures from one address a client is answered 429: start a new window.
        if i % 8 == 7 {
            s.clock.advance(tokenmint::oauth::throttle::WINDOW_SECS);
        }
        let r = token_as(&s, "deploy", jwt).await;
        r.assert_error(401, "invalid_client");
        assert!(
            !r.text.contains("condition"),
            "{name}: the answer tells nothing: {}",
            r.text
        );
    }
    s.clock.advance(tokenmint::oauth::throttle::WINDOW_SECS);
    // The right token for the wrong client, or with no client_id (its sub names no client).
    let r = token_as(&s, &secret_client.id, &valid).await;
    r.assert_error(401, "invalid_client");
    let r = post_as(
        &s,
        "/oauth2/token",
        None,
        &valid,
        "grant_type=client_credentials",
    )
    .await;
    r.assert_error(401, "invalid_client");
    let r = token_as(&s, "nobody", &valid).await;
    r.assert_error(401, "invalid_client");
    // Attacker-chosen header fields and untrusted issuers caused no fetch anywhere else.
    assert_eq!(elsewhere.fetches.load(Ordering::SeqCst), 0);
    assert_eq!(elsewhere.discoveries.load(Ordering::SeqCst), 0);
    // Unknown kids (made up, injected, or the platform's unpublished key) refetch the JWKS at
    // most once per 30 s, not once per request.
    s.clock.advance(tokenmint::oauth::throttle::WINDOW_SECS);
    let before = ci.fetches.load(Ordering::SeqCst);
    for _ in 0..5 {
        let jwt = job_token(&ci, &s, json!({}));
        token_as(&s, "deploy", &jwt)
            .await
            .assert_error(401, "invalid_client");
    }
    assert_eq!(ci.fetches.load(Ordering::SeqCst), before);
    assert!(before <= 2, "{before} JWKS fetches");
    // After all that, the valid token still works: refusals lock nothing out.
    assert_eq!(token_as(&s, "deploy", &valid).await.status, 200);
    audit_says(
        "federated_authentication_refused",
        "deploy",
        "condition: false",
    );
}

/// When the test log is kept (infra/test sets TOKENMINT_TEST_LOG), some `event` line for
/// `client_id` contains `needle`.
fn audit_says(event: &str, client_id: &str, needle: &str) {
    let Some(path) = std::env::var_os("TOKENMINT_TEST_LOG") else {
        return;
    };
    let log = std::fs::read_to_string(path).unwrap();
    let found = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .any(|l| {
            let f = &l["fields"];
            f["event"] == event && f["client_id"] == client_id && l.to_string().contains(needle)
        });
    assert!(found, "no {event} event for {client_id} saying {needle:?}");
}

#[tokio::test]
async fn an_unreachable_platform_fails_closed_with_503_and_cached_keys_keep_serving() {
    let s = Server::start().await;
    let ci = Idp::start().await;
    federated_client(&s, &ci, "deploy", |_| {}).await;
    // Never reachable: no cached key can decide.
    let down = Idp::start().await;
    down.down.store(true, Ordering::SeqCst);
    federated_client(&s, &down, "outage", |_| {}).await;
    let r = token_as(&s, "outage", &job_token(&down, &s, json!({}))).await;
    r.assert_error(503, "temporarily_unavailable");
    // Until the next attempt, 30 s after a failure: retrying sooner would meet the same answer.
    assert_eq!(r.header("retry-after"), Some("30"));
    // Reachable once, then down: the cached keys decide.
    assert_eq!(
        token_as(&s, "deploy", &job_token(&ci, &s, json!({})))
            .await
            .status,
        200
    );
    ci.down.store(true, Ordering::SeqCst);
    assert_eq!(
        token_as(&s, "deploy", &job_token(&ci, &s, json!({})))
            .await
            .status,
        200
    );
    // Within 30 s of the last successful fetch, a key the cached JWKS lacks is unknown and
    // refused from the cache, so made-up kids force no fetch. (Once a refetch has failed, such
    // a token is 503 instead: upstream::tests::after_a_failed_refetch_only_cached_kids_decide.)
    ci.add_key();
    token_as(&s, "deploy", &job_token(&ci, &s, json!({})))
        .await
        .assert_error(401, "invalid_client");
}

#[tokio::test]
async fn a_federated_build_job_exchanges_a_users_token_and_keeps_the_user() {
    let s = Server::start().await;
    let users = Idp::start().await;
    users.trust_on(&s, |_| {}).await;
    let ci = Idp::start().await;
    federated_client(&s, &ci, "build-job", |c| {
        c.grants = vec!["token-exchange".into()];
    })
    .await;
    let user = users.token(json!({}));
    let job = job_token(&ci, &s, json!({}));
    let r = post_as(
        &s,
        "/oauth2/token",
        Some("build-job"),
        &job,
        &format!(
            "grant_type={}&subject_token={user}&subject_token_type={}&scope=update:builds",
            url_encode(TE),
            url_encode(AT)
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = s
        .verify_independently(r.json["access_token"].as_str().unwrap(), API)
        .await;
    assert_eq!(c["sub"], "u1");
    assert_eq!(c["scope"], "update:builds");
    assert_eq!(c["act"]["sub"], "build-job");
    // The platform's claims are mapped into the job's own tokens only, not a user's.
    assert!(c.get(format!("{}/claims/repo", s.base)).is_none());
    // A job that may not exchange is told so, after authenticating.
    federated_client(&s, &ci, "cc-only", |_| {}).await;
    let r = post_as(
        &s,
        "/oauth2/token",
        Some("cc-only"),
        &job,
        &format!(
            "grant_type={}&subject_token={user}&subject_token_type={}",
            url_encode(TE),
            url_encode(AT)
        ),
    )
    .await;
    r.assert_error(400, "unauthorized_client");
}

#[tokio::test]
async fn a_credential_added_to_a_cached_client_works_at_once() {
    let s = Server::start().await;
    let ci = Idp::start().await;
    let plain = s.client("both").await;
    // The secret client is now cached by the server.
    s.token(&plain, "").await;
    federation::federate(
        s.stores.clients.as_ref(),
        &s.config,
        "both",
        NewCredential {
            issuer: ci.issuer.clone(),
            condition: r#"claims.repository_id == "42""#.into(),
            ..Default::default()
        },
        s.clock.now(),
    )
    .await
    .unwrap();
    let r = token_as(&s, "both", &job_token(&ci, &s, json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The secret still works beside it.
    s.token(&plain, "").await;
    audit_says("client_federated", "both", "generic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_function_authenticates_a_federated_client_over_dynamodb() {
    use super::lambda::{DOMAIN, answer, post};
    use super::runtime_api::Function;
    let table = super::dynamodb::fresh_table().await;
    let key_id = super::kms::new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let config = tokenmint::Config::from_lookup(|_| None).unwrap();
    let register = |id: &'static str, issuer: String, condition: &'static str| {
        let (table, config) = (&table, &config);
        async move {
            federation::create_federated_client(
                table,
                config,
                NewClient {
                    id: id.into(),
                    scopes: "update:builds".into(),
                    audiences: vec![API.into()],
                    ..Default::default()
                },
                NewCredential {
                    issuer,
                    condition: condition.into(),
                    ..Default::default()
                },
                SystemClock.now(),
            )
            .await
            .unwrap()
        }
    };
    let ci = Idp::start().await;
    register("deploy", ci.issuer.clone(), CONDITION).await;
    // A second client, whose platform is down and of which nothing is cached.
    let down = Idp::start().await;
    down.down.store(true, Ordering::SeqCst);
    register("outage", down.issuer.clone(), "true").await;
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms:{key_id}");
    let env = [
        ("TOKENMINT_STORE", store.as_str()),
        ("TOKENMINT_SIGNER", signer.as_str()),
        ("TOKENMINT_ISSUER", ""),
    ];
    let mut token_fn = Function::start("token", &env).await;
    // The issuer the function derives from the API's domain is the audience by default.
    let issuer = format!("https://{DOMAIN}");
    let claims = |aud: &str| {
        json!({
            "sub": "repo:octo-org/app:ref:refs/heads/main", "aud": aud, "scope": null,
            "repository_id": "42", "ref": "refs/heads/main", "event_name": "push",
        })
    };
    let event = |client_id: &str, jwt: &str| {
        let body = format!(
            "grant_type=client_credentials&client_id={client_id}&client_assertion_type={}&client_assertion={}",
            url_encode(TYPE),
            url_encode(jwt)
        );
        let mut e = post("/oauth2/token", "", &body);
        e["headers"]
            .as_object_mut()
            .unwrap()
            .remove("authorization");
        e
    };
    let good = ci.token_typ(Some("JWT"), claims(&issuer));
    let a = answer(token_fn.invoke(event("deploy", &good)).await);
    assert_eq!(a.status, 200, "{:?}", a.body);
    let token = a.body["access_token"].as_str().unwrap();
    let c = payload(token);
    assert_eq!(
        (c["sub"].as_str(), c["iss"].as_str()),
        (Some("deploy"), Some(issuer.as_str()))
    );
    let wrong = ci.token_typ(Some("JWT"), claims("http://127.0.0.1:8080"));
    let a = answer(token_fn.invoke(event("deploy", &wrong)).await);
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // The platform down and nothing cached: 503, never a token.
    let a = answer(
        token_fn
            .invoke(event(
                "outage",
                &down.token_typ(Some("JWT"), claims(&issuer)),
            ))
            .await,
    );
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert!(a.headers.get("retry-after").is_some(), "{:?}", a.headers);
}

/// `tokenmint client explain ARGS`, run as the operator runs it, over the server's own store
/// and with its issuer.
fn explain_command(s: &Server, args: &[&str]) -> std::process::Command {
    let bin = super::runtime_api::bin_dir().join("tokenmint");
    assert!(bin.exists(), "{} is missing: run infra/test", bin.display());
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["client", "explain"])
        .args(args)
        .env(
            "TOKENMINT_STORE",
            format!("sqlite:{}", s.data_dir().join("t.db").display()),
        )
        .env("TOKENMINT_ISSUER", &s.base);
    cmd
}

fn explain(s: &Server, args: &[&str]) -> std::process::Output {
    explain_command(s, args).output().unwrap()
}

// Two workers: the CLI runs as a blocking child process while the fake platform answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_every_check_and_agrees_with_the_token_endpoint() {
    let s = Server::start().await;
    let ci = Idp::start().await;
    federated_client(&s, &ci, "deploy", |_| {}).await;
    let good = job_token(&ci, &s, json!({}));
    let o = explain(&s, &["deploy", "--token", &good]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for line in [
        "credential generic (issuer",
        "pass  issuer",
        "pass  signature  ES256",
        "pass  expiry",
        &format!("pass  audience   {}", s.base),
        "pass  condition  true",
        "claims.repository_id = \"42\"",
        "claims.event_name = \"push\"",
        "result: the token authenticates as client deploy with credential generic",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    assert_eq!(token_as(&s, "deploy", &good).await.status, 200);

    let fork = job_token(&ci, &s, json!({"ref": "refs/pull/7/merge"}));
    let o = explain(&s, &["deploy", "--token", &fork, "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["authenticates"], false);
    let checks = &report["report"]["credentials"][0]["checks"];
    assert_eq!(
        checks[4],
        json!({"check": "condition", "ok": false, "detail": "false"})
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("would not authenticate as client deploy: generic: condition: false"),
        "{err}"
    );
    token_as(&s, "deploy", &fork)
        .await
        .assert_error(401, "invalid_client");

    // Read from standard input; an issuer the client does not trust is named.
    let other = Idp::start().await;
    let mut child = explain_command(&s, &["deploy", "--token", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    let untrusted = job_token(&other, &s, json!({}));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(untrusted.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("FAIL  issuer     the token's iss is"), "{out}");
    assert_eq!(other.fetches.load(Ordering::SeqCst), 0);
}
