//! Configuration as code over DynamoDB (the emulator): plan, apply, export, prune, and a
//! client changed between the plan and its write.

use std::sync::Arc;

use tokenmint::admin::AdminError;
use tokenmint::apply::{self, file::Document};
use tokenmint::domain::ClientId;
use tokenmint::store::Stores;
use tokenmint::{Clock, Config, SystemClock};

use super::dynamodb::fresh_table;

fn document(yaml: &str) -> Document {
    serde_json::from_value(serde_yaml_value(yaml)).unwrap()
}

/// YAML by way of JSON: the test crate reads the same structure the CLI does.
fn serde_yaml_value(yaml: &str) -> serde_json::Value {
    serde_yaml_ng::from_str(yaml).unwrap()
}

/// A federated client, in both files.
const DEPLOY: &str = r#"
  - id: deploy
    scope: update:builds
    audience: [https://api.example.com]
    federated:
      - name: main
        issuer: https://token.actions.githubusercontent.com
        condition: 'claims.repository_id == "123456"'
"#;

const FILE: &str = r#"
clients:
  - id: build-api
    scope: "read:builds update:builds"
    audience: [https://builds.example.com/]
    grants: [client_credentials, token-exchange]
    attributes: {partner_id: p-17}
{DEPLOY}issuers:
  - issuer: https://idp.example.com
    jwks_uri: https://idp.example.com/.well-known/jwks.json
scopes:
  - scope: update:builds
    acr: [urn:example:mfa]
"#;

#[tokio::test]
async fn apply_and_export_over_dynamodb() {
    let stores = Stores::from_one(Arc::new(fresh_table().await));
    let config = Config::from_lookup(|_| None).unwrap();
    let now = SystemClock.now();
    let file = FILE.replace("{DEPLOY}", DEPLOY.trim_start_matches('\n'));
    let doc = document(&file);

    let mut plan = apply::plan(&stores, &config, &doc, false, now)
        .await
        .unwrap();
    assert_eq!(
        plan.lines(),
        [
            "+ client build-api",
            "+ client deploy",
            "+ issuer https://idp.example.com",
            "+ scope update:builds"
        ]
    );
    let secrets = plan.issue_secrets(now);
    assert_eq!(secrets.len(), 1);
    assert_eq!(apply::apply(&stores, plan).await.unwrap(), 4);
    let exported = apply::export(&stores).await.unwrap();
    assert_eq!(exported.clients.len(), 2);
    let again = apply::plan(&stores, &config, &exported, true, now)
        .await
        .unwrap();
    assert!(again.is_empty(), "{:?}", again.lines());

    // A client changed by someone else between the plan and the write: the write loses, the
    // client keeps the other change, and the plan stops there (the rule after it is unwritten).
    let changed = file
        .replace("partner_id: p-17", "partner_id: p-18")
        .replace(
            "acr: [urn:example:mfa]",
            "acr: [urn:example:mfa, urn:example:hwk]",
        );
    let plan = apply::plan(&stores, &config, &document(&changed), false, now)
        .await
        .unwrap();
    assert_eq!(
        plan.lines(),
        [
            "~ client build-api: attributes",
            "~ scope update:builds: acr"
        ]
    );
    let id = ClientId::new("build-api").unwrap();
    let mut meanwhile = stores.clients.get_client(&id).await.unwrap().unwrap();
    meanwhile.version += 1;
    meanwhile.disabled = true;
    stores.clients.update_client(&meanwhile).await.unwrap();
    let e = apply::apply(&stores, plan).await.unwrap_err();
    assert!(
        matches!(e, AdminError::Raced(ref c) if c == "build-api"),
        "{e}"
    );
    let stored = stores.clients.get_client(&id).await.unwrap().unwrap();
    assert_eq!(stored, meanwhile);
    let rules = stores.scope_rules.list_scope_rules().await.unwrap();
    assert_eq!(rules[0].acr, ["urn:example:mfa"]);

    // Prune: what the file leaves out is deleted, and nothing else.
    let only_deploy = format!("clients:{DEPLOY}");
    let plan = apply::plan(&stores, &config, &document(&only_deploy), true, now)
        .await
        .unwrap();
    assert_eq!(
        plan.lines(),
        [
            "- client build-api",
            "- issuer https://idp.example.com",
            "- scope update:builds"
        ]
    );
    apply::apply(&stores, plan).await.unwrap();
    let left = apply::export(&stores).await.unwrap();
    let ids: Vec<_> = left.clients.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["deploy"]);
    assert!(left.issuers.is_empty() && left.scopes.is_empty());
}
