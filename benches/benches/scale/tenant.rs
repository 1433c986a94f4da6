//! One large organization for the `scale` bench: an owner made through
//! the facade (bootstrap, a workspace, a signed-in session, an API key),
//! then members written straight through the repository traits, in
//! batches, the way an import would: the facade's invitation flow would
//! take hours at 100k members, and what is measured is what comes after.
//!
//! Shape, per member `i` (0-based, owner excluded):
//! - an ACTIVE account and an ACTIVE membership;
//! - one organization role (Requester, or Read-only for every 4th);
//! - members `20g .. 20g+20` form group `g` (one group per 100 members, so
//!   a fifth of the members are in a group), each group holding Approver on
//!   the workspace;
//! - members `10t .. 10t+10` form team `t` (one team per 1,000 members),
//!   each team holding Read-only on the organization;
//! - every 50th member is a deactivated account (it keeps its grants, uses
//!   none of them).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use iamkit::credentials::{Argon2Params, NewApiKey, Password, SecretBytes, XChaChaSealer};
use iamkit::identity::{
    Email, Group, GroupId, Membership, Name, NewUser, OrgId, Profile, Team, TeamId, TeamMember,
    TeamRole, UserId, UserStatus, Username, WorkspaceId,
};
use iamkit::rbac::{BuiltinRole, Grant, Grantee, Scope};
use iamkit::{Actor, AuthzVersionRepository, Config, FirstOwner, Iam, ManualClock, NewAccount};
use iamkit::{Store, Transaction};
use rand::SeedableRng;
use rand::rngs::StdRng;

pub const PASSWORD: &str = "glacier ferry violin harbour";
/// The app permission the API key is restricted to.
pub const APP_PERMISSION: &str = "workflows.run";

/// Members written per transaction.
const BATCH: usize = 1_000;
/// Members per group, and one group per this many members.
const GROUP_SIZE: usize = 20;
const MEMBERS_PER_GROUP: usize = 100;
/// Members per team, and one team per this many members.
const TEAM_SIZE: usize = 10;
const MEMBERS_PER_TEAM: usize = 1_000;

/// What the bench acts with.
pub struct Tenant {
    pub org: OrgId,
    pub workspace: WorkspaceId,
    /// The owner's session token and API key (restricted to
    /// [`APP_PERMISSION`] in `workspace`).
    pub session_token: String,
    pub api_key: String,
    /// Seeded members (the owner excluded), in seeding order.
    pub members: Vec<UserId>,
    next_group: usize,
    next_team: usize,
    rng: StdRng,
}

/// The configuration every `Iam` of the bench runs with: argon2 at a cheap
/// cost, since sign-in is not what is measured.
pub fn config() -> Config {
    Config {
        argon2: Argon2Params {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        ..Config::default()
    }
}

/// A service over `store` with the bench's clock, key and app permission.
/// Every `Iam` built here has a cache of its own, as a process would.
pub fn iam<S: Store>(store: S) -> Iam<S> {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
    Iam::builder(store, sealer)
        .clock(Arc::new(clock))
        .config(config())
        .permission(APP_PERMISSION, &[BuiltinRole::Owner, BuiltinRole::Admin])
        .build()
        .unwrap()
}

pub fn account(name: &str) -> NewAccount {
    NewAccount {
        username: name.to_owned(),
        email: format!("{name}@acme.example"),
        first_name: "Scale".to_owned(),
        last_name: "Member".to_owned(),
        language: None,
    }
}

impl Tenant {
    /// Bootstraps the organization through `iam`: its owner, a workspace,
    /// the owner's session and API key. No members yet.
    pub async fn bootstrap<S: Store>(iam: &Iam<S>) -> Self {
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
        let signed = iam
            .log_in("owner", &Password::new(PASSWORD), Default::default())
            .await
            .unwrap();
        let session_token = signed.token.expose().to_owned();
        let owner = iam.authenticate_session(&session_token).await.unwrap();
        let workspace = iam.create_workspace(&owner, done.org, "Ops").await.unwrap();
        let key = iam
            .create_api_key(
                &owner,
                done.org,
                NewApiKey {
                    name: "scale".to_owned(),
                    workspace,
                    restriction: Some(BTreeSet::from([APP_PERMISSION.to_owned()])),
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        Self {
            org: done.org,
            workspace,
            session_token,
            api_key: key.secret.expose().to_owned(),
            members: Vec::new(),
            next_group: 0,
            next_team: 0,
            rng: StdRng::seed_from_u64(17),
        }
    }

    /// Adds members until there are `total`, in transactions of
    /// [`BATCH`], then bumps the organization's authorization version so
    /// that every `Iam` sees the import.
    pub async fn grow_to<S: Store>(&mut self, store: &S, total: usize) {
        while self.members.len() < total {
            let end = total.min(self.members.len() + BATCH);
            let mut tx = store.begin().await.unwrap();
            let first = self.members.len();
            for i in first..end {
                self.add_member(&mut tx, i).await;
            }
            // Groups and teams whose members are all in place.
            while (self.next_group + 1) * MEMBERS_PER_GROUP <= end {
                self.add_group(&mut tx, self.next_group).await;
                self.next_group += 1;
            }
            while (self.next_team + 1) * MEMBERS_PER_TEAM <= end {
                self.add_team(&mut tx, self.next_team).await;
                self.next_team += 1;
            }
            if end == total {
                tx.bump_authz_version(self.org).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
    }

    async fn add_member<T: Transaction>(&mut self, tx: &mut T, i: usize) {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        let name = format!("member{i}");
        let mut user = iamkit::identity::User::new(
            NewUser {
                username: Username::parse(&name).unwrap(),
                email: Email::parse(&format!("{name}@acme.example")).unwrap(),
                profile: Profile::parse("Scale", &format!("Member {i}"), None, None, None).unwrap(),
                status: UserStatus::Active,
            },
            now,
            &mut self.rng,
        );
        user.email_verified = true;
        if i % 50 == 49 {
            user.status = UserStatus::Deactivated;
        }
        tx.insert_user(&user).await.unwrap();
        tx.insert_membership(&Membership {
            org: self.org,
            user: user.id,
            status: UserStatus::Active,
            department: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
        let role = if i % 4 == 3 {
            BuiltinRole::ReadOnly
        } else {
            BuiltinRole::Requester
        };
        tx.assign_grant(&Grant {
            grantee: Grantee::User(user.id),
            scope: Scope::Organization(self.org),
            role: role.id(),
        })
        .await
        .unwrap();
        self.members.push(user.id);
    }

    async fn add_group<T: Transaction>(&mut self, tx: &mut T, g: usize) {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        let group = Group {
            id: GroupId::generate(now, &mut self.rng),
            org: self.org,
            name: Name::parse(&format!("group {g}")).unwrap(),
            created_at: now,
        };
        tx.insert_group(&group).await.unwrap();
        for user in &self.members[g * GROUP_SIZE..(g + 1) * GROUP_SIZE] {
            tx.insert_group_member(group.id, *user).await.unwrap();
        }
        tx.assign_grant(&Grant {
            grantee: Grantee::Group(group.id),
            scope: Scope::Workspace(self.org, self.workspace),
            role: BuiltinRole::Approver.id(),
        })
        .await
        .unwrap();
    }

    async fn add_team<T: Transaction>(&mut self, tx: &mut T, t: usize) {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        let team = Team {
            id: TeamId::generate(now, &mut self.rng),
            org: self.org,
            name: Name::parse(&format!("team {t}")).unwrap(),
            created_at: now,
        };
        tx.insert_team(&team).await.unwrap();
        for user in &self.members[t * TEAM_SIZE..(t + 1) * TEAM_SIZE] {
            tx.insert_team_member(&TeamMember {
                team: team.id,
                user: *user,
                role: TeamRole::Member,
            })
            .await
            .unwrap();
        }
        tx.assign_grant(&Grant {
            grantee: Grantee::Team(team.id),
            scope: Scope::Organization(self.org),
            role: BuiltinRole::ReadOnly.id(),
        })
        .await
        .unwrap();
    }
}
