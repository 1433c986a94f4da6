//! Embedded schema migrations and their runner.

use sqlx::SqlitePool;

use iamkit_store_api::StoreError;

use crate::codec::db;

/// The schema migrations, `(version, name, sql)`, applied in order by
/// [`SqliteStore::migrate`](crate::SqliteStore::migrate).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "schema", include_str!("../migrations/0001_schema.sql")),
    (
        2,
        "authz_versions_pending_emails",
        include_str!("../migrations/0002_authz_versions_pending_emails.sql"),
    ),
    (
        3,
        "managed_accounts",
        include_str!("../migrations/0003_managed_accounts.sql"),
    ),
    (
        4,
        "reauthentication",
        include_str!("../migrations/0004_reauthentication.sql"),
    ),
    (
        5,
        "authz_deltas",
        include_str!("../migrations/0005_authz_deltas.sql"),
    ),
    (
        6,
        "account_status",
        include_str!("../migrations/0006_account_status.sql"),
    ),
    (
        7,
        "department_members",
        include_str!("../migrations/0007_department_members.sql"),
    ),
];

pub(crate) async fn apply(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS iamkit_migrations (
            version    INTEGER PRIMARY KEY NOT NULL,
            name       TEXT NOT NULL
        )",
    )
    .execute(pool)
    .await
    .map_err(db)?;
    for &(version, name, sql) in MIGRATIONS {
        // The write lock first, so two processes migrating at once apply
        // each migration exactly once.
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM iamkit_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if applied.is_none() {
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(db)?;
            sqlx::query("INSERT INTO iamkit_migrations (version, name) VALUES (?, ?)")
                .bind(version)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
    }
    Ok(())
}
