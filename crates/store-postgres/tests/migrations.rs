//! Migrations apply to an empty schema, are idempotent on re-run (data
//! kept, each version recorded once), and concurrent migrators (two pools,
//! as two processes starting at once) both succeed, applying each
//! migration once. A temporary store's schema is gone with its last clone.

#![expect(clippy::unwrap_used, reason = "test code fails the test loudly")]

#[path = "support/second_pool.rs"]
mod second_pool;
mod support;

use iamkit::identity::{Name, OrgId, Organization, OrganizationRepository, Slug};
use iamkit::{AuthzVersionRepository, Store, Transaction};
use iamkit_store_postgres::{MIGRATIONS, PgStore};

fn expected_versions() -> Vec<i64> {
    MIGRATIONS.iter().map(|(v, _, _)| *v).collect()
}

async fn recorded_versions(store: &PgStore) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM iamkit_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

async fn table_count(store: &PgStore) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_one(store.pool())
    .await
    .unwrap()
}

async fn schema_exists(url: &str, schema: &str) -> bool {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn migrate_applies_to_an_empty_schema_and_twice_keeps_data() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let store = support::empty(&url).await;
    assert_eq!(table_count(&store).await, 0, "the schema starts empty");
    store.migrate().await.unwrap();
    assert_eq!(recorded_versions(&store).await, expected_versions());
    let tables = table_count(&store).await;
    assert!(tables > 20, "{tables} tables");

    let org = Organization {
        id: OrgId::from_uuid(uuid::Uuid::from_u128(7)),
        name: Name::parse("Acme").unwrap(),
        slug: Slug::parse("acme").unwrap(),
        settings: Default::default(),
        created_at: chrono::DateTime::UNIX_EPOCH,
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_organization(&org).await.unwrap();
    tx.commit().await.unwrap();

    store.migrate().await.unwrap();
    store.migrate().await.unwrap();

    assert_eq!(recorded_versions(&store).await, expected_versions());
    assert_eq!(table_count(&store).await, tables);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.get_organization(org.id).await.unwrap(), Some(org));
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_both_succeed_and_apply_once() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    for _ in 0..3 {
        let one = support::empty(&url).await;
        let two = second_pool::over_same_schema(&url, &one).await;
        let (a, b) = (one.clone(), two.clone());
        let first = tokio::spawn(async move { a.migrate().await });
        let second = tokio::spawn(async move { b.migrate().await });
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(recorded_versions(&one).await, expected_versions());
        assert_eq!(recorded_versions(&two).await, expected_versions());
        drop(two);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_schema_is_dropped_with_the_last_clone_even_mid_transaction() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let store = support::fresh(url.clone()).await;
    let schema = store.schema().unwrap().to_owned();
    assert!(schema.starts_with("iamkit_t_"), "{schema}");
    assert!(schema_exists(&url, &schema).await);

    // A transaction still open, holding a row lock, when the store goes.
    let mut tx = store.begin().await.unwrap();
    tx.lock_authz_version(OrgId::from_uuid(uuid::Uuid::from_u128(1)))
        .await
        .unwrap();
    let clone = store.clone();
    drop(store);
    assert!(schema_exists(&url, &schema).await, "a clone is left");
    drop(clone);
    assert!(!schema_exists(&url, &schema).await, "dropped with the last");
    drop(tx);
}
