//! The events of issue 16, item 8: each state change is audited with the
//! action that says what happened, and what concerns no organization (a
//! sign-in with an unknown name, an account in no organization) is
//! audited in the system chain rather than not at all.

mod common;

use common::*;
use iamkit::audit::{
    Action, AuditEvent, AuditRepository, EventQuery, SYSTEM_CHAIN, SignInFailure, Target,
    verify_org,
};
use iamkit::credentials::{Argon2Params, ClientMetadata, NewApiKey, Password};
use iamkit::identity::OrgId;
use iamkit::rbac::BuiltinRole;
use iamkit::{AuthzVersionRepository, Config, Error, PasswordRepository, Store, Transaction};
use iamkit_store_memory::MemoryStore;

/// Every event of `org`'s chain, oldest first.
async fn events(store: &MemoryStore, org: OrgId) -> Vec<AuditEvent> {
    let mut tx = store.begin().await.unwrap();
    let page = tx.query_events(org, &EventQuery::default()).await.unwrap();
    tx.rollback().await.unwrap();
    let mut items = page.items;
    items.reverse();
    items
}

async fn actions(store: &MemoryStore, org: OrgId) -> Vec<Action> {
    events(store, org)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn wrong_log_in(w: &World, who: &str) {
    let err = w
        .iam
        .log_in(
            who,
            &Password::new("not the password"),
            ClientMetadata::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials));
}

#[tokio::test]
async fn a_sign_in_with_an_unknown_name_is_audited_in_the_system_chain() {
    let w = world().await;
    let before = audit_len(&w.store, w.org).await;
    wrong_log_in(&w, "nobody").await;
    wrong_log_in(&w, "nobody@acme.example").await;
    let system = events(&w.store, SYSTEM_CHAIN).await;
    assert_eq!(system.len(), 2);
    for event in &system {
        assert_eq!(
            event.action,
            Action::SignInFailed {
                reason: SignInFailure::UnknownUser
            }
        );
        assert_eq!(event.target, Target::Org(SYSTEM_CHAIN));
    }
    assert_eq!(
        audit_len(&w.store, w.org).await,
        before,
        "no organization's chain records a name nobody has"
    );
    let mut tx = w.store.begin().await.unwrap();
    assert!(verify_org(&mut tx, SYSTEM_CHAIN).await.is_ok());
    assert_eq!(
        tx.get_authz_version(SYSTEM_CHAIN).await.unwrap(),
        0,
        "the system chain changes nobody's authorization"
    );
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn an_account_in_no_organization_is_audited_in_the_system_chain() {
    // A self-managed account (member of two organizations, then removed
    // from both) outlives its memberships.
    let w = world().await;
    let (beta, _) = bootstrap(&w.iam, "beta", "bob").await;
    let bob = sign_in(&w.iam, "bob").await;
    let (kim, _) = member(&w, "kim", BuiltinRole::ReadOnly).await;
    let invited = w
        .iam
        .invite(&bob, beta, &account("kim"), &iamkit::Placement::default())
        .await
        .unwrap();
    assert_eq!(invited.user, kim);
    let link = invitation_link(&w, kim).await;
    w.iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
    w.iam.delete_user(&w.owner, w.org, kim).await.unwrap();
    w.iam.delete_user(&bob, beta, kim).await.unwrap();
    let before = events(&w.store, SYSTEM_CHAIN).await.len();
    wrong_log_in(&w, "kim").await;
    let system = events(&w.store, SYSTEM_CHAIN).await;
    assert_eq!(system.len(), before + 1);
    let last = system.last().unwrap();
    assert_eq!(
        last.action,
        Action::SignInFailed {
            reason: SignInFailure::WrongPassword
        }
    );
    assert_eq!(last.target, Target::User(kim));
}

#[tokio::test]
async fn totp_enrolment_is_audited_when_it_starts_and_when_it_replaces_a_pending_one() {
    let w = world().await;
    let (ann, actor) = member(&w, "ann", BuiltinRole::ReadOnly).await;
    w.iam.begin_totp_enrolment(&actor).await.unwrap();
    w.iam.begin_totp_enrolment(&actor).await.unwrap();
    let started: Vec<_> = events(&w.store, w.org)
        .await
        .into_iter()
        .filter(|e| e.target == Target::User(ann))
        .filter_map(|e| match e.action {
            Action::TwoFactorEnrolmentStarted { replacing } => Some(replacing),
            _ => None,
        })
        .collect();
    assert_eq!(started, vec![false, true]);
}

#[tokio::test]
async fn a_resent_verification_link_is_audited() {
    let w = world().await;
    let (_, actor) = member(&w, "ann", BuiltinRole::ReadOnly).await;
    // Accepting an invitation proves the mailbox; a changed address is
    // unverified until its link is used.
    let mut tx = w.store.begin().await.unwrap();
    let mut user = iamkit::identity::UserRepository::find_user_by_username(
        &mut tx,
        &iamkit::identity::Username::parse("ann").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    user.email_verified = false;
    iamkit::identity::UserRepository::update_user(&mut tx, &user)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(w.iam.resend_verification(&actor).await.unwrap());
    assert_eq!(
        actions(&w.store, w.org).await.last(),
        Some(&Action::EmailVerificationResent)
    );
}

#[tokio::test]
async fn a_deactivation_names_the_sessions_and_keys_it_ended() {
    let w = world().await;
    let (ann, _) = member(&w, "ann", BuiltinRole::Admin).await;
    let second = sign_in(&w.iam, "ann").await;
    let workspace = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    w.iam
        .create_api_key(
            &second,
            w.org,
            NewApiKey {
                name: "ci".to_owned(),
                workspace,
                restriction: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    w.iam.deactivate(&w.owner, w.org, ann).await.unwrap();
    let actions = actions(&w.store, w.org).await;
    assert_eq!(
        actions[actions.len() - 2..],
        [
            Action::Deactivated,
            Action::CredentialsRevoked {
                sessions: 2,
                api_keys: 1
            }
        ]
    );
    // Nothing live, nothing to name: reactivating and deactivating again
    // records the deactivation alone.
    w.iam.reactivate(&w.owner, w.org, ann).await.unwrap();
    w.iam.deactivate(&w.owner, w.org, ann).await.unwrap();
    assert_eq!(
        actions_tail(&w.store, w.org, 1).await,
        [Action::Deactivated]
    );
}

async fn actions_tail(store: &MemoryStore, org: OrgId, n: usize) -> Vec<Action> {
    let all = actions(store, org).await;
    all[all.len() - n..].to_vec()
}

#[tokio::test]
async fn a_password_rehashed_at_sign_in_is_audited_without_touching_authorization() {
    let w = world().await;
    let (ann, _) = member(&w, "ann", BuiltinRole::ReadOnly).await;
    let stronger = Config {
        argon2: Argon2Params {
            m_cost_kib: 128,
            t_cost: 1,
            p_cost: 1,
        },
        ..cheap_config()
    };
    let iam = iam_over(&w.store, &w.clock, stronger);
    let hash_before = {
        let mut tx = w.store.begin().await.unwrap();
        let hash = tx.get_password_hash(ann).await.unwrap();
        tx.rollback().await.unwrap();
        hash
    };
    let version_before = {
        let mut tx = w.store.begin().await.unwrap();
        let v = tx.get_authz_version(w.org).await.unwrap();
        tx.rollback().await.unwrap();
        v
    };
    iam.log_in("ann", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap();
    let tail = actions_tail(&w.store, w.org, 2).await;
    assert_eq!(tail[0], Action::PasswordRehashed);
    assert!(matches!(tail[1], Action::SignedIn { .. }));
    let mut tx = w.store.begin().await.unwrap();
    assert_ne!(tx.get_password_hash(ann).await.unwrap(), hash_before);
    assert_eq!(tx.get_authz_version(w.org).await.unwrap(), version_before);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_password_change_names_the_other_sessions_it_ended() {
    let w = world().await;
    let (_, first) = member(&w, "ann", BuiltinRole::ReadOnly).await;
    sign_in(&w.iam, "ann").await;
    sign_in(&w.iam, "ann").await;
    w.iam
        .change_password(
            &first,
            &Password::new(PASSWORD),
            Password::new("a new and long enough passphrase"),
        )
        .await
        .unwrap();
    assert_eq!(
        actions_tail(&w.store, w.org, 2).await,
        [
            Action::PasswordChanged,
            Action::CredentialsRevoked {
                sessions: 2,
                api_keys: 0
            }
        ]
    );
}
