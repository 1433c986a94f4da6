//! Defects found in the second review of the `Iam` facade, each pinned by
//! a test that failed before its fix.

use std::collections::BTreeSet;

use iamkit::credentials::NewApiKey;
use iamkit::identity::{OrganizationRepository, UserRepository, UserStatus, WorkspaceId};
use iamkit::rbac::{AssignableAt, BuiltinRole};
use iamkit::{Error, Placement, RoleSpec, Store, Transaction};

mod common;
use common::*;

fn key_in(workspace: WorkspaceId, restriction: Option<&[&str]>) -> NewApiKey {
    NewApiKey {
        name: "ci".to_owned(),
        workspace,
        restriction: restriction
            .map(|r| r.iter().map(|p| (*p).to_owned()).collect::<BTreeSet<_>>()),
        expires_at: None,
    }
}

/// SECURITY.md 23, 26: an actor with `api_keys.manage` in a workspace may
/// not mint an unrestricted key for a service account that holds more there
/// than the actor (here the account is a workspace Admin, the actor only a
/// key manager): the key would hand the actor what they lack.
#[tokio::test]
async fn security_26_a_service_account_key_never_exceeds_its_issuer() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let bot = w
        .iam
        .create_service_account(&w.owner, w.org, "ci-bot", "CI bot", &Placement::default())
        .await
        .unwrap();
    w.iam
        .set_workspace_role(&w.owner, w.org, ws, bot, Some(BuiltinRole::Admin.id()))
        .await
        .unwrap();
    let key_manager = w
        .iam
        .create_custom_role(
            &w.owner,
            w.org,
            &RoleSpec {
                name: "Key manager".to_owned(),
                permissions: vec!["api_keys.manage".to_owned()],
                assignable_at: AssignableAt::ANY,
            },
        )
        .await
        .unwrap();
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    w.iam
        .set_workspace_role(&w.owner, w.org, ws, bea, Some(key_manager))
        .await
        .unwrap();
    let before = audit_len(&w.store, w.org).await;
    let err = w
        .iam
        .create_service_account_key(&bea_actor, w.org, bot, key_in(ws, None))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Escalation { missing } if missing.iter().any(|p| p.as_str() == "roles.assign")),
        "{err:?}"
    );
    assert_eq!(
        audit_len(&w.store, w.org).await,
        before + 1,
        "the denial is audited once, nothing else is written"
    );
    // Restricted to what the actor holds there: allowed.
    w.iam
        .create_service_account_key(
            &bea_actor,
            w.org,
            bot,
            key_in(ws, Some(&["api_keys.manage"])),
        )
        .await
        .unwrap();
    // The Owner holds everything the account does: unrestricted is fine.
    w.iam
        .create_service_account_key(&w.owner, w.org, bot, key_in(ws, None))
        .await
        .unwrap();
}

/// SECURITY.md 27 and 32: Bea owns Globex (she joined it with her own
/// account, so she manages it herself). Deactivating her in Acme suspends
/// her Acme membership only and never leaves Globex without an Owner.
#[tokio::test]
async fn security_27_deactivation_in_one_org_keeps_an_owner_in_the_others() {
    let w = world().await;
    let (bea, _) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let globex = w
        .iam
        .bootstrap(
            &iamkit::Actor::system(),
            "Globex",
            "globex",
            iamkit::FirstOwner::Existing(bea),
        )
        .await
        .unwrap()
        .org;
    w.iam.deactivate(&w.owner, w.org, bea).await.unwrap();
    let mut tx = w.store.begin().await.unwrap();
    let membership = tx.get_membership(w.org, bea).await.unwrap().unwrap();
    let account = tx.get_user(bea).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(membership.status, UserStatus::Deactivated);
    assert_eq!(account.status, UserStatus::Active);
    // Bea still signs in and runs Globex.
    let bea_actor = sign_in(&w.iam, "bea").await;
    w.iam
        .create_workspace(&bea_actor, globex, "Ops")
        .await
        .unwrap();
}

/// SECURITY.md 27 and 32: an approved offboarding in Acme suspends Bea's
/// Acme membership; Globex, which she owns, keeps its Owner.
#[tokio::test]
async fn security_27_offboarding_in_one_org_keeps_an_owner_in_the_others() {
    let w = world().await;
    let (bea, _) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let (_, requester) = member(&w, "cid", BuiltinRole::Requester).await;
    let globex = w
        .iam
        .bootstrap(
            &iamkit::Actor::system(),
            "Globex",
            "globex",
            iamkit::FirstOwner::Existing(bea),
        )
        .await
        .unwrap()
        .org;
    let request = w
        .iam
        .request_access(
            &requester,
            w.org,
            iamkit::RequestedChange::Offboarding { user: bea },
        )
        .await
        .unwrap();
    w.iam
        .approve_access_request(&w.owner, w.org, request)
        .await
        .unwrap();
    let bea_actor = sign_in(&w.iam, "bea").await;
    assert!(
        !w.iam
            .is_allowed(
                &bea_actor,
                "users.read",
                iamkit::rbac::Scope::Organization(w.org)
            )
            .await
    );
    w.iam
        .create_workspace(&bea_actor, globex, "Ops")
        .await
        .unwrap();
}

/// SECURITY.md 26: editing a custom role revokes its old permissions from
/// every holder, so the editor must hold them: an Admin may not strip an
/// Owner-made role of `org.billing`, which Admin lacks.
#[tokio::test]
async fn security_26_editing_a_custom_role_needs_its_old_permissions_too() {
    let w = world().await;
    // Organization scope only: `org.billing` is held in no workspace.
    let spec = |permissions: &[&str]| RoleSpec {
        name: "Billing".to_owned(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        assignable_at: AssignableAt {
            organization: true,
            workspace: false,
        },
    };
    let role = w
        .iam
        .create_custom_role(&w.owner, w.org, &spec(&["org.billing", "users.read"]))
        .await
        .unwrap();
    let (_, admin) = member(&w, "bea", BuiltinRole::Admin).await;
    let before = audit_len(&w.store, w.org).await;
    let err = w
        .iam
        .update_custom_role(&admin, w.org, role, &spec(&["users.read"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Escalation { missing } if missing.iter().any(|p| p.as_str() == "org.billing")),
        "{err:?}"
    );
    assert_eq!(audit_len(&w.store, w.org).await, before + 1);
    let stored = w.iam.list_custom_roles(&w.owner, w.org).await.unwrap();
    assert_eq!(stored.len(), 1);
    // The Owner holds both: allowed.
    w.iam
        .update_custom_role(&w.owner, w.org, role, &spec(&["users.read"]))
        .await
        .unwrap();
}

/// Issue 21, item 5: a role assignable in workspaces may carry only what
/// somebody holds in a workspace (the Admin set; an organization Owner is
/// an Admin there). One carrying an Owner-only permission could be created
/// but never granted in a workspace: it is refused at creation, naming the
/// permission, and nothing is stored or audited.
#[tokio::test]
async fn a_workspace_role_beyond_the_admin_set_is_refused_at_creation() {
    let w = world().await;
    let before = audit_len(&w.store, w.org).await;
    let err = w
        .iam
        .create_custom_role(
            &w.owner,
            w.org,
            &RoleSpec {
                name: "Billing".to_owned(),
                permissions: vec!["org.billing".to_owned(), "users.read".to_owned()],
                assignable_at: AssignableAt::ANY,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidRole {
                reason: iamkit::rbac::Error::NotGrantableInWorkspaces { permission }
            } if permission.as_str() == "org.billing"
        ),
        "{err:?}"
    );
    assert_eq!(audit_len(&w.store, w.org).await, before);
    assert!(
        w.iam
            .list_custom_roles(&w.owner, w.org)
            .await
            .unwrap()
            .is_empty()
    );
}

/// SECURITY.md 20, 23: removing a member who belongs to another
/// organization too keeps their account, but their API keys in this
/// organization must die with the membership, not wake up again when they
/// are re-invited.
#[tokio::test]
async fn security_20_a_removed_members_keys_stay_dead_after_reinvitation() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::Admin).await;
    w.iam
        .bootstrap(
            &iamkit::Actor::system(),
            "Globex",
            "globex",
            iamkit::FirstOwner::Existing(bea),
        )
        .await
        .unwrap();
    let created = w
        .iam
        .create_api_key(&bea_actor, w.org, key_in(ws, Some(&["users.read"])))
        .await
        .unwrap();
    w.iam.delete_user(&w.owner, w.org, bea).await.unwrap();
    let keys = w.iam.list_api_keys(&w.owner, w.org, ws).await.unwrap();
    assert!(
        keys.iter()
            .all(|k| k.id != created.key.id || k.revoked_at.is_some()),
        "the removed member's key is revoked"
    );
    // Re-invited with the same role: the old key still does nothing.
    w.iam
        .invite(
            &w.owner,
            w.org,
            &account("bea"),
            &Placement {
                org_role: Some(BuiltinRole::Admin.id()),
                ..Placement::default()
            },
        )
        .await
        .unwrap();
    let dead = w.iam.authenticate_api_key(created.secret.expose()).await;
    assert!(matches!(dead, Err(Error::InvalidCredentials)), "{dead:?}");
}

/// SECURITY.md 25: a role request naming another organization's workspace
/// is refused as not found, like a direct workspace role change.
#[tokio::test]
async fn security_25_a_role_request_for_another_orgs_workspace_is_not_found() {
    let w = world().await;
    let (globex, _) = bootstrap(&w.iam, "globex", "globex-owner").await;
    let globex_owner = sign_in(&w.iam, "globex-owner").await;
    let foreign = w
        .iam
        .create_workspace(&globex_owner, globex, "Theirs")
        .await
        .unwrap();
    let (bea, requester) = member(&w, "bea", BuiltinRole::Requester).await;
    let err = w
        .iam
        .request_access(
            &requester,
            w.org,
            iamkit::RequestedChange::Role {
                user: bea,
                scope: iamkit::rbac::Scope::Workspace(w.org, foreign),
                role: Some(BuiltinRole::ReadOnly.id()),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    assert!(
        w.iam
            .list_access_requests(&w.owner, w.org)
            .await
            .unwrap()
            .is_empty()
    );
}

/// DESIGN.md Errors: explaining an unknown or malformed permission is bad
/// input with a typed error naming the rule, not a `Forbidden` refusal.
#[tokio::test]
async fn explaining_an_unknown_permission_is_a_typed_input_error() {
    let w = world().await;
    let scope = iamkit::rbac::Scope::Organization(w.org);
    for name in ["no.such", "Not A Permission"] {
        let err = w
            .iam
            .explain(&w.owner, w.owner_id, name, scope)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidPermission { .. }),
            "{name}: {err:?}"
        );
    }
}

/// SECURITY.md 25: placing an invitee assigns roles and changes a group, so
/// an inviter holding `users.invite` but not `roles.assign` or
/// `groups.manage` may invite only without placement.
#[tokio::test]
async fn security_25_an_invitation_placement_needs_the_placing_permissions() {
    let w = world().await;
    let recruiter = w
        .iam
        .create_custom_role(
            &w.owner,
            w.org,
            &RoleSpec {
                name: "Recruiter".to_owned(),
                permissions: ["users.invite", "users.read", "roles.read", "requests.read"]
                    .iter()
                    .map(|p| (*p).to_owned())
                    .collect(),
                assignable_at: AssignableAt::ANY,
            },
        )
        .await
        .unwrap();
    let group = w.iam.create_group(&w.owner, w.org, "Staff").await.unwrap();
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    w.iam
        .change_org_role(&w.owner, w.org, bea, Some(recruiter))
        .await
        .unwrap();
    let before = audit_len(&w.store, w.org).await;
    let with_role = Placement {
        org_role: Some(BuiltinRole::ReadOnly.id()),
        ..Placement::default()
    };
    let err = w
        .iam
        .invite(&bea_actor, w.org, &account("cid"), &with_role)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Forbidden { permission } if permission == "roles.assign"),
        "{err:?}"
    );
    let in_group = Placement {
        group: Some(group),
        ..Placement::default()
    };
    let err = w
        .iam
        .invite(&bea_actor, w.org, &account("cid"), &in_group)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Forbidden { permission } if permission == "groups.manage"),
        "{err:?}"
    );
    assert_eq!(
        audit_len(&w.store, w.org).await,
        before + 2,
        "two denials, nothing else"
    );
    // Without placement the recruiter may invite.
    w.iam
        .invite(&bea_actor, w.org, &account("cid"), &Placement::default())
        .await
        .unwrap();
}

/// SECURITY.md 20 (no further notifications) and 31: a message queued
/// before its recipient was deactivated or deleted is never handed out.
#[tokio::test]
async fn security_20_no_queued_message_reaches_a_deactivated_or_deleted_user() {
    let w = world().await;
    // Drain what bootstrap queued.
    let queued: Vec<_> = w
        .iam
        .drain_outbox(1000)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    w.iam.acknowledge(&queued).await.unwrap();
    let mut users = Vec::new();
    for name in ["dee", "eve"] {
        let user = w
            .iam
            .create_user(
                &w.owner,
                w.org,
                &account(name),
                iamkit::credentials::Password::new(PASSWORD),
                &Placement::default(),
            )
            .await
            .unwrap();
        users.push(user);
    }
    let (dee, eve) = (users[0], users[1]);
    w.iam.deactivate(&w.owner, w.org, dee).await.unwrap();
    w.iam.delete_user(&w.owner, w.org, eve).await.unwrap();
    let messages = w.iam.drain_outbox(1000).await.unwrap();
    assert!(
        messages
            .iter()
            .all(|m| m.recipient != dee && m.recipient != eve),
        "{messages:?}"
    );
}

/// SECURITY.md 25: filtering one's directory by another organization's
/// group or team must not reveal which members belong to it.
#[tokio::test]
async fn security_25_the_directory_cannot_be_filtered_by_another_orgs_group() {
    use iamkit::identity::{DirectoryQuery, TeamRole};
    use iamkit::rbac::Collective;
    let w = world().await;
    let (bea, _) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let globex = w
        .iam
        .bootstrap(
            &iamkit::Actor::system(),
            "Globex",
            "globex",
            iamkit::FirstOwner::Existing(bea),
        )
        .await
        .unwrap()
        .org;
    let bea_actor = sign_in(&w.iam, "bea").await;
    let group = w
        .iam
        .create_group(&bea_actor, globex, "Secret")
        .await
        .unwrap();
    let team = w
        .iam
        .create_team(&bea_actor, globex, "Secret")
        .await
        .unwrap();
    w.iam
        .add_member(
            &bea_actor,
            globex,
            Collective::Group(group),
            bea,
            TeamRole::Member,
        )
        .await
        .unwrap();
    w.iam
        .add_member(
            &bea_actor,
            globex,
            Collective::Team(team),
            bea,
            TeamRole::Member,
        )
        .await
        .unwrap();
    for query in [
        DirectoryQuery::new().with_group(group),
        DirectoryQuery::new().with_team(team),
    ] {
        let answer = w.iam.directory(&w.owner, w.org, &query).await;
        assert!(matches!(answer, Err(Error::NotFound)), "{answer:?}");
    }
}

/// Atomicity and audit: an API key trying to mint a key is refused, and the
/// refusal is audited exactly once like every other denial.
#[tokio::test]
async fn a_key_minting_a_key_is_a_denial_audited_once() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let created = w
        .iam
        .create_api_key(&w.owner, w.org, key_in(ws, Some(&["api_keys.create"])))
        .await
        .unwrap();
    let key = w
        .iam
        .authenticate_api_key(created.secret.expose())
        .await
        .unwrap();
    let before = audit_len(&w.store, w.org).await;
    let err = w
        .iam
        .create_api_key(&key, w.org, key_in(ws, None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    assert_eq!(audit_len(&w.store, w.org).await, before + 1);
    let event = last_event(&w.store, w.org).await;
    assert!(matches!(
        event.outcome,
        iamkit::audit::Outcome::Denied {
            reason: iamkit::audit::DenialReason::MissingPermission { .. }
        }
    ));
}

/// SECURITY.md 26: deactivating or deleting a member takes their roles
/// away, so, as for an approved offboarding, the actor must be allowed to
/// revoke them: an Admin cannot deactivate or delete an Owner.
#[tokio::test]
async fn security_26_an_admin_cannot_deactivate_or_delete_an_owner() {
    let w = world().await;
    let (bea, _) = member(&w, "bea", BuiltinRole::Owner).await;
    let (_, admin) = member(&w, "cid", BuiltinRole::Admin).await;
    let before = audit_len(&w.store, w.org).await;
    let err = w.iam.deactivate(&admin, w.org, bea).await.unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }), "{err:?}");
    let err = w.iam.delete_user(&admin, w.org, bea).await.unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }), "{err:?}");
    assert_eq!(audit_len(&w.store, w.org).await, before + 2);
    // Bea still signs in; an Owner may deactivate her.
    sign_in(&w.iam, "bea").await;
    w.iam.deactivate(&w.owner, w.org, bea).await.unwrap();
}

/// SECURITY.md 26: reactivating gives a member's roles back, so an Admin
/// cannot bring back an Owner an Owner deactivated.
#[tokio::test]
async fn security_26_an_admin_cannot_reactivate_an_owner() {
    let w = world().await;
    let (bea, _) = member(&w, "bea", BuiltinRole::Owner).await;
    let (_, admin) = member(&w, "cid", BuiltinRole::Admin).await;
    w.iam.deactivate(&w.owner, w.org, bea).await.unwrap();
    let before = audit_len(&w.store, w.org).await;
    let err = w.iam.reactivate(&admin, w.org, bea).await.unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }), "{err:?}");
    assert_eq!(audit_len(&w.store, w.org).await, before + 1);
    w.iam.reactivate(&w.owner, w.org, bea).await.unwrap();
}
