//! One token function behind a Lambda function URL (`TOKENMINT_ENDPOINTS=all`, the template's
//! `Endpoints=function-url`), and the metrics every function writes to its log in CloudWatch
//! Embedded Metric Format, over DynamoDB and KMS on the emulator.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tokenmint::admin::{self, NewClient};
use tokenmint::{Clock, Config, SystemClock};

use super::dynamodb::fresh_table;
use super::harness::{API, basic_header};
use super::kms::new_key;
use super::lambda::answer;
use super::runtime_api::Function;

/// The function URL of the fixture, in the emulator's region.
const URL: &str = "https://f3kq7bx2mz5wlyd4hn6tcp1vra0esiuo.lambda-url.us-east-1.on.aws";

/// A function URL event (payload 2.0, `routeKey` `$default`).
fn request(method: &str, path: &str, authorization: &str, body: &str) -> Value {
    let path_of = format!(
        "{}/fixtures/function-url/request.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path_of)
        .unwrap()
        .replace("{{METHOD}}", method)
        .replace("{{PATH}}", path)
        .replace("{{AUTHORIZATION}}", authorization)
        .replace("{{CONTENT_LENGTH}}", &body.len().to_string())
        .replace("{{BODY_BASE64}}", &STANDARD.encode(body));
    serde_json::from_str(&text).unwrap()
}

/// The EMF documents (log lines with an `_aws` member) the function has written, once every
/// metric of `metrics` is among them. The function wrote them before it answered, but the
/// thread reading its standard output may not have read them yet, so this waits (up to 10 s)
/// for the pipe to be read that far.
pub async fn emf(f: &Function, metrics: &[&str]) -> Vec<Value> {
    let parse = |f: &Function| -> Vec<Value> {
        f.stdout()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let docs = parse(f);
        let all = metrics
            .iter()
            .all(|m| docs.iter().any(|d| d.get(*m).is_some()));
        if all || std::time::Instant::now() > deadline {
            return docs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The fields of the first audit event `event` in the function's log, waiting (up to 10 s) for
/// the thread reading its standard output to get that far.
async fn audit_event(f: &Function, event: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = f
            .stdout()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["fields"]["event"] == event);
        match found {
            Some(line) => return line["fields"].clone(),
            None if std::time::Instant::now() > deadline => panic!("no {event} audit event"),
            None => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

/// The documents carrying metric `name`, with their dimensions checked against the
/// declaration (every dimension declared has a value, and the namespace is the configured one).
fn documents<'a>(docs: &'a [Value], name: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| d.get(name).is_some())
        .inspect(|d| {
            let decl = &d["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(decl["Namespace"], "tokenmint-test", "{d}");
            for dim in decl["Dimensions"][0].as_array().unwrap() {
                assert!(d[dim.as_str().unwrap()].is_string(), "{d}");
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_function_behind_a_function_url_serves_every_endpoint_and_writes_its_metrics() {
    let key_id = new_key(aws_sdk_kms::types::KeySpec::EccNistP256).await;
    let table = fresh_table().await;
    let config = Config::from_lookup(|_| None).unwrap();
    let new = NewClient {
        id: "gateway".into(),
        scopes: "read write".into(),
        audiences: vec![API.into()],
        introspect: true,
        ..Default::default()
    };
    let (client, secret) = admin::create_client(&table, &config, new, SystemClock.now())
        .await
        .unwrap();
    let auth = basic_header(client.id.as_str(), secret.expose());
    let store = format!("dynamodb:{}", table.table());
    let signer = format!("kms:{key_id}");
    let env = [
        ("TOKENMINT_STORE", store.as_str()),
        ("TOKENMINT_SIGNER", signer.as_str()),
        ("TOKENMINT_ISSUER", ""),
        ("TOKENMINT_ENDPOINTS", "all"),
        ("TOKENMINT_METRICS_NAMESPACE", "tokenmint-test"),
        ("RUST_LOG", "info"),
    ];
    let mut f = Function::start("token", &env).await;

    let form = "grant_type=client_credentials&scope=read";
    let a = answer(
        f.invoke(request("POST", "/oauth2/token", &auth, form))
            .await,
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    let token = a.body["access_token"].as_str().unwrap().to_owned();
    // The invocation's metrics were written before its answer was returned.
    let docs = emf(
        &f,
        &[
            "tokenmint_tokens_issued_total",
            "tokenmint_request_duration_seconds",
            "tokenmint_signer_duration_seconds",
        ],
    )
    .await;
    let issued = documents(&docs, "tokenmint_tokens_issued_total");
    assert_eq!(issued.len(), 1, "{docs:?}");
    assert_eq!(issued[0]["tokenmint_tokens_issued_total"], 1);
    assert_eq!(issued[0]["grant"], "client_credentials");
    assert_eq!(issued[0]["client"], "gateway");
    let served = documents(&docs, "tokenmint_request_duration_seconds");
    assert_eq!(served[0]["endpoint"], "token");
    let signed = documents(&docs, "tokenmint_signer_duration_seconds");
    assert_eq!(signed[0]["mode"], "kms", "{docs:?}");
    // The audit line of a plain client_credentials token names what it has and leaves out
    // every field it has no value for: each byte of it is billed, once per token.
    let issued = audit_event(&f, "token_issued").await;
    assert_eq!(issued["client_id"], "gateway", "{issued}");
    assert_eq!(issued["scope"], "read", "{issued}");
    for absent in [
        "act",
        "dlg",
        "hook",
        "subject_issuer",
        "refresh_token",
        "credential",
        "platform_issuer",
        "platform_sub",
        "platform_jti",
    ] {
        assert!(issued.get(absent).is_none(), "{absent} in {issued}");
    }

    // Metadata, keys, introspection and revocation from the same function, under the issuer
    // the function URL names.
    let a = answer(
        f.invoke(request("GET", "/.well-known/openid-configuration", "", ""))
            .await,
    );
    assert_eq!(a.body["issuer"], URL);
    assert_eq!(a.body["token_endpoint"], format!("{URL}/oauth2/token"));
    let a = answer(
        f.invoke(request("GET", "/.well-known/jwks.json", "", ""))
            .await,
    );
    assert_eq!(a.status, 200);
    assert_eq!(super::exchange::payload(&token)["iss"], URL);
    let body = format!("token={token}");
    let a = answer(
        f.invoke(request("POST", "/oauth2/introspect", &auth, &body))
            .await,
    );
    assert_eq!(a.body["active"], true, "{:?}", a.body);
    let a = answer(
        f.invoke(request("POST", "/oauth2/revoke", &auth, &body))
            .await,
    );
    assert_eq!(a.status, 200);
    let a = answer(
        f.invoke(request("POST", "/oauth2/introspect", &auth, &body))
            .await,
    );
    assert_eq!(a.body, serde_json::json!({"active": false}));

    // A wrong secret: a refusal by its OAuth error code, and nothing of the secret or the
    // token in any metric line.
    let wrong = basic_header("gateway", "not-the-secret");
    let a = answer(
        f.invoke(request("POST", "/oauth2/token", &wrong, form))
            .await,
    );
    assert_eq!(a.status, 401);
    let docs = emf(&f, &["tokenmint_token_refusals_total"]).await;
    let refused = documents(&docs, "tokenmint_token_refusals_total");
    assert_eq!(refused.len(), 1, "{docs:?}");
    assert_eq!(refused[0]["error"], "invalid_client");
    let active: Vec<_> = documents(&docs, "tokenmint_introspections_total")
        .iter()
        .map(|d| d["active"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(active, ["true", "false"]);
    assert_eq!(documents(&docs, "tokenmint_revocations_total").len(), 1);
    let text = docs.iter().map(Value::to_string).collect::<String>();
    for leaked in [secret.expose(), token.as_str(), "not-the-secret"] {
        assert!(
            !text.contains(leaked),
            "a metric line carries a secret or a token"
        );
    }
}
