//! Property test of catch-up: an index brought from one state of the store
//! to a later one by [`AccessIndex::changes_to`] (re-reading only what the
//! random mutations in between touched) answers exactly like the index
//! [`AccessIndex::build`] compiles from the later state, over chains of
//! catch-ups. The store is modelled with its constraints (grants only to
//! members and existing groups, of existing roles at allowed scopes; a
//! role deleted only when unused; group members are members).

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code fails the test loudly"
)]

use std::collections::{BTreeMap, BTreeSet};

use iamkit_identity::{GroupId, OrgId, RoleId, TeamId, UserId, WorkspaceId};
use iamkit_rbac::{
    AccessIndex, AssignableAt, BuiltinRole, Catalogue, Collective, CollectiveMember, CustomRole,
    Grant, Grantee, Observed, ObservedCollective, ObservedMember, Permission, RoleName, Scope,
};
use proptest::prelude::*;
use uuid::Uuid;

const USERS: usize = 6;
const COLLECTIVES: usize = 4;
const CUSTOM: usize = 3;
/// Scope 0 is the organization, 1 and 2 its workspaces.
const SCOPES: usize = 3;
const BUILTINS: [BuiltinRole; 4] = [
    BuiltinRole::Owner,
    BuiltinRole::Admin,
    BuiltinRole::ReadOnly,
    BuiltinRole::Requester,
];
const NAMES: [&str; 4] = ["users.read", "roles.assign", "audit.read", "org.billing"];
/// The index in `NAMES` of the Owner-only permission.
const OWNER_ONLY: usize = 3;

fn org() -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(0x100))
}
/// Another organization: the user's grants there are in what the store
/// lists for them, and must change nothing.
fn foreign() -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(0x101))
}
fn user(i: usize) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x300 + i as u128))
}
fn collective(i: usize) -> Collective {
    if i.is_multiple_of(2) {
        Collective::Group(GroupId::from_uuid(Uuid::from_u128(0x400 + i as u128)))
    } else {
        Collective::Team(TeamId::from_uuid(Uuid::from_u128(0x500 + i as u128)))
    }
}
fn custom_id(i: usize) -> RoleId {
    RoleId::from_uuid(Uuid::from_u128(0x600 + i as u128))
}
fn workspace(i: usize) -> WorkspaceId {
    WorkspaceId::from_uuid(Uuid::from_u128(0x200 + i as u128))
}
fn scope(i: usize) -> Scope {
    match i {
        0 => Scope::Organization(org()),
        w => Scope::Workspace(org(), workspace(w)),
    }
}

/// A role: a built-in (index into `BUILTINS`) or a custom one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RoleRef {
    Builtin(usize),
    Custom(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Holder {
    User(usize),
    Collective(usize),
}

impl Holder {
    fn grantee(self) -> Grantee {
        match self {
            Self::User(u) => Grantee::User(user(u)),
            Self::Collective(c) => Grantee::from(collective(c)),
        }
    }
}

/// What one mutation touched, as the change log would name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Touched {
    User(usize),
    Collective(usize),
    Role(usize),
}

/// The store's data of the organization.
#[derive(Debug, Clone)]
struct State {
    member: [bool; USERS],
    active: [bool; USERS],
    exists: [bool; COLLECTIVES],
    members: BTreeSet<(usize, usize)>,
    roles: [Option<(BTreeSet<usize>, AssignableAt)>; CUSTOM],
    grants: BTreeMap<(Holder, usize), RoleRef>,
    /// Each user's role in the other organization, if any.
    foreign: [Option<usize>; USERS],
}

#[derive(Debug, Clone)]
enum Op {
    SetGrant {
        holder: Holder,
        scope: usize,
        role: Option<RoleRef>,
    },
    Join {
        c: usize,
        u: usize,
    },
    Leave {
        c: usize,
        u: usize,
    },
    SetActive {
        u: usize,
        active: bool,
    },
    Remove {
        u: usize,
    },
    Add {
        u: usize,
        active: bool,
    },
    CreateCollective {
        c: usize,
    },
    DeleteCollective {
        c: usize,
    },
    PutRole {
        r: usize,
        names: BTreeSet<usize>,
        organization: bool,
        workspace: bool,
    },
    DeleteRole {
        r: usize,
    },
    Foreign {
        u: usize,
        role: Option<usize>,
    },
}

fn role_ref() -> impl Strategy<Value = RoleRef> {
    prop_oneof![
        (0..BUILTINS.len()).prop_map(RoleRef::Builtin),
        (0..CUSTOM).prop_map(RoleRef::Custom),
    ]
}

fn holder() -> impl Strategy<Value = Holder> {
    prop_oneof![
        2 => (0..USERS).prop_map(Holder::User),
        1 => (0..COLLECTIVES).prop_map(Holder::Collective),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (holder(), 0..SCOPES, proptest::option::weighted(0.7, role_ref()))
            .prop_map(|(holder, scope, role)| Op::SetGrant { holder, scope, role }),
        3 => (0..COLLECTIVES, 0..USERS).prop_map(|(c, u)| Op::Join { c, u }),
        2 => (0..COLLECTIVES, 0..USERS).prop_map(|(c, u)| Op::Leave { c, u }),
        3 => (0..USERS, any::<bool>()).prop_map(|(u, active)| Op::SetActive { u, active }),
        1 => (0..USERS).prop_map(|u| Op::Remove { u }),
        2 => (0..USERS, any::<bool>()).prop_map(|(u, active)| Op::Add { u, active }),
        1 => (0..COLLECTIVES).prop_map(|c| Op::CreateCollective { c }),
        1 => (0..COLLECTIVES).prop_map(|c| Op::DeleteCollective { c }),
        2 => (
            0..CUSTOM,
            proptest::collection::btree_set(0..NAMES.len(), 0..3),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(r, names, organization, workspace)| Op::PutRole {
                r,
                names,
                organization,
                workspace,
            }),
        1 => (0..CUSTOM).prop_map(|r| Op::DeleteRole { r }),
        1 => (0..USERS, proptest::option::of(0..BUILTINS.len()))
            .prop_map(|(u, role)| Op::Foreign { u, role }),
    ]
}

impl State {
    fn initial() -> Self {
        let mut grants = BTreeMap::new();
        grants.insert((Holder::User(0), 0), RoleRef::Builtin(0));
        Self {
            member: [true, true, true, true, false, false],
            active: [true; USERS],
            exists: [true, true, false, false],
            members: BTreeSet::new(),
            roles: [None, None, None],
            grants,
            foreign: [None; USERS],
        }
    }

    fn assignable(&self, role: RoleRef, scope: usize) -> bool {
        match role {
            RoleRef::Builtin(_) => true,
            RoleRef::Custom(r) => self.roles[r].as_ref().is_some_and(|(_, at)| {
                if scope == 0 {
                    at.organization
                } else {
                    at.workspace
                }
            }),
        }
    }

    /// Applies `op` where the store would accept it; returns what it
    /// touched (nothing when refused).
    fn apply(&mut self, op: &Op) -> Option<Touched> {
        match op.clone() {
            Op::SetGrant {
                holder,
                scope,
                role,
            } => {
                let exists = match holder {
                    Holder::User(u) => self.member[u],
                    Holder::Collective(c) => self.exists[c],
                };
                if !exists {
                    return None;
                }
                match role {
                    Some(role) if self.assignable(role, scope) => {
                        self.grants.insert((holder, scope), role);
                    }
                    Some(_) => return None,
                    None => {
                        self.grants.remove(&(holder, scope))?;
                    }
                }
                Some(match holder {
                    Holder::User(u) => Touched::User(u),
                    Holder::Collective(c) => Touched::Collective(c),
                })
            }
            Op::Join { c, u } => (self.exists[c] && self.member[u] && self.members.insert((c, u)))
                .then_some(Touched::User(u)),
            Op::Leave { c, u } => self.members.remove(&(c, u)).then_some(Touched::User(u)),
            Op::SetActive { u, active } => {
                (self.member[u] && self.active[u] != active).then(|| {
                    self.active[u] = active;
                    Touched::User(u)
                })
            }
            Op::Remove { u } => self.member[u].then(|| {
                self.member[u] = false;
                self.grants.retain(|(h, _), _| *h != Holder::User(u));
                self.members.retain(|(_, m)| *m != u);
                Touched::User(u)
            }),
            Op::Add { u, active } => (!self.member[u]).then(|| {
                self.member[u] = true;
                self.active[u] = active;
                Touched::User(u)
            }),
            Op::CreateCollective { c } => (!self.exists[c]).then(|| {
                self.exists[c] = true;
                Touched::Collective(c)
            }),
            Op::DeleteCollective { c } => self.exists[c].then(|| {
                self.exists[c] = false;
                self.grants.retain(|(h, _), _| *h != Holder::Collective(c));
                self.members.retain(|(m, _)| *m != c);
                Touched::Collective(c)
            }),
            Op::PutRole {
                r,
                names,
                organization,
                workspace,
            } => {
                if !organization && !workspace {
                    return None;
                }
                // `org.billing` is held in no workspace: a role assignable
                // there may not carry it (CustomRole::new refuses it).
                if workspace && names.contains(&OWNER_ONLY) {
                    return None;
                }
                // Narrowing where a role may be granted is refused while it
                // is granted there.
                let stranded = self.grants.iter().any(|((_, s), role)| {
                    *role == RoleRef::Custom(r) && if *s == 0 { !organization } else { !workspace }
                });
                if stranded {
                    return None;
                }
                self.roles[r] = Some((
                    names,
                    AssignableAt {
                        organization,
                        workspace,
                    },
                ));
                Some(Touched::Role(r))
            }
            Op::DeleteRole { r } => {
                let used = self.grants.values().any(|role| *role == RoleRef::Custom(r));
                (self.roles[r].is_some() && !used).then(|| {
                    self.roles[r] = None;
                    Touched::Role(r)
                })
            }
            Op::Foreign { u, role } => {
                // Another organization's change: nothing of this one.
                self.foreign[u] = role;
                None
            }
        }
    }

    fn role_id(role: RoleRef) -> RoleId {
        match role {
            RoleRef::Builtin(b) => BUILTINS[b].id(),
            RoleRef::Custom(r) => custom_id(r),
        }
    }

    fn custom_role(&self, r: usize, catalogue: &Catalogue) -> Option<CustomRole> {
        self.roles[r].as_ref().map(|(names, at)| {
            let permissions = names
                .iter()
                .map(|n| Permission::parse(NAMES[*n]).unwrap())
                .collect();
            let name = RoleName::parse(&format!("Custom {r}")).unwrap();
            CustomRole::new(custom_id(r), org(), name, permissions, *at, catalogue).unwrap()
        })
    }

    fn grants_of(&self, holder: Holder) -> Vec<Grant> {
        let mut grants: Vec<Grant> = self
            .grants
            .iter()
            .filter(|((h, _), _)| *h == holder)
            .map(|((h, s), role)| Grant {
                grantee: h.grantee(),
                scope: scope(*s),
                role: Self::role_id(*role),
            })
            .collect();
        if let Holder::User(u) = holder
            && let Some(b) = self.foreign[u]
        {
            grants.push(Grant {
                grantee: Grantee::User(user(u)),
                scope: Scope::Organization(foreign()),
                role: BUILTINS[b].id(),
            });
        }
        grants
    }

    fn holds(&self, u: usize) -> bool {
        self.grants.keys().any(|(h, _)| *h == Holder::User(u))
            || self.members.iter().any(|(_, m)| *m == u)
    }

    /// The index compiled from the whole state, as the facade's full build.
    fn build(&self, catalogue: &Catalogue) -> AccessIndex {
        let roles = (0..CUSTOM).filter_map(|r| self.custom_role(r, catalogue));
        let grants = self.grants.iter().map(|((h, s), role)| Grant {
            grantee: h.grantee(),
            scope: scope(*s),
            role: Self::role_id(*role),
        });
        let members = self.members.iter().map(|(c, u)| CollectiveMember {
            collective: collective(*c),
            org: org(),
            user: user(*u),
        });
        let inactive = (0..USERS)
            .filter(|u| self.holds(*u) && !(self.member[*u] && self.active[*u]))
            .map(user);
        AccessIndex::build(catalogue.clone(), roles, grants, members, inactive).unwrap()
    }

    /// What the store holds of the touched entities.
    fn observe(&self, touched: &BTreeSet<Touched>, catalogue: &Catalogue) -> Observed {
        let mut observed = Observed::default();
        for t in touched {
            match *t {
                Touched::User(u) => observed.members.push(ObservedMember {
                    user: user(u),
                    grants: self.grants_of(Holder::User(u)),
                    collectives: self
                        .members
                        .iter()
                        .filter(|(_, m)| *m == u)
                        .map(|(c, _)| collective(*c))
                        .collect(),
                    active: self.member[u] && self.active[u],
                }),
                Touched::Collective(c) => observed.collectives.push(ObservedCollective {
                    collective: collective(c),
                    exists: self.exists[c],
                    members: self
                        .members
                        .iter()
                        .filter(|(m, _)| *m == c)
                        .map(|(_, u)| user(*u))
                        .collect(),
                    grants: self.grants_of(Holder::Collective(c)),
                }),
                Touched::Role(r) => observed
                    .roles
                    .push((custom_id(r), self.custom_role(r, catalogue))),
            }
        }
        observed
    }

    fn active_owners(&self) -> usize {
        (0..USERS)
            .filter(|u| self.member[*u] && self.active[*u])
            .filter(|u| {
                let direct = self.grants.get(&(Holder::User(*u), 0)) == Some(&RoleRef::Builtin(0));
                let inherited = self.members.iter().any(|(c, m)| {
                    m == u
                        && self.grants.get(&(Holder::Collective(*c), 0))
                            == Some(&RoleRef::Builtin(0))
                });
                direct || inherited
            })
            .count()
    }
}

/// Every answer of the two indexes agrees: checks, explanations, roles,
/// standing, and the plain data later changes are planned from.
fn assert_same(caught_up: &AccessIndex, built: &AccessIndex, catalogue: &Catalogue) {
    let scopes = [
        scope(0),
        scope(1),
        scope(2),
        Scope::Workspace(org(), workspace(9)),
    ];
    for u in (0..USERS).map(user) {
        assert_eq!(
            caught_up.is_deactivated(u),
            built.is_deactivated(u),
            "standing of {u:?}"
        );
        assert_eq!(caught_up.roles_of(u, org()), built.roles_of(u, org()));
        assert_eq!(caught_up.collectives_of(u), built.collectives_of(u));
        assert_eq!(
            caught_up.grants_of(Grantee::User(u)),
            built.grants_of(Grantee::User(u))
        );
        for s in scopes {
            assert_eq!(caught_up.access(u, s), built.access(u, s), "{u:?} at {s:?}");
            for name in NAMES {
                let p = catalogue.id(name).unwrap();
                assert_eq!(caught_up.check(u, p, s), built.check(u, p, s));
                assert_eq!(caught_up.explain(u, p, s), built.explain(u, p, s));
            }
        }
    }
    for c in (0..COLLECTIVES).map(collective) {
        assert_eq!(caught_up.members_of(c), built.members_of(c));
        assert_eq!(
            caught_up.grants_of(Grantee::from(c)),
            built.grants_of(Grantee::from(c))
        );
    }
    for r in (0..CUSTOM).map(custom_id) {
        assert_eq!(caught_up.role(r), built.role(r), "custom role {r:?}");
        assert_eq!(caught_up.role_usage(r), built.role_usage(r));
    }
    assert_eq!(
        caught_up.check_index().owner_count(org()),
        built.check_index().owner_count(org())
    );
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn catching_up_equals_building_from_the_later_state(
        batches in proptest::collection::vec(proptest::collection::vec(op(), 0..8), 1..8)
    ) {
        let catalogue = Catalogue::new();
        let mut state = State::initial();
        let mut index = state.build(&catalogue);
        for batch in batches {
            let touched: BTreeSet<Touched> =
                batch.iter().filter_map(|op| state.apply(op)).collect();
            let mut observed = state.observe(&touched, &catalogue);
            for u in index.standing_needed(&observed) {
                let i = (0..USERS).find(|i| user(*i) == u).unwrap();
                observed.standing.insert(u, state.member[i] && state.active[i]);
            }
            let changes = index.changes_to(org(), &observed).unwrap();
            let built = state.build(&catalogue);
            let mut caught_up = index.clone();
            let applied = caught_up.apply_all(changes);
            match applied {
                Ok(()) => assert_same(&caught_up, &built, &catalogue),
                Err(e) => {
                    // Only where no active Owner is left (whether or not
                    // one was before): the facade builds.
                    prop_assert!(
                        state.active_owners() == 0,
                        "catch-up refused ({e}) with {} active owners left",
                        state.active_owners()
                    );
                    caught_up = built;
                }
            }
            index = caught_up;
        }
    }
}
