//! Trusted issuers in the table ([`IssuerStore`]): `ISSUERS` / `ISSUER#<issuer>`, one
//! partition, so a listing is one consistent `Query`.

use async_trait::async_trait;

use super::DynamoStore;
use crate::domain::TrustedIssuer;
use crate::store::codec::encode;
use crate::store::{IssuerStore, StoreError};

const ISSUERS_PK: &str = "ISSUERS";
const ISSUER_PREFIX: &str = "ISSUER#";

#[async_trait]
impl IssuerStore for DynamoStore {
    async fn put_issuer(&self, issuer: &TrustedIssuer) -> Result<(), StoreError> {
        let sk = format!("{ISSUER_PREFIX}{}", issuer.issuer);
        self.put_doc(ISSUERS_PK, sk, encode(issuer)?).await
    }

    async fn list_issuers(&self) -> Result<Vec<TrustedIssuer>, StoreError> {
        self.partition_docs(ISSUERS_PK, ISSUER_PREFIX).await
    }

    async fn remove_issuer(&self, issuer: &str) -> Result<bool, StoreError> {
        self.delete_doc(ISSUERS_PK, format!("{ISSUER_PREFIX}{issuer}"))
            .await
    }
}
