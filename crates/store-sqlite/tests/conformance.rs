//! The whole conformance kit on SQLite, twice: on a fresh temporary
//! database file per case (real concurrent connections, WAL, `BEGIN
//! IMMEDIATE`; the file is deleted when the case ends), and on a fresh
//! in-memory database per case (one connection that transactions queue for).

#[expect(
    clippy::expect_used,
    reason = "test set-up: a store that cannot open fails the case"
)]
async fn file_store() -> iamkit_store_sqlite::SqliteStore {
    let store = iamkit_store_sqlite::SqliteStore::temporary()
        .await
        .expect("a temporary SQLite database");
    store.migrate().await.expect("migrations apply");
    store
}

#[expect(
    clippy::expect_used,
    reason = "test set-up: a store that cannot open fails the case"
)]
async fn memory_store() -> iamkit_store_sqlite::SqliteStore {
    let store = iamkit_store_sqlite::SqliteStore::in_memory()
        .await
        .expect("an in-memory SQLite database");
    store.migrate().await.expect("migrations apply");
    store
}

mod file {
    iamkit_testkit::conformance_tests!(crate::file_store);
}

mod memory {
    iamkit_testkit::conformance_tests!(crate::memory_store);
}
