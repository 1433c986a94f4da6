//! Model-based property test of the `Iam` facade: random sequences of admin
//! and self-service operations by random actors, run against the facade
//! (memory store) and against a plain reference model; after every step
//! the two must agree.
//!
//! Invariants checked after every step:
//! - allow/deny of the facade equals the model's, for every session ever
//!   issued and a sample of iamkit and app permissions;
//! - no deactivated user, revoked session or revoked API key authorizes
//!   anything (they are among the sessions and keys checked, and
//!   `authenticate_session` refuses dead tokens); a key acts only in its
//!   workspace, with its creator's current permissions;
//! - the organization keeps an active Owner (read from the store);
//! - every reset link is consumed at most once (a second use fails);
//! - a user with 2FA gets a session that authenticates nothing until a
//!   fresh TOTP code completes it (SECURITY.md 17); a reset or deactivation
//!   leaves 2FA on (SECURITY.md 18);
//! - the audit log grew by exactly the events the model predicts: one per
//!   successful change, none for a failure — except that a denial by
//!   authorization is itself audited (one `AuthorizationDenied`, issue 7)
//!   and a failed sign-in records its reason (SECURITY.md 29);
//! - the organization's audit chain verifies.
//!
//! Cases: `PROPTEST_CASES` (proptest's own variable; CI sets 64).
#![expect(
    clippy::if_same_then_else,
    reason = "one branch per rule of the model, each named, reads better than merged conditions"
)]

mod common;

use common::*;
use iamkit::audit::verify_org;
use iamkit::credentials::{ClientMetadata, Password};
use iamkit::identity::{RoleId, UserId, UserRepository, UserStatus};
use iamkit::rbac::{BuiltinRole, Scope};
use iamkit::{Actor, MessageKind, Store, Transaction};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

/// The roles the model knows; `None` is "no role".
const ROLES: [Option<BuiltinRole>; 4] = [
    Some(BuiltinRole::Owner),
    Some(BuiltinRole::Admin),
    Some(BuiltinRole::ReadOnly),
    None,
];

/// Permissions sampled at every step, with the roles holding them.
const PERMISSIONS: [(&str, &[BuiltinRole]); 6] = [
    (
        "users.read",
        &[
            BuiltinRole::Owner,
            BuiltinRole::Admin,
            BuiltinRole::ReadOnly,
        ],
    ),
    ("roles.assign", &[BuiltinRole::Owner, BuiltinRole::Admin]),
    (
        "users.deactivate",
        &[BuiltinRole::Owner, BuiltinRole::Admin],
    ),
    ("org.billing", &[BuiltinRole::Owner]),
    ("api_keys.create", &[BuiltinRole::Owner, BuiltinRole::Admin]),
    ("workflows.run", &[BuiltinRole::Owner, BuiltinRole::Admin]),
];

const USERS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    /// `actor`'s newest session sets `target`'s org role.
    ChangeRole {
        actor: usize,
        target: usize,
        role: usize,
    },
    Deactivate {
        actor: usize,
        target: usize,
    },
    Reactivate {
        actor: usize,
        target: usize,
    },
    LogIn {
        user: usize,
    },
    /// `user` signs out their `nth` session (by its own session).
    SignOut {
        user: usize,
        nth: usize,
    },
    RequestReset {
        user: usize,
    },
    /// Redeems the `nth` reset link ever issued to `user` (may be stale).
    UseReset {
        user: usize,
        nth: usize,
    },
    /// `user` turns on TOTP (enrol and confirm with a fresh code).
    EnrolTotp {
        user: usize,
    },
    /// `user` creates an API key in the workspace (no restriction).
    CreateKey {
        user: usize,
    },
    /// `actor` revokes the `nth` key ever created (own or another's).
    RevokeKey {
        actor: usize,
        nth: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let u = 0..USERS;
    prop_oneof![
        3 => (u.clone(), u.clone(), 0..ROLES.len())
            .prop_map(|(actor, target, role)| Op::ChangeRole { actor, target, role }),
        2 => (u.clone(), u.clone()).prop_map(|(actor, target)| Op::Deactivate { actor, target }),
        2 => (u.clone(), u.clone()).prop_map(|(actor, target)| Op::Reactivate { actor, target }),
        2 => u.clone().prop_map(|user| Op::LogIn { user }),
        1 => (u.clone(), 0..4usize).prop_map(|(user, nth)| Op::SignOut { user, nth }),
        1 => u.clone().prop_map(|user| Op::RequestReset { user }),
        1 => (u.clone(), 0..3usize).prop_map(|(user, nth)| Op::UseReset { user, nth }),
        1 => u.clone().prop_map(|user| Op::CreateKey { user }),
        1 => u.clone().prop_map(|user| Op::EnrolTotp { user }),
        1 => (u, 0..4usize).prop_map(|(actor, nth)| Op::RevokeKey { actor, nth }),
    ]
}

/// The reference model: plain data, obviously correct rules.
#[derive(Debug, Clone)]
struct Model {
    role: [Option<BuiltinRole>; USERS],
    active: [bool; USERS],
    /// Per session: (user, live).
    sessions: Vec<(usize, bool)>,
    /// Per reset link: (user, redeemable).
    links: Vec<(usize, bool)>,
    /// Per API key: (creator, unrevoked).
    keys: Vec<(usize, bool)>,
    /// Whether the user has 2FA on (a reset or deactivation keeps it).
    totp: [bool; USERS],
}

impl Model {
    fn holds(&self, user: usize, permission: &str) -> bool {
        self.active[user]
            && self.role[user].is_some_and(|r| {
                PERMISSIONS
                    .iter()
                    .any(|(p, roles)| *p == permission && roles.contains(&r))
            })
    }

    fn active_owners(&self) -> usize {
        (0..USERS)
            .filter(|u| self.active[*u] && self.role[*u] == Some(BuiltinRole::Owner))
            .count()
    }

    /// The actor's newest live session, if any.
    fn session_of(&self, user: usize) -> Option<usize> {
        self.sessions
            .iter()
            .rposition(|(u, live)| *u == user && *live)
    }

    /// Whether `user` has a live session (any state) or an unrevoked key:
    /// a cascade that ends them records one `CredentialsRevoked` event.
    fn has_live_sessions(&self, user: usize) -> bool {
        self.sessions.iter().any(|s| s.0 == user && s.1)
    }

    fn has_live_credentials(&self, user: usize) -> bool {
        self.has_live_sessions(user) || self.keys.iter().any(|k| k.0 == user && k.1)
    }

    fn end_sessions_of(&mut self, user: usize) {
        for s in &mut self.sessions {
            if s.0 == user {
                s.1 = false;
            }
        }
    }

    /// What a key may do in its workspace: its creator's current
    /// permissions there (no restriction), while unrevoked (SECURITY.md 23).
    fn key_allows(&self, key: usize, permission: &str) -> bool {
        let (creator, live) = self.keys[key];
        live && self.holds(creator, permission)
    }

    fn kill_keys_of(&mut self, user: usize) {
        for k in &mut self.keys {
            if k.0 == user {
                k.1 = false;
            }
        }
    }

    fn kill_links_of(&mut self, user: usize) {
        for l in &mut self.links {
            if l.0 == user {
                l.1 = false;
            }
        }
    }
}

/// What the model says an operation does: success, and the audit events.
struct Expect {
    ok: bool,
    events: u64,
}

const fn fail(events: u64) -> Expect {
    Expect { ok: false, events }
}

const OK: Expect = Expect {
    ok: true,
    events: 1,
};

/// A change to the state the target already has: allowed after the same
/// guards, nothing recorded (the no-op rule, crates/iamkit/README.md).
const NO_OP: Expect = Expect {
    ok: true,
    events: 0,
};

struct Harness {
    w: World,
    users: [UserId; USERS],
    names: [&'static str; USERS],
    /// Per session (parallel to `Model::sessions`): actor and token.
    sessions: Vec<(Actor, String)>,
    /// Per link (parallel to `Model::links`).
    links: Vec<String>,
    /// Per key (parallel to `Model::keys`): its actor and id.
    keys: Vec<(Actor, iamkit::identity::ApiKeyId)>,
    workspace: iamkit::identity::WorkspaceId,
    /// Per user: the TOTP key, as their authenticator app holds it.
    totp: [Option<iamkit::credentials::TotpSetup>; USERS],
}

async fn set_up() -> (Harness, Model) {
    let w = world().await;
    let names = ["owner", "ada", "bob", "cyd"];
    let (ada, ada_actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let (bob, bob_actor) = member(&w, "bob", BuiltinRole::ReadOnly).await;
    let (cy, cy_actor) = member(&w, "cyd", BuiltinRole::ReadOnly).await;
    let workspace = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let _ = w.iam.drain_outbox(1000).await.unwrap();
    let sessions = vec![
        (w.owner.clone(), String::new()),
        (ada_actor, String::new()),
        (bob_actor, String::new()),
        (cy_actor, String::new()),
    ];
    let users = [w.owner_id, ada, bob, cy];
    let model = Model {
        role: [
            Some(BuiltinRole::Owner),
            Some(BuiltinRole::Admin),
            Some(BuiltinRole::ReadOnly),
            Some(BuiltinRole::ReadOnly),
        ],
        active: [true; USERS],
        sessions: (0..USERS).map(|u| (u, true)).collect(),
        links: Vec::new(),
        keys: Vec::new(),
        totp: [false; USERS],
    };
    (
        Harness {
            w,
            users,
            names,
            sessions,
            links: Vec::new(),
            keys: Vec::new(),
            workspace,
            totp: [None, None, None, None],
        },
        model,
    )
}

impl Harness {
    /// The code the user's authenticator app shows now.
    fn code(&self, setup: &iamkit::credentials::TotpSetup) -> String {
        let unix = self.w.clock_now().timestamp() as u64;
        iamkit::credentials::totp_code(
            &setup.secret,
            iamkit::credentials::TotpAlgorithm::Sha1,
            6,
            30,
            unix,
        )
        .unwrap()
        .expose()
        .to_owned()
    }

    /// Moves to the next TOTP step, so the next code is fresh (a step is
    /// accepted once, SECURITY.md 14). At most 40 steps (20 min) per case,
    /// within the 30 min idle timeout.
    fn next_step(&self) {
        self.w.clock.advance(chrono::Duration::seconds(30));
    }

    /// The actor for `user`'s newest live session in the model, else their
    /// newest dead one (which must fail), else `None`.
    fn actor(&self, model: &Model, user: usize) -> Option<(usize, Actor)> {
        let idx = model
            .session_of(user)
            .or_else(|| model.sessions.iter().rposition(|(u, _)| *u == user))?;
        Some((idx, self.sessions[idx].0.clone()))
    }

    async fn step(&mut self, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
        let org = self.w.org;
        let iam = self.w.iam.clone();
        let before = audit_len(&self.w.store, org).await;
        let (expect, ok) = match *op {
            Op::ChangeRole {
                actor,
                target,
                role,
            } => {
                let Some((sid, a)) = self.actor(model, actor) else {
                    return Ok(());
                };
                let new = ROLES[role];
                let expect = if !model.sessions[sid].1 {
                    fail(0)
                } else if !model.holds(actor, "roles.assign") {
                    fail(1)
                } else if (new == Some(BuiltinRole::Owner)
                    || model.role[target] == Some(BuiltinRole::Owner))
                    && model.role[actor] != Some(BuiltinRole::Owner)
                {
                    fail(1) // escalation: only an Owner grants or takes Owner
                } else if model.role[target] == new {
                    NO_OP
                } else if model.role[target] == Some(BuiltinRole::Owner)
                    && new != Some(BuiltinRole::Owner)
                    && model.active[target]
                    && model.active_owners() == 1
                {
                    fail(1) // last active Owner
                } else {
                    OK
                };
                let result = iam
                    .change_org_role(&a, org, self.users[target], new.map(|r| r.id()))
                    .await;
                if expect.ok && result.is_ok() {
                    model.role[target] = new;
                }
                (expect, result.is_ok())
            }
            Op::Deactivate { actor, target } => {
                let Some((sid, a)) = self.actor(model, actor) else {
                    return Ok(());
                };
                let expect = if !model.sessions[sid].1 {
                    fail(0)
                } else if !model.holds(actor, "users.deactivate") {
                    fail(1)
                } else if model.role[target] == Some(BuiltinRole::Owner)
                    && model.role[actor] != Some(BuiltinRole::Owner)
                {
                    fail(1) // escalation: only an Owner takes an Owner's access
                } else if !model.active[target] {
                    NO_OP
                } else if model.role[target] == Some(BuiltinRole::Owner)
                    && model.active_owners() == 1
                {
                    fail(1)
                } else {
                    // The deactivation, and what it ended with it.
                    Expect {
                        ok: true,
                        events: 1 + u64::from(model.has_live_credentials(target)),
                    }
                };
                let result = iam.deactivate(&a, org, self.users[target]).await;
                if expect.ok && result.is_ok() {
                    model.active[target] = false;
                    model.end_sessions_of(target);
                    model.kill_keys_of(target);
                    model.kill_links_of(target);
                }
                (expect, result.is_ok())
            }
            Op::Reactivate { actor, target } => {
                let Some((sid, a)) = self.actor(model, actor) else {
                    return Ok(());
                };
                let expect = if !model.sessions[sid].1 {
                    fail(0)
                } else if !model.holds(actor, "users.deactivate") {
                    fail(1)
                } else if model.role[target] == Some(BuiltinRole::Owner)
                    && model.role[actor] != Some(BuiltinRole::Owner)
                {
                    fail(1) // escalation: only an Owner gives Owner access back
                } else if model.active[target] {
                    NO_OP
                } else {
                    OK
                };
                let result = iam.reactivate(&a, org, self.users[target]).await;
                if expect.ok && result.is_ok() {
                    model.active[target] = true;
                }
                (expect, result.is_ok())
            }
            Op::LogIn { user } => {
                // A failed sign-in records its reason: one event either way;
                // with 2FA, the right password is recorded before the
                // second factor completes the sign-in.
                let expect = Expect {
                    ok: model.active[user],
                    events: 1 + u64::from(model.active[user] && model.totp[user]),
                };
                let result = iam
                    .log_in(
                        self.names[user],
                        &Password::new(PASSWORD),
                        ClientMetadata::default(),
                    )
                    .await;
                if let Ok(signed) = &result {
                    let mut token = signed.token.expose().to_owned();
                    prop_assert_eq!(signed.second_factor_required, model.totp[user]);
                    if let Some(setup) = &self.totp[user] {
                        // SECURITY.md 17: nothing until the second factor.
                        prop_assert!(iam.authenticate_session(&token).await.is_err());
                        let code = self.code(setup);
                        let done = iam.complete_sign_in_with_totp(&token, &code).await;
                        prop_assert!(done.is_ok(), "a fresh code completes the sign-in");
                        // SECURITY.md 40: the pending token is replaced.
                        let pending = std::mem::take(&mut token);
                        if let Ok(done) = done {
                            token = done.token.expose().to_owned();
                        }
                        prop_assert!(iam.authenticate_session(&pending).await.is_err());
                        self.next_step();
                    }
                    let actor = iam.authenticate_session(&token).await;
                    prop_assert!(actor.is_ok(), "fresh session must authenticate");
                    if expect.ok {
                        model.sessions.push((user, true));
                        self.sessions.push((actor.unwrap(), token));
                    }
                }
                (expect, result.is_ok())
            }
            Op::SignOut { user, nth } => {
                let mine: Vec<usize> = (0..model.sessions.len())
                    .filter(|i| model.sessions[*i].0 == user)
                    .collect();
                let Some(&sid) = mine.get(nth % mine.len().max(1)) else {
                    return Ok(());
                };
                let expect = if model.sessions[sid].1 { OK } else { fail(0) };
                let (actor, _) = &self.sessions[sid];
                let session = actor.session().unwrap();
                let result = iam.revoke_my_session(actor, session).await;
                if expect.ok && result.is_ok() {
                    model.sessions[sid].1 = false;
                }
                (expect, result.is_ok())
            }
            Op::RequestReset { user } => {
                // The owner's address is unverified (bootstrap): no message
                // reaches it, so the model leaves the owner out.
                if user == 0 {
                    return Ok(());
                }
                let email = format!("{}@acme.example", self.names[user]);
                let result = iam.request_password_reset(&email).await;
                prop_assert!(result.is_ok(), "self-service reset always answers Ok");
                let messages = iam.drain_outbox(100).await.unwrap();
                let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
                iam.acknowledge(&ids).await.unwrap();
                let link = messages
                    .iter()
                    .find(|m| m.kind == MessageKind::PasswordReset)
                    .and_then(|m| m.link_secret.as_ref())
                    .map(|s| s.expose().to_owned());
                prop_assert_eq!(link.is_some(), model.active[user]);
                if let Some(link) = link {
                    model.kill_links_of(user);
                    model.links.push((user, true));
                    self.links.push(link);
                }
                let expect = Expect {
                    ok: true,
                    events: u64::from(model.active[user]),
                };
                (expect, true)
            }
            Op::UseReset { user, nth } => {
                let mine: Vec<usize> = (0..model.links.len())
                    .filter(|i| model.links[*i].0 == user)
                    .collect();
                let Some(&lid) = mine.get(nth % mine.len().max(1)) else {
                    return Ok(());
                };
                let expect = if model.links[lid].1 && model.active[user] {
                    // The reset, and the sessions it ended.
                    Expect {
                        ok: true,
                        events: 1 + u64::from(model.has_live_sessions(user)),
                    }
                } else {
                    fail(0)
                };
                let result = iam
                    .reset_password(&self.links[lid], Password::new(PASSWORD))
                    .await;
                if result.is_ok() {
                    prop_assert!(model.links[lid].1, "a link was redeemed twice");
                }
                if expect.ok && result.is_ok() {
                    model.links[lid].1 = false;
                    model.end_sessions_of(user);
                }
                (expect, result.is_ok())
            }
            Op::EnrolTotp { user } => {
                let Some((sid, a)) = self.actor(model, user) else {
                    return Ok(());
                };
                let expect = if model.sessions[sid].1 && !model.totp[user] {
                    // Enrolment started, then confirmed.
                    Expect {
                        ok: true,
                        events: 2,
                    }
                } else {
                    fail(0)
                };
                let ok = match iam.begin_totp_enrolment(&a).await {
                    Ok(setup) => {
                        let code = self.code(&setup);
                        let confirmed = iam.confirm_totp_enrolment(&a, &code).await.is_ok();
                        if confirmed {
                            self.totp[user] = Some(setup);
                        }
                        confirmed
                    }
                    Err(_) => false,
                };
                self.next_step();
                if expect.ok && ok {
                    model.totp[user] = true;
                }
                (expect, ok)
            }
            Op::CreateKey { user } => {
                let Some((sid, a)) = self.actor(model, user) else {
                    return Ok(());
                };
                let expect = if !model.sessions[sid].1 {
                    fail(0)
                } else if !model.holds(user, "api_keys.create") {
                    fail(1)
                } else {
                    OK
                };
                let result = iam
                    .create_api_key(
                        &a,
                        org,
                        iamkit::credentials::NewApiKey {
                            name: "model".to_owned(),
                            workspace: self.workspace,
                            restriction: None,
                            expires_at: None,
                        },
                    )
                    .await;
                if let Ok(created) = &result
                    && expect.ok
                {
                    let actor = iam
                        .authenticate_api_key(created.secret.expose())
                        .await
                        .unwrap();
                    model.keys.push((user, true));
                    self.keys.push((actor, created.key.id));
                }
                (expect, result.is_ok())
            }
            Op::RevokeKey { actor, nth } => {
                if model.keys.is_empty() {
                    return Ok(());
                }
                let kid = nth % model.keys.len();
                let Some((sid, a)) = self.actor(model, actor) else {
                    return Ok(());
                };
                // Own key: `api_keys.create`; another's: `api_keys.manage`;
                // in the model both belong to exactly Owner and Admin.
                let expect = if !model.sessions[sid].1 {
                    fail(0)
                } else if !model.holds(actor, "api_keys.create") {
                    fail(1)
                } else {
                    OK
                };
                let result = iam.revoke_api_key(&a, org, self.keys[kid].1).await;
                if expect.ok && result.is_ok() {
                    model.keys[kid].1 = false;
                }
                (expect, result.is_ok())
            }
        };
        prop_assert_eq!(ok, expect.ok, "outcome of {:?}", op);
        let after = audit_len(&self.w.store, org).await;
        prop_assert_eq!(after - before, expect.events, "audit events of {:?}", op);
        self.check(model).await
    }

    async fn check(&self, model: &Model) -> Result<(), TestCaseError> {
        let iam = &self.w.iam;
        let scope = Scope::Organization(self.w.org);
        for (i, (user, live)) in model.sessions.iter().enumerate() {
            let (actor, token) = &self.sessions[i];
            for (permission, _) in PERMISSIONS {
                let expected = *live && model.holds(*user, permission);
                prop_assert_eq!(
                    iam.is_allowed(actor, permission, scope).await,
                    expected,
                    "{} of user {} session {} (live {})",
                    permission,
                    user,
                    i,
                    live
                );
            }
            if !token.is_empty() && !live {
                prop_assert!(iam.authenticate_session(token).await.is_err());
            }
        }
        let ws = Scope::Workspace(self.w.org, self.workspace);
        for (k, (actor, _)) in self.keys.iter().enumerate() {
            prop_assert_eq!(
                iam.is_allowed(actor, "workflows.run", ws).await,
                model.key_allows(k, "workflows.run"),
                "key {} in its workspace",
                k
            );
            // A key never acts outside its workspace.
            prop_assert!(!iam.is_allowed(actor, "workflows.run", scope).await);
        }
        // An active Owner, as the store has it.
        let mut has_owner = false;
        for u in self.users {
            let role: Option<RoleId> = org_role(&self.w.store, self.w.org, u).await;
            let mut tx = self.w.store.begin().await.unwrap();
            let status = tx.get_user(u).await.unwrap().unwrap().status;
            tx.rollback().await.unwrap();
            has_owner |= role == Some(BuiltinRole::Owner.id()) && status == UserStatus::Active;
        }
        prop_assert!(has_owner, "the organization lost its last active Owner");
        prop_assert!(model.active_owners() >= 1);
        let mut tx = self.w.store.begin().await.unwrap();
        let verified = verify_org(&mut tx, self.w.org).await.unwrap();
        tx.rollback().await.unwrap();
        prop_assert!(verified.is_ok(), "audit chain broken: {:?}", verified.err());
        Ok(())
    }
}

#[test]
fn facade_matches_the_reference_model() {
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
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            rt.block_on(async {
                let (mut h, mut model) = set_up().await;
                h.check(&model).await?;
                for op in &ops {
                    h.step(&mut model, op).await?;
                }
                Ok(())
            })
        })
        .unwrap();
}
