//! Cross-process variant of the facade's RBAC model test: two `Iam`s over
//! one store (two processes of one app, each with its own index cache),
//! random authorization changes made through either, and after every step
//! both answer every sampled check of every member, at the organization,
//! at each of its workspaces and at another organization's workspace,
//! exactly like a plain reference resolver.
//!
//! Each check is a fresh request (`authenticate_session`, then
//! `is_allowed`), so what an `Iam` answers comes from its cached index
//! brought up to date with the organization's change log (or rebuilt), not
//! from a stale stamp. The changes cover every kind of delta: members'
//! organization and workspace roles, invitations (roles held while
//! invited), acceptance, suspension and reactivation (the account belongs
//! to another organization too, so its sessions stay), removal; group and
//! team roles, members, creation and deletion; the custom role's
//! definition, deletion and re-creation; new workspaces; two-factor
//! enforcement. Steps of several changes make one catch-up span several
//! versions.
//!
//! Runs on memory, SQLite (two pools on one file) and PostgreSQL (two
//! pools on one schema; skipped with a notice without
//! `IAMKIT_POSTGRES_URL`). Cases: `PROPTEST_CASES` (CI sets 64).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use common::stores;
use iamkit::credentials::{ClientMetadata, Password, TotpAlgorithm, totp_code};
use iamkit::identity::{OrgId, RoleId, TeamRole, UserId, WorkspaceId};
use iamkit::rbac::{AssignableAt, BuiltinRole, Catalogue, Collective, Scope};
use iamkit::{Actor, Clock, Iam, ManualClock, MessageKind, Placement, RoleSpec, Store};
use iamkit_testkit::instances::{self, PASSWORD};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

const MEMBERS: usize = 4;
const NAMES: [&str; MEMBERS] = ["ada", "bob", "cyd", "dee"];
/// Sampled at every check; the custom role's permissions are drawn from them.
const PERMISSIONS: [&str; 5] = [
    "users.read",
    "roles.assign",
    "audit.read",
    "api_keys.create",
    "org.billing",
];
const BUILTINS: [BuiltinRole; 5] = [
    BuiltinRole::Owner,
    BuiltinRole::Admin,
    BuiltinRole::Auditor,
    BuiltinRole::Requester,
    BuiltinRole::ReadOnly,
];
const MAX_WORKSPACES: usize = 3;
const MAX_COLLECTIVES: usize = 4;

/// A role the model grants: a built-in (index into `BUILTINS`) or the
/// organization's custom role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Builtin(usize),
    Custom,
}

/// A member's standing in the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Gone,
    Invited,
    Active,
    Suspended,
}

/// Which `Iam` a change goes through: `false` the first, `true` the second.
type Via = bool;

#[derive(Debug, Clone)]
enum Op {
    OrgRole {
        via: Via,
        u: usize,
        role: Option<Role>,
    },
    WorkspaceRole {
        via: Via,
        u: usize,
        ws: usize,
        role: Option<Role>,
    },
    /// A group's or team's role at the organization or its first workspace.
    CollectiveRole {
        via: Via,
        c: usize,
        at_workspace: bool,
        role: Option<Role>,
    },
    Join {
        via: Via,
        c: usize,
        u: usize,
    },
    Leave {
        via: Via,
        c: usize,
        u: usize,
    },
    DeleteCollective {
        via: Via,
        c: usize,
    },
    CreateCollective {
        via: Via,
        team: bool,
    },
    Suspend {
        via: Via,
        u: usize,
    },
    Reactivate {
        via: Via,
        u: usize,
    },
    Remove {
        via: Via,
        u: usize,
    },
    Invite {
        via: Via,
        u: usize,
        role: Option<Role>,
    },
    Accept {
        via: Via,
        u: usize,
    },
    EditRole {
        via: Via,
        permissions: BTreeSet<usize>,
    },
    DeleteRole {
        via: Via,
    },
    CreateRole {
        via: Via,
        permissions: BTreeSet<usize>,
    },
    CreateWorkspace {
        via: Via,
    },
    TwoFactor {
        via: Via,
        on: bool,
    },
}

fn role() -> impl Strategy<Value = Option<Role>> {
    prop_oneof![
        1 => Just(None),
        4 => (0..BUILTINS.len()).prop_map(|b| Some(Role::Builtin(b))),
        2 => Just(Some(Role::Custom)),
    ]
}

fn permissions() -> impl Strategy<Value = BTreeSet<usize>> {
    proptest::collection::btree_set(0..PERMISSIONS.len(), 0..4)
}

fn op() -> impl Strategy<Value = Op> {
    let u = 0..MEMBERS;
    let c = 0..MAX_COLLECTIVES;
    let via = any::<bool>();
    prop_oneof![
        4 => (via, u.clone(), role()).prop_map(|(via, u, role)| Op::OrgRole { via, u, role }),
        3 => (via, u.clone(), 0..MAX_WORKSPACES, role())
            .prop_map(|(via, u, ws, role)| Op::WorkspaceRole { via, u, ws, role }),
        3 => (via, c.clone(), any::<bool>(), role()).prop_map(|(via, c, at_workspace, role)| {
            Op::CollectiveRole { via, c, at_workspace, role }
        }),
        3 => (via, c.clone(), u.clone()).prop_map(|(via, c, u)| Op::Join { via, c, u }),
        2 => (via, c.clone(), u.clone()).prop_map(|(via, c, u)| Op::Leave { via, c, u }),
        1 => (via, c).prop_map(|(via, c)| Op::DeleteCollective { via, c }),
        1 => (via, any::<bool>()).prop_map(|(via, team)| Op::CreateCollective { via, team }),
        2 => (via, u.clone()).prop_map(|(via, u)| Op::Suspend { via, u }),
        2 => (via, u.clone()).prop_map(|(via, u)| Op::Reactivate { via, u }),
        1 => (via, u.clone()).prop_map(|(via, u)| Op::Remove { via, u }),
        2 => (via, u.clone(), role()).prop_map(|(via, u, role)| Op::Invite { via, u, role }),
        2 => (via, u).prop_map(|(via, u)| Op::Accept { via, u }),
        2 => (via, permissions())
            .prop_map(|(via, permissions)| Op::EditRole { via, permissions }),
        1 => via.prop_map(|via| Op::DeleteRole { via }),
        1 => (via, permissions())
            .prop_map(|(via, permissions)| Op::CreateRole { via, permissions }),
        1 => via.prop_map(|via| Op::CreateWorkspace { via }),
        1 => (via, any::<bool>()).prop_map(|(via, on)| Op::TwoFactor { via, on }),
    ]
}

/// A group or team as the model knows it.
#[derive(Debug, Clone)]
struct Group {
    exists: bool,
    org_role: Option<Role>,
    /// Its role at the organization's first workspace.
    workspace_role: Option<Role>,
    members: BTreeSet<usize>,
}

/// The reference model: plain data, and a resolver that reads it directly.
#[derive(Debug, Clone)]
struct Model {
    status: [Status; MEMBERS],
    org_role: [Option<Role>; MEMBERS],
    workspace_roles: [BTreeMap<usize, Role>; MEMBERS],
    groups: Vec<Group>,
    /// The custom role's permissions (indexes into `PERMISSIONS`), if it
    /// exists.
    custom: Option<BTreeSet<usize>>,
    workspaces: usize,
    two_factor: bool,
}

impl Model {
    fn initial() -> Self {
        Self {
            status: [Status::Active; MEMBERS],
            org_role: [None; MEMBERS],
            workspace_roles: Default::default(),
            groups: vec![
                Group {
                    exists: true,
                    org_role: None,
                    workspace_role: None,
                    members: BTreeSet::new(),
                };
                2
            ],
            custom: Some(BTreeSet::from([0])),
            workspaces: 1,
            two_factor: false,
        }
    }

    fn valid(&self, role: Option<Role>) -> bool {
        role != Some(Role::Custom) || self.custom.is_some()
    }

    fn is_member(&self, u: usize) -> bool {
        self.status[u] != Status::Gone
    }

    fn group(&self, c: usize) -> Option<&Group> {
        self.groups.get(c).filter(|g| g.exists)
    }

    fn custom_in_use(&self) -> bool {
        let custom = Some(Role::Custom);
        (0..MEMBERS).any(|u| {
            self.org_role[u] == custom
                || self.workspace_roles[u].values().any(|r| *r == Role::Custom)
        }) || self
            .groups
            .iter()
            .any(|g| g.exists && (g.org_role == custom || g.workspace_role == custom))
    }

    /// Whether the Owner, who holds the Admin permissions at a workspace
    /// (and everything at the organization), may grant or take `role`
    /// there (SECURITY.md 26, 37: grants are checked at the scope granted).
    fn fits_workspace(&self, catalogue: &Catalogue, role: Option<Role>) -> bool {
        let admin = catalogue.builtin_permissions(BuiltinRole::Admin);
        match role {
            None => true,
            Some(Role::Builtin(b)) => catalogue.builtin_permissions(BUILTINS[b]).is_subset(&admin),
            Some(Role::Custom) => self
                .custom
                .iter()
                .flatten()
                .all(|p| admin.contains(catalogue.id(PERMISSIONS[*p]).unwrap())),
        }
    }

    /// Whether the Owner may change who is in group `c`: that grants or
    /// takes its roles, each at its scope.
    fn may_change_members(&self, catalogue: &Catalogue, c: usize) -> bool {
        self.group(c)
            .is_some_and(|g| self.fits_workspace(catalogue, g.workspace_role))
    }

    /// Whether the Owner may act on member `u` as a person (suspend,
    /// reactivate, remove): it needs every role they hold, at its scope.
    fn may_act_on(&self, catalogue: &Catalogue, u: usize) -> bool {
        self.workspace_roles[u]
            .values()
            .all(|r| self.fits_workspace(catalogue, Some(*r)))
            && self
                .groups
                .iter()
                .filter(|g| g.exists && g.members.contains(&u))
                .all(|g| self.fits_workspace(catalogue, g.workspace_role))
    }

    /// Whether `role` carries `permission` (an index into `PERMISSIONS`).
    fn carries(&self, catalogue: &Catalogue, role: Role, permission: usize) -> bool {
        match role {
            Role::Builtin(b) => {
                let id = catalogue.id(PERMISSIONS[permission]).unwrap();
                catalogue.builtin_permissions(BUILTINS[b]).contains(id)
            }
            Role::Custom => self
                .custom
                .as_ref()
                .is_some_and(|p| p.contains(&permission)),
        }
    }

    /// The roles member `u` holds at the organization (`None`) or at
    /// workspace `ws`, direct and through groups and teams.
    fn roles_at(&self, u: usize, ws: Option<usize>) -> Vec<Role> {
        let mut roles: Vec<Role> = match ws {
            None => self.org_role[u].into_iter().collect(),
            Some(w) => self.workspace_roles[u]
                .get(&w)
                .copied()
                .into_iter()
                .collect(),
        };
        for group in self
            .groups
            .iter()
            .filter(|g| g.exists && g.members.contains(&u))
        {
            match ws {
                None => roles.extend(group.org_role),
                Some(0) => roles.extend(group.workspace_role),
                Some(_) => {}
            }
        }
        roles
    }

    /// Deny by default; only an active member acts, and none without a
    /// second factor under enforcement (members here have none). An
    /// organization Owner or Admin holds the Admin permissions on every
    /// workspace of the organization; a foreign workspace grants nothing.
    fn allows(
        &self,
        catalogue: &Catalogue,
        u: usize,
        permission: usize,
        ws: Option<Option<usize>>,
    ) -> bool {
        if self.status[u] != Status::Active || self.two_factor {
            return false;
        }
        match ws {
            None => self
                .roles_at(u, None)
                .into_iter()
                .any(|r| self.carries(catalogue, r, permission)),
            Some(None) => false,
            Some(Some(w)) => {
                let admin = self.roles_at(u, None).into_iter().any(|r| {
                    matches!(r, Role::Builtin(b) if matches!(BUILTINS[b], BuiltinRole::Owner | BuiltinRole::Admin))
                });
                (admin && self.carries(catalogue, Role::Builtin(1), permission))
                    || self
                        .roles_at(u, Some(w))
                        .into_iter()
                        .any(|r| self.carries(catalogue, r, permission))
            }
        }
    }
}

/// The facade side: two `Iam`s over one store and the ids the model's
/// indexes stand for.
struct Harness<S: Store> {
    iams: [Iam<S>; 2],
    org: OrgId,
    owner: Actor,
    users: [UserId; MEMBERS],
    /// Each member's session token (their account belongs to another
    /// organization too: nothing here ends it).
    tokens: Vec<String>,
    /// Each member's pending invitation link.
    links: Vec<Option<String>>,
    workspaces: Vec<WorkspaceId>,
    /// A workspace of the other organization.
    foreign_workspace: WorkspaceId,
    collectives: Vec<Collective>,
    custom: Option<RoleId>,
    /// How many changes succeeded.
    changes: usize,
}

fn clock() -> ManualClock {
    ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap())
}

async fn log_in<S: Store>(iam: &Iam<S>, name: &str) -> String {
    let signed = iam
        .log_in(name, &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap();
    signed.token.expose().to_owned()
}

/// Two organizations; four members whose accounts globex created, each an
/// active member of acme without a role; the acme Owner with TOTP (so it
/// keeps acting under enforcement); a workspace, a group, a team and a
/// custom role in acme.
async fn set_up<S: Store>(one: S, two: S) -> Harness<S> {
    let clock = clock();
    let a = instances::iam_over(&one, &clock);
    let b = instances::iam_over(&two, &clock);
    let (globex, _, globex_owner) = instances::bootstrap(&a, "globex", "gowner").await;
    let (org, _, owner) = instances::bootstrap(&a, "acme", "owner").await;
    let foreign_workspace = a
        .create_workspace(&globex_owner, globex, "Elsewhere")
        .await
        .unwrap();
    let mut users = Vec::new();
    let mut tokens = Vec::new();
    for name in NAMES {
        let (user, _) =
            instances::member(&a, &globex_owner, globex, name, BuiltinRole::ReadOnly).await;
        a.invite(
            &owner,
            org,
            &instances::account(name),
            &Placement::default(),
        )
        .await
        .unwrap();
        let link = instances::link_for(&a, user, MessageKind::Invitation).await;
        a.accept_invitation(&link, Password::new(PASSWORD))
            .await
            .unwrap();
        users.push(user);
        tokens.push(log_in(&a, name).await);
    }
    let setup = a.begin_totp_enrolment(&owner).await.unwrap();
    let unix = clock.now().timestamp() as u64;
    let code = totp_code(&setup.secret, TotpAlgorithm::Sha1, 6, 30, unix).unwrap();
    a.confirm_totp_enrolment(&owner, code.expose())
        .await
        .unwrap();
    let workspace = a.create_workspace(&owner, org, "W0").await.unwrap();
    let group = a.create_group(&owner, org, "G0").await.unwrap();
    let team = a.create_team(&owner, org, "G1").await.unwrap();
    let custom = a
        .create_custom_role(&owner, org, &spec(&BTreeSet::from([0])))
        .await
        .unwrap();
    let _ = instances::delivered(&a).await;
    Harness {
        iams: [a, b],
        org,
        owner,
        users: users.try_into().unwrap(),
        tokens,
        links: vec![None; MEMBERS],
        workspaces: vec![workspace],
        foreign_workspace,
        collectives: vec![Collective::Group(group), Collective::Team(team)],
        custom: Some(custom),
        changes: 0,
    }
}

/// `org.billing` is the Owner's alone and nobody holds it in a workspace:
/// a role assignable everywhere that carries it is refused (issue 21).
const OWNER_ONLY: usize = 4;

/// Whether the custom role `permissions` may be defined (assignable at
/// both scopes, as `spec` makes it).
fn definable(permissions: &BTreeSet<usize>) -> bool {
    !permissions.contains(&OWNER_ONLY)
}

fn spec(permissions: &BTreeSet<usize>) -> RoleSpec {
    RoleSpec {
        name: "Custom".to_owned(),
        permissions: permissions
            .iter()
            .map(|p| PERMISSIONS[*p].to_owned())
            .collect(),
        assignable_at: AssignableAt::ANY,
    }
}

impl<S: Store> Harness<S> {
    fn role_id(&self, role: Option<Role>) -> Option<RoleId> {
        match role? {
            Role::Builtin(b) => Some(BUILTINS[b].id()),
            // A deleted custom role: its old id, which the store refuses.
            Role::Custom => Some(
                self.custom
                    .unwrap_or(RoleId::from_uuid(common::uuid_like(9))),
            ),
        }
    }

    /// Runs `op` through the `Iam` it names, predicting its outcome from
    /// `model` first; on success the model follows.
    async fn step(&mut self, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
        let org = self.org;
        let owner = self.owner.clone();
        let catalogue = self.iams[0].catalogue().clone();
        let catalogue = &catalogue;
        // Whether a success changes anything (and so bumps the version).
        let mut changes = true;
        let (expected, ok) = match op.clone() {
            Op::OrgRole { via, u, role } => {
                let expected = model.is_member(u) && model.valid(role);
                // The no-op rule: the role held again changes nothing.
                changes = model.org_role[u] != role;
                let ok = self.iams[usize::from(via)]
                    .change_org_role(&owner, org, self.users[u], self.role_id(role))
                    .await
                    .is_ok();
                if ok {
                    model.org_role[u] = role;
                }
                (expected, ok)
            }
            Op::WorkspaceRole { via, u, ws, role } => {
                let Some(&workspace) = self.workspaces.get(ws) else {
                    return Ok(());
                };
                let expected = model.is_member(u)
                    && model.valid(role)
                    && model.fits_workspace(catalogue, role)
                    && model.fits_workspace(catalogue, model.workspace_roles[u].get(&ws).copied());
                changes = model.workspace_roles[u].get(&ws).copied() != role;
                let ok = self.iams[usize::from(via)]
                    .set_workspace_role(&owner, org, workspace, self.users[u], self.role_id(role))
                    .await
                    .is_ok();
                if ok {
                    match role {
                        Some(role) => model.workspace_roles[u].insert(ws, role),
                        None => model.workspace_roles[u].remove(&ws),
                    };
                }
                (expected, ok)
            }
            Op::CollectiveRole {
                via,
                c,
                at_workspace,
                role,
            } => {
                let Some(&collective) = self.collectives.get(c) else {
                    return Ok(());
                };
                let scope = if at_workspace {
                    Scope::Workspace(org, self.workspaces[0])
                } else {
                    Scope::Organization(org)
                };
                let expected = model.group(c).is_some_and(|g| {
                    !at_workspace
                        || (model.fits_workspace(catalogue, role)
                            && model.fits_workspace(catalogue, g.workspace_role))
                }) && model.valid(role);
                changes = model.group(c).is_none_or(|g| {
                    role != if at_workspace {
                        g.workspace_role
                    } else {
                        g.org_role
                    }
                });
                let ok = self.iams[usize::from(via)]
                    .set_collective_role(&owner, collective, scope, self.role_id(role))
                    .await
                    .is_ok();
                if ok {
                    let group = &mut model.groups[c];
                    if at_workspace {
                        group.workspace_role = role;
                    } else {
                        group.org_role = role;
                    }
                }
                (expected, ok)
            }
            Op::Join { via, c, u } => {
                let Some(&collective) = self.collectives.get(c) else {
                    return Ok(());
                };
                // Joining again is a no-op (allowed after the same guards).
                let expected = model.is_member(u) && model.may_change_members(catalogue, c);
                changes = model.group(c).is_some_and(|g| !g.members.contains(&u));
                let ok = self.iams[usize::from(via)]
                    .add_member(&owner, org, collective, self.users[u], TeamRole::Member)
                    .await
                    .is_ok();
                if ok {
                    model.groups[c].members.insert(u);
                }
                (expected, ok)
            }
            Op::Leave { via, c, u } => {
                let Some(&collective) = self.collectives.get(c) else {
                    return Ok(());
                };
                // Leaving a group one is not in is a no-op.
                let expected = model.is_member(u) && model.may_change_members(catalogue, c);
                changes = model.group(c).is_some_and(|g| g.members.contains(&u));
                let ok = self.iams[usize::from(via)]
                    .remove_member(&owner, org, collective, self.users[u])
                    .await
                    .is_ok();
                if ok {
                    model.groups[c].members.remove(&u);
                }
                (expected, ok)
            }
            Op::DeleteCollective { via, c } => {
                let Some(&collective) = self.collectives.get(c) else {
                    return Ok(());
                };
                let expected = model.may_change_members(catalogue, c);
                let ok = self.iams[usize::from(via)]
                    .delete_collective(&owner, org, collective)
                    .await
                    .is_ok();
                if ok {
                    let group = &mut model.groups[c];
                    group.exists = false;
                    group.org_role = None;
                    group.workspace_role = None;
                    group.members.clear();
                }
                (expected, ok)
            }
            Op::CreateCollective { via, team } => {
                if self.collectives.len() >= MAX_COLLECTIVES {
                    return Ok(());
                }
                let iam = &self.iams[usize::from(via)];
                let name = format!("C{}", self.collectives.len());
                let created = if team {
                    iam.create_team(&owner, org, &name)
                        .await
                        .map(Collective::Team)
                } else {
                    iam.create_group(&owner, org, &name)
                        .await
                        .map(Collective::Group)
                };
                let ok = created.is_ok();
                if let Ok(collective) = created {
                    self.collectives.push(collective);
                    model.groups.push(Group {
                        exists: true,
                        org_role: None,
                        workspace_role: None,
                        members: BTreeSet::new(),
                    });
                }
                (true, ok)
            }
            Op::Suspend { via, u } => {
                let expected = matches!(model.status[u], Status::Active | Status::Suspended)
                    && model.may_act_on(catalogue, u);
                changes = model.status[u] == Status::Active;
                let ok = self.iams[usize::from(via)]
                    .deactivate(&owner, org, self.users[u])
                    .await
                    .is_ok();
                if ok {
                    model.status[u] = Status::Suspended;
                }
                (expected, ok)
            }
            Op::Reactivate { via, u } => {
                let expected = matches!(model.status[u], Status::Active | Status::Suspended)
                    && model.may_act_on(catalogue, u);
                changes = model.status[u] == Status::Suspended;
                let ok = self.iams[usize::from(via)]
                    .reactivate(&owner, org, self.users[u])
                    .await
                    .is_ok();
                if ok {
                    model.status[u] = Status::Active;
                }
                (expected, ok)
            }
            Op::Remove { via, u } => {
                let expected = model.is_member(u) && model.may_act_on(catalogue, u);
                let ok = self.iams[usize::from(via)]
                    .delete_user(&owner, org, self.users[u])
                    .await
                    .is_ok();
                if ok {
                    model.status[u] = Status::Gone;
                    model.org_role[u] = None;
                    model.workspace_roles[u].clear();
                    for group in &mut model.groups {
                        group.members.remove(&u);
                    }
                    self.links[u] = None;
                }
                (expected, ok)
            }
            Op::Invite { via, u, role } => {
                let expected = !model.is_member(u) && model.valid(role);
                let iam = &self.iams[usize::from(via)];
                let placement = Placement {
                    org_role: self.role_id(role),
                    ..Placement::default()
                };
                let ok = iam
                    .invite(&owner, org, &instances::account(NAMES[u]), &placement)
                    .await
                    .is_ok();
                if ok {
                    model.status[u] = Status::Invited;
                    model.org_role[u] = role;
                    let link =
                        instances::link_for(iam, self.users[u], MessageKind::Invitation).await;
                    self.links[u] = Some(link);
                }
                (expected, ok)
            }
            Op::Accept { via, u } => {
                let Some(link) = self.links[u].clone() else {
                    return Ok(());
                };
                let expected = model.status[u] == Status::Invited;
                let ok = self.iams[usize::from(via)]
                    .accept_invitation(&link, Password::new(PASSWORD))
                    .await
                    .is_ok();
                if ok {
                    model.status[u] = Status::Active;
                    self.links[u] = None;
                }
                (expected, ok)
            }
            Op::EditRole { via, permissions } => {
                let Some(custom) = self.custom else {
                    return Ok(());
                };
                let expected = definable(&permissions);
                let ok = self.iams[usize::from(via)]
                    .update_custom_role(&owner, org, custom, &spec(&permissions))
                    .await
                    .is_ok();
                if ok {
                    model.custom = Some(permissions);
                }
                (expected, ok)
            }
            Op::DeleteRole { via } => {
                let Some(custom) = self.custom else {
                    return Ok(());
                };
                let expected = !model.custom_in_use();
                let ok = self.iams[usize::from(via)]
                    .delete_custom_role(&owner, org, custom)
                    .await
                    .is_ok();
                if ok {
                    model.custom = None;
                    self.custom = None;
                }
                (expected, ok)
            }
            Op::CreateRole { via, permissions } => {
                if self.custom.is_some() {
                    return Ok(());
                }
                let created = self.iams[usize::from(via)]
                    .create_custom_role(&owner, org, &spec(&permissions))
                    .await;
                let expected = definable(&permissions);
                let ok = created.is_ok();
                if let Ok(id) = created {
                    self.custom = Some(id);
                    model.custom = Some(permissions);
                }
                (expected, ok)
            }
            Op::CreateWorkspace { via } => {
                if self.workspaces.len() >= MAX_WORKSPACES {
                    return Ok(());
                }
                let name = format!("W{}", self.workspaces.len());
                let created = self.iams[usize::from(via)]
                    .create_workspace(&owner, org, &name)
                    .await;
                let ok = created.is_ok();
                if let Ok(id) = created {
                    self.workspaces.push(id);
                    model.workspaces += 1;
                }
                (true, ok)
            }
            Op::TwoFactor { via, on } => {
                // Setting what is already set is no change (not audited).
                changes = on != model.two_factor;
                let ok = self.iams[usize::from(via)]
                    .set_two_factor_required(&owner, org, on)
                    .await
                    .is_ok();
                if ok {
                    model.two_factor = on;
                }
                (true, ok)
            }
        };
        prop_assert_eq!(ok, expected, "outcome of {:?}", op);
        self.changes += usize::from(ok && changes);
        Ok(())
    }

    /// Every member's every sampled check, as a fresh request through each
    /// `Iam`, against the model.
    async fn check(&self, model: &Model) -> Result<(), TestCaseError> {
        let catalogue = self.iams[0].catalogue();
        let mut scopes: Vec<(Scope, Option<Option<usize>>)> = vec![
            (Scope::Organization(self.org), None),
            (
                Scope::Workspace(self.org, self.foreign_workspace),
                Some(None),
            ),
        ];
        for (w, id) in self.workspaces.iter().enumerate() {
            scopes.push((Scope::Workspace(self.org, *id), Some(Some(w))));
        }
        for (which, iam) in self.iams.iter().enumerate() {
            for (u, (name, token)) in NAMES.iter().zip(&self.tokens).enumerate() {
                let actor = iam.authenticate_session(token).await;
                prop_assert!(actor.is_ok(), "{}'s session authenticates", name);
                let actor = actor.unwrap();
                for (p, permission) in PERMISSIONS.iter().enumerate() {
                    for (scope, at) in &scopes {
                        let expected = model.allows(catalogue, u, p, *at);
                        prop_assert_eq!(
                            iam.is_allowed(&actor, permission, *scope).await,
                            expected,
                            "Iam {} answers {} of {} at {:?} ({:?}, model {:?})",
                            which,
                            permission,
                            name,
                            scope,
                            at,
                            model
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

/// Runs the property on pairs of stores made by `pair` (one pair per case).
fn run<S, F, Fut, G>(pair: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (G, S, S)>,
{
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let steps = proptest::collection::vec(proptest::collection::vec(op(), 1..4), 1..25);
    runner
        .run(&steps, |steps| {
            rt.block_on(async {
                let (_guard, one, two) = pair().await;
                let mut h = set_up(one, two).await;
                let mut model = Model::initial();
                h.check(&model).await?;
                let before = h.iams.each_ref().map(Iam::index_stats);
                for step in &steps {
                    for op in step {
                        h.step(&mut model, op).await?;
                    }
                    h.check(&model).await?;
                }
                // The answers came from the change log, not from rebuilds
                // alone: each process caught up at least once.
                if h.changes > 0 {
                    for (iam, before) in h.iams.iter().zip(before) {
                        prop_assert!(
                            iam.index_stats().catch_ups > before.catch_ups,
                            "{:?} after {} changes",
                            iam.index_stats(),
                            h.changes
                        );
                    }
                }
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn two_processes_over_memory_agree_with_the_model() {
    run(|| async {
        let (one, two) = stores::memory_pair();
        ((), one, two)
    });
}

#[test]
fn two_processes_over_sqlite_agree_with_the_model() {
    run(stores::sqlite_pair);
}

#[test]
fn two_processes_over_postgres_agree_with_the_model() {
    let Some(url) = stores::postgres_url() else {
        return;
    };
    run(|| {
        let url = url.clone();
        async move {
            let (one, two) = stores::postgres_pair(&url).await;
            // The schema goes with its last pool: keep the first as guard.
            (one.clone(), one, two)
        }
    });
}
