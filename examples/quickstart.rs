//! Quick start: the administrator's story through the `Iam` facade, on
//! SQLite: a fresh database file in the temp directory by default, or an
//! in-memory database with `--memory`.
//!
//! Bootstrap an organization with its Owner, create a workspace, invite a
//! colleague who accepts, assign roles directly and through a group,
//! explain a permission, deactivate, then print the colleague's activity
//! and verify the organization's audit chain. The story itself is in
//! `shared/story.rs`, which the `postgres` example runs on PostgreSQL.
//!
//! Run with `cargo run --example quickstart` (or `... quickstart -- --memory`).

use iamkit_store_sqlite::SqliteStore;

#[path = "shared/story.rs"]
mod story;

use story::{AnyError, story};

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let store = if std::env::args().any(|a| a == "--memory") {
        eprintln!("(store: SQLite, in memory)");
        SqliteStore::in_memory().await?
    } else {
        // A fresh file each run, so the story starts from an empty database.
        let path = std::env::temp_dir().join("iamkit-quickstart.sqlite3");
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
        eprintln!("(store: SQLite file {})", path.display());
        SqliteStore::open(&path).await?
    };
    store.migrate().await?;
    story(store).await
}
