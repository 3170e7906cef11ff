//! Trusted external issuers in the embedded store ([`IssuerStore`]).

use async_trait::async_trait;

use super::SqliteStore;
use crate::domain::TrustedIssuer;
use crate::store::codec::encode;
use crate::store::{IssuerStore, StoreError};

#[async_trait]
impl IssuerStore for SqliteStore {
    async fn put_issuer(&self, issuer: &TrustedIssuer) -> Result<(), StoreError> {
        let doc = encode(issuer)?;
        self.write(
            "INSERT INTO issuers (issuer, doc) VALUES (?1, ?2)
             ON CONFLICT (issuer) DO UPDATE SET doc = excluded.doc",
            vec![issuer.issuer.clone(), doc],
        )
        .await
        .map(drop)
    }

    async fn list_issuers(&self) -> Result<Vec<TrustedIssuer>, StoreError> {
        self.docs("SELECT doc FROM issuers ORDER BY issuer").await
    }

    async fn remove_issuer(&self, issuer: &str) -> Result<bool, StoreError> {
        self.write(
            "DELETE FROM issuers WHERE issuer = ?1",
            vec![issuer.to_owned()],
        )
        .await
    }
}
