//! Workflow-level cases over the [`Iam`] facade with two instances over one
//! database (what two processes of one app have), and the helpers they
//! use: bootstrap an organization, invite and accept a member, sign in.
//! An adapter runs them with two stores that share its database, e.g. two
//! pools (`crates/store-postgres/tests/cross_process.rs`) or two handles
//! on one SQLite file (`crates/store-sqlite/tests/facade.rs`), on a
//! multi-threaded tokio runtime.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use iamkit::credentials::{
    Argon2Params, ClientMetadata, NewApiKey, Password, SecretBytes, XChaChaSealer,
};
use iamkit::identity::{OrgId, RoleId, UserId};
use iamkit::rbac::{BuiltinRole, GrantRepository, Grantee, Scope};
use iamkit::{
    Actor, Config, FirstOwner, Iam, ManualClock, MessageKind, NewAccount, Notification, Placement,
    Store,
};

/// The password of every account the helpers create.
pub const PASSWORD: &str = "correct horse battery staple";

/// A new account named `name` at acme.example.
pub fn account(name: &str) -> NewAccount {
    NewAccount {
        username: name.to_owned(),
        email: format!("{name}@acme.example"),
        first_name: "Ada".to_owned(),
        last_name: name.to_owned(),
        language: None,
    }
}

/// An `Iam` over `store` on `clock`, with cheap argon2 parameters.
pub fn iam_over<S: Store>(store: &S, clock: &ManualClock) -> Iam<S> {
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).expect("set-up step");
    iam_sealed_by(store, clock, sealer)
}

/// An `Iam` over `store` on `clock` with `sealer`'s keys, with cheap
/// argon2 parameters.
pub fn iam_sealed_by<S: Store>(store: &S, clock: &ManualClock, sealer: XChaChaSealer) -> Iam<S> {
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
        .expect("set-up step")
}

/// Signs `who` in (password only) and authenticates the session.
pub async fn sign_in<S: Store>(iam: &Iam<S>, who: &str) -> Actor {
    let signed = iam
        .log_in(who, &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .expect("set-up step");
    iam.authenticate_session(signed.token.expose())
        .await
        .expect("set-up step")
}

/// An organization `slug` with a signed-in Owner `owner`.
pub async fn bootstrap<S: Store>(iam: &Iam<S>, slug: &str, owner: &str) -> (OrgId, UserId, Actor) {
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
        .expect("set-up step");
    let actor = sign_in(iam, owner).await;
    (done.org, done.owner, actor)
}

/// Invites `name` with `role`, accepts, signs in.
pub async fn member<S: Store>(
    iam: &Iam<S>,
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
        .expect("set-up step");
    let link = link_for(iam, invited.user, MessageKind::Invitation).await;
    iam.accept_invitation(&link, Password::new(PASSWORD))
        .await
        .expect("set-up step");
    (invited.user, sign_in(iam, name).await)
}

/// Drains and acknowledges the outbox: what was queued since the last
/// call, as the app's delivery loop would see it.
pub async fn delivered<S: Store>(iam: &Iam<S>) -> Vec<Notification> {
    let messages = iam.drain_outbox(1000).await.expect("set-up step");
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    iam.acknowledge(&ids).await.expect("set-up step");
    messages
}

/// The link secret of the newest message of `kind` for `user` (drains and
/// acknowledges the whole outbox).
pub async fn link_for<S: Store>(iam: &Iam<S>, user: UserId, kind: MessageKind) -> String {
    delivered(iam)
        .await
        .iter()
        .rev()
        .find(|m| m.recipient == user && m.kind == kind)
        .and_then(|m| m.link_secret.as_ref())
        .expect("a link in the outbox")
        .expose()
        .to_owned()
}

/// `user`'s direct organization role, read from `store`.
pub async fn org_role<S: Store>(store: &S, org: OrgId, user: UserId) -> Option<RoleId> {
    let mut tx = store.begin().await.expect("set-up step");
    tx.list_grants_of(Grantee::User(user))
        .await
        .expect("set-up step")
        .into_iter()
        .find(|g| g.scope == Scope::Organization(org))
        .map(|g| g.role)
}

/// A manual clock at a fixed instant.
pub fn clock() -> ManualClock {
    ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
            .single()
            .expect("a valid instant"),
    )
}

/// A role change or deactivation made through one `Iam` is enforced by the
/// other at its very next request, though that one's cache was warm.
/// `one` and `two` are two stores over the same database (two pools: what
/// two processes of the app have).
pub async fn demotion_is_enforced_at_the_next_request<S: Store>(one: S, two: S) {
    let clock = clock();
    let (iam_one, iam_two) = (iam_over(&one, &clock), iam_over(&two, &clock));
    let (org, _, owner) = bootstrap(&iam_one, "acme", "owner").await;
    let (bob, _) = member(&iam_one, &owner, org, "bob", BuiltinRole::Admin).await;
    let scope = Scope::Organization(org);

    // Bob works through the second instance; each request authenticates
    // afresh there, then checks.
    let token = iam_two
        .log_in("bob", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .expect("workflow step")
        .token;
    let request = || iam_two.authenticate_session(token.expose());
    for _ in 0..2 {
        // Warms the second instance's cache of the organization's index.
        let actor = request().await.expect("workflow step");
        assert!(iam_two.is_allowed(&actor, "users.invite", scope).await);
        assert!(iam_two.is_allowed(&actor, "users.read", scope).await);
    }

    iam_one
        .change_org_role(&owner, org, bob, Some(BuiltinRole::ReadOnly.id()))
        .await
        .expect("workflow step");
    let actor = request().await.expect("workflow step");
    assert!(!iam_two.is_allowed(&actor, "users.invite", scope).await);
    assert!(iam_two.is_allowed(&actor, "users.read", scope).await);

    iam_one
        .change_org_role(&owner, org, bob, None)
        .await
        .expect("workflow step");
    let actor = request().await.expect("workflow step");
    assert!(!iam_two.is_allowed(&actor, "users.read", scope).await);

    // Back to Admin, then deactivated: the next request is rejected.
    iam_one
        .change_org_role(&owner, org, bob, Some(BuiltinRole::Admin.id()))
        .await
        .expect("workflow step");
    let actor = request().await.expect("workflow step");
    assert!(iam_two.is_allowed(&actor, "users.invite", scope).await);
    iam_one
        .deactivate(&owner, org, bob)
        .await
        .expect("workflow step");
    assert!(request().await.is_err(), "a deactivated member is rejected");
    // An actor kept past its stamp's lifetime re-reads the store.
    clock.advance(iamkit::STAMP_LIFETIME);
    assert!(!iam_two.is_allowed(&actor, "users.invite", scope).await);
    assert!(!iam_two.is_allowed(&actor, "users.read", scope).await);
}

/// A demotion made through one `Iam` shrinks an API key at its next use
/// through the other; deactivating its creator rejects it.
pub async fn api_key_shrinks_at_its_next_use<S: Store>(one: S, two: S) {
    let clock = clock();
    let (iam_one, iam_two) = (iam_over(&one, &clock), iam_over(&two, &clock));
    let (org, _, owner) = bootstrap(&iam_one, "acme", "owner").await;
    let ops = iam_one
        .create_workspace(&owner, org, "Operations")
        .await
        .expect("workflow step");
    let (bob, _) = member(&iam_one, &owner, org, "bob", BuiltinRole::Admin).await;
    // Read-only on the workspace too: what is left there once the
    // organization's Admin role (which reaches every workspace) is gone.
    iam_one
        .set_workspace_role(&owner, org, ops, bob, Some(BuiltinRole::ReadOnly.id()))
        .await
        .expect("workflow step");
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
        .expect("workflow step");
    let request = || iam_two.authenticate_api_key(created.secret.expose());
    for _ in 0..2 {
        let key = request().await.expect("workflow step");
        assert!(iam_two.is_allowed(&key, "users.invite", scope).await);
        assert!(iam_two.is_allowed(&key, "users.read", scope).await);
        // Outside the restriction, though Bob holds it.
        assert!(!iam_two.is_allowed(&key, "groups.manage", scope).await);
    }

    iam_one
        .change_org_role(&owner, org, bob, Some(BuiltinRole::ReadOnly.id()))
        .await
        .expect("workflow step");
    let key = request().await.expect("workflow step");
    assert!(!iam_two.is_allowed(&key, "users.invite", scope).await);
    assert!(iam_two.is_allowed(&key, "users.read", scope).await);

    iam_one
        .deactivate(&owner, org, bob)
        .await
        .expect("workflow step");
    assert!(request().await.is_err(), "the key of a deactivated creator");
    // An actor kept past its stamp's lifetime re-reads the store.
    clock.advance(iamkit::STAMP_LIFETIME);
    assert!(!iam_two.is_allowed(&key, "users.read", scope).await);
}

/// Two Owners demote each other at once, one through each `Iam`, on real
/// threads (run it on a multi-threaded runtime): exactly one demotion
/// succeeds and the organization keeps one Owner. Twenty rounds.
pub async fn concurrent_demotions_of_two_owners_leave_one<S: Store>(one: S, two: S) {
    let clock = clock();
    let (iam_one, iam_two) = (iam_over(&one, &clock), iam_over(&two, &clock));
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
        let results = [
            demote_second.await.expect("workflow step"),
            demote_first.await.expect("workflow step"),
        ];
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
