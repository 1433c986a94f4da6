//! Custom roles, access requests and domain auto-join through the `Iam`
//! facade.

use iamkit::audit::{Action, DenialReason, Outcome};
use iamkit::identity::UserStatus;
use iamkit::rbac::{AssignableAt, BuiltinRole, Scope};
use iamkit::{Conflict, Error, RequestStatus, RequestedChange, RoleSpec};

mod common;
use common::*;

fn spec(name: &str, permissions: &[&str]) -> RoleSpec {
    RoleSpec {
        name: name.to_owned(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        assignable_at: AssignableAt::ANY,
    }
}

#[tokio::test]
async fn custom_roles_grant_their_permissions_and_cannot_be_deleted_in_use() {
    let w = world().await;
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let inviter = w
        .iam
        .create_custom_role(
            &w.owner,
            w.org,
            &spec("Inviter", &["users.read", "users.invite", "workflows.run"]),
        )
        .await
        .unwrap();
    w.iam
        .change_org_role(&w.owner, w.org, bea, Some(inviter))
        .await
        .unwrap();
    w.iam
        .invite(
            &bea_actor,
            w.org,
            &account("gus"),
            &iamkit::Placement::default(),
        )
        .await
        .unwrap();
    let err = w
        .iam
        .delete_custom_role(&w.owner, w.org, inviter)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Conflict(Conflict::RoleInUse { grants: 1 })
    ));
    // Narrowing the role takes effect for its holders at once.
    w.iam
        .update_custom_role(&w.owner, w.org, inviter, &spec("Inviter", &["users.read"]))
        .await
        .unwrap();
    let err = w
        .iam
        .invite(
            &bea_actor,
            w.org,
            &account("hal"),
            &iamkit::Placement::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    w.iam
        .change_org_role(&w.owner, w.org, bea, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    w.iam
        .delete_custom_role(&w.owner, w.org, inviter)
        .await
        .unwrap();
    assert!(
        w.iam
            .list_custom_roles(&w.owner, w.org)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn custom_role_bad_input_and_escalation_change_nothing() {
    let w = world().await;
    let (_, admin) = member(&w, "adm", BuiltinRole::Admin).await;
    let before = audit_len(&w.store, w.org).await;
    for bad in [
        spec("", &["users.read"]),
        spec("X", &["no.such.permission"]),
    ] {
        let err = w
            .iam
            .create_custom_role(&w.owner, w.org, &bad)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRole { .. }), "{err:?}");
    }
    assert_eq!(audit_len(&w.store, w.org).await, before);
    let err = w
        .iam
        .create_custom_role(
            &admin,
            w.org,
            &RoleSpec {
                // Organization scope: `org.billing` is held in no workspace.
                assignable_at: AssignableAt {
                    organization: true,
                    workspace: false,
                },
                ..spec("Billing", &["org.billing"])
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }));
    assert!(
        w.iam
            .list_custom_roles(&w.owner, w.org)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, reader) = member(&w, "ria", BuiltinRole::ReadOnly).await;
    let err = w
        .iam
        .create_custom_role(&reader, w.org, &spec("Mine", &["users.read"]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
}

#[tokio::test]
async fn an_approver_applies_a_requested_role_change_in_the_same_step() {
    let w = world().await;
    let (rex, requester) = member(&w, "rex", BuiltinRole::Requester).await;
    let (_, approver) = member(&w, "amy", BuiltinRole::Approver).await;
    let (ria, _) = member(&w, "ria", BuiltinRole::ReadOnly).await;
    let request = w
        .iam
        .request_access(
            &requester,
            w.org,
            RequestedChange::Role {
                user: ria,
                scope: Scope::Organization(w.org),
                role: Some(BuiltinRole::Approver.id()),
            },
        )
        .await
        .unwrap();
    // The requester cannot approve their own request.
    let err = w
        .iam
        .approve_access_request(&requester, w.org, request)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    w.iam
        .approve_access_request(&approver, w.org, request)
        .await
        .unwrap();
    let detail = w.iam.user_detail(&w.owner, w.org, ria).await.unwrap();
    assert_eq!(detail.org_role, Some(BuiltinRole::Approver.id()));
    let event = last_event(&w.store, w.org).await;
    assert_eq!(
        event.action,
        Action::OrgRoleChanged {
            from: Some(BuiltinRole::ReadOnly.id()),
            to: Some(BuiltinRole::Approver.id())
        }
    );
    let err = w
        .iam
        .reject_access_request(&approver, w.org, request)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(Conflict::AlreadyDecided)));
    let listed = w.iam.list_access_requests(&w.owner, w.org).await.unwrap();
    assert_eq!(listed[0].status, RequestStatus::Approved);
    assert_eq!(listed[0].requester, rex);
}

#[tokio::test]
async fn approval_cannot_escalate_and_rejection_changes_nothing() {
    let w = world().await;
    let (_, requester) = member(&w, "rex", BuiltinRole::Requester).await;
    let (_, approver) = member(&w, "amy", BuiltinRole::Approver).await;
    let (ria, _) = member(&w, "ria", BuiltinRole::ReadOnly).await;
    let to_admin = RequestedChange::Role {
        user: ria,
        scope: Scope::Organization(w.org),
        role: Some(BuiltinRole::Admin.id()),
    };
    let request = w
        .iam
        .request_access(&requester, w.org, to_admin)
        .await
        .unwrap();
    let err = w
        .iam
        .approve_access_request(&approver, w.org, request)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }));
    let event = last_event(&w.store, w.org).await;
    assert!(matches!(
        event.outcome,
        Outcome::Denied {
            reason: DenialReason::Escalation
        }
    ));
    w.iam
        .reject_access_request(&approver, w.org, request)
        .await
        .unwrap();
    let detail = w.iam.user_detail(&w.owner, w.org, ria).await.unwrap();
    assert_eq!(detail.org_role, Some(BuiltinRole::ReadOnly.id()));
    // An Owner can approve it.
    let again = w
        .iam
        .request_access(&requester, w.org, to_admin)
        .await
        .unwrap();
    w.iam
        .approve_access_request(&w.owner, w.org, again)
        .await
        .unwrap();
    let detail = w.iam.user_detail(&w.owner, w.org, ria).await.unwrap();
    assert_eq!(detail.org_role, Some(BuiltinRole::Admin.id()));
}

#[tokio::test]
async fn an_approved_offboarding_deactivates_at_once() {
    let w = world().await;
    let (_, requester) = member(&w, "rex", BuiltinRole::Requester).await;
    let (leaver, leaver_actor) = member(&w, "lee", BuiltinRole::ReadOnly).await;
    let request = w
        .iam
        .request_access(
            &requester,
            w.org,
            RequestedChange::Offboarding { user: leaver },
        )
        .await
        .unwrap();
    let (_, reader) = member(&w, "ria", BuiltinRole::ReadOnly).await;
    let err = w
        .iam
        .approve_access_request(&reader, w.org, request)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    // An Approver may offboard a Read-only member, not an Owner.
    let (_, approver) = member(&w, "amy", BuiltinRole::Approver).await;
    let owner_out = w
        .iam
        .request_access(
            &requester,
            w.org,
            RequestedChange::Offboarding { user: w.owner_id },
        )
        .await
        .unwrap();
    let err = w
        .iam
        .approve_access_request(&approver, w.org, owner_out)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }));
    w.iam
        .approve_access_request(&approver, w.org, request)
        .await
        .unwrap();
    let detail = w.iam.user_detail(&w.owner, w.org, leaver).await.unwrap();
    assert_eq!(detail.membership.status, UserStatus::Deactivated);
    assert!(detail.sessions.is_empty());
    let err = w
        .iam
        .directory(
            &leaver_actor,
            w.org,
            &iamkit::identity::DirectoryQuery::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials));
    let (_, other_tenant) = {
        bootstrap(&w.iam, "globex", "globex-owner").await;
        ((), sign_in(&w.iam, "globex-owner").await)
    };
    let err = w
        .iam
        .request_access(
            &other_tenant,
            w.org,
            RequestedChange::Offboarding { user: w.owner_id },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
}

#[tokio::test]
async fn verified_users_join_by_domain_with_the_default_role() {
    let w = world().await;
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let (globex, _) = bootstrap(&w.iam, "globex", "globex-owner").await;
    let globex_owner = sign_in(&w.iam, "globex-owner").await;
    // Not listed yet: the organization looks absent.
    let err = w.iam.join_by_domain(&bea_actor, globex).await.unwrap_err();
    assert!(matches!(err, Error::NotFound));
    w.iam
        .set_auto_join(
            &globex_owner,
            globex,
            &[("acme.example", BuiltinRole::Requester.id())],
        )
        .await
        .unwrap();
    let role = w.iam.join_by_domain(&bea_actor, globex).await.unwrap();
    assert_eq!(role, BuiltinRole::Requester.id());
    let detail = w.iam.user_detail(&globex_owner, globex, bea).await.unwrap();
    assert_eq!(detail.org_role, Some(BuiltinRole::Requester.id()));
    let err = w.iam.join_by_domain(&bea_actor, globex).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(Conflict::AlreadyMember)));
    // An unverified address may not join (a created user has not verified).
    let fay = w
        .iam
        .create_user(
            &w.owner,
            w.org,
            &account("fay"),
            iamkit::credentials::Password::new(PASSWORD),
            &iamkit::Placement::default(),
        )
        .await
        .unwrap();
    let fay_actor = sign_in(&w.iam, "fay").await;
    assert_eq!(fay_actor.user(), Some(fay));
    let err = w.iam.join_by_domain(&fay_actor, globex).await.unwrap_err();
    assert!(matches!(err, Error::NotFound));
    // Only those who may grant the default role may set it.
    let (_, admin) = member(&w, "adm", BuiltinRole::Admin).await;
    let err = w
        .iam
        .set_auto_join(&admin, w.org, &[("acme.example", BuiltinRole::Owner.id())])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }));
    let err = w
        .iam
        .set_auto_join(
            &w.owner,
            w.org,
            &[("not a domain", BuiltinRole::ReadOnly.id())],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(ref i) if i.field == "domain"));
}
