//! A real outage: a private moto server is stopped mid-run. Requests fail closed with 503 and
//! `Retry-After` after the SDK's bounded retries, and nothing is issued or reported done.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokenmint::store::Stores;
use tokenmint::store::dynamodb::DynamoStore;

use super::harness::Server;

pub(super) struct PrivateMoto {
    child: Child,
    pub(super) endpoint: String,
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts another moto server from the virtualenv infra/test installed.
pub(super) async fn private_moto() -> PrivateMoto {
    let venv =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/moto/bin/moto_server");
    assert!(
        venv.exists(),
        "{} is missing: run infra/test",
        venv.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let moto = PrivateMoto {
        child: Command::new(venv)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if reqwest::get(format!("{}/moto-api/", moto.endpoint))
            .await
            .is_ok()
        {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the private moto server did not start");
}

#[tokio::test]
async fn stopping_dynamodb_mid_run_fails_closed() {
    let mut moto = private_moto().await;
    let sdk = tokenmint::aws::sdk_config().await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(&moto.endpoint)
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), "outage");
    store.create_table().await.unwrap();
    let s = Server::start_on(
        &[
            ("TOKENMINT_STORE", "dynamodb:outage"),
            ("TOKENMINT_INSECURE_LOCAL_KEY", "1"),
            ("TOKENMINT_CLIENT_CACHE_TTL", "0"),
        ],
        Some(Stores::from_one(Arc::new(store))),
    )
    .await;
    let c = s.introspector("svc").await;
    let token = s.token(&c, "").await;

    moto.child.kill().unwrap();
    moto.child.wait().unwrap();
    for (path, body) in [
        ("/oauth2/token", "grant_type=client_credentials".to_owned()),
        ("/oauth2/introspect", format!("token={token}")),
        ("/oauth2/revoke", format!("token={token}")),
    ] {
        let started = Instant::now();
        let r = s.post(path, &body, Some(&c)).await;
        r.assert_error(503, "temporarily_unavailable");
        assert_eq!(r.header("retry-after"), Some("1"));
        assert!(r.json.get("access_token").is_none());
        // Bounded: three attempts inside the SDK's 3 s operation timeout.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path}: {:?}",
            started.elapsed()
        );
    }
}
