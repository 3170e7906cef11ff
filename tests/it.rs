//! Workspace integration tests: the local server on an ephemeral port, driven over HTTP by an
//! independent client, with tokens verified by the `jsonwebtoken` crate against the served JWKS.

mod it {
    pub mod harness;

    mod abuse;
    mod faults;
    mod introspect;
    mod metadata;
    mod revoke;
    mod token;
}
