//! Step-up rules in the table ([`ScopeRuleStore`]): `SCOPE_RULES` / `SCOPE#<scope>`, one
//! partition, so a listing is one consistent `Query`.

use async_trait::async_trait;

use super::DynamoStore;
use crate::domain::ScopeRule;
use crate::store::codec::encode;
use crate::store::{ScopeRuleStore, StoreError};

const SCOPE_RULES_PK: &str = "SCOPE_RULES";
const SCOPE_PREFIX: &str = "SCOPE#";

#[async_trait]
impl ScopeRuleStore for DynamoStore {
    async fn put_scope_rule(&self, rule: &ScopeRule) -> Result<(), StoreError> {
        let sk = format!("{SCOPE_PREFIX}{}", rule.scope.as_str());
        self.put_doc(SCOPE_RULES_PK, sk, encode(rule)?).await
    }

    async fn list_scope_rules(&self) -> Result<Vec<ScopeRule>, StoreError> {
        self.partition_docs(SCOPE_RULES_PK, SCOPE_PREFIX).await
    }

    async fn remove_scope_rule(&self, scope: &str) -> Result<bool, StoreError> {
        self.delete_doc(SCOPE_RULES_PK, format!("{SCOPE_PREFIX}{scope}"))
            .await
    }
}
