//! The default claims hook, run in process by `tokenmint serve` and by the `cc-hook` Lambda
//! function: business data from the store.
//!
//! 1. Client attributes (`client create --attr partner_id=p-17`, optionally tied to a scope
//!    with `@scope`) become namespaced claims, the latter only when that scope is granted.
//! 2. A request carrying `user_id` gets `<namespace>user_id` only if a live delegation from
//!    `user:<user_id>` to this client allows every granted scope; otherwise it is denied.
//!    The caller's word for `user_id` is never enough.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{Allow, ClaimsHook, HookEvent, HookFailure, HookResponse};
use crate::clock::Clock;
use crate::domain::{ClientId, Principal, ScopeSet, UserSub};
use crate::store::DelegationStore;

/// The request parameter naming the user a client acts for.
pub const USER_ID_PARAMETER: &str = "user_id";

/// The default hook over a delegation store.
pub struct DefaultHook {
    pub delegations: Arc<dyn DelegationStore>,
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl ClaimsHook for DefaultHook {
    fn name(&self) -> &str {
        "default"
    }

    async fn call(&self, event: &HookEvent) -> Result<HookResponse, HookFailure> {
        let granted = ScopeSet::parse(&event.granted_scope)
            .map_err(|_| HookFailure::Malformed("granted_scope is not a scope string".into()))?;
        let ns = &event.claims_namespace;
        let mut claims = Map::new();
        for a in &event.client.attributes {
            if a.scope.as_ref().is_none_or(|s| granted.contains(s)) {
                claims.insert(format!("{ns}{}", a.name), Value::String(a.value.clone()));
            }
        }
        let mut delegations = Vec::new();
        if let Some(user) = event.parameters.get(USER_ID_PARAMETER) {
            let deny = |reason: String| Ok(HookResponse::Deny { reason });
            let Ok(sub) = UserSub::new(user) else {
                return deny("user_id is not a valid user subject".into());
            };
            let Ok(client) = ClientId::new(&event.client.id) else {
                return Err(HookFailure::Malformed("the client id is invalid".into()));
            };
            let delegator = Principal::User(sub);
            let found = self
                .delegations
                .delegation(&delegator, &Principal::Client(client))
                .await
                .map_err(|e| HookFailure::Transient(e.to_string()))?;
            match found {
                Some(d) if d.is_live(self.clock.now()) && d.allows(&granted) => {
                    claims.insert(
                        format!("{ns}{USER_ID_PARAMETER}"),
                        Value::String(user.clone()),
                    );
                    delegations.push(d.id);
                }
                Some(d) if d.is_live(self.clock.now()) => {
                    return deny(format!(
                        "the delegation from {delegator} does not allow scope {:?}",
                        granted
                            .difference(&d.scopes)
                            .next()
                            .map_or("", |s| s.as_str())
                    ));
                }
                _ => {
                    return deny(format!(
                        "no live delegation from {delegator} to this client"
                    ));
                }
            }
        }
        Ok(HookResponse::Allow(Allow {
            claims,
            scope: None,
            delegations,
        }))
    }
}
