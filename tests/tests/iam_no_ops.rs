//! The no-op rule (crates/iamkit/README.md, "No-ops"): a change to the
//! state something already has succeeds after the same authorization and
//! guards as a real change, changes nothing, writes no audit event and
//! does not move the organization's authorization version.

use iamkit::identity::{OrgId, TeamRole};
use iamkit::rbac::{BuiltinRole, Collective};
use iamkit::{AuthzVersionRepository, Conflict, Error, Store, Transaction};

mod common;
use common::*;

/// The organization's audit length and authorization version.
async fn state(w: &World, org: OrgId) -> (u64, u64) {
    let mut tx = w.store.begin().await.unwrap();
    let version = tx.get_authz_version(org).await.unwrap();
    tx.rollback().await.unwrap();
    (audit_len(&w.store, org).await, version)
}

#[tokio::test]
async fn every_no_op_succeeds_and_changes_nothing() {
    let w = world().await;
    let (bea, _) = member(&w, "bea", BuiltinRole::Requester).await;
    let (cy, _) = member(&w, "cyd", BuiltinRole::Requester).await;
    let group = Collective::Group(w.iam.create_group(&w.owner, w.org, "Ops").await.unwrap());
    let team = w.iam.create_team(&w.owner, w.org, "SRE").await.unwrap();
    w.iam
        .add_member(&w.owner, w.org, group, bea, TeamRole::Member)
        .await
        .unwrap();
    w.iam
        .add_member(&w.owner, w.org, Collective::Team(team), bea, TeamRole::Lead)
        .await
        .unwrap();
    w.iam.deactivate(&w.owner, w.org, cy).await.unwrap();
    let before = state(&w, w.org).await;

    // Each call below would be a change on another state; here it is none.
    let role = BuiltinRole::Requester.id();
    let from = w
        .iam
        .change_org_role(&w.owner, w.org, bea, Some(role))
        .await
        .unwrap();
    assert_eq!(from, Some(role), "the role held is returned");
    let workspace = w
        .iam
        .create_workspace(&w.owner, w.org, "Lab")
        .await
        .unwrap();
    let before = (before.0 + 1, before.1 + 1); // the workspace is a change
    assert_eq!(state(&w, w.org).await, before);
    let from = w
        .iam
        .set_workspace_role(&w.owner, w.org, workspace, bea, None)
        .await
        .unwrap();
    assert_eq!(from, None, "removing a role not held");
    w.iam
        .add_member(&w.owner, w.org, group, bea, TeamRole::Member)
        .await
        .unwrap();
    w.iam
        .remove_member(&w.owner, w.org, group, cy)
        .await
        .unwrap();
    w.iam
        .add_member(&w.owner, w.org, Collective::Team(team), bea, TeamRole::Lead)
        .await
        .unwrap();
    w.iam
        .set_team_role(&w.owner, w.org, team, bea, TeamRole::Lead)
        .await
        .unwrap();
    w.iam.deactivate(&w.owner, w.org, cy).await.unwrap();
    w.iam.reactivate(&w.owner, w.org, bea).await.unwrap();
    assert_eq!(state(&w, w.org).await, before, "no event, no version bump");

    // Adding a team member under another team role is not a no-op but a
    // conflict: `set_team_role` changes a role.
    let err = w
        .iam
        .add_member(
            &w.owner,
            w.org,
            Collective::Team(team),
            bea,
            TeamRole::Member,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(Conflict::AlreadyMember)),
        "{err:?}"
    );
    assert_eq!(state(&w, w.org).await, before);
}

#[tokio::test]
async fn a_no_op_is_authorized_and_guarded_like_a_change() {
    let w = world().await;
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::Requester).await;
    let (cy, _) = member(&w, "cyd", BuiltinRole::Admin).await;
    let (_, admin_actor) = member(&w, "dee", BuiltinRole::Admin).await;
    let before = state(&w, w.org).await;
    // A Requester may not deactivate: a no-op does not lift that.
    let err = w.iam.reactivate(&bea_actor, w.org, cy).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    // An Admin may not touch the Owner's role, even to "set" it again.
    let err = w
        .iam
        .change_org_role(
            &admin_actor,
            w.org,
            w.owner_id,
            Some(BuiltinRole::Owner.id()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }), "{err:?}");
    // Another organization's admin learns nothing from a no-op either.
    let (globex, _) = bootstrap(&w.iam, "globex", "gil").await;
    let gil = sign_in(&w.iam, "gil").await;
    let err = w.iam.reactivate(&gil, w.org, bea).await.unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    let err = w
        .iam
        .change_org_role(&gil, globex, bea, Some(BuiltinRole::Requester.id()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    // The refusals are audited as denials; nothing else changed.
    let after = state(&w, w.org).await;
    assert_eq!(after.1, before.1, "no version bump");
}
