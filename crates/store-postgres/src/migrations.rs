//! Embedded schema migrations and their runner.
//!
//! Each migration runs in its own transaction that first takes a
//! transaction-scoped advisory lock keyed by the current schema
//! (`pg_advisory_xact_lock`), then checks `iamkit_migrations`: two
//! processes migrating the same schema at once queue on the lock, and the
//! second finds the migration recorded and skips it. Migrations of
//! different schemas do not wait for each other.

use sqlx::{PgConnection, PgPool};

use iamkit_store_api::StoreError;

use crate::codec::db;

/// The schema migrations, `(version, name, sql)`, applied in order by
/// [`PgStore::migrate`](crate::PgStore::migrate).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "schema", include_str!("../migrations/0001_schema.sql")),
    (
        2,
        "managed_accounts",
        include_str!("../migrations/0002_managed_accounts.sql"),
    ),
    (
        3,
        "reauthentication",
        include_str!("../migrations/0003_reauthentication.sql"),
    ),
    (
        4,
        "authz_deltas",
        include_str!("../migrations/0004_authz_deltas.sql"),
    ),
    (
        5,
        "account_status",
        include_str!("../migrations/0005_account_status.sql"),
    ),
];

/// Serializes migrators of the current schema until the transaction ends.
async fn lock(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(
             hashtextextended('iamkit.migrations:' || coalesce(current_schema(), ''), 0))",
    )
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub(crate) async fn apply(pool: &PgPool) -> Result<(), StoreError> {
    // The bookkeeping table, under the lock: two concurrent
    // `CREATE TABLE IF NOT EXISTS` may otherwise both try to create it.
    let mut tx = pool.begin().await.map_err(db)?;
    lock(&mut tx).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS iamkit_migrations (
            version    bigint NOT NULL PRIMARY KEY,
            name       text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;

    for &(version, name, sql) in MIGRATIONS {
        let mut tx = pool.begin().await.map_err(db)?;
        lock(&mut tx).await?;
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM iamkit_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if applied.is_none() {
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(db)?;
            sqlx::query("INSERT INTO iamkit_migrations (version, name) VALUES ($1, $2)")
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
