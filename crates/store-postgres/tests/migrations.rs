//! Migrations apply to an empty schema, are idempotent on re-run (data
//! kept, each version recorded once), and concurrent migrators (two pools,
//! as two processes starting at once) both succeed, applying each
//! migration once. A temporary store's schema is gone with its last clone.
//! Migrations upgrade a schema with data in it.

#![expect(clippy::unwrap_used, reason = "test code fails the test loudly")]

#[path = "support/second_pool.rs"]
mod second_pool;
mod support;

use iamkit::identity::{Name, OrgId, Organization, OrganizationRepository, Slug, UserRepository};
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

/// Upgrading a schema from before managing organizations: an account in
/// exactly one organization becomes managed by it; one in several, or in
/// none, manages itself (SECURITY.md 32).
#[tokio::test]
async fn upgrading_gives_single_organization_accounts_their_manager() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let store = support::empty(&url).await;
    let pool = store.pool();
    sqlx::raw_sql(
        "CREATE TABLE iamkit_migrations (version bigint NOT NULL PRIMARY KEY, name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(pool)
    .await
    .unwrap();
    // The schema as it was before migration 2.
    for &(version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v < 2) {
        sqlx::raw_sql(sql).execute(pool).await.unwrap();
        sqlx::query("INSERT INTO iamkit_migrations (version, name) VALUES ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(pool)
            .await
            .unwrap();
    }
    let org = |n: u128| uuid::Uuid::from_u128(n);
    for (n, slug) in [(1, "acme"), (2, "globex")] {
        sqlx::query("INSERT INTO organizations (id, slug, data) VALUES ($1, $2, $3::jsonb)")
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
    let user = |n: u128| uuid::Uuid::from_u128(100 + n);
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
             VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
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
             VALUES ($1, $2, 'ACTIVE', now(), now())",
        )
        .bind(org(o))
        .bind(user(u))
        .execute(pool)
        .await
        .unwrap();
    }

    store.migrate().await.unwrap();
    assert_eq!(recorded_versions(&store).await, expected_versions());

    let id = |n: u128| iamkit::identity::UserId::from_uuid(user(n));
    let mut tx = store.begin().await.unwrap();
    let solo = tx.get_user(id(1)).await.unwrap().unwrap();
    let both = tx.get_user(id(2)).await.unwrap().unwrap();
    let none = tx.get_user(id(3)).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(solo.managed_by, Some(OrgId::from_uuid(org(1))));
    assert_eq!(both.managed_by, None, "in two organizations: self-managed");
    assert_eq!(none.managed_by, None);
}

/// Upgrading a schema from before the change log: organizations keep
/// their authorization versions, the log starts empty (a reader holding
/// one of those versions finds the gap and rebuilds), and the next bump
/// records its delta.
#[tokio::test]
async fn upgrading_starts_an_empty_change_log_at_the_current_versions() {
    use iamkit::AuthzDelta;

    let Some(url) = support::url_or_notice() else {
        return;
    };
    let store = support::empty(&url).await;
    let pool = store.pool();
    sqlx::raw_sql(
        "CREATE TABLE iamkit_migrations (version bigint NOT NULL PRIMARY KEY, name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(pool)
    .await
    .unwrap();
    // The schema as it was before migration 4, with an organization
    // changed seven times.
    for &(version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v < 4) {
        sqlx::raw_sql(sql).execute(pool).await.unwrap();
        sqlx::query("INSERT INTO iamkit_migrations (version, name) VALUES ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(pool)
            .await
            .unwrap();
    }
    let org = OrgId::from_uuid(uuid::Uuid::from_u128(1));
    sqlx::query("INSERT INTO authz_versions (org_id, version) VALUES ($1, 7)")
        .bind(uuid::Uuid::from_u128(1))
        .execute(pool)
        .await
        .unwrap();

    store.migrate().await.unwrap();
    assert_eq!(recorded_versions(&store).await, expected_versions());

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

/// Upgrading a schema from before the account status column (migration
/// 5): accounts stored earlier are classed by the status in their
/// document, so a deactivated account's member uses none of its grants.
#[tokio::test]
async fn upgrading_classes_existing_accounts_by_their_status() {
    use iamkit::AccessModelRepository;
    use iamkit::identity::UserStatus;

    let Some(url) = support::url_or_notice() else {
        return;
    };
    let store = support::empty(&url).await;
    let pool = store.pool();
    sqlx::raw_sql(
        "CREATE TABLE iamkit_migrations (version bigint NOT NULL PRIMARY KEY, name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(pool)
    .await
    .unwrap();
    for &(version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v < 5) {
        sqlx::raw_sql(sql).execute(pool).await.unwrap();
        sqlx::query("INSERT INTO iamkit_migrations (version, name) VALUES ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(pool)
            .await
            .unwrap();
    }
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
    assert_eq!(recorded_versions(&store).await, expected_versions());
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
