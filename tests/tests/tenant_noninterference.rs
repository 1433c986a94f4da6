//! SECURITY.md 35, property-tested: nothing an actor of Globex does changes
//! what Acme's members can do in Acme, what Acme's admins see of their
//! members, the sessions usable in Acme, or Acme's audit chain.
//!
//! Two organizations share an account (Bea: Acme's Admin, who accepted
//! Globex's invitation, so she manages her own account). Globex's Owner
//! runs random admin workflows, naming Acme's and Globex's ids alike, on
//! people of both (Acme's Owner, Bea, Sol who is Acme's only, Gus who is
//! Globex's only). After every step, Acme's view is compared with the one
//! taken before the first: it must be exactly the same. (The exception
//! SECURITY.md 35 allows, an account Globex manages through a verified
//! domain, cannot arise: domain verification does not exist yet.)

use iamkit::audit::AuditRepository;
use iamkit::credentials::{ClientMetadata, Password};
use iamkit::identity::{DirectoryQuery, OrgId, UserId, WorkspaceId};
use iamkit::rbac::{BuiltinRole, Scope};
use iamkit::{Actor, Iam, MessageKind, Placement, ProfileUpdate, Store, Transaction};
use iamkit_store_memory::MemoryStore;
use iamkit_testkit::instances::{PASSWORD, account, bootstrap, clock, iam_over, link_for, member};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

/// What Globex's Owner tries, on `people[target]`, in `orgs[org]`.
#[derive(Debug, Clone)]
enum Op {
    Deactivate,
    Reactivate,
    Delete,
    ChangeRole(Option<BuiltinRole>),
    WorkspaceRole(usize, Option<BuiltinRole>),
    RevokeSessions,
    UpdateProfile,
    SendReset,
    Invite,
    CreateUser,
    ResendInvitation,
    RevokeInvitation,
    UserDetail,
}

fn op() -> impl Strategy<Value = (Op, usize, usize)> {
    let role = prop_oneof![
        Just(None),
        Just(Some(BuiltinRole::Owner)),
        Just(Some(BuiltinRole::Admin)),
        Just(Some(BuiltinRole::ReadOnly)),
    ];
    let op = prop_oneof![
        Just(Op::Deactivate),
        Just(Op::Reactivate),
        Just(Op::Delete),
        role.clone().prop_map(Op::ChangeRole),
        (0..2usize, role).prop_map(|(ws, r)| Op::WorkspaceRole(ws, r)),
        Just(Op::RevokeSessions),
        Just(Op::UpdateProfile),
        Just(Op::SendReset),
        Just(Op::Invite),
        Just(Op::CreateUser),
        Just(Op::ResendInvitation),
        Just(Op::RevokeInvitation),
        Just(Op::UserDetail),
    ];
    (op, 0..4usize, 0..2usize)
}

struct World {
    store: MemoryStore,
    iam: Iam<MemoryStore>,
    acme: OrgId,
    globex: OrgId,
    owner: Actor,
    gowner: Actor,
    /// Acme's owner, Bea (both), Sol (Acme only), Gus (Globex only).
    people: [(UserId, &'static str); 4],
    /// Acme's and Globex's workspaces.
    workspaces: [WorkspaceId; 2],
    /// Session tokens of Acme's owner, Bea and Sol.
    tokens: Vec<String>,
}

async fn set_up() -> World {
    let store = MemoryStore::new();
    let iam = iam_over(&store, &clock());
    let (acme, owner_id, owner) = bootstrap(&iam, "acme", "owner").await;
    let (globex, _, gowner) = bootstrap(&iam, "globex", "gowner").await;
    let (bea, _) = member(&iam, &owner, acme, "bea", BuiltinRole::Admin).await;
    let (sol, _) = member(&iam, &owner, acme, "sol", BuiltinRole::ReadOnly).await;
    let (gus, _) = member(&iam, &gowner, globex, "gus", BuiltinRole::ReadOnly).await;
    let reader = Placement {
        org_role: Some(BuiltinRole::ReadOnly.id()),
        ..Placement::default()
    };
    iam.invite(&gowner, globex, &account("bea"), &reader)
        .await
        .unwrap();
    let link = link_for(&iam, bea, MessageKind::Invitation).await;
    iam.accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
    let acme_ws = iam
        .create_workspace(&owner, acme, "Operations")
        .await
        .unwrap();
    let globex_ws = iam
        .create_workspace(&gowner, globex, "Operations")
        .await
        .unwrap();
    iam.set_workspace_role(&owner, acme, acme_ws, sol, Some(BuiltinRole::Approver.id()))
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for who in ["owner", "bea", "sol"] {
        let signed = iam
            .log_in(who, &Password::new(PASSWORD), ClientMetadata::default())
            .await
            .unwrap();
        tokens.push(signed.token.expose().to_owned());
    }
    iam.drain_outbox(1000).await.unwrap();
    World {
        store,
        iam,
        acme,
        globex,
        owner,
        gowner,
        people: [
            (owner_id, "owner"),
            (bea, "bea"),
            (sol, "sol"),
            (gus, "gus"),
        ],
        workspaces: [acme_ws, globex_ws],
        tokens,
    }
}

/// Everything Acme sees of itself.
#[derive(Debug, PartialEq)]
struct AcmeView {
    /// For each of Acme's sessions: does it authenticate, and what may it
    /// do at Acme and in Acme's workspace.
    sessions: Vec<Option<Vec<bool>>>,
    /// The directory and each member's detail page, as Acme's Owner sees
    /// them.
    directory: String,
    details: Vec<String>,
    /// Acme's audit chain head.
    head: String,
}

const PERMISSIONS: [&str; 5] = [
    "users.read",
    "users.invite",
    "users.deactivate",
    "roles.assign",
    "audit.read",
];

impl World {
    async fn acme_view(&self) -> AcmeView {
        let scopes = [
            Scope::Organization(self.acme),
            Scope::Workspace(self.acme, self.workspaces[0]),
        ];
        let mut sessions = Vec::new();
        for token in &self.tokens {
            let view = match self.iam.authenticate_session(token).await {
                Ok(actor) => {
                    let mut allowed = Vec::new();
                    for scope in scopes {
                        for p in PERMISSIONS {
                            allowed.push(self.iam.is_allowed(&actor, p, scope).await);
                        }
                    }
                    Some(allowed)
                }
                Err(_) => None,
            };
            sessions.push(view);
        }
        let directory = self
            .iam
            .directory(&self.owner, self.acme, &DirectoryQuery::default())
            .await
            .map(|page| format!("{:?}", page.items));
        let mut details = Vec::new();
        for (user, _) in &self.people[..3] {
            let detail = self.iam.user_detail(&self.owner, self.acme, *user).await;
            details.push(format!("{detail:?}"));
        }
        let mut tx = self.store.begin().await.unwrap();
        let head = tx.audit_head(self.acme).await.unwrap();
        tx.rollback().await.unwrap();
        AcmeView {
            sessions,
            directory: format!("{directory:?}"),
            details,
            head: format!("{head:?}"),
        }
    }

    async fn globex_does(&self, op: &Op, target: usize, org: usize) {
        let (user, name) = self.people[target];
        let org = [self.acme, self.globex][org];
        let g = &self.gowner;
        let iam = &self.iam;
        // Outcomes do not matter here, only their effect on Acme.
        let _ = match op {
            Op::Deactivate => iam.deactivate(g, org, user).await,
            Op::Reactivate => iam.reactivate(g, org, user).await,
            Op::Delete => iam.delete_user(g, org, user).await,
            Op::ChangeRole(role) => iam
                .change_org_role(g, org, user, role.map(BuiltinRole::id))
                .await
                .map(|_| ()),
            Op::WorkspaceRole(ws, role) => iam
                .set_workspace_role(
                    g,
                    org,
                    self.workspaces[*ws],
                    user,
                    role.map(BuiltinRole::id),
                )
                .await
                .map(|_| ()),
            Op::RevokeSessions => iam.revoke_sessions_of_user(g, org, user).await.map(|_| ()),
            Op::UpdateProfile => {
                let update = ProfileUpdate {
                    first_name: Some("Mallory".to_owned()),
                    ..ProfileUpdate::default()
                };
                iam.update_profile(g, org, user, &update).await
            }
            Op::SendReset => iam.send_password_reset(g, org, user).await,
            Op::Invite => iam
                .invite(g, org, &account(name), &Placement::default())
                .await
                .map(|_| ()),
            Op::CreateUser => iam
                .create_user(
                    g,
                    org,
                    &account(name),
                    Password::new("globex chose this secret phrase"),
                    &Placement::default(),
                )
                .await
                .map(|_| ()),
            Op::ResendInvitation => iam.resend_invitation(g, org, user).await,
            Op::RevokeInvitation => iam.revoke_invitation(g, org, user).await,
            Op::UserDetail => iam.user_detail(g, org, user).await.map(|_| ()),
        };
    }
}

#[test]
fn nothing_globex_does_changes_what_acme_sees() {
    // `ProptestConfig::default()` reads PROPTEST_CASES; without it, 32.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runner
        .run(&proptest::collection::vec(op(), 1..24), |ops| {
            rt.block_on(async {
                let w = set_up().await;
                let before = w.acme_view().await;
                prop_assert!(before.sessions.iter().all(Option::is_some));
                for (op, target, org) in &ops {
                    w.globex_does(op, *target, *org).await;
                    let now = w.acme_view().await;
                    prop_assert_eq!(&now, &before, "after {:?} on {} in org {}", op, target, org);
                }
                Ok(())
            })
        })
        .unwrap();
}
