//! Shared set-up of the `Iam` integration tests: a memory store, a manual
//! clock, cheap argon2, an organization with a signed-in Owner.
#![allow(dead_code, reason = "each test file uses a different subset")]

pub mod stores;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use iamkit::audit::{AuditRepository, EventQuery};
use iamkit::credentials::{Argon2Params, ClientMetadata, Password, SecretBytes, XChaChaSealer};
use iamkit::identity::{OrgId, UserId};
use iamkit::rbac::BuiltinRole;
use iamkit::{
    Actor, Config, FirstOwner, Iam, ManualClock, MessageKind, NewAccount, Placement, Store,
    Transaction,
};
use iamkit_store_memory::MemoryStore;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct World {
    pub iam: Iam<MemoryStore>,
    pub store: MemoryStore,
    pub clock: ManualClock,
    pub org: OrgId,
    pub owner: Actor,
    pub owner_id: UserId,
}

pub fn account(name: &str) -> NewAccount {
    NewAccount {
        username: name.to_owned(),
        email: format!("{name}@acme.example"),
        first_name: "Ada".to_owned(),
        last_name: name.to_owned(),
        language: None,
    }
}

pub fn cheap_config() -> Config {
    Config {
        argon2: Argon2Params {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        ..Config::default()
    }
}

pub fn iam_over(store: &MemoryStore, clock: &ManualClock, config: Config) -> Iam<MemoryStore> {
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
    Iam::builder(store.clone(), sealer)
        .clock(Arc::new(clock.clone()))
        .config(config)
        .permission("workflows.run", &[BuiltinRole::Owner, BuiltinRole::Admin])
        .build()
        .unwrap()
}

pub async fn world() -> World {
    let store = MemoryStore::new();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    let iam = iam_over(&store, &clock, cheap_config());
    let (org, owner_id) = bootstrap(&iam, "acme", "owner").await;
    let owner = sign_in(&iam, "owner").await;
    World {
        iam,
        store,
        clock,
        org,
        owner,
        owner_id,
    }
}

pub async fn bootstrap(iam: &Iam<MemoryStore>, slug: &str, owner: &str) -> (OrgId, UserId) {
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
    (done.org, done.owner)
}

pub async fn sign_in(iam: &Iam<MemoryStore>, who: &str) -> Actor {
    let signed = iam
        .log_in(who, &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap();
    iam.authenticate_session(signed.token.expose())
        .await
        .unwrap()
}

/// Invites `name` with `role`, accepts with the shared password, signs in.
pub async fn member(w: &World, name: &str, role: BuiltinRole) -> (UserId, Actor) {
    let invited = w
        .iam
        .invite(
            &w.owner,
            w.org,
            &account(name),
            &Placement {
                org_role: Some(role.id()),
                ..Placement::default()
            },
        )
        .await
        .unwrap();
    let link = invitation_link(w, invited.user).await;
    w.iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
    (invited.user, sign_in(&w.iam, name).await)
}

/// The newest undelivered invitation link for `user`.
pub async fn invitation_link(w: &World, user: UserId) -> String {
    let messages = w.iam.drain_outbox(1000).await.unwrap();
    let message = messages
        .iter()
        .rev()
        .find(|m| m.recipient == user && m.kind == MessageKind::Invitation)
        .expect("an invitation in the outbox");
    let link = message.link_secret.as_ref().unwrap().expose().to_owned();
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    w.iam.acknowledge(&ids).await.unwrap();
    link
}

pub async fn audit_len(store: &MemoryStore, org: OrgId) -> u64 {
    let mut tx = store.begin().await.unwrap();
    let head = tx.audit_head(org).await.unwrap();
    tx.rollback().await.unwrap();
    head.seq
}

pub async fn last_event(store: &MemoryStore, org: OrgId) -> iamkit::audit::AuditEvent {
    let mut tx = store.begin().await.unwrap();
    let page = tx.query_events(org, &EventQuery::default()).await.unwrap();
    tx.rollback().await.unwrap();
    page.items.into_iter().next().unwrap()
}

pub async fn org_role(
    store: &MemoryStore,
    org: OrgId,
    user: UserId,
) -> Option<iamkit::identity::RoleId> {
    use iamkit::rbac::{GrantRepository, Grantee, Scope};
    let mut tx = store.begin().await.unwrap();
    tx.list_grants_of(Grantee::User(user))
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.scope == Scope::Organization(org))
        .map(|g| g.role)
}

pub fn uuid_like(n: u8) -> iamkit::identity::__private::Uuid {
    iamkit::identity::__private::Uuid::from_bytes([n; 16])
}

impl World {
    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use iamkit::Clock;
        self.clock.now()
    }
}
