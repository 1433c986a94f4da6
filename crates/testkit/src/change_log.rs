//! Conformance cases of the organizations' change log
//! ([`AuthzVersionRepository::append_authz_delta`] and its readers): what a
//! process reads to bring its compiled index from one authorization version
//! to a later one without rebuilding it.

use iamkit::identity::{GroupId, OrgId, RoleId, TeamId, UserId};
use iamkit::rbac::Collective;
use iamkit::{AuthzDelta, AuthzVersionRepository, Store, Transaction};
use iamkit_store_api::ErrorKind;

use crate::fixtures::Fixture;

/// One delta of every kind, so each round-trips through the adapter.
fn every_kind(f: &mut Fixture) -> Vec<AuthzDelta> {
    let now = f.now();
    vec![
        AuthzDelta::Member(UserId::generate(now, f.rng())),
        AuthzDelta::Collective(Collective::Group(GroupId::generate(now, f.rng()))),
        AuthzDelta::Collective(Collective::Team(TeamId::generate(now, f.rng()))),
        AuthzDelta::Role(RoleId::generate(now, f.rng())),
        AuthzDelta::Workspaces,
        AuthzDelta::Settings,
        AuthzDelta::Unchanged,
        AuthzDelta::Everything,
    ]
}

/// Bumps `org` and records `delta` at the new version, as the facade does.
async fn bump_with<T: AuthzVersionRepository>(tx: &mut T, org: OrgId, delta: AuthzDelta) -> u64 {
    let version = tx.bump_authz_version(org).await.expect("bump");
    tx.append_authz_delta(org, version, delta)
        .await
        .expect("append");
    version
}

/// Deltas come back with their versions, ascending, exactly the range
/// `after < v <= up_to`, each kind as it was written.
pub async fn change_log_lists_a_range_in_version_order<S: Store>(store: S) {
    let mut f = Fixture::new(61);
    let org = OrgId::generate(f.now(), f.rng());
    let deltas = every_kind(&mut f);
    let mut tx = store.begin().await.expect("begin");
    for delta in &deltas {
        bump_with(&mut tx, org, *delta).await;
    }
    tx.commit().await.expect("commit");

    let mut tx = store.begin_read().await.expect("begin_read");
    let all = tx.list_authz_deltas(org, 0, 8).await.expect("list");
    let expected: Vec<(u64, AuthzDelta)> = (1..).zip(deltas.iter().copied()).collect();
    assert_eq!(all, expected, "every delta, by version, as written");
    let middle = tx.list_authz_deltas(org, 2, 5).await.expect("list");
    assert_eq!(
        middle,
        expected[2..5].to_vec(),
        "versions 3..=5: after is excluded, up_to included"
    );
    assert_eq!(
        tx.list_authz_deltas(org, 0, u64::MAX).await.expect("list"),
        expected,
        "an open upper bound lists through the newest"
    );
    assert!(
        tx.list_authz_deltas(org, 8, 8)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        tx.list_authz_deltas(org, 6, 3)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        tx.list_authz_deltas(org, 8, 20)
            .await
            .expect("list")
            .is_empty(),
        "nothing beyond the newest version"
    );
    tx.rollback().await.expect("rollback");
}

/// A version holds one delta: a second append for it fails with
/// `authz_deltas_pkey`, keeps the first, and leaves the transaction usable.
pub async fn change_log_holds_one_delta_per_version<S: Store>(store: S) {
    let mut f = Fixture::new(62);
    let org = OrgId::generate(f.now(), f.rng());
    let user = UserId::generate(f.now(), f.rng());
    let mut tx = store.begin().await.expect("begin");
    let version = bump_with(&mut tx, org, AuthzDelta::Member(user)).await;
    let err = tx
        .append_authz_delta(org, version, AuthzDelta::Everything)
        .await
        .expect_err("a second delta for one version");
    assert_eq!(
        err.kind(),
        &ErrorKind::UniqueViolation {
            constraint: "authz_deltas_pkey".into()
        }
    );
    let next = bump_with(&mut tx, org, AuthzDelta::Settings).await;
    tx.commit()
        .await
        .expect("the transaction survives the refusal");
    let mut tx = store.begin_read().await.expect("begin_read");
    assert_eq!(
        tx.list_authz_deltas(org, 0, next).await.expect("list"),
        vec![
            (version, AuthzDelta::Member(user)),
            (next, AuthzDelta::Settings)
        ]
    );
    tx.rollback().await.expect("rollback");
}

/// A bump rolled back (or dropped) leaves neither the version nor its
/// delta: the next bump reuses the version and records its own delta.
pub async fn change_log_rolls_back_with_the_bump<S: Store>(store: S) {
    let mut f = Fixture::new(63);
    let org = OrgId::generate(f.now(), f.rng());
    let (ada, bob, cyd) = (
        UserId::generate(f.now(), f.rng()),
        UserId::generate(f.now(), f.rng()),
        UserId::generate(f.now(), f.rng()),
    );
    let mut tx = store.begin().await.expect("begin");
    bump_with(&mut tx, org, AuthzDelta::Member(ada)).await;
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(bump_with(&mut tx, org, AuthzDelta::Member(bob)).await, 2);
    tx.rollback().await.expect("rollback");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(bump_with(&mut tx, org, AuthzDelta::Everything).await, 2);
    drop(tx);

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.list_authz_deltas(org, 0, 10).await.expect("list"),
        vec![(1, AuthzDelta::Member(ada))],
        "neither rolled-back delta is there"
    );
    assert_eq!(bump_with(&mut tx, org, AuthzDelta::Member(cyd)).await, 2);
    tx.commit().await.expect("commit");
    let mut tx = store.begin_read().await.expect("begin_read");
    assert_eq!(
        tx.list_authz_deltas(org, 1, 2).await.expect("list"),
        vec![(2, AuthzDelta::Member(cyd))]
    );
    tx.rollback().await.expect("rollback");
}

/// Pruning deletes exactly the versions below `keep_from` of one
/// organization and counts them; the rest of the log stays.
pub async fn change_log_prunes_old_versions_only<S: Store>(store: S) {
    let mut f = Fixture::new(64);
    let org = OrgId::generate(f.now(), f.rng());
    let mut tx = store.begin().await.expect("begin");
    for _ in 0..10 {
        bump_with(&mut tx, org, AuthzDelta::Unchanged).await;
    }
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.prune_authz_deltas(org, 7).await.expect("prune"), 6);
    assert_eq!(
        tx.prune_authz_deltas(org, 7).await.expect("prune"),
        0,
        "nothing left to prune"
    );
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    let versions: Vec<u64> = tx
        .list_authz_deltas(org, 0, 10)
        .await
        .expect("list")
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    assert_eq!(versions, vec![7, 8, 9, 10], "versions 7.. are kept");
    assert_eq!(
        tx.prune_authz_deltas(org, 0).await.expect("prune"),
        0,
        "keep_from 0 keeps everything"
    );
    // A rolled-back prune deletes nothing.
    assert_eq!(tx.prune_authz_deltas(org, 11).await.expect("prune"), 4);
    tx.rollback().await.expect("rollback");
    let mut tx = store.begin_read().await.expect("begin_read");
    assert_eq!(
        tx.list_authz_deltas(org, 0, 10).await.expect("list").len(),
        4
    );
    tx.rollback().await.expect("rollback");
}

/// Tenant isolation: with two organizations logging the same versions,
/// listing and pruning one never returns or deletes the other's deltas.
pub async fn change_log_is_tenant_isolated<S: Store>(store: S) {
    let mut f = Fixture::new(65);
    let (acme, globex) = (
        OrgId::generate(f.now(), f.rng()),
        OrgId::generate(f.now(), f.rng()),
    );
    let (ada, eve) = (
        UserId::generate(f.now(), f.rng()),
        UserId::generate(f.now(), f.rng()),
    );
    let mut tx = store.begin().await.expect("begin");
    for _ in 0..3 {
        bump_with(&mut tx, acme, AuthzDelta::Member(ada)).await;
        bump_with(&mut tx, globex, AuthzDelta::Member(eve)).await;
    }
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    let of_acme = tx.list_authz_deltas(acme, 0, 3).await.expect("list");
    assert_eq!(of_acme.len(), 3);
    assert!(
        of_acme.iter().all(|(_, d)| *d == AuthzDelta::Member(ada)),
        "only acme's deltas: {of_acme:?}"
    );
    assert_eq!(tx.prune_authz_deltas(globex, 100).await.expect("prune"), 3);
    assert_eq!(
        tx.list_authz_deltas(acme, 0, 3).await.expect("list"),
        of_acme,
        "pruning globex leaves acme's log"
    );
    assert!(
        tx.list_authz_deltas(globex, 0, 3)
            .await
            .expect("list")
            .is_empty()
    );
    let stranger = OrgId::generate(f.now(), f.rng());
    assert!(
        tx.list_authz_deltas(stranger, 0, 3)
            .await
            .expect("list")
            .is_empty(),
        "an organization without a log has no deltas"
    );
    assert_eq!(
        tx.prune_authz_deltas(stranger, 100).await.expect("prune"),
        0
    );
    tx.commit().await.expect("commit");
    let mut tx = store.begin_read().await.expect("begin_read");
    assert_eq!(
        tx.list_authz_deltas(acme, 0, 3).await.expect("list").len(),
        3
    );
    tx.rollback().await.expect("rollback");
}
