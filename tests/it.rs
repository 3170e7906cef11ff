//! Workspace integration tests: the local server on an ephemeral port, driven over HTTP by an
//! independent client, with tokens verified by the `jsonwebtoken` crate against the served JWKS.

// Test code throughout: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod it {
    pub mod harness;

    mod abuse;
    mod apply;
    mod attacks;
    mod delegated;
    mod deploy;
    mod dynamodb;
    mod exchange;
    mod faults;
    mod federation;
    mod hook;
    mod hook_transports;
    mod idp;
    mod introspect;
    mod kms;
    mod kms_wrapped;
    mod lambda;
    mod lambda_hook;
    mod lambda_url;
    mod metadata;
    mod outage;
    mod private_key_jwt;
    mod refresh;
    mod review;
    mod revoke;
    mod rotation;
    mod runtime_api;
    mod token;
    mod wycheproof;
}
