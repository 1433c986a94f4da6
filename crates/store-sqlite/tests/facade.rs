//! The `Iam` facade over SQLite: the last-owner guard under concurrent
//! demotions, and two `Iam` instances over one database file (each with
//! its own pool, as two processes would have) agreeing at the next check.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use iamkit::credentials::{Argon2Params, ClientMetadata, Password, SecretBytes, XChaChaSealer};
use iamkit::identity::{OrgId, RoleId, UserId};
use iamkit::rbac::{BuiltinRole, GrantRepository, Grantee, Scope};
use iamkit::{
    Actor, Config, FirstOwner, Iam, ManualClock, MessageKind, NewAccount, Placement, Store,
};
use iamkit_store_sqlite::SqliteStore;

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

fn iam_over(store: &SqliteStore, clock: &ManualClock) -> Iam<SqliteStore> {
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

async fn sign_in(iam: &Iam<SqliteStore>, who: &str) -> Actor {
    let signed = iam
        .log_in(who, &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap();
    iam.authenticate_session(signed.token.expose())
        .await
        .unwrap()
}

/// An organization with a signed-in Owner.
async fn bootstrap(iam: &Iam<SqliteStore>) -> (OrgId, UserId, Actor) {
    let done = iam
        .bootstrap(
            &Actor::system(),
            "Acme",
            "acme",
            FirstOwner::NewUser {
                account: account("owner"),
                password: Password::new(PASSWORD),
            },
        )
        .await
        .unwrap();
    let owner = sign_in(iam, "owner").await;
    (done.org, done.owner, owner)
}

/// Invites `name` with `role`, accepts, signs in.
async fn member(
    iam: &Iam<SqliteStore>,
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

async fn org_role(store: &SqliteStore, org: OrgId, user: UserId) -> Option<RoleId> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_demotions_of_two_owners_leave_one() {
    for _ in 0..5 {
        let store = SqliteStore::temporary().await.unwrap();
        store.migrate().await.unwrap();
        let iam = iam_over(&store, &clock());
        let (org, first, owner) = bootstrap(&iam).await;
        let (second, second_actor) = member(&iam, &owner, org, "two", BuiltinRole::Owner).await;
        let (a, b) = (iam.clone(), iam.clone());
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
            org_role(&store, org, first).await,
            org_role(&store, org, second).await,
        ];
        let owner_id = Some(BuiltinRole::Owner.id());
        assert_eq!(owners.iter().filter(|r| **r == owner_id).count(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_over_one_file_agree_at_the_next_check() {
    let path = std::env::temp_dir().join(format!(
        "iamkit-two-instances-{}.sqlite3",
        std::process::id()
    ));
    let one = SqliteStore::open(&path).await.unwrap();
    one.migrate().await.unwrap();
    let two = SqliteStore::open(&path).await.unwrap();
    two.migrate().await.unwrap();
    let clock = clock();
    let (iam_one, iam_two) = (iam_over(&one, &clock), iam_over(&two, &clock));

    let (org, _, owner) = bootstrap(&iam_one).await;
    let (bob, stale) = member(&iam_one, &owner, org, "bob", BuiltinRole::Admin).await;
    let scope = Scope::Organization(org);
    // Each request authenticates afresh through the second instance.
    let token = iam_two
        .log_in("bob", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap()
        .token;
    let request = || iam_two.authenticate_session(token.expose());
    let actor = request().await.unwrap();
    assert!(iam_two.is_allowed(&actor, "users.invite", scope).await);
    assert!(iam_two.is_allowed(&stale, "users.invite", scope).await);

    iam_one
        .change_org_role(&owner, org, bob, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    let actor = request().await.unwrap();
    assert!(!iam_two.is_allowed(&actor, "users.invite", scope).await);
    assert!(iam_two.is_allowed(&actor, "roles.read", scope).await);
    // An actor kept past its stamp's lifetime re-reads the store.
    clock.advance(iamkit::STAMP_LIFETIME);
    assert!(!iam_two.is_allowed(&stale, "users.invite", scope).await);

    iam_one.deactivate(&owner, org, bob).await.unwrap();
    assert!(request().await.is_err());
    assert!(!iam_two.is_allowed(&actor, "roles.read", scope).await);
    assert!(!iam_two.is_allowed(&stale, "roles.read", scope).await);

    drop((iam_one, iam_two));
    one.pool().close().await;
    two.pool().close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}
