//! The embedded store: one SQLite file, in WAL mode so the CLI can administer a running server.

mod delegations;
mod exchange;
mod files;
mod throttle;

pub use files::permission_warning;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{ClientStore, KeyChange, KeyStore, RevocationStore, StoreError};
use crate::clock::UnixTime;
use crate::domain::{Client, ClientId};
use crate::domain::{KeyRecord, KeyStatus};

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
            return Err(StoreError::Unavailable(format!(
                "the database has schema version {version}; this build knows up to {SCHEMA_VERSION}"
            )));
        }
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        conn.execute_batch(delegations::SCHEMA)
            .map_err(unavailable)?;
        conn.execute_batch(exchange::SCHEMA).map_err(unavailable)?;
        conn.execute_batch(throttle::SCHEMA).map_err(unavailable)?;
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
                .map_err(|_| StoreError::Unavailable("connection lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn stored_doc(c: &Connection, id: &str) -> Result<Option<String>, StoreError> {
    c.query_row("SELECT doc FROM clients WHERE id = ?1", [id], |r| r.get(0))
        .optional()
        .map_err(unavailable)
}

fn decode<T: serde::de::DeserializeOwned>(doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn get_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let id = id.as_str().to_owned();
        self.run(move |c| {
            let doc: Option<String> = c
                .query_row("SELECT doc FROM clients WHERE id = ?1", [&id], |r| r.get(0))
                .optional()
                .map_err(unavailable)?;
            doc.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        self.run(|c| {
            let mut stmt = c
                .prepare("SELECT doc FROM clients ORDER BY id")
                .map_err(unavailable)?;
            let docs = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            docs.iter().map(|d| decode(d)).collect()
        })
        .await
    }

    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let (id, version, doc) = (client.id.to_string(), client.version, encode(client)?);
        self.run(move |c| {
            let n = c
                .execute(
                    "INSERT INTO clients (id, version, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO NOTHING",
                    params![id, version as i64, doc],
                )
                .map_err(unavailable)?;
            if n == 1 || stored_doc(c, &id)?.as_deref() == Some(doc.as_str()) {
                return Ok(());
            }
            Err(StoreError::Conflict(format!("client {id} already exists")))
        })
        .await
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let (id, version, doc) = (client.id.to_string(), client.version, encode(client)?);
        let previous = version
            .checked_sub(1)
            .ok_or_else(|| StoreError::Conflict("an update must bump the version".into()))?;
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE clients SET version = ?2, doc = ?3 WHERE id = ?1 AND version = ?4",
                    params![id, version as i64, doc, previous as i64],
                )
                .map_err(unavailable)?;
            if n == 1 {
                return Ok(());
            }
            match stored_doc(c, &id)? {
                Some(stored) if stored == doc => Ok(()),
                Some(_) => Err(StoreError::Conflict(format!(
                    "client {id} changed concurrently"
                ))),
                None => Err(StoreError::NotFound(format!("client {id}"))),
            }
        })
        .await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.run(|c| {
            let mut stmt = c
                .prepare("SELECT doc FROM signing_keys ORDER BY created_at, kid")
                .map_err(unavailable)?;
            let docs = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            docs.iter().map(|d| decode(d)).collect()
        })
        .await
    }

    async fn init_active_key(&self, key: &KeyRecord) -> Result<KeyRecord, StoreError> {
        let mut key = key.clone();
        key.status = KeyStatus::Active;
        let doc = encode(&key)?;
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let existing: Option<String> = tx
                .query_row(
                    "SELECT doc FROM signing_keys WHERE status = 'active' LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            if let Some(doc) = existing {
                return decode(&doc);
            }
            tx.execute(
                "INSERT INTO signing_keys (kid, status, created_at, doc) VALUES (?1, 'active', ?2, ?3)",
                params![key.kid, key.created_at as i64, doc],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(key)
        })
        .await
    }

    async fn transition(&self, changes: &[KeyChange]) -> Result<(), StoreError> {
        let changes = changes.to_vec();
        let docs = changes
            .iter()
            .map(|c| encode(&c.record))
            .collect::<Result<Vec<_>, _>>()?;
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            for ch in &changes {
                let stored: Option<String> = tx
                    .query_row(
                        "SELECT status FROM signing_keys WHERE kid = ?1",
                        [&ch.record.kid],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(unavailable)?;
                if stored.as_deref() != ch.expected.map(KeyStatus::as_str) {
                    return Err(StoreError::Conflict(format!(
                        "key {} is {stored:?}, not {:?}",
                        ch.record.kid, ch.expected
                    )));
                }
            }
            for (ch, doc) in changes.iter().zip(&docs) {
                tx.execute(
                    "INSERT INTO signing_keys (kid, status, created_at, doc) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (kid) DO UPDATE SET status = excluded.status, doc = excluded.doc",
                    params![
                        ch.record.kid,
                        ch.record.status.as_str(),
                        ch.record.created_at as i64,
                        doc
                    ],
                )
                .map_err(unavailable)?;
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn remove_retired_key(&self, kid: &str) -> Result<bool, StoreError> {
        let kid = kid.to_owned();
        self.run(move |c| {
            c.execute(
                "DELETE FROM signing_keys WHERE kid = ?1 AND status = 'retired'",
                [&kid],
            )
            .map(|deleted| deleted > 0)
            .map_err(unavailable)
        })
        .await
    }
}

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn revoke(&self, jti: &str, until: UnixTime) -> Result<(), StoreError> {
        let jti = jti.to_owned();
        self.run(move |c| {
            c.execute(
                "INSERT INTO revocations (jti, until) VALUES (?1, ?2)
                 ON CONFLICT (jti) DO UPDATE SET until = max(until, excluded.until)",
                params![jti, until as i64],
            )
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn is_revoked(&self, jti: &str, now: UnixTime) -> Result<bool, StoreError> {
        let jti = jti.to_owned();
        self.run(move |c| {
            let until: Option<i64> = c
                .query_row(
                    "SELECT until FROM revocations WHERE jti = ?1",
                    [&jti],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            Ok(until.is_some_and(|u| u >= 0 && now < u as u64))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
