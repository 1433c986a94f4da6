#![doc = include_str!("../README.md")]

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iamkit::identity::{ApiKeyId, SessionId};
use iamkit::{ApiKeyContext, SessionContext, Store, Transaction};
use iamkit_store_api::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

mod access_model;
mod audit;
mod authentication;
mod codec;
mod credentials;
mod facade;
mod identity;
mod migrations;
mod rbac;

pub use migrations::MIGRATIONS;

use codec::db;

/// How long a writer waits for SQLite's write lock before giving up with
/// `Conflict`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How a file store's pool is sized.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Connections in the pool (default 8). Writers queue for SQLite's one
    /// write lock whatever the size; readers (request authentication,
    /// checks, directory pages) run in parallel up to it.
    pub max_connections: NonZeroU32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_connections: NonZeroU32::new(8).unwrap_or(NonZeroU32::MIN),
        }
    }
}

impl SqliteOptions {
    /// A pool of `max_connections` connections.
    pub fn max_connections(mut self, max_connections: NonZeroU32) -> Self {
        self.max_connections = max_connections;
        self
    }
}

/// A SQLite-backed store. Clones share one connection pool.
///
/// Every transaction starts with `BEGIN IMMEDIATE`: it takes SQLite's single
/// write lock up front, so transactions run one after another (serializable)
/// and two of them never deadlock upgrading a read lock to a write lock.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Deletes the database file of [`SqliteStore::temporary`] stores when
    /// the last clone is dropped.
    _temporary: Option<Arc<TemporaryFile>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// A database file removed (with its WAL and shared-memory files) on drop.
struct TemporaryFile(PathBuf);

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            // Best effort: a file that is already gone is fine.
            let _ = std::fs::remove_file(path);
        }
    }
}

impl SqliteStore {
    /// Opens (creating it if missing) the database file at `path`, in WAL
    /// mode with `synchronous = FULL` (a committed audit event survives a
    /// power loss) and foreign keys enforced. Call [`migrate`](Self::migrate)
    /// before first use.
    ///
    /// # Errors
    /// `Unavailable` when the file cannot be opened.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, &SqliteOptions::default()).await
    }

    /// [`open`](Self::open) with the pool sized by `options`.
    ///
    /// # Errors
    /// `Unavailable` when the file cannot be opened.
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: &SqliteOptions,
    ) -> Result<Self, StoreError> {
        let max_connections = options.max_connections.get();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db)?;
        Ok(Self {
            pool,
            _temporary: None,
        })
    }

    /// A private in-memory database, gone when the last clone is dropped.
    ///
    /// It lives in one connection, so transactions queue for it: still
    /// serializable, with no parallelism (use a file for that).
    ///
    /// # Errors
    /// `Unavailable` when SQLite cannot be started.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(db)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db)?;
        Ok(Self {
            pool,
            _temporary: None,
        })
    }

    /// A fresh database file with a unique name under
    /// [`std::env::temp_dir`], deleted when the last clone is dropped: for
    /// tests and demos that want real concurrent connections.
    ///
    /// # Errors
    /// `Unavailable` when the file cannot be created.
    pub async fn temporary() -> Result<Self, StoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("iamkit-{}-{n}.sqlite3", std::process::id());
        let path = std::env::temp_dir().join(name);
        // A leftover of an earlier process with the same id is stale.
        let guard = Arc::new(TemporaryFile(path.clone()));
        drop(TemporaryFile(path.clone()));
        let mut store = Self::open(&path).await?;
        store._temporary = Some(guard);
        Ok(store)
    }

    /// Applies the embedded [`MIGRATIONS`] not yet applied, in order, each
    /// in its own transaction. Safe to call on every start: applied
    /// migrations are skipped.
    ///
    /// # Errors
    /// A [`StoreError`] when a migration fails; it is rolled back.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrations::apply(&self.pool).await
    }

    /// The underlying pool, for the app's own queries.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl Store for SqliteStore {
    type Tx = SqliteTx;

    async fn begin(&self) -> Result<SqliteTx, StoreError> {
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        Ok(SqliteTx { tx })
    }

    /// A deferred `BEGIN`: the transaction reads one snapshot (WAL) without
    /// taking the write lock, so request authentication and checks do not
    /// queue behind writers.
    async fn begin_read(&self) -> Result<SqliteTx, StoreError> {
        let tx = self.pool.begin_with("BEGIN DEFERRED").await.map_err(db)?;
        Ok(SqliteTx { tx })
    }

    /// The context's one statement alone, in autocommit: SQLite runs a
    /// statement in a read transaction of its own, so it reads one
    /// snapshot holding every change committed before it.
    async fn session_context(&self, id: SessionId) -> Result<Option<SessionContext>, StoreError> {
        authentication::session_context(&self.pool, id).await
    }

    /// Like [`session_context`](Self::session_context): one statement.
    async fn api_key_context(&self, id: ApiKeyId) -> Result<Option<ApiKeyContext>, StoreError> {
        authentication::api_key_context(&self.pool, id).await
    }
}

/// A transaction on a [`SqliteStore`]: one pooled connection inside
/// `BEGIN IMMEDIATE`. Dropping it uncommitted rolls it back.
pub struct SqliteTx {
    pub(crate) tx: sqlx::Transaction<'static, Sqlite>,
}

impl std::fmt::Debug for SqliteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTx").finish_non_exhaustive()
    }
}

impl SqliteTx {
    pub(crate) fn conn(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.tx
    }
}

impl Transaction for SqliteTx {
    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(db)
    }

    async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await.map_err(db)
    }
}
