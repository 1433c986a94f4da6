//! A row edited by hand so that it no longer decodes reads as
//! `ErrorKind::Corrupt` (never retried), not as a retryable conflict.

mod support;

use iamkit_testkit::corruption::corrupted_rows_read_as_corrupt;

#[tokio::test]
async fn damaged_rows_read_as_corrupt() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let store = support::fresh(url).await;
    let pool = store.pool().clone();
    let events = pool.clone();
    corrupted_rows_read_as_corrupt(
        &store,
        async move |user| {
            // Valid JSON, not a user.
            sqlx::query("UPDATE users SET data = '{\"name\": 7}' WHERE id = $1")
                .bind(user.as_uuid())
                .execute(&pool)
                .await
                .unwrap();
        },
        async move |org| {
            sqlx::query(
                "UPDATE audit_events SET data = jsonb_set(data, '{action}', '\"bogus\"')
                 WHERE org_id = $1",
            )
            .bind(org.as_uuid())
            .execute(&events)
            .await
            .unwrap();
        },
    )
    .await;
}
