//! Migrations apply to an empty database and are idempotent on re-run.

use iamkit::identity::{Name, OrgId, Organization, OrganizationRepository, Slug};
use iamkit::{Store, Transaction};
use iamkit_store_sqlite::{MIGRATIONS, SqliteStore};

#[tokio::test]
async fn migrate_twice_keeps_data_and_records_each_version_once() {
    let store = SqliteStore::temporary().await.unwrap();
    store.migrate().await.unwrap();

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

    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM iamkit_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let expected: Vec<i64> = MIGRATIONS.iter().map(|(v, _, _)| *v).collect();
    assert_eq!(versions, expected);

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.get_organization(org.id).await.unwrap(), Some(org));
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn in_memory_store_migrates_and_enforces_foreign_keys() {
    let store = SqliteStore::in_memory().await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(on, 1);
}

#[tokio::test]
async fn temporary_database_file_is_removed_with_the_last_clone() {
    let store = SqliteStore::temporary().await.unwrap();
    store.migrate().await.unwrap();
    let path: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(std::path::Path::new(&path).exists());
    let clone = store.clone();
    drop(store);
    assert!(std::path::Path::new(&path).exists());
    clone.pool().close().await;
    drop(clone);
    assert!(!std::path::Path::new(&path).exists());
}

#[tokio::test]
async fn an_unopenable_file_is_unavailable() {
    let path = std::env::temp_dir()
        .join("iamkit-no-such-directory")
        .join("deeper")
        .join("db.sqlite3");
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert_eq!(error.kind(), &iamkit::store_api::ErrorKind::Unavailable);
}
