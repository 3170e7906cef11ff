//! Calling a hook within its time budget, retrying transient failures, and turning its answer
//! into claims for the token or a [`HookError`]. Every decision is one audit event.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::guard::{self, Rules, Violation};
use super::{ClaimsHook, HookEvent, HookFailure, HookResponse};
use crate::audit::shown;
use crate::domain::ScopeSet;

/// Attempts at most, within the time budget.
const MAX_ATTEMPTS: u32 = 3;
/// The first pause between attempts; doubled each time, with jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// How hooks are called.
#[derive(Debug, Clone)]
pub struct HookSettings {
    /// For the whole hook step, retries included (`TOKENMINT_HOOK_TIMEOUT`, default 2 s).
    pub timeout: Duration,
    /// Short claim names allowed outside the namespace (`TOKENMINT_CLAIMS_ALLOW`).
    pub allowed: Vec<String>,
    /// Serialized size of the claims a hook may add (`TOKENMINT_CLAIMS_BUDGET`, 1 KiB).
    pub budget: usize,
}

/// What an approving hook contributes to a token, checked against the rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Approved {
    pub claims: Map<String, Value>,
    /// A narrower scope, when the hook chose one.
    pub scope: Option<ScopeSet>,
    /// Delegation ids the claims rely on; the caller checks them against the store.
    pub delegations: Vec<String>,
}

/// Why the hook step issued nothing. The token endpoint maps each to its OAuth error
/// ([`crate::oauth::claims_hook`]): `Unavailable` to `503 temporarily_unavailable`, `Denied`
/// to `access_denied`, `Malformed` and `Violation` to `server_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// No answer within the budget, or transient failures until it ran out.
    #[error("the claims hook is unavailable: {0}")]
    Unavailable(String),
    /// The answer is not a hook response.
    #[error("the claims hook's answer is malformed: {0}")]
    Malformed(String),
    /// The hook denied the token; the reason as the hook gave it, shortened.
    #[error("denied by the claims hook: {0}")]
    Denied(String),
    /// The answer broke a guard rail (docs/hook.md).
    #[error("the claims hook broke a guard rail: {0}")]
    Violation(String),
}

/// Calls `hook` for `event`: the claims to add, or why not. Transient failures are retried
/// (at most three attempts, jittered backoff) inside `settings.timeout`; then, like a
/// timeout, they fail closed. Every decision is one `hook_decision` audit event.
pub async fn call(
    hook: &dyn ClaimsHook,
    event: &HookEvent,
    settings: &HookSettings,
    granted: &ScopeSet,
) -> Result<Approved, HookError> {
    let started = Instant::now();
    let outcome = attempt(hook, event, settings.timeout).await;
    let elapsed = started.elapsed();
    let latency_ms = elapsed.as_millis() as u64;
    let decided = |decision: &str, claims: &str, reason: &str| {
        let outcome = match decision {
            "allow" => crate::meter::HookOutcome::Ok,
            "deny" | "violation" => crate::meter::HookOutcome::Refused,
            _ => crate::meter::HookOutcome::Failed,
        };
        crate::meter::hook_called(outcome, elapsed);
        crate::audit!(
            "hook_decision",
            hook = hook.name(),
            client_id = %event.client.id,
            request_id = %event.request_id,
            decision,
            claims = %shown(claims),
            reason = %shown(reason),
            latency_ms,
        );
    };
    let allow = match outcome {
        Err(HookFailure::Transient(e)) => {
            decided("unavailable", "", &e);
            return Err(HookError::Unavailable(e));
        }
        Err(HookFailure::Malformed(e)) => {
            decided("malformed", "", &e);
            return Err(HookError::Malformed(e));
        }
        Ok(HookResponse::Deny { reason }) => {
            decided("deny", "", &reason);
            return Err(HookError::Denied(shown(&reason)));
        }
        Ok(HookResponse::Allow(a)) => a,
    };
    let names = allow
        .claims
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    match check(&allow, event, settings, granted) {
        Err(Violation { claim, reason }) => {
            crate::audit!(
                "hook_violation",
                hook = hook.name(),
                client_id = %event.client.id,
                request_id = %event.request_id,
                claim = %shown(claim.as_deref().unwrap_or("")),
                reason = %shown(&reason),
            );
            decided("violation", &names, &reason);
            Err(HookError::Violation(reason))
        }
        Ok(scope) => {
            decided("allow", &names, "");
            Ok(Approved {
                claims: allow.claims,
                scope,
                delegations: allow.delegations,
            })
        }
    }
}

/// The guard rails (docs/hook.md) on an approving answer: claim names, size, delegation ids,
/// and a scope that may only narrow `granted`. The narrower scope, if the hook chose one.
fn check(
    allow: &super::Allow,
    event: &HookEvent,
    settings: &HookSettings,
    granted: &ScopeSet,
) -> Result<Option<ScopeSet>, Violation> {
    let rules = Rules {
        namespace: event.claims_namespace.clone(),
        allowed: settings.allowed.clone(),
        budget: settings.budget,
    };
    rules.check_claims(&allow.claims)?;
    guard::check_delegations(&allow.delegations)?;
    allow
        .scope
        .as_deref()
        .map(|s| guard::check_scope(s, granted))
        .transpose()
}

async fn attempt(
    hook: &dyn ClaimsHook,
    event: &HookEvent,
    timeout: Duration,
) -> Result<HookResponse, HookFailure> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let failure = match tokio::time::timeout_at(deadline, hook.call(event)).await {
            Err(_) => {
                return Err(HookFailure::Transient(format!(
                    "no answer within {} ms",
                    timeout.as_millis()
                )));
            }
            Ok(Err(HookFailure::Transient(e))) => e,
            Ok(other) => return other,
        };
        let pause = jittered(backoff);
        if attempts >= MAX_ATTEMPTS || tokio::time::Instant::now() + pause >= deadline {
            return Err(HookFailure::Transient(failure));
        }
        tokio::time::sleep(pause).await;
        backoff = backoff.saturating_mul(2);
    }
}

/// Between half and all of `d`, so that callers failing together do not retry together.
fn jittered(d: Duration) -> Duration {
    let mut b = [0u8; 1];
    let r = getrandom::fill(&mut b).map_or(255, |()| b[0]);
    d / 2 + d / 2 * u32::from(r) / 255
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use async_trait::async_trait;
    use serde_json::json;

    use super::super::Allow;
    use super::*;

    struct Scripted {
        failures: u32,
        calls: AtomicU32,
        answer: HookResponse,
        delay: Duration,
    }

    #[async_trait]
    impl ClaimsHook for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        async fn call(&self, _: &HookEvent) -> Result<HookResponse, HookFailure> {
            tokio::time::sleep(self.delay).await;
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err(HookFailure::Transient("throttled".into()));
            }
            Ok(self.answer.clone())
        }
    }

    fn hook(failures: u32, answer: HookResponse, delay_ms: u64) -> Scripted {
        Scripted {
            failures,
            calls: AtomicU32::new(0),
            answer,
            delay: Duration::from_millis(delay_ms),
        }
    }

    fn event() -> HookEvent {
        HookEvent {
            version: 1,
            request_id: "r".into(),
            grant_type: "client_credentials".into(),
            client: super::super::HookClient {
                id: "c".into(),
                attributes: vec![],
            },
            requested_scope: None,
            granted_scope: "read write".into(),
            audience: "api".into(),
            parameters: Default::default(),
            claims_namespace: "https://i/claims/".into(),
            sub: None,
            sub_type: None,
            act: None,
            subject_issuer: None,
        }
    }

    fn settings(ms: u64) -> HookSettings {
        HookSettings {
            timeout: Duration::from_millis(ms),
            allowed: vec![],
            budget: 1024,
        }
    }

    fn allow(claims: Value, scope: Option<&str>) -> HookResponse {
        HookResponse::Allow(Allow {
            claims: claims.as_object().unwrap().clone(),
            scope: scope.map(String::from),
            delegations: vec![],
        })
    }

    #[tokio::test]
    async fn transient_failures_are_retried_then_fail_closed() {
        let granted = ScopeSet::parse("read write").unwrap();
        let ok = allow(json!({"https://i/claims/t": 1}), Some("read"));
        let h = hook(2, ok.clone(), 0);
        let a = call(&h, &event(), &settings(2000), &granted).await.unwrap();
        assert_eq!(a.scope.unwrap().to_string(), "read");
        assert_eq!(h.calls.load(Ordering::SeqCst), 3);
        let h = hook(3, ok.clone(), 0);
        let e = call(&h, &event(), &settings(2000), &granted)
            .await
            .unwrap_err();
        assert!(matches!(e, HookError::Unavailable(_)), "{e}");
        assert_eq!(h.calls.load(Ordering::SeqCst), 3);
        // A slow hook is cut off at the budget.
        let h = hook(0, ok, 500);
        let started = Instant::now();
        let e = call(&h, &event(), &settings(100), &granted)
            .await
            .unwrap_err();
        assert!(matches!(e, HookError::Unavailable(_)), "{e}");
        assert!(started.elapsed() < Duration::from_millis(400));
    }

    #[tokio::test]
    async fn denials_and_violations() {
        let granted = ScopeSet::parse("read").unwrap();
        let deny = HookResponse::Deny {
            reason: "no".into(),
        };
        let e = call(&hook(0, deny, 0), &event(), &settings(500), &granted)
            .await
            .unwrap_err();
        assert_eq!(e, HookError::Denied("no".into()));
        for bad in [
            allow(json!({"sub": "someone-else"}), None),
            allow(json!({"partner": 1}), None),
            allow(json!({}), Some("read admin")),
        ] {
            let e = call(&hook(0, bad, 0), &event(), &settings(500), &granted)
                .await
                .unwrap_err();
            assert!(matches!(e, HookError::Violation(_)), "{e}");
        }
    }
}
