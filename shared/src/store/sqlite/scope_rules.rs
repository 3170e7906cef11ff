//! Step-up rules in the embedded store ([`ScopeRuleStore`]).

use async_trait::async_trait;

use super::SqliteStore;
use crate::domain::ScopeRule;
use crate::store::codec::encode;
use crate::store::{ScopeRuleStore, StoreError};

#[async_trait]
impl ScopeRuleStore for SqliteStore {
    async fn put_scope_rule(&self, rule: &ScopeRule) -> Result<(), StoreError> {
        let doc = encode(rule)?;
        self.write(
            "INSERT INTO scope_rules (scope, doc) VALUES (?1, ?2)
             ON CONFLICT (scope) DO UPDATE SET doc = excluded.doc",
            vec![rule.scope.as_str().to_owned(), doc],
        )
        .await
        .map(drop)
    }

    async fn list_scope_rules(&self) -> Result<Vec<ScopeRule>, StoreError> {
        self.docs("SELECT doc FROM scope_rules ORDER BY scope")
            .await
    }

    async fn remove_scope_rule(&self, scope: &str) -> Result<bool, StoreError> {
        self.write(
            "DELETE FROM scope_rules WHERE scope = ?1",
            vec![scope.to_owned()],
        )
        .await
    }
}
