//! Metrics: counters and latencies at the points that matter to an operator, through the
//! `metrics` facade. Nothing is recorded until an exporter installs a recorder: Prometheus text
//! on `tokenmint serve --metrics-addr`, CloudWatch Embedded Metric Format lines on Lambda
//! ([`crate::lambda`]). docs/operations.md lists every series.
//!
//! Labels carry only configuration and outcomes (grant types, client ids, OAuth error codes,
//! endpoint names): never a secret, a token, a subject or any other user identifier.

use std::time::Duration;

use metrics::{counter, histogram};

use crate::domain::{ClientId, GrantType};
use crate::http::Endpoint;
use crate::oauth::ErrorCode;

/// A dependency's failure as the dashboard tells them apart: a quota refusal is met by
/// raising the quota or slowing down, any other failure by looking at the dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Throttled,
    Failed,
}

impl Failure {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::Failed => "failed",
        }
    }
}

/// How a claims-hook call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookOutcome {
    /// The hook answered claims the guard rails accepted.
    Ok,
    /// The hook refused the token, or answered claims the guard rails refused.
    Refused,
    /// The hook failed, timed out or answered badly: the request failed closed.
    Failed,
}

/// `tokenmint_tokens_issued_total{grant,client}`.
pub fn token_issued(grant: GrantType, client: &ClientId) {
    counter!(
        "tokenmint_tokens_issued_total",
        "grant" => grant_label(grant),
        "client" => client.as_str().to_owned(),
    )
    .increment(1);
}

/// `tokenmint_token_refusals_total{error}`: every error answer of the token endpoint.
pub fn token_refused(code: ErrorCode) {
    counter!("tokenmint_token_refusals_total", "error" => code.as_str()).increment(1);
}

/// `tokenmint_endpoint_refusals_total{endpoint,error}`: error answers of the other endpoints.
pub fn endpoint_refused(endpoint: Endpoint, code: ErrorCode) {
    counter!(
        "tokenmint_endpoint_refusals_total",
        "endpoint" => endpoint_label(endpoint),
        "error" => code.as_str(),
    )
    .increment(1);
}

/// `tokenmint_introspections_total{active}`.
pub fn introspected(active: bool) {
    let active = if active { "true" } else { "false" };
    counter!("tokenmint_introspections_total", "active" => active).increment(1);
}

/// `tokenmint_revocations_total`: revocation requests answered 200 (RFC 7009 §2.2).
pub fn revoked() {
    counter!("tokenmint_revocations_total").increment(1);
}

/// `tokenmint_request_duration_seconds{endpoint}`: from routing to the answer.
pub fn request_served(endpoint: Endpoint, elapsed: Duration) {
    histogram!(
        "tokenmint_request_duration_seconds",
        "endpoint" => endpoint_label(endpoint),
    )
    .record(elapsed.as_secs_f64());
}

/// `tokenmint_hook_calls_total{outcome}` and `tokenmint_hook_duration_seconds`.
pub fn hook_called(outcome: HookOutcome, elapsed: Duration) {
    let outcome = match outcome {
        HookOutcome::Ok => "ok",
        HookOutcome::Refused => "refused",
        HookOutcome::Failed => "failed",
    };
    counter!("tokenmint_hook_calls_total", "outcome" => outcome).increment(1);
    histogram!("tokenmint_hook_duration_seconds").record(elapsed.as_secs_f64());
}

/// `tokenmint_signer_duration_seconds{mode}` for a signer that is a remote call (KMS), and
/// `tokenmint_signer_failures_total{mode,kind}` for every signer. In-process signatures are
/// not timed: they are part of the request's own duration, and each timing is one more
/// metric line per token in the function log.
pub fn signed(mode: &'static str, elapsed: Duration, failure: Option<Failure>) {
    if mode == "kms" {
        histogram!("tokenmint_signer_duration_seconds", "mode" => mode)
            .record(elapsed.as_secs_f64());
    }
    if let Some(kind) = failure {
        counter!("tokenmint_signer_failures_total", "mode" => mode, "kind" => kind.as_str())
            .increment(1);
    }
}

/// `tokenmint_store_failures_total{kind}`: a store call that failed after its retries.
pub fn store_failed(kind: Failure) {
    counter!("tokenmint_store_failures_total", "kind" => kind.as_str()).increment(1);
}

/// `tokenmint_upstream_jwks_fetches_total{outcome}`: fetches of a trusted issuer's, a
/// federated platform's or a client's JWK Set; `failed` when no usable set came back.
pub fn upstream_fetched(ok: bool) {
    let outcome = if ok { "ok" } else { "failed" };
    counter!("tokenmint_upstream_jwks_fetches_total", "outcome" => outcome).increment(1);
}

const fn grant_label(grant: GrantType) -> &'static str {
    match grant {
        GrantType::ClientCredentials => "client_credentials",
        GrantType::TokenExchange => "token_exchange",
        GrantType::RefreshToken => "refresh_token",
    }
}

const fn endpoint_label(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Token => "token",
        Endpoint::Introspect => "introspect",
        Endpoint::Revoke => "revoke",
        Endpoint::Jwks => "jwks",
        Endpoint::Metadata => "metadata",
    }
}
