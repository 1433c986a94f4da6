//! The facade's hooks for an app embedding iamkit: bootstrapping the first
//! Owner with a one-time set-password link, and the organizations an
//! authenticated actor acts in.

mod common;

use std::collections::BTreeSet;

use chrono::Duration;
use common::*;
use iamkit::audit::{Action, AuditRepository, EventQuery};
use iamkit::credentials::{ClientMetadata, NewApiKey, Password, TotpAlgorithm, totp_code};
use iamkit::rbac::{BuiltinRole, Scope};
use iamkit::{Actor, Clock, Conflict, Error, Store, Transaction};

const OWNER_PASSWORD: &str = "first light over the harbour";

async fn sign_in_with(w: &World, who: &str, password: &str) -> Result<iamkit::SignedIn, Error> {
    w.iam
        .log_in(who, &Password::new(password), ClientMetadata::default())
        .await
}

#[tokio::test]
async fn setup_link_bootstraps_an_owner_who_sets_a_password_once() {
    let w = world().await;
    let done = w
        .iam
        .bootstrap_with_setup_link(&Actor::system(), "Globex", "globex", &account("hank"))
        .await
        .unwrap();
    assert!(
        !format!("{done:?}").contains(done.setup_link.expose()),
        "the link secret is redacted"
    );
    assert!(done.setup_link.expose().starts_with("iamk_rst_"));
    // No password yet: nothing signs in, whatever is tried.
    assert!(matches!(
        sign_in_with(&w, "hank", OWNER_PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));
    // The link sets the password, once.
    let user = w
        .iam
        .reset_password(done.setup_link.expose(), Password::new(OWNER_PASSWORD))
        .await
        .unwrap();
    assert_eq!(user, done.bootstrapped.owner);
    assert!(matches!(
        w.iam
            .reset_password(
                done.setup_link.expose(),
                Password::new("another long password here")
            )
            .await,
        Err(Error::InvalidCredentials)
    ));
    let signed = sign_in_with(&w, "hank", OWNER_PASSWORD).await.unwrap();
    let hank = w
        .iam
        .authenticate_session(signed.token.expose())
        .await
        .unwrap();
    let globex = done.bootstrapped.org;
    assert!(
        w.iam
            .is_allowed(&hank, "org.billing", Scope::Organization(globex))
            .await,
        "the first user is the Owner"
    );
    assert!(
        !w.iam
            .is_allowed(&hank, "users.read", Scope::Organization(w.org))
            .await,
        "and nothing in another organization"
    );
    // The trail says who did what: System created, granted and issued.
    let mut tx = w.store.begin().await.unwrap();
    let events = tx
        .query_events(globex, &EventQuery::default())
        .await
        .unwrap()
        .items;
    tx.rollback().await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.action.kind().as_str()).collect();
    for expected in [
        "user_created",
        "org_role_changed",
        "password_reset_requested",
    ] {
        assert!(kinds.contains(&expected), "{expected} in {kinds:?}");
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e.action, Action::PasswordResetCompleted))
    );
}

#[tokio::test]
async fn setup_link_bootstrap_runs_once_per_slug_and_only_for_system() {
    let w = world().await;
    w.iam
        .bootstrap_with_setup_link(&Actor::system(), "Globex", "globex", &account("hank"))
        .await
        .unwrap();
    // Again with the same slug (a start-up flag left in place): refused,
    // nothing created.
    let again = w
        .iam
        .bootstrap_with_setup_link(&Actor::system(), "Globex", "globex", &account("ivy"))
        .await;
    assert!(matches!(again, Err(Error::Conflict(Conflict::NameTaken))));
    assert!(matches!(
        sign_in_with(&w, "ivy", OWNER_PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));
    let reused_email = w
        .iam
        .bootstrap_with_setup_link(&Actor::system(), "Initech", "initech", &account("hank"))
        .await;
    assert!(matches!(reused_email, Err(Error::Conflict(_))));
    // Only System bootstraps, even an Owner cannot.
    let refused = w
        .iam
        .bootstrap_with_setup_link(&w.owner, "Umbrella", "umbrella", &account("jonas"))
        .await;
    assert!(matches!(refused, Err(Error::Forbidden { .. })));
    // Bad input names the field.
    let bad = w
        .iam
        .bootstrap_with_setup_link(&Actor::system(), "Umbrella", "umbrella", &{
            let mut a = account("jonas");
            a.email = "not-an-email".to_owned();
            a
        })
        .await;
    assert!(
        matches!(&bad, Err(Error::InvalidInput(i)) if i.field == "email"),
        "{bad:?}"
    );
}

#[tokio::test]
async fn setup_link_expires_after_the_admin_reset_lifetime() {
    let w = world().await;
    let done = w
        .iam
        .bootstrap_with_setup_link(&Actor::system(), "Globex", "globex", &account("hank"))
        .await
        .unwrap();
    w.clock.advance(Duration::hours(24) + Duration::seconds(1));
    assert!(matches!(
        w.iam
            .reset_password(done.setup_link.expose(), Password::new(OWNER_PASSWORD))
            .await,
        Err(Error::InvalidCredentials)
    ));
}

#[tokio::test]
async fn organizations_of_a_user_are_their_active_memberships() {
    let w = world().await;
    let (bob, bob_actor) = member(&w, "bob", BuiltinRole::ReadOnly).await;
    let mine = w.iam.organizations_of(&bob_actor).await.unwrap();
    assert_eq!(mine.iter().map(|o| o.id).collect::<Vec<_>>(), vec![w.org]);
    // A second organization lists Bob only once he is active there: an
    // invitation of his account waits for his consent (SECURITY.md 33).
    w.clock.advance(Duration::minutes(1));
    let (other, _) = bootstrap(&w.iam, "globex", "grace").await;
    let grace = sign_in(&w.iam, "grace").await;
    w.iam
        .invite(
            &grace,
            other,
            &account("bob"),
            &iamkit::Placement::default(),
        )
        .await
        .unwrap();
    let mine = w.iam.organizations_of(&bob_actor).await.unwrap();
    assert_eq!(mine.iter().map(|o| o.id).collect::<Vec<_>>(), vec![w.org]);
    let link = invitation_link(&w, bob).await;
    w.iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
    let mine = w.iam.organizations_of(&bob_actor).await.unwrap();
    assert_eq!(
        mine.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![w.org, other],
        "oldest first"
    );
    // Suspended in Acme (his account is his own now): Acme is no longer
    // listed, Globex still is.
    w.iam.deactivate(&w.owner, w.org, bob).await.unwrap();
    let mine = w.iam.organizations_of(&bob_actor).await.unwrap();
    assert_eq!(mine.iter().map(|o| o.id).collect::<Vec<_>>(), vec![other]);
    // A deactivated account: its session says nothing any more.
    let (carl, carl_actor) = member(&w, "carl", BuiltinRole::ReadOnly).await;
    w.iam.deactivate(&w.owner, w.org, carl).await.unwrap();
    assert!(matches!(
        w.iam.organizations_of(&carl_actor).await,
        Err(Error::InvalidCredentials)
    ));
    assert!(matches!(
        w.iam.organizations_of(&Actor::system()).await,
        Err(Error::InvalidCredentials)
    ));
}

#[tokio::test]
async fn organizations_of_a_pending_second_factor_session_is_refused() {
    let w = world().await;
    let setup = w.iam.begin_totp_enrolment(&w.owner).await.unwrap();
    let unix = u64::try_from(w.clock.now().timestamp()).unwrap();
    let code = totp_code(&setup.secret, TotpAlgorithm::Sha1, 6, 30, unix).unwrap();
    w.iam
        .confirm_totp_enrolment(&w.owner, code.expose())
        .await
        .unwrap();
    let pending = sign_in_with(&w, "owner", PASSWORD).await.unwrap();
    assert!(pending.second_factor_required);
    // The pending token never becomes an actor; the completed one does.
    assert!(
        w.iam
            .authenticate_session(pending.token.expose())
            .await
            .is_err()
    );
    w.clock.advance(Duration::seconds(30));
    let unix = u64::try_from(w.clock.now().timestamp()).unwrap();
    let code = totp_code(&setup.secret, TotpAlgorithm::Sha1, 6, 30, unix).unwrap();
    let actor = w
        .iam
        .complete_sign_in_with_totp(pending.token.expose(), code.expose())
        .await
        .unwrap()
        .actor;
    assert_eq!(w.iam.organizations_of(&actor).await.unwrap().len(), 1);
}

#[tokio::test]
async fn organizations_of_an_api_key_is_its_organization_while_it_lives() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    // The owner is also a member of a second organization.
    let (other, _) = bootstrap(&w.iam, "globex", "grace").await;
    let grace = sign_in(&w.iam, "grace").await;
    w.iam
        .invite(
            &grace,
            other,
            &account("owner"),
            &iamkit::Placement::default(),
        )
        .await
        .unwrap();
    let created = w
        .iam
        .create_api_key(
            &w.owner,
            w.org,
            NewApiKey {
                name: "ci".to_owned(),
                workspace: ws,
                restriction: Some(BTreeSet::from(["users.read".to_owned()])),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let key = w
        .iam
        .authenticate_api_key(created.secret.expose())
        .await
        .unwrap();
    let orgs = w.iam.organizations_of(&key).await.unwrap();
    assert_eq!(
        orgs.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![w.org],
        "a key acts in its own organization only"
    );
    w.iam
        .revoke_api_key(&w.owner, w.org, created.key.id)
        .await
        .unwrap();
    assert!(matches!(
        w.iam.organizations_of(&key).await,
        Err(Error::InvalidCredentials)
    ));
}
