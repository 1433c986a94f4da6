//! The `Iam` facade's administration workflows on the memory store:
//! each workflow's success, denials (missing permission, other tenant,
//! escalation, last owner) and bad input leaving store and audit unchanged.

use chrono::Duration;
use chrono::{TimeZone, Utc};
use iamkit::audit::{Action, ActionKind, DenialReason, Outcome, verify_org};
use iamkit::credentials::{ClientMetadata, Password};
use iamkit::identity::{OrganizationRepository, UserRepository, UserStatus};
use iamkit::rbac::BuiltinRole;
use iamkit::{Config, Error, FirstOwner, ManualClock, MessageKind, Placement, Store, Transaction};
use iamkit_store_memory::MemoryStore;

mod common;
use common::*;

#[tokio::test]
async fn bootstrap_creates_an_owner_who_can_sign_in_and_the_chain_verifies() {
    let w = world().await;
    assert_eq!(w.owner.user(), Some(w.owner_id));
    let mut tx = w.store.begin().await.unwrap();
    assert!(verify_org(&mut tx, w.org).await.unwrap().is_ok());
    let org = tx.get_organization(w.org).await.unwrap().unwrap();
    assert_eq!(org.slug.as_str(), "acme");
}

#[tokio::test]
async fn bootstrap_refuses_any_actor_but_system() {
    let w = world().await;
    let err = w
        .iam
        .bootstrap(&w.owner, "Other", "other", FirstOwner::Existing(w.owner_id))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
}

#[tokio::test]
async fn log_in_failures_are_indistinguishable() {
    let w = world().await;
    let (invited, _) = {
        let i = w
            .iam
            .invite(&w.owner, w.org, &account("pending"), &Placement::default())
            .await
            .unwrap();
        (i.user, ())
    };
    let _ = invited;
    for (who, pw) in [
        ("nobody", PASSWORD),
        ("owner", "wrong password entirely here"),
        ("pending", PASSWORD),
        ("nobody@acme.example", PASSWORD),
    ] {
        let err = w
            .iam
            .log_in(who, &Password::new(pw), ClientMetadata::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidCredentials), "{who}: {err:?}");
    }
    let event = last_event(&w.store, w.org).await;
    assert!(matches!(event.action, Action::SignInFailed { .. }));
}

#[tokio::test]
async fn invite_and_accept_activate_the_account_with_verified_email() {
    let w = world().await;
    let (user, actor) = member(&w, "bea", BuiltinRole::Admin).await;
    assert_eq!(actor.user(), Some(user));
    let mut tx = w.store.begin().await.unwrap();
    let account = tx.get_user(user).await.unwrap().unwrap();
    assert_eq!(account.status, UserStatus::Active);
    assert!(account.email_verified);
    let m = tx.get_membership(w.org, user).await.unwrap().unwrap();
    assert_eq!(m.status, UserStatus::Active);
    assert!(verify_org(&mut tx, w.org).await.unwrap().is_ok());
}

#[tokio::test]
async fn invitation_link_is_single_use_and_expires() {
    let w = world().await;
    let a = w
        .iam
        .invite(&w.owner, w.org, &account("cai"), &Placement::default())
        .await
        .unwrap();
    let link = invitation_link(&w, a.user).await;
    w.iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
    let again = w
        .iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await;
    assert!(matches!(again, Err(Error::InvalidCredentials)));

    let b = w
        .iam
        .invite(&w.owner, w.org, &account("dan"), &Placement::default())
        .await
        .unwrap();
    let link = invitation_link(&w, b.user).await;
    w.clock.advance(Duration::hours(48));
    let late = w
        .iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await;
    assert!(matches!(late, Err(Error::InvalidCredentials)));
}

#[tokio::test]
async fn resend_kills_the_old_link_and_revoke_removes_the_invitation() {
    let w = world().await;
    let a = w
        .iam
        .invite(&w.owner, w.org, &account("eve"), &Placement::default())
        .await
        .unwrap();
    let old = invitation_link(&w, a.user).await;
    w.iam
        .resend_invitation(&w.owner, w.org, a.user)
        .await
        .unwrap();
    let new = invitation_link(&w, a.user).await;
    assert_ne!(old, new);
    let stale = w.iam.accept_invitation(&old, Password::new(PASSWORD)).await;
    assert!(matches!(stale, Err(Error::InvalidCredentials)));

    w.iam
        .revoke_invitation(&w.owner, w.org, a.user)
        .await
        .unwrap();
    let gone = w.iam.accept_invitation(&new, Password::new(PASSWORD)).await;
    assert!(matches!(gone, Err(Error::InvalidCredentials)));
    let mut tx = w.store.begin().await.unwrap();
    assert!(tx.get_user(a.user).await.unwrap().is_none());
}

#[tokio::test]
async fn inviting_an_existing_account_needs_its_holders_consent() {
    let w = world().await;
    let (other_org, _) = bootstrap(&w.iam, "globex", "globex-owner").await;
    let globex_owner = sign_in(&w.iam, "globex-owner").await;
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let placement = Placement {
        org_role: Some(BuiltinRole::Admin.id()),
        ..Placement::default()
    };
    let again = w
        .iam
        .invite(&globex_owner, other_org, &account("bea"), &placement)
        .await
        .unwrap();
    assert_eq!(again.user, bea);
    // SECURITY.md 33: no second account, and no role before consent.
    let mut tx = w.store.begin().await.unwrap();
    let m = tx.get_membership(other_org, bea).await.unwrap().unwrap();
    assert_eq!(m.status, UserStatus::Invited);
    drop(tx);
    let scope = iamkit::rbac::Scope::Organization(other_org);
    assert!(!w.iam.is_allowed(&bea_actor, "users.invite", scope).await);
    let link = invitation_link(&w, bea).await;
    // Consent is given by authenticating as the account: a wrong password
    // is refused and changes nothing.
    let wrong = w
        .iam
        .accept_invitation(&link, Password::new("not bea's password at all"))
        .await;
    assert!(matches!(wrong, Err(Error::InvalidCredentials)));
    w.iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
    let bea_actor = sign_in(&w.iam, "bea").await;
    assert!(w.iam.is_allowed(&bea_actor, "users.invite", scope).await);
}

#[tokio::test]
async fn invite_without_permission_is_forbidden_and_audited() {
    let w = world().await;
    let (_, reader) = member(&w, "ria", BuiltinRole::ReadOnly).await;
    let before = audit_len(&w.store, w.org).await;
    let err = w
        .iam
        .invite(&reader, w.org, &account("zed"), &Placement::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { ref permission } if permission == "users.invite"));
    assert_eq!(audit_len(&w.store, w.org).await, before + 1);
    let event = last_event(&w.store, w.org).await;
    assert!(matches!(
        event.outcome,
        Outcome::Denied {
            reason: DenialReason::MissingPermission { .. }
        }
    ));
    let mut tx = w.store.begin().await.unwrap();
    let zed = iamkit::identity::Email::parse("zed@acme.example").unwrap();
    assert!(tx.find_user_by_email(&zed).await.unwrap().is_none());
}

#[tokio::test]
async fn another_tenant_gets_not_found() {
    let w = world().await;
    let (other_org, _) = bootstrap(&w.iam, "globex", "globex-owner").await;
    let globex_owner = sign_in(&w.iam, "globex-owner").await;
    let globex_before = audit_len(&w.store, other_org).await;
    let acme_before = audit_len(&w.store, w.org).await;
    let err = w
        .iam
        .invite(&globex_owner, w.org, &account("spy"), &Placement::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
    let err = w
        .iam
        .resend_invitation(&globex_owner, w.org, w.owner_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
    // SECURITY.md 35: nothing lands in Acme's chain; the probe is recorded
    // on Globex's side, once per minute however often it is tried.
    assert_eq!(audit_len(&w.store, w.org).await, acme_before);
    assert_eq!(audit_len(&w.store, other_org).await, globex_before + 1);
    let event = last_event(&w.store, other_org).await;
    assert!(matches!(
        event.outcome,
        Outcome::Denied {
            reason: DenialReason::OtherOrganization
        }
    ));
    assert_eq!(event.target, iamkit::audit::Target::Org(w.org));
}

#[tokio::test]
async fn inviting_with_a_role_above_ones_own_is_an_escalation() {
    let w = world().await;
    let (_, admin) = member(&w, "adm", BuiltinRole::Admin).await;
    let before = audit_len(&w.store, w.org).await;
    let err = w
        .iam
        .invite(
            &admin,
            w.org,
            &account("eve"),
            &Placement {
                org_role: Some(BuiltinRole::Owner.id()),
                ..Placement::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }));
    assert_eq!(audit_len(&w.store, w.org).await, before + 1);
    let event = last_event(&w.store, w.org).await;
    assert_eq!(event.action.kind(), ActionKind::AuthorizationDenied);
}

#[tokio::test]
async fn bad_input_changes_neither_store_nor_audit() {
    let w = world().await;
    let before = audit_len(&w.store, w.org).await;
    let mut bad = account("okay");
    bad.email = "not-an-email".to_owned();
    let err = w
        .iam
        .invite(&w.owner, w.org, &bad, &Placement::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput(ref i) if i.field == "email"),
        "{err:?}"
    );
    let err = w
        .iam
        .create_user(
            &w.owner,
            w.org,
            &account("shorty"),
            Password::new("short"),
            &Placement::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidPassword { .. }));
    assert_eq!(audit_len(&w.store, w.org).await, before);
    assert!(
        w.iam
            .drain_outbox(100)
            .await
            .unwrap()
            .iter()
            .all(|m| m.kind != MessageKind::EmailVerification)
    );
}

#[tokio::test]
async fn created_user_is_active_unverified_and_gets_a_verification_link() {
    let w = world().await;
    let user = w
        .iam
        .create_user(
            &w.owner,
            w.org,
            &account("fay"),
            Password::new(PASSWORD),
            &Placement {
                org_role: Some(BuiltinRole::Requester.id()),
                ..Placement::default()
            },
        )
        .await
        .unwrap();
    let fay = sign_in(&w.iam, "fay").await;
    assert_eq!(fay.user(), Some(user));
    let mut tx = w.store.begin().await.unwrap();
    let account = tx.get_user(user).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert!(!account.email_verified);
    let messages = w.iam.drain_outbox(100).await.unwrap();
    let verification = messages.iter().find(|m| m.recipient == user).unwrap();
    assert_eq!(verification.kind, MessageKind::EmailVerification);
    assert!(verification.link_secret.is_some());
    w.iam.acknowledge(&[verification.id]).await.unwrap();
    assert!(
        w.iam
            .drain_outbox(100)
            .await
            .unwrap()
            .iter()
            .all(|m| m.id != verification.id)
    );
}

#[tokio::test]
async fn invitation_text_follows_the_invitees_language() {
    let w = world().await;
    let mut es = account("sol");
    es.language = Some("es".to_owned());
    let a = w
        .iam
        .invite(&w.owner, w.org, &es, &Placement::default())
        .await
        .unwrap();
    let messages = w.iam.drain_outbox(100).await.unwrap();
    let m = messages.iter().find(|m| m.recipient == a.user).unwrap();
    assert_eq!(m.subject, "Has recibido una invitación");
    assert!(!format!("{m:?}").contains(m.link_secret.as_ref().unwrap().expose()));
}

#[test]
fn default_argon2_cost_runs_through_the_facade() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = MemoryStore::new();
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
        let iam = iam_over(&store, &clock, Config::default());
        bootstrap(&iam, "acme", "owner").await;
        let actor = sign_in(&iam, "owner").await;
        assert!(actor.user().is_some());
    });
}

#[tokio::test]
async fn changing_an_org_role_takes_effect_at_once_and_audits_from_to() {
    let w = world().await;
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let denied = w
        .iam
        .invite(&bea_actor, w.org, &account("gus"), &Placement::default())
        .await;
    assert!(matches!(denied, Err(Error::Forbidden { .. })));
    let from = w
        .iam
        .change_org_role(&w.owner, w.org, bea, Some(BuiltinRole::Admin.id()))
        .await
        .unwrap();
    assert_eq!(from, Some(BuiltinRole::ReadOnly.id()));
    let event = last_event(&w.store, w.org).await;
    assert_eq!(
        event.action,
        Action::OrgRoleChanged {
            from: Some(BuiltinRole::ReadOnly.id()),
            to: Some(BuiltinRole::Admin.id())
        }
    );
    // The same session, the very next call: now allowed.
    w.iam
        .invite(&bea_actor, w.org, &account("gus"), &Placement::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn workspace_roles_are_set_and_removed_within_the_org() {
    use iamkit::identity::{Name, Workspace, WorkspaceId, WorkspaceRepository};
    let w = world().await;
    let (bea, _) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let ws = Workspace {
        id: WorkspaceId::from_uuid(uuid_like(1)),
        org: w.org,
        name: Name::parse("Ops").unwrap(),
        created_at: w.clock_now(),
    };
    let mut tx = w.store.begin().await.unwrap();
    tx.insert_workspace(&ws).await.unwrap();
    tx.commit().await.unwrap();
    let from = w
        .iam
        .set_workspace_role(
            &w.owner,
            w.org,
            ws.id,
            bea,
            Some(BuiltinRole::Approver.id()),
        )
        .await
        .unwrap();
    assert_eq!(from, None);
    let from = w
        .iam
        .set_workspace_role(&w.owner, w.org, ws.id, bea, None)
        .await
        .unwrap();
    assert_eq!(from, Some(BuiltinRole::Approver.id()));
    let unknown = WorkspaceId::from_uuid(uuid_like(2));
    let err = w
        .iam
        .set_workspace_role(
            &w.owner,
            w.org,
            unknown,
            bea,
            Some(BuiltinRole::Approver.id()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
}

#[tokio::test]
async fn security_26_an_admin_cannot_grant_or_take_owner() {
    let w = world().await;
    let (bea, admin) = member(&w, "bea", BuiltinRole::Admin).await;
    let (_, _) = (bea, ());
    let (cid, _) = member(&w, "cid", BuiltinRole::ReadOnly).await;
    let before = audit_len(&w.store, w.org).await;
    let err = w
        .iam
        .change_org_role(&admin, w.org, cid, Some(BuiltinRole::Owner.id()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }));
    let err = w
        .iam
        .change_org_role(&admin, w.org, w.owner_id, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Escalation { .. }));
    assert_eq!(
        org_role(&w.store, w.org, cid).await,
        Some(BuiltinRole::ReadOnly.id())
    );
    assert_eq!(
        org_role(&w.store, w.org, w.owner_id).await,
        Some(BuiltinRole::Owner.id())
    );
    assert_eq!(audit_len(&w.store, w.org).await, before + 2);
    let event = last_event(&w.store, w.org).await;
    assert!(matches!(
        event.outcome,
        Outcome::Denied {
            reason: DenialReason::Escalation
        }
    ));
}

#[tokio::test]
async fn security_27_the_last_owner_can_be_neither_demoted_nor_deactivated() {
    let w = world().await;
    let err = w
        .iam
        .change_org_role(&w.owner, w.org, w.owner_id, Some(BuiltinRole::Admin.id()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastOwner));
    let err = w
        .iam
        .deactivate(&w.owner, w.org, w.owner_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastOwner));
    assert_eq!(
        org_role(&w.store, w.org, w.owner_id).await,
        Some(BuiltinRole::Owner.id())
    );
    let event = last_event(&w.store, w.org).await;
    assert!(matches!(
        event.outcome,
        Outcome::Denied {
            reason: DenialReason::LastOwner
        }
    ));
}

#[test]
fn security_27_concurrent_demotions_leave_an_owner() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..5 {
            let w = world().await;
            let (second, second_actor) = member(&w, "two", BuiltinRole::Owner).await;
            let (a, b) = (w.iam.clone(), w.iam.clone());
            let (owner, org, first) = (w.owner.clone(), w.org, w.owner_id);
            let demote_second = tokio::spawn(async move {
                a.change_org_role(&owner, org, second, Some(BuiltinRole::Admin.id()))
                    .await
            });
            let demote_first = tokio::spawn(async move {
                b.change_org_role(&second_actor, org, first, Some(BuiltinRole::Admin.id()))
                    .await
            });
            let results = [demote_second.await.unwrap(), demote_first.await.unwrap()];
            assert_eq!(
                results.iter().filter(|r| r.is_ok()).count(),
                1,
                "{results:?}"
            );
            let owners = [
                org_role(&w.store, org, first).await,
                org_role(&w.store, org, second).await,
            ];
            assert_eq!(
                owners
                    .iter()
                    .filter(|r| **r == Some(BuiltinRole::Owner.id()))
                    .count(),
                1
            );
        }
    });
}

#[tokio::test]
async fn security_20_deactivation_revokes_everything_at_once() {
    let w = world().await;
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::Admin).await;
    let second = w
        .iam
        .log_in("bea", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap();
    w.iam.deactivate(&w.owner, w.org, bea).await.unwrap();
    // The very next call, with the session authenticated before.
    let err = w
        .iam
        .invite(&bea_actor, w.org, &account("gus"), &Placement::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials));
    assert!(
        w.iam
            .authenticate_session(second.token.expose())
            .await
            .is_err()
    );
    let err = w
        .iam
        .log_in("bea", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials));
    let mut tx = w.store.begin().await.unwrap();
    let stored = tx.get_user(bea).await.unwrap().unwrap();
    assert_eq!(stored.status, UserStatus::Deactivated);
    tx.rollback().await.unwrap();
    assert_eq!(
        org_role(&w.store, w.org, bea).await,
        Some(BuiltinRole::Admin.id())
    );

    w.iam.reactivate(&w.owner, w.org, bea).await.unwrap();
    assert!(
        w.iam
            .authenticate_session(second.token.expose())
            .await
            .is_err()
    );
    let again = sign_in(&w.iam, "bea").await;
    w.iam
        .invite(&again, w.org, &account("gus"), &Placement::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn deactivation_invalidates_pending_links() {
    let w = world().await;
    let a = w
        .iam
        .invite(&w.owner, w.org, &account("hal"), &Placement::default())
        .await
        .unwrap();
    let link = invitation_link(&w, a.user).await;
    // An invited member cannot be deactivated (revoke the invitation)...
    let err = w.iam.deactivate(&w.owner, w.org, a.user).await.unwrap_err();
    assert!(matches!(err, Error::IllegalTransition { .. }));
    // ...and an active one loses pending verification links.
    let fay = w
        .iam
        .create_user(
            &w.owner,
            w.org,
            &account("fay"),
            Password::new(PASSWORD),
            &Placement::default(),
        )
        .await
        .unwrap();
    w.iam.deactivate(&w.owner, w.org, fay).await.unwrap();
    let mut tx = w.store.begin().await.unwrap();
    let pending =
        iamkit::credentials::TokenRepository::revoke_tokens_of(&mut tx, fay, w.clock_now())
            .await
            .unwrap();
    assert_eq!(pending, 0, "deactivation already revoked every link");
    drop(tx);
    w.iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
}

#[tokio::test]
async fn security_25_no_cross_tenant_role_change_or_deactivation() {
    let w = world().await;
    let (other, _) = bootstrap(&w.iam, "globex", "globex-owner").await;
    let globex_owner = sign_in(&w.iam, "globex-owner").await;
    let err = w
        .iam
        .change_org_role(&globex_owner, w.org, w.owner_id, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
    let err = w
        .iam
        .deactivate(&globex_owner, w.org, w.owner_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
    // Acting in its own org on a user of the other org: not found either.
    let err = w
        .iam
        .deactivate(&globex_owner, other, w.owner_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
    assert_eq!(
        org_role(&w.store, w.org, w.owner_id).await,
        Some(BuiltinRole::Owner.id())
    );
}

#[tokio::test]
async fn two_iam_instances_over_one_store_agree_at_once() {
    let w = world().await;
    let other = iam_over(&w.store, &w.clock, cheap_config());
    let (bea, bea_actor) = member(&w, "bea", BuiltinRole::Admin).await;
    // Instance `other` caches the org's index while Bea is an Admin...
    other
        .invite(&bea_actor, w.org, &account("gus"), &Placement::default())
        .await
        .unwrap();
    // ...instance `w.iam` demotes her...
    w.iam
        .change_org_role(&w.owner, w.org, bea, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    // ...and `other` sees it on the very next call.
    let err = other
        .invite(&bea_actor, w.org, &account("hal"), &Placement::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
}

#[tokio::test]
async fn deactivating_an_account_in_one_org_is_seen_by_the_others_at_once() {
    let w = world().await;
    let (globex, _) = bootstrap(&w.iam, "globex", "globex-owner").await;
    let globex_owner = sign_in(&w.iam, "globex-owner").await;
    let (bea, _) = member(&w, "bea", BuiltinRole::Owner).await;
    w.iam
        .invite(
            &globex_owner,
            globex,
            &account("bea"),
            &Placement {
                org_role: Some(BuiltinRole::Owner.id()),
                ..Placement::default()
            },
        )
        .await
        .unwrap();
    // Globex has two Owners; its cached index knows Bea as one.
    w.iam
        .directory(
            &globex_owner,
            globex,
            &iamkit::identity::DirectoryQuery::new(),
        )
        .await
        .unwrap();
    // Acme deactivates Bea's account: in Globex she is no longer an active
    // Owner, so its last active Owner cannot be demoted.
    w.iam.deactivate(&w.owner, w.org, bea).await.unwrap();
    let globex_owner_id = globex_owner.user().unwrap();
    let err = w
        .iam
        .change_org_role(
            &globex_owner,
            globex,
            globex_owner_id,
            Some(BuiltinRole::Admin.id()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastOwner));
}

#[test]
fn the_builder_refuses_malformed_or_duplicate_app_permissions() {
    use iamkit::credentials::{SecretBytes, XChaChaSealer};
    let sealer = || XChaChaSealer::new(&SecretBytes::new(vec![1; 32])).unwrap();
    let dup = iamkit::Iam::builder(MemoryStore::new(), sealer())
        .permission("users.invite", &[BuiltinRole::Owner])
        .build();
    assert!(matches!(dup, Err(Error::InvalidPermission { .. })));
    let bad = iamkit::Iam::builder(MemoryStore::new(), sealer())
        .permission("Not A Permission", &[BuiltinRole::Owner])
        .build();
    assert!(matches!(bad, Err(Error::InvalidPermission { .. })));
    let ok = iamkit::Iam::builder(MemoryStore::new(), sealer())
        .permission("workflows.run", &[BuiltinRole::Owner])
        .build()
        .unwrap();
    assert!(ok.catalogue().id("workflows.run").is_some());
}

#[test]
fn concurrent_acceptances_of_one_invitation_one_wins() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = world().await;
        let invited = w
            .iam
            .invite(&w.owner, w.org, &account("kim"), &Placement::default())
            .await
            .unwrap();
        let link = invitation_link(&w, invited.user).await;
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (iam, link) = (w.iam.clone(), link.clone());
                tokio::spawn(
                    async move { iam.accept_invitation(&link, Password::new(PASSWORD)).await },
                )
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => wins += 1,
                Err(e) => assert!(matches!(e, Error::InvalidCredentials), "{e:?}"),
            }
        }
        assert_eq!(wins, 1);
    });
}

#[test]
fn security_27_concurrent_deactivations_of_two_owners_leave_one_active() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..5 {
            let w = world().await;
            let (second, second_actor) = member(&w, "two", BuiltinRole::Owner).await;
            let (a, b) = (w.iam.clone(), w.iam.clone());
            let (owner, org, first) = (w.owner.clone(), w.org, w.owner_id);
            let one = tokio::spawn(async move { a.deactivate(&owner, org, second).await });
            let two = tokio::spawn(async move { b.deactivate(&second_actor, org, first).await });
            let results = [one.await.unwrap(), two.await.unwrap()];
            assert_eq!(
                results.iter().filter(|r| r.is_ok()).count(),
                1,
                "{results:?}"
            );
            let mut tx = w.store.begin().await.unwrap();
            let mut active_owners = 0;
            for user in [first, second] {
                let m = tx.get_membership(org, user).await.unwrap().unwrap();
                if m.status == UserStatus::Active {
                    active_owners += 1;
                }
            }
            assert_eq!(active_owners, 1);
        }
    });
}
