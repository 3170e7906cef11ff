//! The claims hook: a versioned contract (docs/hook.md, docs/hook.schema.json) through which
//! business data adds claims to a token, and the guard rails around it.
//!
//! The token endpoint builds a [`HookEvent`] (never containing a secret or a token), calls the
//! client's hook through a [`ClaimsHook`] adapter within a time budget, and checks the
//! [`HookResponse`] against [`guard::Rules`]. Adapters: [`in_process::DefaultHook`] (business
//! data from the store), [`webhook::Webhook`] (HTTP with an HMAC signature) and, on AWS,
//! `lambda::LambdaHook` (a synchronous Lambda invocation).

pub mod guard;
pub mod in_process;
#[cfg(feature = "aws")]
pub mod lambda;
mod run;
pub mod webhook;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use run::{Approved, HookError, HookSettings, call};

use crate::domain::ClientAttribute;

/// The contract version this build sends and accepts.
pub const CONTRACT_VERSION: u32 = 1;

/// Form parameters never passed to a hook: credentials, tokens, and the parameters whose
/// meaning the event already carries.
pub const WITHHELD_PARAMETERS: &[&str] = &[
    "grant_type",
    "scope",
    "resource",
    "audience",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "refresh_token",
    "code",
    "code_verifier",
    "password",
    "assertion",
    "device_code",
];

/// What a hook is told about one token request (contract version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookEvent {
    pub version: u32,
    /// Unique per token request; the `jti` the token will carry.
    pub request_id: String,
    pub grant_type: String,
    pub client: HookClient,
    /// The scope parameter as sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scope: Option<String>,
    /// The scope tokenmint would grant: the hook may narrow it, never widen it.
    pub granted_scope: String,
    pub audience: String,
    /// The request's other parameters (e.g. `user_id`), by name.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// The claims namespace custom claim names must start with.
    pub claims_namespace: String,
    /// Token exchange only: the subject of the token to issue (the user, kept from the
    /// subject token, or the account a delegation reaches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Token exchange only: whether `sub` names a user or a client (`chain.sub_type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<crate::domain::PrincipalKind>,
    /// Token exchange only: the actors, as the token will carry them (RFC 8693 §4.1); a
    /// client actor carries its `client_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<crate::domain::Actor>,
    /// Token exchange only: the issuer of the subject token (tokenmint's, or a trusted one's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_issuer: Option<String>,
}

/// The requesting client as the hook sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookClient {
    pub id: String,
    #[serde(default)]
    pub attributes: Vec<ClientAttribute>,
}

/// A hook's answer: claims (and optionally a narrower scope and the delegations relied on), or
/// a denial.
#[derive(Debug, Clone, PartialEq)]
pub enum HookResponse {
    Allow(Allow),
    Deny { reason: String },
}

/// An approving answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// Claims to add, by their full names; never rewritten.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// A narrower scope than the granted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Ids of delegations the claims rely on. tokenmint checks each is live and names this
    /// client as delegate, caps the token's `exp` at their expiry and lists them in `dlg`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegations: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DenyBody {
    deny: Denial,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Denial {
    reason: String,
}

impl HookResponse {
    /// Parses a response body. Strict: an unknown member is a malformed answer, not ignored.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let Value::Object(obj) = &value else {
            return Err("the response is not a JSON object".into());
        };
        if obj.contains_key("deny") {
            let d: DenyBody = serde_json::from_value(value).map_err(|e| e.to_string())?;
            return Ok(Self::Deny {
                reason: d.deny.reason,
            });
        }
        serde_json::from_value(value)
            .map(Self::Allow)
            .map_err(|e| e.to_string())
    }

    /// The JSON a hook sends.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Allow(a) => serde_json::to_value(a).unwrap_or_default(),
            Self::Deny { reason } => serde_json::json!({"deny": {"reason": reason}}),
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum HookFailure {
    /// Timeout, throttling, a crash, an unreachable endpoint: may be retried.
    #[error("hook unavailable: {0}")]
    Transient(String),
    /// An answer that breaks the contract: retrying cannot help.
    #[error("malformed hook response: {0}")]
    Malformed(String),
}

/// One way of calling a hook.
#[async_trait]
pub trait ClaimsHook: Send + Sync {
    /// Names the hook in audit events (never a secret).
    fn name(&self) -> &str;
    async fn call(&self, event: &HookEvent) -> Result<HookResponse, HookFailure>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_strictly() {
        let allow = HookResponse::from_json(
            br#"{"claims":{"https://i/claims/a":1},"scope":"read","delegations":["d1"]}"#,
        )
        .unwrap();
        let HookResponse::Allow(a) = allow else {
            panic!()
        };
        assert_eq!(a.scope.as_deref(), Some("read"));
        assert_eq!(a.delegations, ["d1"]);
        assert_eq!(
            HookResponse::from_json(br#"{"deny":{"reason":"no"}}"#).unwrap(),
            HookResponse::Deny {
                reason: "no".into()
            }
        );
        assert_eq!(
            HookResponse::from_json(b"{}").unwrap(),
            HookResponse::Allow(Allow::default())
        );
        for bad in [
            &b"[]"[..],
            b"null",
            b"{\"claim\":{}}",
            b"{\"claims\":[]}",
            b"{\"deny\":{}}",
            b"{\"deny\":{\"reason\":\"x\"},\"claims\":{}}",
            b"{\"claims\":{\"a\":NaN}}",
            b"{\"claims\":{\"a\":\"\\ud800\"}}",
            b"\xff",
        ] {
            assert!(
                HookResponse::from_json(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
