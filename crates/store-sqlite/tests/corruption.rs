//! A row edited by hand so that it no longer decodes reads as
//! `ErrorKind::Corrupt` (never retried), not as a retryable conflict.

use iamkit_store_sqlite::SqliteStore;
use iamkit_testkit::corruption::corrupted_rows_read_as_corrupt;

#[tokio::test]
async fn damaged_rows_read_as_corrupt() {
    let store = SqliteStore::temporary().await.unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    let events = pool.clone();
    corrupted_rows_read_as_corrupt(
        &store,
        async move |user| {
            // Valid JSON, not a user.
            sqlx::query("UPDATE users SET data = '{\"name\": 7}' WHERE id = ?")
                .bind(user.to_string())
                .execute(&pool)
                .await
                .unwrap();
        },
        async move |org| {
            sqlx::query("UPDATE audit_events SET data = json_set(data, '$.action', 'bogus') WHERE org_id = ?")
                .bind(org.to_string())
                .execute(&events)
                .await
                .unwrap();
        },
    )
    .await;
}
