//! Audit events: one structured record per decision, on the `audit` tracing target.
//!
//! Events carry identifiers (client ids, `jti`s, scopes, audiences, reasons), never secrets or
//! tokens. On Lambda they reach CloudWatch through stdout.

/// The tracing target of audit events; filter on it to route them.
pub const TARGET: &str = "audit";

/// Emits an audit event: `audit!("token_issued", client_id = %id, jti = %jti)`.
#[macro_export]
macro_rules! audit {
    ($event:literal $(, $($field:tt)*)?) => {
        ::tracing::info!(target: $crate::audit::TARGET, event = $event $(, $($field)*)?)
    };
}

/// A client-supplied value as quoted in an error description or an audit event: at most 64
/// characters, so that both stay small whatever a client sends.
pub fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(64).collect();
    if s.len() < value.len() {
        s.push('…');
    }
    s
}
