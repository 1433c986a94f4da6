//! A second store, with a pool of its own, over the schema of a temporary
//! store: what another process of the same app would have.

use std::str::FromStr;

use iamkit_store_postgres::PgStore;
use sqlx::postgres::PgConnectOptions;

/// A new pool on `url` whose connections work in `store`'s schema.
///
/// # Panics
/// When `store` is not temporary or the server cannot be reached.
#[expect(
    clippy::expect_used,
    reason = "test set-up: a second pool that cannot open fails the test"
)]
pub async fn over_same_schema(url: &str, store: &PgStore) -> PgStore {
    let schema = store.schema().expect("a temporary store has a schema");
    let options = PgConnectOptions::from_str(url)
        .expect("a valid IAMKIT_POSTGRES_URL")
        .options([("search_path", schema)]);
    PgStore::connect_with(options)
        .await
        .expect("a second pool on the same schema")
}
