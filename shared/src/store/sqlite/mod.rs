//! The embedded store: one SQLite file, in WAL mode so the CLI can administer a running server.

mod assertion_ids;
mod auth_failures;
mod clients;
mod delegations;
mod files;
mod issuers;
mod keys;
mod refresh_tokens;
mod revocations;
mod schema;
mod scope_rules;
mod sql;

pub use files::permission_warning;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::StoreError;
use sql::{decode_all, unavailable};

/// 2 added delegations; 3 added issuers, scope rules and refresh tokens; 4 added
/// authentication failures.
const SCHEMA_VERSION: i64 = 4;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clients (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    doc     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid        TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    doc        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revocations (
    jti   TEXT PRIMARY KEY,
    until INTEGER NOT NULL
);
";

/// A SQLite-backed implementation of every store port.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and its schema. New directories are
    /// created 0700 and the database 0600, whatever the umask: in `local` signer mode it holds
    /// the plaintext signing key. An existing store open to other users is logged as a
    /// warning ([`permission_warning`]), not changed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        files::create_private(path)?;
        if let Some(warning) = permission_warning(path) {
            tracing::warn!(path = %path.display(), "{warning}");
        }
        let conn = Connection::open(path).map_err(unavailable)?;
        Self::init(conn)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(unavailable)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        // WAL lets readers and one writer in other processes proceed together; the busy
        // timeout makes a concurrent writer wait rather than fail.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(unavailable)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(unavailable)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(unavailable)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::unavailable(format!(
                "the database has schema version {version}; this build knows up to {SCHEMA_VERSION}"
            )));
        }
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        conn.execute_batch(schema::DELEGATIONS)
            .map_err(unavailable)?;
        conn.execute_batch(schema::ISSUERS_RULES_REFRESH)
            .map_err(unavailable)?;
        conn.execute_batch(schema::AUTHENTICATION)
            .map_err(unavailable)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(unavailable)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async workers: SQLite calls block.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::unavailable("connection lock poisoned"))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::unavailable_by(format!("store task failed: {e}"), e))?
    }
}

impl SqliteStore {
    /// Decodes the `doc` of every row `sql` selects.
    async fn docs<T>(&self, sql: &'static str) -> Result<Vec<T>, StoreError>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        self.run(move |c| decode_all(c, sql, [])).await
    }

    /// Runs one write statement; whether it changed a row.
    async fn write(&self, sql: &'static str, values: Vec<String>) -> Result<bool, StoreError> {
        self.run(move |c| {
            let n = c
                .execute(sql, rusqlite::params_from_iter(values))
                .map_err(unavailable)?;
            Ok(n > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RevocationStore as _;

    #[tokio::test]
    async fn contract() {
        let s = Arc::new(SqliteStore::open_in_memory().unwrap());
        crate::store::contract::run_all(super::super::Stores::from_one(s)).await;
    }

    #[tokio::test]
    async fn two_handles_on_one_file_see_each_other() {
        let dir = std::env::temp_dir().join(format!("tokenmint-sqlite-{}", std::process::id()));
        let path = dir.join("t.db");
        let a = Arc::new(SqliteStore::open(&path).unwrap());
        let b = Arc::new(SqliteStore::open(&path).unwrap());
        a.revoke("j1", 100).await.unwrap();
        assert!(b.is_revoked("j1", 50).await.unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A file that is not a database fails as it always has, and the SQLite error itself is
    /// there for whoever walks the chain.
    #[test]
    fn a_backend_failure_keeps_the_sqlite_error_as_its_source() {
        use std::error::Error as _;
        let dir = std::env::temp_dir().join(format!("tokenmint-notadb-{}", std::process::id()));
        let path = dir.join("t.db");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, [b'x'; 1024]).unwrap();
        let Err(e) = SqliteStore::open(&path) else {
            panic!("a file of 'x's opened as a database");
        };
        let source = e.source().and_then(|s| s.downcast_ref::<rusqlite::Error>());
        let source = source.expect("the rusqlite error is the source");
        assert_eq!(e.to_string(), format!("store unavailable: {source}"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// What `serve` and every CLI command open: new directories 0700, the database and the
    /// `-wal` and `-shm` files SQLite creates beside it 0600, under the test's umask (the
    /// usual 022 leaves new files readable by everyone unless the program says otherwise).
    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_store_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let parent = std::env::temp_dir().join(format!("tokenmint-private-{}", std::process::id()));
        let dir = parent.join("data");
        let path = dir.join("t.db");
        let store = SqliteStore::open(&path).unwrap();
        store.revoke("j1", 100).await.unwrap();
        for p in [&parent, &dir] {
            assert_eq!(format!("{:o}", mode(p)), "700", "{}", p.display());
        }
        for f in ["t.db", "t.db-wal", "t.db-shm"].map(|f| dir.join(f)) {
            assert_eq!(format!("{:o}", mode(&f)), "600", "{}", f.display());
        }
        assert_eq!(permission_warning(&path), None);
        drop(store);
        std::fs::remove_dir_all(parent).unwrap();
    }
}
