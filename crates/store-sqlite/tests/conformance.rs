//! The whole conformance kit on SQLite: each case gets a fresh, migrated
//! temporary database file (real concurrent connections, WAL, `BEGIN
//! IMMEDIATE`), deleted when the case ends.

#[expect(
    clippy::expect_used,
    reason = "test set-up: a store that cannot open fails the case"
)]
async fn fresh_store() -> iamkit_store_sqlite::SqliteStore {
    let store = iamkit_store_sqlite::SqliteStore::temporary()
        .await
        .expect("a temporary SQLite database");
    store.migrate().await.expect("migrations apply");
    store
}

iamkit_testkit::conformance_tests!(crate::fresh_store);
