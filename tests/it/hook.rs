//! The claims hook end to end (docs/hook.md): the default hook in process, with client
//! attributes and delegated users; a webhook, signed, and every guard rail failing closed.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokenmint::admin::NewClient;
use tokenmint::hook::webhook::{WebhookSecret, verify_signature};
use tokenmint::{Clock, SystemClock};

use super::harness::{API, Creds, Server, delegation};

const NS: &str = "/claims/";

async fn build_api(s: &Server) -> Creds {
    s.client_with(NewClient {
        id: "build-api".into(),
        scopes: "read read:reports update:builds".into(),
        default_scopes: Some("read".into()),
        audiences: vec![API.into()],
        introspect: true,
        hook: true,
        attributes: vec!["partner_id=p-17".into(), "tier=gold@read:reports".into()],
        ..Default::default()
    })
    .await
}

fn claim(s: &Server, name: &str) -> String {
    format!("{}{NS}{name}", s.base)
}

#[tokio::test]
async fn the_default_hook_issues_attributes_and_delegated_users_only() {
    let s = Server::start().await;
    let c = build_api(&s).await;
    let t = s.token(&c, "").await;
    let claims = s.verify_independently(&t, API).await;
    assert_eq!(claims[claim(&s, "partner_id")], "p-17");
    assert!(claims.get(claim(&s, "tier")).is_none(), "{claims}");
    let t = s.token(&c, "&scope=read:reports").await;
    assert_eq!(
        s.verify_independently(&t, API).await[claim(&s, "tier")],
        "gold"
    );

    // The client's word for user_id is not enough.
    let body = "grant_type=client_credentials&scope=update:builds&user_id=alice";
    let r = s.post("/oauth2/token", body, Some(&c)).await;
    r.assert_error(400, "access_denied");

    let now = s.clock.now();
    let d = delegation(
        "dlg-alice",
        "user:alice",
        "client:build-api",
        "update:builds",
        Some(now + 600),
    );
    s.stores.delegations.put_delegation(&d).await.unwrap();
    // A scope the delegation does not cover is still refused.
    let wider = "grant_type=client_credentials&scope=update:builds+read&user_id=alice";
    s.post("/oauth2/token", wider, Some(&c))
        .await
        .assert_error(400, "access_denied");
    let r = s.post("/oauth2/token", body, Some(&c)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["access_token"].as_str().unwrap().to_owned();
    let claims = s.verify_independently(&token, API).await;
    assert_eq!(claims["sub"], "build-api");
    assert_eq!(claims[claim(&s, "user_id")], "alice");
    assert_eq!(claims["dlg"], json!(["dlg-alice"]));
    // A token resting on a delegation lives at most 5 minutes (and never past its end).
    assert_eq!(claims["exp"], now + 300);

    let introspect = |t: String| {
        let s = &s;
        let c = &c;
        async move {
            s.post("/oauth2/introspect", &format!("token={t}"), Some(c))
                .await
                .json
        }
    };
    let active = introspect(token.clone()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active[claim(&s, "user_id")], "alice");
    // Revoking the delegation deactivates the token at once.
    s.stores
        .delegations
        .remove_delegation(&d.delegator, &d.delegate)
        .await
        .unwrap();
    assert_eq!(introspect(token).await, json!({"active": false}));
}

/// A webhook receiver on loopback that checks every signature and answers as `reply` says.
struct Receiver {
    url: String,
    calls: Arc<AtomicU32>,
    events: Arc<Mutex<Vec<Value>>>,
}

type Reply = Arc<dyn Fn(u32) -> (u16, String, Duration) + Send + Sync>;

async fn receiver(secret: &str, reply: Reply) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicU32::new(0));
    let events = Arc::new(Mutex::new(Vec::new()));
    let secret = WebhookSecret::new(secret).unwrap();
    let (c, e) = (calls.clone(), events.clone());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (calls, events, secret, reply) =
                (c.clone(), e.clone(), secret.clone(), reply.clone());
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (calls, events, secret, reply) =
                        (calls.clone(), events.clone(), secret.clone(), reply.clone());
                    async move {
                        let sig = req
                            .headers()
                            .get("tokenmint-signature")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let n = calls.fetch_add(1, Ordering::SeqCst);
                        let (status, text, delay) =
                            if verify_signature(&sig, &body, &secret, SystemClock.now(), 300) {
                                events
                                    .lock()
                                    .unwrap()
                                    .push(serde_json::from_slice(&body).unwrap());
                                reply(n)
                            } else {
                                (401, "bad signature".into(), Duration::ZERO)
                            };
                        tokio::time::sleep(delay).await;
                        Ok::<_, Infallible>(
                            http::Response::builder()
                                .status(status)
                                .header("content-type", "application/json")
                                .body(Full::new(bytes::Bytes::from(text)))
                                .unwrap(),
                        )
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    Receiver { url, calls, events }
}

const SECRET: &str = "webhook-secret-0123456789";

async fn with_webhook(reply: Reply, timeout: &str) -> (Server, Receiver, Creds) {
    let r = receiver(SECRET, reply).await;
    let s = Server::start_with(&[
        ("TOKENMINT_HOOK", &r.url),
        ("TOKENMINT_HOOK_SECRET", SECRET),
        ("TOKENMINT_HOOK_TIMEOUT", timeout),
        ("TOKENMINT_CLAIMS_ALLOW", "tenant"),
        ("TOKENMINT_CLAIMS_NAMESPACE", "https://x.example/claims/"),
    ])
    .await;
    let c = build_api(&s).await;
    (s, r, c)
}

fn answer(body: Value) -> Reply {
    let text = body.to_string();
    Arc::new(move |_| (200, text.clone(), Duration::ZERO))
}

#[tokio::test]
async fn a_signed_webhook_adds_claims_and_never_sees_secrets() {
    let (s, r, c) = with_webhook(
        answer(json!({"claims": {"tenant": "acme", "https://x.example/claims/n": [1, {"a": 2}]}, "scope": "read"})),
        "2s",
    )
    .await;
    // Client authentication in the body: the secret must not reach the hook.
    let body = format!(
        "grant_type=client_credentials&scope=read+read:reports&client_id=build-api&client_secret={}&user_id=alice",
        c.secret
    );
    let resp = s.post("/oauth2/token", &body, None).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.json["scope"], "read", "the hook narrowed the scope");
    let claims = s
        .verify_independently(resp.json["access_token"].as_str().unwrap(), API)
        .await;
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["https://x.example/claims/n"], json!([1, {"a": 2}]));
    assert_eq!(claims["scope"], "read");
    let events = r.events.lock().unwrap().clone();
    let [event] = events.as_slice() else {
        panic!("{events:?}")
    };
    let text = event.to_string();
    assert!(!text.contains(&c.secret), "{text}");
    assert!(event["parameters"].get("client_secret").is_none());
    assert_eq!(event["parameters"]["user_id"], "alice");
    assert_eq!(event["granted_scope"], "read read:reports");
    assert_eq!(event["request_id"], claims["jti"]);
    assert_eq!(event["client"]["attributes"][0]["name"], "partner_id");

    // A client without the hook never calls it.
    let plain = s.client("plain").await;
    s.token(&plain, "").await;
    assert_eq!(r.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn guard_rail_violations_issue_no_token() {
    let cases = [
        (
            json!({"claims": {"sub": "someone-else"}}),
            500,
            "server_error",
        ),
        (json!({"claims": {"kid": "x"}}), 500, "server_error"),
        (
            json!({"claims": {"partner": "not namespaced"}}),
            500,
            "server_error",
        ),
        (
            json!({"claims": {"tenant": "x".repeat(1100)}}),
            500,
            "server_error",
        ),
        (
            json!({"claims": {"tenant": [[[[[[1]]]]]]}}),
            500,
            "server_error",
        ),
        (json!({"scope": "read admin"}), 500, "server_error"),
        (json!({"claims": {}, "extra": 1}), 500, "server_error"),
        (
            json!({"delegations": ["a", "b", "c", "d", "e"]}),
            500,
            "server_error",
        ),
        (
            json!({"delegations": ["x".repeat(65)]}),
            500,
            "server_error",
        ),
        (
            json!({"deny": {"reason": "no build for you"}}),
            400,
            "access_denied",
        ),
        (
            json!({"delegations": ["not-a-delegation"]}),
            400,
            "access_denied",
        ),
    ];
    for (body, status, code) in cases {
        let (s, _r, c) = with_webhook(answer(body.clone()), "2s").await;
        let r = s
            .post("/oauth2/token", "grant_type=client_credentials", Some(&c))
            .await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (status, Some(code)),
            "{body}: {}",
            r.text
        );
        assert!(r.json.get("access_token").is_none());
    }
    // A hook naming a real delegation that does not cover the granted scope: refused.
    let (s, _r, c) = with_webhook(answer(json!({"delegations": ["dlg-narrow"]})), "2s").await;
    s.stores
        .delegations
        .put_delegation(&delegation(
            "dlg-narrow",
            "user:alice",
            "client:build-api",
            "read:reports",
            None,
        ))
        .await
        .unwrap();
    s.post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await
        .assert_error(400, "access_denied");
    let t = s.token(&c, "&scope=read:reports").await;
    assert_eq!(
        s.verify_independently(&t, API).await["dlg"],
        json!(["dlg-narrow"])
    );

    // Not JSON at all.
    let text: Reply = Arc::new(|_| (200, "claims please".into(), Duration::ZERO));
    let (s, _r, c) = with_webhook(text, "2s").await;
    s.post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await
        .assert_error(500, "server_error");
}

#[tokio::test]
async fn slow_or_failing_hooks_fail_closed_after_bounded_retries() {
    // Slower than the budget: 503 with Retry-After, inside the budget.
    let slow: Reply = Arc::new(|_| (200, "{}".into(), Duration::from_secs(3)));
    let (s, r, c) = with_webhook(slow, "500ms").await;
    let started = std::time::Instant::now();
    let resp = s
        .post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await;
    resp.assert_error(503, "temporarily_unavailable");
    assert!(resp.header("retry-after").is_some());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.calls.load(Ordering::SeqCst), 1);

    // Throttled every time: three attempts, then 503.
    let throttled: Reply = Arc::new(|_| (429, "{}".into(), Duration::ZERO));
    let (s, r, c) = with_webhook(throttled, "2s").await;
    s.post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await
        .assert_error(503, "temporarily_unavailable");
    assert_eq!(r.calls.load(Ordering::SeqCst), 3);

    // Failing once, then answering: the retry issues the token with the hook's claims.
    let flaky: Reply = Arc::new(|n| {
        if n == 0 {
            (503, "{}".into(), Duration::ZERO)
        } else {
            (
                200,
                r#"{"claims":{"tenant":"acme"}}"#.into(),
                Duration::ZERO,
            )
        }
    });
    let (s, r, c) = with_webhook(flaky, "2s").await;
    let t = s.token(&c, "").await;
    assert_eq!(s.verify_independently(&t, API).await["tenant"], "acme");
    assert_eq!(r.calls.load(Ordering::SeqCst), 2);

    // An unreachable webhook.
    let dead = Server::start_with(&[
        ("TOKENMINT_HOOK", "http://127.0.0.1:9/hook"),
        ("TOKENMINT_HOOK_SECRET", SECRET),
    ])
    .await;
    let c = build_api(&dead).await;
    dead.post("/oauth2/token", "grant_type=client_credentials", Some(&c))
        .await
        .assert_error(503, "temporarily_unavailable");
}

#[tokio::test]
async fn on_exchange_the_hook_sees_the_user_the_actor_and_the_issuer() {
    let (s, r, _) = with_webhook(
        answer(json!({"claims": {"https://x.example/claims/plan": "pro"}})),
        "2s",
    )
    .await;
    let idp = super::idp::Idp::start().await;
    idp.trust_on(&s, |_| {}).await;
    let c = super::exchange::exchanger(&s, "exch-hooked", "read:builds", |c| c.hook = true).await;
    let user = idp.token(json!({"scope": "read:builds"}));
    let resp = super::exchange::exchange(&s, &c, &user, "").await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let claims = s
        .verify_independently(resp.json["access_token"].as_str().unwrap(), API)
        .await;
    assert_eq!(claims["https://x.example/claims/plan"], "pro");
    // The upstream identity claim stays beside the hook's.
    assert_eq!(claims["https://x.example/claims/idp"], idp.issuer.as_str());
    assert_eq!(
        claims["act"],
        json!({"sub": "exch-hooked", "client_id": "exch-hooked"})
    );
    let events = r.events.lock().unwrap().clone();
    let [event] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        event["grant_type"],
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(event["sub"], "u1");
    assert_eq!(event["sub_type"], "user");
    assert_eq!(
        event["act"],
        json!({"sub": "exch-hooked", "client_id": "exch-hooked"})
    );
    assert_eq!(event["subject_issuer"], idp.issuer.as_str());
    // The subject token is a credential: the hook never sees it.
    assert!(!event.to_string().contains(&user));
    assert!(event["parameters"].get("subject_token").is_none());
}
