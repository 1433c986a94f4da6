//! API keys (admin side), directory, user detail and explanations through
//! the `Iam` facade.

use std::collections::BTreeSet;

use iamkit::audit::{DenialReason, Outcome};
use iamkit::credentials::NewApiKey;
use iamkit::identity::{DirectoryQuery, UserStatus, WorkspaceId};
use iamkit::rbac::{BuiltinRole, Scope, Source};
use iamkit::{Error, Placement};

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

#[tokio::test]
async fn security_23_a_key_shrinks_with_its_creator_at_once() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let (bea, admin) = member(&w, "bea", BuiltinRole::Admin).await;
    let (cid, _) = member(&w, "cid", BuiltinRole::ReadOnly).await;
    let created = w
        .iam
        .create_api_key(
            &admin,
            w.org,
            key_in(
                ws,
                Some(&["roles.assign", "users.read", "roles.read", "requests.read"]),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        created.key.created_by, bea,
        "the creator is the authenticated actor"
    );
    let key = w
        .iam
        .authenticate_api_key(created.secret.expose())
        .await
        .unwrap();
    assert_eq!(key.api_key(), Some(created.key.id));
    // Within the restriction and the creator's roles: allowed, in its workspace.
    w.iam
        .set_workspace_role(&key, w.org, ws, cid, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    // Outside the restriction: refused even though the creator may.
    let err = w
        .iam
        .invite(&key, w.org, &account("dee"), &Placement::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    // The creator loses Admin: the key loses it on the very next call.
    w.iam
        .change_org_role(&w.owner, w.org, bea, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    let err = w
        .iam
        .set_workspace_role(&key, w.org, ws, cid, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
}

#[tokio::test]
async fn a_restriction_beyond_the_creators_permissions_is_an_escalation() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let (rex, requester) = member(&w, "rex", BuiltinRole::Requester).await;
    w.iam
        .set_workspace_role(&w.owner, w.org, ws, rex, Some(BuiltinRole::Requester.id()))
        .await
        .unwrap();
    let err = w
        .iam
        .create_api_key(&requester, w.org, key_in(ws, Some(&["users.delete"])))
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
    let (_, reader) = member(&w, "ria", BuiltinRole::ReadOnly).await;
    let err = w
        .iam
        .create_api_key(&reader, w.org, key_in(ws, None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    let listed = w.iam.list_api_keys(&w.owner, w.org, ws).await.unwrap();
    assert!(listed.is_empty());
}

#[tokio::test]
async fn keys_are_listed_without_secrets_and_admins_revoke_anyones() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let (rex, requester) = member(&w, "rex", BuiltinRole::Requester).await;
    w.iam
        .set_workspace_role(&w.owner, w.org, ws, rex, Some(BuiltinRole::Requester.id()))
        .await
        .unwrap();
    let mine = w
        .iam
        .create_api_key(&requester, w.org, key_in(ws, None))
        .await
        .unwrap();
    let owners = w
        .iam
        .create_api_key(&w.owner, w.org, key_in(ws, None))
        .await
        .unwrap();
    let seen = w.iam.list_api_keys(&requester, w.org, ws).await.unwrap();
    assert_eq!(
        seen.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![mine.key.id]
    );
    assert!(!format!("{seen:?}").contains(mine.secret.expose()));
    let all = w.iam.list_api_keys(&w.owner, w.org, ws).await.unwrap();
    assert_eq!(all.len(), 2);
    // A requester cannot revoke someone else's key...
    let err = w
        .iam
        .revoke_api_key(&requester, w.org, owners.key.id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    // ...an owner can, and the key stops working at once.
    w.iam
        .revoke_api_key(&w.owner, w.org, mine.key.id)
        .await
        .unwrap();
    assert!(
        w.iam
            .authenticate_api_key(mine.secret.expose())
            .await
            .is_err()
    );
    // Deactivating the creator revokes their keys (SECURITY.md 20).
    let (dan, dan_actor) = member(&w, "dan", BuiltinRole::Admin).await;
    let dans = w
        .iam
        .create_api_key(&dan_actor, w.org, key_in(ws, None))
        .await
        .unwrap();
    w.iam.deactivate(&w.owner, w.org, dan).await.unwrap();
    w.iam.reactivate(&w.owner, w.org, dan).await.unwrap();
    assert!(
        w.iam
            .authenticate_api_key(dans.secret.expose())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn another_tenant_cannot_revoke_or_list_keys() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let key = w
        .iam
        .create_api_key(&w.owner, w.org, key_in(ws, None))
        .await
        .unwrap();
    let (other, _) = bootstrap(&w.iam, "globex", "globex-owner").await;
    let globex = sign_in(&w.iam, "globex-owner").await;
    let err = w
        .iam
        .revoke_api_key(&globex, other, key.key.id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
    let err = w
        .iam
        .revoke_api_key(&globex, w.org, key.key.id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
    let err = w.iam.list_api_keys(&globex, w.org, ws).await.unwrap_err();
    assert!(matches!(err, Error::NotFound));
    assert!(
        w.iam
            .authenticate_api_key(key.secret.expose())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn directory_filters_and_user_detail_shows_roles_sessions_and_activity() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let (bea, _) = member(&w, "bea", BuiltinRole::Admin).await;
    w.iam
        .invite(&w.owner, w.org, &account("pending"), &Placement::default())
        .await
        .unwrap();
    w.iam
        .set_workspace_role(&w.owner, w.org, ws, bea, Some(BuiltinRole::Approver.id()))
        .await
        .unwrap();
    let invited = w
        .iam
        .directory(
            &w.owner,
            w.org,
            &DirectoryQuery::new().with_status(UserStatus::Invited),
        )
        .await
        .unwrap();
    assert_eq!(invited.items.len(), 1);
    assert_eq!(invited.items[0].user.username.as_str(), "pending");
    let admins = w
        .iam
        .members_with_role(&w.owner, w.org, BuiltinRole::Admin.id())
        .await
        .unwrap();
    assert_eq!(admins, vec![bea]);

    let detail = w.iam.user_detail(&w.owner, w.org, bea).await.unwrap();
    assert_eq!(detail.org_role, Some(BuiltinRole::Admin.id()));
    assert!(
        detail
            .roles
            .iter()
            .any(|r| r.scope == Scope::Workspace(w.org, ws)
                && r.role == BuiltinRole::Approver.id()
                && r.source == Source::Direct)
    );
    assert_eq!(detail.sessions.len(), 1);
    assert!(detail.last_sign_in_at.is_some());
    assert!(!detail.two_factor_enabled);
    assert!(detail.recent_activity.len() >= 3);
    assert!(detail.recent_activity.iter().any(|l| l.target == "Ada bea"));
    assert!(
        detail
            .recent_activity
            .iter()
            .any(|l| l.actor == "Ada owner")
    );

    let (_, reader) = member(&w, "ria", BuiltinRole::ReadOnly).await;
    let limited = w.iam.user_detail(&reader, w.org, bea).await.unwrap();
    assert!(
        limited.recent_activity.is_empty(),
        "activity needs audit.read"
    );
    let (_, globex) = {
        bootstrap(&w.iam, "globex", "globex-owner").await;
        ((), sign_in(&w.iam, "globex-owner").await)
    };
    let err = w.iam.user_detail(&globex, w.org, bea).await.unwrap_err();
    assert!(matches!(err, Error::NotFound));
}

#[tokio::test]
async fn explain_names_the_role_and_its_source() {
    let w = world().await;
    let (bea, _) = member(&w, "bea", BuiltinRole::Admin).await;
    let decision = w
        .iam
        .explain(&w.owner, bea, "users.invite", Scope::Organization(w.org))
        .await
        .unwrap();
    assert!(decision.is_allowed());
    assert_eq!(decision.reasons[0].role_name, "Admin");
    assert_eq!(decision.reasons[0].source, Source::Direct);
    let decision = w
        .iam
        .explain(&w.owner, bea, "org.billing", Scope::Organization(w.org))
        .await
        .unwrap();
    assert!(!decision.is_allowed());
}

#[tokio::test]
async fn service_accounts_act_only_through_keys_with_their_own_roles() {
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
    assert_eq!(
        w.iam.list_service_accounts(&w.owner, w.org).await.unwrap()[0].user,
        bot
    );
    // It cannot sign in: it has no password.
    let err = w
        .iam
        .log_in(
            "sa.acme.ci-bot",
            &iamkit::credentials::Password::new(PASSWORD),
            Default::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials));
    // A key for it acts with the bot's roles.
    let key = w
        .iam
        .create_service_account_key(&w.owner, w.org, bot, key_in(ws, None))
        .await
        .unwrap();
    assert_eq!(key.key.created_by, bot);
    let actor = w
        .iam
        .authenticate_api_key(key.secret.expose())
        .await
        .unwrap();
    let (cid, _) = member(&w, "cid", BuiltinRole::ReadOnly).await;
    w.iam
        .set_workspace_role(&actor, w.org, ws, cid, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    // The bot loses its role: the key loses it too, at once.
    w.iam
        .set_workspace_role(&w.owner, w.org, ws, bot, None)
        .await
        .unwrap();
    let err = w
        .iam
        .set_workspace_role(&actor, w.org, ws, cid, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    // Only api_keys.manage creates keys for a service account; humans are
    // not service accounts.
    let (bea, admin_in_org) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    let err = w
        .iam
        .create_service_account_key(&admin_in_org, w.org, bot, key_in(ws, None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    let err = w
        .iam
        .create_service_account_key(&w.owner, w.org, bea, key_in(ws, None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound));
}

/// Two `Iam` instances over one store stand for two processes of a service.
/// Each request authenticates afresh; a change made through one instance is
/// seen by the other's check in the next request, even though that
/// instance's cached index was warm.
#[tokio::test]
async fn a_second_instance_sees_changes_at_the_next_request() {
    let w = world().await;
    let other = iam_over(&w.store, &w.clock, cheap_config());
    let (bob, _) = member(&w, "bob", BuiltinRole::Admin).await;
    let token = other
        .log_in(
            "bob",
            &iamkit::credentials::Password::new(PASSWORD),
            Default::default(),
        )
        .await
        .unwrap()
        .token;
    let org = Scope::Organization(w.org);
    let request = || async { other.authenticate_session(token.expose()).await };
    // Warm: the first check builds the index, the second is served by it.
    let actor = request().await.unwrap();
    assert!(other.is_allowed(&actor, "users.invite", org).await);
    assert!(other.is_allowed(&actor, "users.invite", org).await);

    // Demoted through the first instance: the next request through the
    // second is denied.
    w.iam
        .change_org_role(&w.owner, w.org, bob, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    let actor = request().await.unwrap();
    assert!(!other.is_allowed(&actor, "users.invite", org).await);
    assert!(other.is_allowed(&actor, "users.read", org).await);

    // Deactivated through the first instance: the session no longer
    // authenticates, and an actor stamped just before is denied by the
    // instance that made the change.
    let stale = w.iam.authenticate_session(token.expose()).await.unwrap();
    assert!(w.iam.is_allowed(&stale, "users.read", org).await);
    w.iam.deactivate(&w.owner, w.org, bob).await.unwrap();
    assert!(matches!(request().await, Err(Error::InvalidCredentials)));
    assert!(!w.iam.is_allowed(&stale, "users.read", org).await);
}

/// Turning on 2FA enforcement reaches a warm index: a member without a
/// second factor is denied at the next check.
#[tokio::test]
async fn enforcing_two_factor_reaches_warm_checks() {
    let w = world().await;
    let (_, bob) = member(&w, "bob", BuiltinRole::Admin).await;
    let org = Scope::Organization(w.org);
    assert!(w.iam.is_allowed(&bob, "users.read", org).await);
    assert!(w.iam.is_allowed(&bob, "users.read", org).await);
    w.iam
        .set_two_factor_required(&w.owner, w.org, true)
        .await
        .unwrap();
    assert!(!w.iam.is_allowed(&bob, "users.read", org).await);
}
