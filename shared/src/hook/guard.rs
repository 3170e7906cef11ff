//! Guard rails on what a claims hook returns (docs/hook.md). A violation is a bug in the hook:
//! no token is issued, the caller gets `server_error`, and an audit event names the hook and
//! the claim. Nothing is dropped silently.

use serde_json::{Map, Value};

use crate::domain::ScopeSet;

/// Claims a hook can never set: the registered and protocol claims tokenmint owns, its own
/// delegation claim, and JOSE header parameters.
pub const RESERVED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "act",
    "may_act",
    "cnf",
    "azp",
    "auth_time",
    "acr",
    "amr",
    "token_type",
    "sid",
    "nonce",
    "gty",
    "delegated_accounts",
    "delegated_accounts_truncated",
    "chain",
    DELEGATIONS_CLAIM, // the members of an introspection answer (RFC 7662 §2.2):
    "active",
    "username", // JOSE header parameters (RFC 7515 §4.1, RFC 7516 §4.1):
    "alg",
    "kid",
    "typ",
    "cty",
    "jku",
    "jwk",
    "x5u",
    "x5c",
    "x5t",
    "x5t#S256",
    "crit",
    "enc",
    "zip",
    "epk",
    "apu",
    "apv",
    "iv",
    "tag",
    "p2s",
    "p2c",
];

/// tokenmint's claim listing the delegations a token was issued on (their ids).
pub const DELEGATIONS_CLAIM: &str = "dlg";

/// The deepest nesting of arrays and objects accepted in one claim value.
pub const MAX_DEPTH: usize = 5;

/// The most delegations one token may rely on, and the longest id: together they bound the
/// `dlg` claim, which the claims budget does not cover.
pub const MAX_DELEGATIONS: usize = 4;
pub const MAX_DELEGATION_ID_BYTES: usize = 64;

/// Checks the delegation ids a hook returned.
pub fn check_delegations(ids: &[String]) -> Result<(), Violation> {
    if ids.len() > MAX_DELEGATIONS {
        return Err(Violation {
            claim: Some(DELEGATIONS_CLAIM.into()),
            reason: format!("more than {MAX_DELEGATIONS} delegations"),
        });
    }
    if let Some(bad) = ids
        .iter()
        .find(|id| id.is_empty() || id.len() > MAX_DELEGATION_ID_BYTES)
    {
        return Err(Violation {
            claim: Some(DELEGATIONS_CLAIM.into()),
            reason: format!(
                "delegation id {:?} is empty or longer than {MAX_DELEGATION_ID_BYTES} bytes",
                crate::audit::shown(bad)
            ),
        });
    }
    Ok(())
}

/// What a hook may add.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Claim names must start with this (e.g. `https://issuer.example.com/claims/`) ...
    pub namespace: String,
    /// ... or be one of these short names.
    pub allowed: Vec<String>,
    /// The most bytes the claims may take, serialized as a JSON object.
    pub budget: usize,
}

/// A broken rule: which claim (if one) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Violation {
    pub claim: Option<String>,
    pub reason: String,
}

impl Violation {
    fn claim(name: &str, reason: impl Into<String>) -> Self {
        Self {
            claim: Some(name.to_owned()),
            reason: reason.into(),
        }
    }
}

impl Rules {
    /// Checks the claims a hook returned.
    pub fn check_claims(&self, claims: &Map<String, Value>) -> Result<(), Violation> {
        for (name, value) in claims {
            if RESERVED.contains(&name.as_str()) {
                return Err(Violation::claim(name, format!("{name:?} is reserved")));
            }
            let namespaced = name.len() > self.namespace.len() && name.starts_with(&self.namespace);
            if !namespaced && !self.allowed.iter().any(|a| a == name) {
                return Err(Violation::claim(
                    name,
                    format!(
                        "{name:?} is neither under the claims namespace {:?} nor allow-listed",
                        self.namespace
                    ),
                ));
            }
            if depth(value) > MAX_DEPTH {
                return Err(Violation::claim(
                    name,
                    format!("nested deeper than {MAX_DEPTH} levels"),
                ));
            }
        }
        let size = serde_json::to_vec(claims).map_or(usize::MAX, |v| v.len());
        if size > self.budget {
            return Err(Violation {
                claim: None,
                reason: format!(
                    "the claims take {size} bytes, more than the budget of {}",
                    self.budget
                ),
            });
        }
        Ok(())
    }
}

/// A narrower scope from the hook: every scope in it must have been granted.
pub fn check_scope(narrowed: &str, granted: &ScopeSet) -> Result<ScopeSet, Violation> {
    let scope = ScopeSet::parse(narrowed).map_err(|_| Violation {
        claim: Some("scope".into()),
        reason: "the hook's scope is not a valid scope string".into(),
    })?;
    if let Some(extra) = scope.difference(granted).next() {
        return Err(Violation {
            claim: Some("scope".into()),
            reason: format!(
                "the hook's scope adds {:?}, which was not granted",
                extra.as_str()
            ),
        });
    }
    Ok(scope)
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> Rules {
        Rules {
            namespace: "https://iss.example/claims/".into(),
            allowed: vec!["tenant".into()],
            budget: 1024,
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reserved_and_unnamespaced_names_are_violations() {
        let r = rules();
        for name in RESERVED {
            let err = r.check_claims(&claims(json!({ *name: 1 }))).unwrap_err();
            assert_eq!(err.claim.as_deref(), Some(*name));
        }
        let err = r
            .check_claims(&claims(json!({"partner_id": 1})))
            .unwrap_err();
        assert_eq!(err.claim.as_deref(), Some("partner_id"));
        // The namespace alone is not a claim name.
        assert!(
            r.check_claims(&claims(json!({"https://iss.example/claims/": 1})))
                .is_err()
        );
        assert!(
            r.check_claims(&claims(
                json!({"https://iss.example/claims/partner_id": "p-17", "tenant": "acme"})
            ))
            .is_ok()
        );
    }

    #[test]
    fn depth_and_budget() {
        let r = rules();
        let deep = json!({"https://iss.example/claims/x": [[[[[1]]]]]});
        assert!(r.check_claims(&claims(deep)).is_ok());
        let deeper = json!({"https://iss.example/claims/x": [[[[[[1]]]]]]});
        assert!(r.check_claims(&claims(deeper)).is_err());
        let big = json!({"tenant": "x".repeat(1100)});
        let err = r.check_claims(&claims(big)).unwrap_err();
        assert!(err.reason.contains("budget"), "{err}");
        assert_eq!(err.claim, None);
    }

    #[test]
    fn scope_may_only_narrow() {
        let granted = ScopeSet::parse("read write").unwrap();
        assert_eq!(check_scope("read", &granted).unwrap().to_string(), "read");
        assert_eq!(check_scope("", &granted).unwrap().to_string(), "");
        assert!(check_scope("read admin", &granted).is_err());
        assert!(check_scope("a\"b", &granted).is_err());
    }
}
