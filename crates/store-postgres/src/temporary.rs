//! The schema of a [`PgStore::temporary`](crate::PgStore::temporary)
//! store: created with a unique name, dropped with the last clone.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::codec::{Result, db};

/// A schema created for one store and dropped (`CASCADE`) on drop.
#[derive(Debug)]
pub(crate) struct TemporarySchema {
    /// Connects without the schema's `search_path`, to create and drop it.
    admin: PgConnectOptions,
    name: String,
}

/// A double-quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl TemporarySchema {
    /// Creates a schema with a name no other run or process uses:
    /// `iamkit_t_<pid>_<n>_<random>`.
    pub(crate) async fn create(admin: PgConnectOptions) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut conn = PgConnection::connect_with(&admin).await.map_err(db)?;
        // The random part comes from the server, which has a generator
        // (this crate does not read the OS's; the facade owns that).
        let random: String = sqlx::query_scalar("SELECT left(md5(gen_random_uuid()::text), 8)")
            .fetch_one(&mut conn)
            .await
            .map_err(db)?;
        let name = format!("iamkit_t_{}_{n}_{random}", std::process::id());
        let sql = format!("CREATE SCHEMA {}", quoted(&name));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(db)?;
        // Best effort: the connection is done with either way.
        let _ = conn.close().await;
        Ok(Self { admin, name })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Ends the connections of the store's pool (they carry the schema's
    /// name as `application_name`; one may still hold locks of a dropped,
    /// not yet rolled back transaction), then drops the schema.
    async fn drop_schema(admin: &PgConnectOptions, name: &str) -> Result<()> {
        let mut conn = PgConnection::connect_with(admin).await.map_err(db)?;
        sqlx::query(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&mut conn)
        .await
        .map_err(db)?;
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quoted(name));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(db)?;
        let _ = conn.close().await;
        Ok(())
    }
}

impl Drop for TemporarySchema {
    fn drop(&mut self) {
        // Drop cannot await, and may run inside a runtime (where blocking
        // on a future of the same runtime would deadlock): drop the schema
        // from a thread of its own, with its own runtime and connection,
        // and wait for it.
        let admin = self.admin.clone();
        let name = std::mem::take(&mut self.name);
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let outcome = match runtime {
                Ok(runtime) => runtime
                    .block_on(Self::drop_schema(&admin, &name))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(error) = outcome {
                eprintln!("iamkit-store-postgres: could not drop temporary schema {name}: {error}");
            }
        });
        if dropper.join().is_err() {
            eprintln!("iamkit-store-postgres: the thread dropping a temporary schema failed");
        }
    }
}
