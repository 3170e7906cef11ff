//! Workload identity federation (docs/federation.md): build jobs, Kubernetes pods and cloud
//! workloads authenticate as a client with the OIDC token their platform gives them, gated by
//! a CEL condition over its claims, with no secret to store or rotate.
//!
//! - [`condition`]: CEL conditions, checked when added, compiled once per process.
//! - [`verify`]: the verification every endpoint and `tokenmint client explain` share.
//! - [`manage`]: adding and removing credentials.

pub mod condition;
pub mod manage;
pub mod verify;

pub use condition::{Condition, ConditionError, Conditions};
pub use manage::{NewCredential, create_federated_client, federate, unfederate};
pub use verify::{PlatformIdentity, Report, Verifier};
