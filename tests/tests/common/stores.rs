//! Two handles on one fresh database, as two processes of an app have
//! them: one memory store shared by clones, two pools on one SQLite file,
//! two pools on one PostgreSQL schema (when `IAMKIT_POSTGRES_URL` is set).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use iamkit_store_memory::MemoryStore;
use iamkit_store_postgres::{PgConnectOptions, PgStore};
use iamkit_store_sqlite::SqliteStore;

/// The variable naming the PostgreSQL server of the tests.
pub const POSTGRES_URL: &str = "IAMKIT_POSTGRES_URL";

/// Clones of one memory store: they share the data.
pub fn memory_pair() -> (MemoryStore, MemoryStore) {
    let store = MemoryStore::new();
    (store.clone(), store)
}

/// A database file removed (with its WAL files) when dropped.
pub struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.0.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Two stores, each with its own pool, over one fresh, migrated SQLite
/// file (removed when the `TempFile` goes).
pub async fn sqlite_pair() -> (TempFile, SqliteStore, SqliteStore) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = TempFile(std::env::temp_dir().join(format!(
        "iamkit-tests-pair-{}-{}.sqlite3",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )));
    let one = SqliteStore::open(&path.0).await.expect("open");
    one.migrate().await.expect("migrate");
    let two = SqliteStore::open(&path.0).await.expect("open again");
    (path, one, two)
}

/// The PostgreSQL server's URL, or `None` after a notice on stderr that
/// the PostgreSQL variant does not run (CI always sets it).
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "!!! {POSTGRES_URL} is not set: the PostgreSQL variant did NOT run"
            );
            None
        }
    }
}

/// Two stores over one fresh, migrated PostgreSQL schema (dropped with
/// the first), each with a pool of its own.
pub async fn postgres_pair(url: &str) -> (PgStore, PgStore) {
    let one = PgStore::temporary(url)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_URL} is set, but {url:?} cannot be used: {e}"));
    one.migrate().await.expect("migrate");
    let schema = one.schema().expect("a temporary store has a schema");
    let options = PgConnectOptions::from_str(url)
        .expect("a valid URL")
        .options([("search_path", schema)]);
    let two = PgStore::connect_with(options)
        .await
        .expect("a second pool on the same schema");
    (one, two)
}

/// Runs each scenario (an `async fn(store)`) on the memory store, on
/// SQLite, and on PostgreSQL when its URL is set: `on_every_store!(a, b);`
/// defines the modules `memory`, `sqlite` and `postgres` with a test each.
#[macro_export]
macro_rules! on_every_store {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(iamkit_store_memory::MemoryStore::new()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let (_file, store, _) = $crate::common::stores::sqlite_pair().await;
                    super::$scenario(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(url) = $crate::common::stores::postgres_url() else {
                        return;
                    };
                    let (store, _) = $crate::common::stores::postgres_pair(&url).await;
                    super::$scenario(store).await;
                }
            )*
        }
    };
}
