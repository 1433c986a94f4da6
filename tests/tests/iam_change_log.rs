//! Catch-up from the organizations' change log, through the facade, with
//! two `Iam`s over one store (two processes): the process that made a
//! change brings its own index up to date after the commit and the other
//! at its next request, both without rebuilding (and in place); a reader
//! whose version fell out of the retained log, or whose log has a gap, or
//! who meets a delta that names everything, rebuilds and still answers
//! correctly. On memory, SQLite and PostgreSQL (skipped with a notice
//! without `IAMKIT_POSTGRES_URL`).

mod common;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use common::stores;
use iamkit::credentials::{ClientMetadata, Password, SecretBytes, XChaChaSealer};
use iamkit::identity::{OrgId, UserId};
use iamkit::rbac::{BuiltinRole, Grant, GrantRepository, Grantee, Scope};
use iamkit::{
    AuthzDelta, AuthzVersionRepository, Config, Iam, IndexStats, ManualClock, Store, Transaction,
};
use iamkit_testkit::instances::{self, PASSWORD};

/// An `Iam` over `store` with cheap argon2 and `retention` versions of
/// change log.
fn iam_over<S: Store>(store: &S, clock: &ManualClock, retention: u64) -> Iam<S> {
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
    Iam::builder(store.clone(), sealer)
        .clock(Arc::new(clock.clone()))
        .config(Config {
            authz_log_retention: retention,
            ..common::cheap_config()
        })
        .build()
        .unwrap()
}

/// acme with its Owner and ada (ReadOnly), both made through `a`; ada's
/// session token.
struct Acme<S: Store> {
    a: Iam<S>,
    b: Iam<S>,
    org: OrgId,
    owner: iamkit::Actor,
    ada: UserId,
    token: String,
}

async fn acme<S: Store>(one: S, two: S, retention: u64) -> Acme<S> {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    let a = iam_over(&one, &clock, retention);
    let b = iam_over(&two, &clock, retention);
    let (org, _, owner) = instances::bootstrap(&a, "acme", "owner").await;
    let (ada, _) = instances::member(&a, &owner, org, "ada", BuiltinRole::ReadOnly).await;
    let token = a
        .log_in("ada", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    Acme {
        a,
        b,
        org,
        owner,
        ada,
        token,
    }
}

impl<S: Store> Acme<S> {
    /// What ada may do in acme, asked through `iam` as a fresh request.
    async fn ada_may(&self, iam: &Iam<S>, permission: &str) -> bool {
        let actor = iam.authenticate_session(&self.token).await.unwrap();
        iam.is_allowed(&actor, permission, Scope::Organization(self.org))
            .await
    }

    async fn version(&self, store: &S) -> u64 {
        let mut tx = store.begin().await.unwrap();
        let version = tx.get_authz_version(self.org).await.unwrap();
        tx.rollback().await.unwrap();
        version
    }
}

/// `after` minus `before`, counter by counter.
fn since(before: IndexStats, after: IndexStats) -> (u64, u64, u64) {
    (
        after.builds - before.builds,
        after.catch_ups - before.catch_ups,
        after.copied - before.copied,
    )
}

/// The writer updates its own index after the commit; the other process
/// at its next request; neither rebuilds, and neither copies the index.
async fn both_processes_catch_up_in_place<S: Store>(one: S, two: S) {
    let w = acme(one, two, 1_000).await;
    assert!(w.ada_may(&w.a, "users.read").await);
    assert!(!w.ada_may(&w.b, "roles.assign").await);
    let (a0, b0) = (w.a.index_stats(), w.b.index_stats());

    w.a.change_org_role(&w.owner, w.org, w.ada, Some(BuiltinRole::Admin.id()))
        .await
        .unwrap();
    assert_eq!(
        since(a0, w.a.index_stats()),
        (0, 1, 0),
        "the writer caught its index up after the commit, in place"
    );
    assert!(w.ada_may(&w.a, "roles.assign").await);
    assert_eq!(
        since(a0, w.a.index_stats()),
        (0, 1, 0),
        "and its next request found it current"
    );
    assert!(w.ada_may(&w.b, "roles.assign").await);
    assert_eq!(
        since(b0, w.b.index_stats()),
        (0, 1, 0),
        "the other process caught up at its next request, in place"
    );

    // Several changes through the other process: one catch-up spans them.
    let (a1, b1) = (w.a.index_stats(), w.b.index_stats());
    let group = w.b.create_group(&w.owner, w.org, "Auditors").await.unwrap();
    let collective = iamkit::rbac::Collective::Group(group);
    w.b.set_collective_role(
        &w.owner,
        collective,
        Scope::Organization(w.org),
        Some(BuiltinRole::Auditor.id()),
    )
    .await
    .unwrap();
    w.b.change_org_role(&w.owner, w.org, w.ada, None)
        .await
        .unwrap();
    w.b.add_member(
        &w.owner,
        w.org,
        collective,
        w.ada,
        iamkit::identity::TeamRole::Member,
    )
    .await
    .unwrap();
    assert!(w.ada_may(&w.a, "audit.read").await);
    assert!(!w.ada_may(&w.a, "roles.assign").await);
    assert_eq!(since(a1, w.a.index_stats()), (0, 1, 0));
    assert_eq!(
        since(b1, w.b.index_stats()).0,
        0,
        "the writer never rebuilt"
    );
}

/// A reader whose cached version is older than the retained log rebuilds,
/// and answers as the store says.
async fn a_reader_past_the_retained_log_rebuilds<S: Store>(one: S, two: S) {
    let store = one.clone();
    let w = acme(one, two, 4).await;
    assert!(!w.ada_may(&w.b, "roles.assign").await);
    let held = w.version(&store).await;
    // Nine changes, ending with ada an Admin; the log keeps four versions.
    for n in 0..9 {
        let role = if n % 2 == 0 {
            BuiltinRole::Admin
        } else {
            BuiltinRole::Auditor
        };
        w.a.change_org_role(&w.owner, w.org, w.ada, Some(role.id()))
            .await
            .unwrap();
    }
    let now = w.version(&store).await;
    let mut tx = store.begin().await.unwrap();
    let logged = tx.list_authz_deltas(w.org, held, now).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(
        (logged.len() as u64) < now - held,
        "the log no longer reaches back to version {held}: {logged:?}"
    );
    let b0 = w.b.index_stats();
    assert!(w.ada_may(&w.b, "roles.assign").await, "ada is an Admin now");
    assert_eq!(
        since(b0, w.b.index_stats()),
        (1, 0, 0),
        "the reader rebuilt"
    );

    // Within the retained log again: caught up, no rebuild.
    w.a.change_org_role(&w.owner, w.org, w.ada, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    let b1 = w.b.index_stats();
    assert!(!w.ada_may(&w.b, "roles.assign").await);
    assert_eq!(since(b1, w.b.index_stats()), (0, 1, 0));
}

/// A gap in the log (entries lost, or versions bumped before the log
/// existed), or a delta that names everything, makes a reader rebuild; a
/// change no delta names is then still seen.
async fn a_gap_or_everything_makes_a_reader_rebuild<S: Store>(one: S, two: S) {
    let store = one.clone();
    let w = acme(one, two, 1_000).await;
    assert!(!w.ada_may(&w.b, "roles.assign").await);

    w.a.change_org_role(&w.owner, w.org, w.ada, Some(BuiltinRole::Admin.id()))
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let pruned = tx.prune_authz_deltas(w.org, u64::MAX).await.unwrap();
    tx.commit().await.unwrap();
    assert!(pruned > 0);
    let b0 = w.b.index_stats();
    assert!(w.ada_may(&w.b, "roles.assign").await);
    assert_eq!(since(b0, w.b.index_stats()), (1, 0, 0), "a gap: rebuilt");

    // A change recorded only as "everything" (as an app writing to the
    // store behind iamkit's back would have to).
    let mut tx = store.begin().await.unwrap();
    tx.assign_grant(&Grant {
        grantee: Grantee::User(w.ada),
        scope: Scope::Organization(w.org),
        role: BuiltinRole::ReadOnly.id(),
    })
    .await
    .unwrap();
    let version = tx.bump_authz_version(w.org).await.unwrap();
    tx.append_authz_delta(w.org, version, AuthzDelta::Everything)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let b1 = w.b.index_stats();
    assert!(!w.ada_may(&w.b, "roles.assign").await);
    assert!(w.ada_may(&w.b, "users.read").await);
    assert_eq!(
        since(b1, w.b.index_stats()),
        (1, 0, 0),
        "everything: rebuilt"
    );
}

macro_rules! on_every_store {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (one, two) = super::stores::memory_pair();
                    super::$case(one, two).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (_file, one, two) = super::stores::sqlite_pair().await;
                    super::$case(one, two).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(url) = super::stores::postgres_url() else {
                        return;
                    };
                    let (one, two) = super::stores::postgres_pair(&url).await;
                    super::$case(one, two).await;
                }
            )*
        }
    };
}

on_every_store! {
    both_processes_catch_up_in_place,
    a_reader_past_the_retained_log_rebuilds,
    a_gap_or_everything_makes_a_reader_rebuild,
}
