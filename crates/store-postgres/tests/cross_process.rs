//! Two `Iam` instances over one PostgreSQL schema, each with a pool of its
//! own (stand-ins for two processes of one app): a change made through one
//! is enforced by the other at its very next request, for sessions and for
//! API keys. And the last-owner guard under concurrent demotions, on real
//! threads: of two Owners demoting each other, exactly one succeeds.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

#[path = "support/second_pool.rs"]
mod second_pool;
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use iamkit::credentials::{
    Argon2Params, ClientMetadata, NewApiKey, Password, SecretBytes, XChaChaSealer,
};
use iamkit::identity::{OrgId, RoleId, UserId};
use iamkit::rbac::{BuiltinRole, GrantRepository, Grantee, Scope};
use iamkit::{
    Actor, Config, FirstOwner, Iam, ManualClock, MessageKind, NewAccount, Placement, Store,
};
use iamkit_store_postgres::PgStore;

const PASSWORD: &str = "correct horse battery staple";

fn account(name: &str) -> NewAccount {
    NewAccount {
        username: name.to_owned(),
        email: format!("{name}@acme.example"),
        first_name: "Ada".to_owned(),
        last_name: name.to_owned(),
        language: None,
    }
}

fn iam_over(store: &PgStore, clock: &ManualClock) -> Iam<PgStore> {
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
    let config = Config {
        argon2: Argon2Params {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        ..Config::default()
    };
    Iam::builder(store.clone(), sealer)
        .clock(Arc::new(clock.clone()))
        .config(config)
        .build()
        .unwrap()
}

async fn sign_in(iam: &Iam<PgStore>, who: &str) -> Actor {
    let signed = iam
        .log_in(who, &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap();
    iam.authenticate_session(signed.token.expose())
        .await
        .unwrap()
}

/// An organization `slug` with a signed-in Owner `owner`.
async fn bootstrap(iam: &Iam<PgStore>, slug: &str, owner: &str) -> (OrgId, UserId, Actor) {
    let done = iam
        .bootstrap(
            &Actor::system(),
            "Acme",
            slug,
            FirstOwner::NewUser {
                account: account(owner),
                password: Password::new(PASSWORD),
            },
        )
        .await
        .unwrap();
    let actor = sign_in(iam, owner).await;
    (done.org, done.owner, actor)
}

/// Invites `name` with `role`, accepts, signs in.
async fn member(
    iam: &Iam<PgStore>,
    owner: &Actor,
    org: OrgId,
    name: &str,
    role: BuiltinRole,
) -> (UserId, Actor) {
    let placement = Placement {
        org_role: Some(role.id()),
        ..Placement::default()
    };
    let invited = iam
        .invite(owner, org, &account(name), &placement)
        .await
        .unwrap();
    let messages = iam.drain_outbox(1000).await.unwrap();
    let link = messages
        .iter()
        .rev()
        .find(|m| m.recipient == invited.user && m.kind == MessageKind::Invitation)
        .and_then(|m| m.link_secret.as_ref())
        .unwrap()
        .expose()
        .to_owned();
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    iam.acknowledge(&ids).await.unwrap();
    iam.accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
    (invited.user, sign_in(iam, name).await)
}

async fn org_role(store: &PgStore, org: OrgId, user: UserId) -> Option<RoleId> {
    let mut tx = store.begin().await.unwrap();
    tx.list_grants_of(Grantee::User(user))
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.scope == Scope::Organization(org))
        .map(|g| g.role)
}

fn clock() -> ManualClock {
    ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap())
}

/// Two instances, each over its own pool to one temporary schema.
async fn two_instances(url: &str) -> (PgStore, PgStore, Iam<PgStore>, Iam<PgStore>, ManualClock) {
    let one = support::fresh(url.to_owned()).await;
    let two = second_pool::over_same_schema(url, &one).await;
    let clock = clock();
    let (iam_one, iam_two) = (iam_over(&one, &clock), iam_over(&two, &clock));
    (one, two, iam_one, iam_two, clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_through_one_instance_holds_at_the_next_request_through_the_other() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let (_one, _two, iam_one, iam_two, clock) = two_instances(&url).await;
    let (org, _, owner) = bootstrap(&iam_one, "acme", "owner").await;
    let (bob, _) = member(&iam_one, &owner, org, "bob", BuiltinRole::Admin).await;
    let scope = Scope::Organization(org);

    // Bob works through the second instance; each request authenticates
    // afresh there, then checks.
    let token = iam_two
        .log_in("bob", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap()
        .token;
    let request = || iam_two.authenticate_session(token.expose());
    for _ in 0..2 {
        // Warms the second instance's cache of the organization's index.
        let actor = request().await.unwrap();
        assert!(iam_two.is_allowed(&actor, "users.invite", scope).await);
        assert!(iam_two.is_allowed(&actor, "users.read", scope).await);
    }

    iam_one
        .change_org_role(&owner, org, bob, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    let actor = request().await.unwrap();
    assert!(!iam_two.is_allowed(&actor, "users.invite", scope).await);
    assert!(iam_two.is_allowed(&actor, "users.read", scope).await);

    iam_one
        .change_org_role(&owner, org, bob, None)
        .await
        .unwrap();
    let actor = request().await.unwrap();
    assert!(!iam_two.is_allowed(&actor, "users.read", scope).await);

    // Back to Admin, then deactivated: the next request is rejected.
    iam_one
        .change_org_role(&owner, org, bob, Some(BuiltinRole::Admin.id()))
        .await
        .unwrap();
    let actor = request().await.unwrap();
    assert!(iam_two.is_allowed(&actor, "users.invite", scope).await);
    iam_one.deactivate(&owner, org, bob).await.unwrap();
    assert!(request().await.is_err(), "a deactivated member is rejected");
    // An actor kept past its stamp's lifetime re-reads the store.
    clock.advance(iamkit::STAMP_LIFETIME);
    assert!(!iam_two.is_allowed(&actor, "users.invite", scope).await);
    assert!(!iam_two.is_allowed(&actor, "users.read", scope).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_through_one_instance_shrinks_an_api_key_at_its_next_use_through_the_other() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let (_one, _two, iam_one, iam_two, clock) = two_instances(&url).await;
    let (org, _, owner) = bootstrap(&iam_one, "acme", "owner").await;
    let ops = iam_one
        .create_workspace(&owner, org, "Operations")
        .await
        .unwrap();
    let (bob, _) = member(&iam_one, &owner, org, "bob", BuiltinRole::Admin).await;
    // Read-only on the workspace too: what is left there once the
    // organization's Admin role (which reaches every workspace) is gone.
    iam_one
        .set_workspace_role(&owner, org, ops, bob, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    let scope = Scope::Workspace(org, ops);

    // Bob creates a key restricted to two permissions, through the second
    // instance.
    let bob_two = sign_in(&iam_two, "bob").await;
    let restriction: BTreeSet<String> = ["users.invite", "users.read"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let created = iam_two
        .create_api_key(
            &bob_two,
            org,
            NewApiKey {
                name: "deploy bot".to_owned(),
                workspace: ops,
                restriction: Some(restriction),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let request = || iam_two.authenticate_api_key(created.secret.expose());
    for _ in 0..2 {
        let key = request().await.unwrap();
        assert!(iam_two.is_allowed(&key, "users.invite", scope).await);
        assert!(iam_two.is_allowed(&key, "users.read", scope).await);
        // Outside the restriction, though Bob holds it.
        assert!(!iam_two.is_allowed(&key, "groups.manage", scope).await);
    }

    iam_one
        .change_org_role(&owner, org, bob, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    let key = request().await.unwrap();
    assert!(!iam_two.is_allowed(&key, "users.invite", scope).await);
    assert!(iam_two.is_allowed(&key, "users.read", scope).await);

    iam_one.deactivate(&owner, org, bob).await.unwrap();
    assert!(request().await.is_err(), "the key of a deactivated creator");
    // An actor kept past its stamp's lifetime re-reads the store.
    clock.advance(iamkit::STAMP_LIFETIME);
    assert!(!iam_two.is_allowed(&key, "users.read", scope).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_demotions_of_two_owners_leave_one() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let (one, _two, iam_one, iam_two, _clock) = two_instances(&url).await;
    for round in 0..20 {
        let (org, first, owner) =
            bootstrap(&iam_one, &format!("acme-{round}"), &format!("owner{round}")).await;
        let (second, second_actor) = member(
            &iam_one,
            &owner,
            org,
            &format!("two{round}"),
            BuiltinRole::Owner,
        )
        .await;
        // One demotion through each instance, on the runtime's two threads.
        let (a, b) = (iam_one.clone(), iam_two.clone());
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let (ba, bb) = (Arc::clone(&barrier), Arc::clone(&barrier));
        let demote_second = tokio::spawn(async move {
            ba.wait().await;
            a.change_org_role(&owner, org, second, Some(BuiltinRole::Admin.id()))
                .await
        });
        let demote_first = tokio::spawn(async move {
            bb.wait().await;
            b.change_org_role(&second_actor, org, first, Some(BuiltinRole::Admin.id()))
                .await
        });
        let results = [demote_second.await.unwrap(), demote_first.await.unwrap()];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        let owners = [
            org_role(&one, org, first).await,
            org_role(&one, org, second).await,
        ];
        let owner_id = Some(BuiltinRole::Owner.id());
        assert_eq!(
            owners.iter().filter(|r| **r == owner_id).count(),
            1,
            "round {round}"
        );
    }
}
