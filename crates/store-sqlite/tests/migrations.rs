//! Migrations apply to an empty database, are idempotent on re-run, and
//! upgrade a database with data in it.

use iamkit::identity::{Name, OrgId, Organization, OrganizationRepository, Slug, UserRepository};
use iamkit::{Store, Transaction};
use iamkit_store_sqlite::{MIGRATIONS, SqliteStore};

/// A temporary database with the migrations before `version` applied and
/// recorded, as an older release left it: the upgrade tests start here.
#[expect(clippy::unwrap_used, reason = "test set-up fails the test loudly")]
async fn migrated_before(version: i64) -> SqliteStore {
    let store = SqliteStore::temporary().await.unwrap();
    let pool = store.pool();
    sqlx::raw_sql(
        "CREATE TABLE iamkit_migrations (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL)",
    )
    .execute(pool)
    .await
    .unwrap();
    for &(applied, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v < version) {
        sqlx::raw_sql(sql).execute(pool).await.unwrap();
        sqlx::query("INSERT INTO iamkit_migrations (version, name) VALUES (?, ?)")
            .bind(applied)
            .bind(name)
            .execute(pool)
            .await
            .unwrap();
    }
    store
}

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

/// Upgrading a database from before managing organizations: an account in
/// exactly one organization becomes managed by it; one in several, or in
/// none, manages itself (SECURITY.md 32).
#[tokio::test]
async fn upgrading_gives_single_organization_accounts_their_manager() {
    // The schema as it was before migration 3.
    let store = migrated_before(3).await;
    let pool = store.pool();
    let org = |n: u128| uuid::Uuid::from_u128(n).hyphenated().to_string();
    for (n, slug) in [(1, "acme"), (2, "globex")] {
        sqlx::query("INSERT INTO organizations (id, slug, data) VALUES (?, ?, ?)")
            .bind(org(n))
            .bind(slug)
            .bind(
                serde_json::json!({
                    "id": org(n), "name": slug, "slug": slug,
                    "settings": {"require_two_factor": false, "auto_join": []},
                    "created_at": "2026-01-01T00:00:00Z"
                })
                .to_string(),
            )
            .execute(pool)
            .await
            .unwrap();
    }
    let user = |n: u128| uuid::Uuid::from_u128(100 + n).hyphenated().to_string();
    for (n, name) in [(1, "solo"), (2, "both"), (3, "none")] {
        // A user as stored before `managed_by` existed.
        let data = serde_json::json!({
            "id": user(n), "username": name, "email": format!("{name}@acme.example"),
            "email_verified": true,
            "profile": {"first_name": "Ada", "last_name": name, "display_name": null,
                        "avatar_url": null, "language": "en"},
            "status": "ACTIVE", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "last_sign_in_at": null
        });
        sqlx::query(
            "INSERT INTO users (id, username, email_normalized, sort_key, search_text, data)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(user(n))
        .bind(name)
        .bind(format!("{name}@acme.example"))
        .bind(name)
        .bind(name)
        .bind(data.to_string())
        .execute(pool)
        .await
        .unwrap();
    }
    for (o, u) in [(1, 1), (1, 2), (2, 2)] {
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, status, created_at, updated_at)
             VALUES (?, ?, 'ACTIVE', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        )
        .bind(org(o))
        .bind(user(u))
        .execute(pool)
        .await
        .unwrap();
    }

    store.migrate().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let id = |n: u128| iamkit::identity::UserId::from_uuid(uuid::Uuid::from_u128(100 + n));
    let acme = OrgId::from_uuid(uuid::Uuid::from_u128(1));
    let solo = tx.get_user(id(1)).await.unwrap().unwrap();
    let both = tx.get_user(id(2)).await.unwrap().unwrap();
    let none = tx.get_user(id(3)).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(solo.managed_by, Some(acme));
    assert_eq!(both.managed_by, None, "in two organizations: self-managed");
    assert_eq!(none.managed_by, None);
}

/// A migration that adds a column, run while pooled connections hold the
/// schema from before it: their next statements over that table still
/// read well-formed rows. (With `SELECT s.*` each such connection planned
/// for the old column count, SQLite re-planned behind sqlx's back, and
/// decoding the row panicked inside sqlx.)
#[tokio::test]
async fn connections_that_saw_the_old_schema_read_the_new_one() {
    use iamkit::AuthenticationRepository;
    use iamkit::identity::SessionId;

    const CONNECTIONS: usize = 8;
    // The schema before migration 4 added `sessions.authenticated_at`.
    let store = migrated_before(4).await;
    let pool = store.pool();
    let session = uuid::Uuid::from_u128(7);
    sqlx::query(
        "INSERT INTO sessions (id, user_id, org_id, secret_hash, state, created_at, last_seen_at)
         VALUES (?, ?, NULL, ?, 'full', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
    )
    .bind(session.hyphenated().to_string())
    .bind(uuid::Uuid::from_u128(8).hyphenated().to_string())
    .bind(vec![0u8; 32])
    .execute(pool)
    .await
    .unwrap();
    // Every connection of the pool reads `sessions` under the old schema.
    let mut held = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query("SELECT count(*) FROM sessions")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        held.push(conn);
    }
    drop(held);

    store.migrate().await.unwrap();

    let mut txs = Vec::new();
    for _ in 0..CONNECTIONS {
        txs.push(store.begin_read().await.unwrap());
    }
    for tx in &mut txs {
        let context = tx
            .load_session_context(SessionId::from_uuid(session))
            .await
            .unwrap()
            .expect("the session");
        assert_eq!(
            context.session.authenticated_at, context.session.created_at,
            "a session from before re-authentication counts from its start"
        );
    }
}

/// The pool size is the app's to choose: a pool of two holds two
/// transactions at once, and a third waits for one of them.
#[tokio::test]
async fn the_pool_size_is_configurable() {
    use iamkit_store_sqlite::SqliteOptions;
    use std::num::NonZeroU32;

    let dir = std::env::temp_dir().join(format!("iamkit-pool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pool.sqlite3");
    let options = SqliteOptions::default().max_connections(NonZeroU32::new(2).unwrap());
    let store = SqliteStore::open_with(&path, &options).await.unwrap();
    store.migrate().await.unwrap();
    let first = store.begin_read().await.unwrap();
    let second = store.begin_read().await.unwrap();
    let third = tokio::time::timeout(std::time::Duration::from_millis(200), store.begin_read());
    assert!(
        third.await.is_err(),
        "a third transaction waits for a connection"
    );
    first.rollback().await.unwrap();
    let third = store.begin_read().await.unwrap();
    third.rollback().await.unwrap();
    second.rollback().await.unwrap();
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Upgrading a database from before the change log: organizations keep
/// their authorization versions, the log starts empty (a reader holding
/// one of those versions finds the gap and rebuilds), and the next bump
/// records its delta.
#[tokio::test]
async fn upgrading_starts_an_empty_change_log_at_the_current_versions() {
    use iamkit::{AuthzDelta, AuthzVersionRepository};

    // The schema as it was before migration 5, with an organization
    // changed seven times.
    let store = migrated_before(5).await;
    let pool = store.pool();
    let org = OrgId::from_uuid(uuid::Uuid::from_u128(1));
    sqlx::query("INSERT INTO authz_versions (org_id, version) VALUES (?, 7)")
        .bind(uuid::Uuid::from_u128(1).hyphenated().to_string())
        .execute(pool)
        .await
        .unwrap();

    store.migrate().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.get_authz_version(org).await.unwrap(), 7);
    assert!(tx.list_authz_deltas(org, 0, 7).await.unwrap().is_empty());
    let version = tx.bump_authz_version(org).await.unwrap();
    assert_eq!(version, 8);
    tx.append_authz_delta(org, version, AuthzDelta::Settings)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.list_authz_deltas(org, 7, 8).await.unwrap(),
        vec![(8, AuthzDelta::Settings)]
    );
    tx.rollback().await.unwrap();
}

/// Upgrading a database from before the account status column (migration
/// 6): accounts stored earlier are classed by the status in their
/// document, so a deactivated account's member uses none of its grants.
#[tokio::test]
async fn upgrading_classes_existing_accounts_by_their_status() {
    use iamkit::AccessModelRepository;
    use iamkit::identity::UserStatus;

    let store = migrated_before(6).await;
    let mut f = iamkit_testkit::fixtures::Fixture::new(5);
    let acme = f.org("acme");
    let ada = f.user("ada");
    let mut bob = f.user("bob");
    bob.status = UserStatus::Deactivated;
    let mut tx = store.begin().await.unwrap();
    tx.insert_organization(&acme).await.unwrap();
    for user in [&ada, &bob] {
        tx.insert_user(user).await.unwrap();
        tx.insert_membership(&f.membership(acme.id, user.id))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    store.migrate().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let model = tx.load_access_model(acme.id).await.unwrap();
    assert_eq!(model.active_members, vec![ada.id]);
    // And a later change of status is seen.
    bob.status = UserStatus::Active;
    tx.update_user(&bob).await.unwrap();
    let mut active = tx.load_access_model(acme.id).await.unwrap().active_members;
    active.sort();
    let mut expected = vec![ada.id, bob.id];
    expected.sort();
    assert_eq!(active, expected);
}
