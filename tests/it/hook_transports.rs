//! One contract suite for the three hook transports: the same events, sent in process, to a
//! signed webhook on loopback, and through the Lambda `Invoke` API to the cc-hook function
//! binary, must get the same decisions. Every transport runs the default hook over the same
//! DynamoDB table (moto).

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokenmint::domain::ClientAttribute;
use tokenmint::hook::in_process::DefaultHook;
use tokenmint::hook::lambda::LambdaHook;
use tokenmint::hook::webhook::{Webhook, WebhookSecret, verify_signature};
use tokenmint::hook::{ClaimsHook, HookClient, HookEvent, HookResponse};
use tokenmint::store::DelegationStore;
use tokenmint::store::dynamodb::DynamoStore;
use tokenmint::{Clock, SystemClock};

use super::dynamodb::fresh_table;
use super::harness::delegation;
use super::lambda_hook::invoke_bridge;
use super::runtime_api::Function;

const NS: &str = "https://auth.example.com/claims/";
const SECRET: &str = "transport-contract-secret";

fn event(granted: &str, user: Option<&str>) -> HookEvent {
    let attr = |s: &str| s.parse::<ClientAttribute>().unwrap();
    HookEvent {
        version: 1,
        request_id: "req-1".into(),
        grant_type: "client_credentials".into(),
        client: HookClient {
            id: "build-api".into(),
            attributes: vec![attr("partner_id=p-17"), attr("tier=gold@read:reports")],
        },
        requested_scope: Some(granted.into()),
        granted_scope: granted.into(),
        audience: "https://api.example.com".into(),
        parameters: user
            .map(|u| [("user_id".to_owned(), u.to_owned())].into())
            .unwrap_or_default(),
        claims_namespace: NS.into(),
        sub: None,
        sub_type: None,
        act: None,
        subject_issuer: None,
    }
}

/// The decisions every transport must give.
async fn contract(hook: &dyn ClaimsHook) {
    let name = hook.name().to_owned();
    let allow = |r: HookResponse| match r {
        HookResponse::Allow(a) => a,
        other => panic!("{name}: {other:?}"),
    };
    let a = allow(hook.call(&event("read", None)).await.unwrap());
    assert_eq!(a.claims.len(), 1, "{name}: {:?}", a.claims);
    assert_eq!(a.claims[&format!("{NS}partner_id")], "p-17", "{name}");
    assert!(a.delegations.is_empty() && a.scope.is_none());

    let a = allow(hook.call(&event("read read:reports", None)).await.unwrap());
    assert_eq!(a.claims[&format!("{NS}tier")], "gold", "{name}");

    let a = allow(
        hook.call(&event("update:builds", Some("alice")))
            .await
            .unwrap(),
    );
    assert_eq!(a.claims[&format!("{NS}user_id")], "alice", "{name}");
    assert_eq!(a.delegations, ["dlg-alice"], "{name}");

    for (granted, user) in [
        ("update:builds", "mallory"),
        ("update:builds read", "alice"),
    ] {
        match hook.call(&event(granted, Some(user))).await.unwrap() {
            HookResponse::Deny { reason } => assert!(reason.contains("user:"), "{name}: {reason}"),
            other => panic!("{name}: {granted} {user}: {other:?}"),
        }
    }
}

/// A signed-webhook receiver on loopback that runs `hook` for every verified request.
async fn webhook_running(hook: Arc<DefaultHook>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let secret = WebhookSecret::new(SECRET).unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (hook, secret) = (hook.clone(), secret.clone());
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (hook, secret) = (hook.clone(), secret.clone());
                    async move {
                        let sig = req
                            .headers()
                            .get("tokenmint-signature")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        assert!(verify_signature(
                            &sig,
                            &body,
                            &secret,
                            SystemClock.now(),
                            300
                        ));
                        let event: HookEvent = serde_json::from_slice(&body).unwrap();
                        let answer = hook.call(&event).await.unwrap().to_json().to_string();
                        Ok::<_, Infallible>(http::Response::new(Full::new(bytes::Bytes::from(
                            answer,
                        ))))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_gives_the_same_decisions() {
    let table: DynamoStore = fresh_table().await;
    let now = SystemClock.now();
    table
        .put_delegation(&delegation(
            "dlg-alice",
            "user:alice",
            "client:build-api",
            "update:builds",
            Some(now + 3600),
        ))
        .await
        .unwrap();
    let store = format!("dynamodb:{}", table.table());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let in_process = Arc::new(DefaultHook {
        delegations: Arc::new(DynamoStore::from_env(table.table()).await),
        clock: clock.clone(),
    });
    contract(in_process.as_ref()).await;

    let url = webhook_running(in_process.clone()).await;
    let webhook = Webhook::new(&url, WebhookSecret::new(SECRET).unwrap(), clock).unwrap();
    contract(&webhook).await;

    let function = Function::start(
        "cc-hook",
        &[
            ("TOKENMINT_STORE", store.as_str()),
            ("TOKENMINT_SIGNER", "kms:alias/unused-by-the-hook"),
        ],
    )
    .await;
    let (bridge, _calls) = invoke_bridge(function).await;
    let sdk = tokenmint::aws::sdk_config().await;
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&sdk)
            .endpoint_url(bridge)
            .build(),
    );
    contract(&LambdaHook::new(lambda, "tokenmint-cc-hook")).await;
}
