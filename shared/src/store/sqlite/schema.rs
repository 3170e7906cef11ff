//! The tables added after the first schema version.

/// Added in schema version 2.
pub(super) const DELEGATIONS: &str = "
CREATE TABLE IF NOT EXISTS delegations (
    id        TEXT PRIMARY KEY,
    delegate  TEXT NOT NULL,
    delegator TEXT NOT NULL,
    doc       TEXT NOT NULL,
    UNIQUE (delegate, delegator)
);
CREATE INDEX IF NOT EXISTS delegations_by_delegator ON delegations (delegator, delegate);
";

/// Added in schema version 3.
pub(super) const ISSUERS_RULES_REFRESH: &str = "
CREATE TABLE IF NOT EXISTS issuers (
    issuer TEXT PRIMARY KEY,
    doc    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scope_rules (
    scope TEXT PRIMARY KEY,
    doc   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash       TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    used_at    INTEGER,
    expires_at INTEGER NOT NULL,
    doc        TEXT NOT NULL
);
";

/// Added in schema version 4.
pub(super) const AUTHENTICATION: &str = "
CREATE TABLE IF NOT EXISTS auth_failures (
    key        TEXT PRIMARY KEY,
    count      INTEGER NOT NULL,
    window_end INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assertion_ids (
    key   TEXT PRIMARY KEY,
    until INTEGER NOT NULL
);
";
