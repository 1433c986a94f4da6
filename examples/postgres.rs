//! The quick start's administrator's story (`shared/story.rs`) on
//! PostgreSQL: the server named by `IAMKIT_POSTGRES_URL`, e.g.
//!
//! ```sh
//! IAMKIT_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example postgres
//! ```
//!
//! The story's tables live in a schema of their own, `iamkit_example`,
//! dropped and created afresh at the start of every run (so reruns start
//! from an empty database) and kept afterwards, to look at with `psql`
//! (`SET search_path = iamkit_example;`). Drop it with
//! `DROP SCHEMA iamkit_example CASCADE`.

use std::str::FromStr;

use iamkit_store_postgres::{PgConnectOptions, PgStore};

#[path = "shared/story.rs"]
mod story;

use story::{AnyError, story};

/// The example's schema.
const SCHEMA: &str = "iamkit_example";

/// Drops the previous run's schema and creates it afresh.
const RESET: &str = "DROP SCHEMA IF EXISTS iamkit_example CASCADE; CREATE SCHEMA iamkit_example";

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let Ok(url) = std::env::var("IAMKIT_POSTGRES_URL") else {
        return Err("set IAMKIT_POSTGRES_URL to a PostgreSQL database, e.g. \
             IAMKIT_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
             cargo run --example postgres"
            .into());
    };
    let options = PgConnectOptions::from_str(&url)?;

    // A fresh schema: the previous run's is dropped first.
    let admin = PgStore::connect_with(options.clone()).await?;
    sqlx::raw_sql(RESET).execute(admin.pool()).await?;
    admin.pool().close().await;

    // The app's store: every connection works in the example's schema.
    let store = PgStore::connect_with(options.options([("search_path", SCHEMA)])).await?;
    store.migrate().await?;
    eprintln!("(store: PostgreSQL, schema {SCHEMA})");
    story(store).await
}
