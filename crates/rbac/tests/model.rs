//! Model-based property tests: the incremental index against a naive
//! resolver that scans every grant, after every step of random mutation
//! sequences; plus the escalation and last-Owner guards.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on a broken fixture"
)]

use std::collections::{BTreeMap, BTreeSet};

use iamkit_identity::{GroupId, OrgId, RoleId, TeamId, UserId, WorkspaceId};
use iamkit_rbac::{
    AccessIndex, AssignableAt, BuiltinRole, Catalogue, Change, Collective, CollectiveMember,
    CustomRole, Effect, Error, Grant, Grantee, Permission, PermissionId, PermissionSet, RoleName,
    Scope, Source,
};
use proptest::prelude::*;
use uuid::Uuid;

const ORGS: u128 = 2;
const WORKSPACES: u128 = 3;
const USERS: u128 = 5;
const COLLECTIVES: u8 = 4;
const CUSTOM_ROLES: u8 = 4;

fn org(i: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(0x100 + i))
}
fn ws(o: u128, i: u128) -> WorkspaceId {
    WorkspaceId::from_uuid(Uuid::from_u128(0x200 + o * 16 + i))
}
fn user(i: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x300 + i))
}
/// Collective i belongs to org i % 2; even/odd pairs are groups, then teams.
fn collective(i: u8) -> (Collective, OrgId) {
    let c = if i < 2 {
        Collective::Group(GroupId::from_uuid(Uuid::from_u128(0x400 + u128::from(i))))
    } else {
        Collective::Team(TeamId::from_uuid(Uuid::from_u128(0x500 + u128::from(i))))
    };
    (c, org(u128::from(i % 2)))
}
fn custom_role_id(i: u8) -> RoleId {
    RoleId::from_uuid(Uuid::from_u128(0x600 + u128::from(i)))
}
fn role_id(i: u8) -> RoleId {
    match BuiltinRole::ALL.get(usize::from(i)) {
        Some(r) => r.id(),
        None => custom_role_id(i - 6),
    }
}
/// Every scope of an org: the org, its workspaces and one never granted
/// (a workspace "created later").
fn scopes_of(o: u128) -> Vec<Scope> {
    let mut v = vec![Scope::Organization(org(o))];
    v.extend((0..=WORKSPACES).map(|w| Scope::Workspace(org(o), ws(o, w))));
    v
}
fn scope(o: u128, s: u8) -> Scope {
    match s {
        0 => Scope::Organization(org(o)),
        w => Scope::Workspace(org(o), ws(o, u128::from(w - 1))),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Assign {
        grantee: u8,
        org: u8,
        scope: u8,
        role: u8,
    },
    Revoke {
        grantee: u8,
        org: u8,
        scope: u8,
    },
    AddMember {
        collective: u8,
        user: u8,
    },
    RemoveMember {
        collective: u8,
        user: u8,
    },
    Deactivate(u8),
    Reactivate(u8),
    RemoveFromOrg {
        user: u8,
        org: u8,
    },
    DeleteCollective(u8),
    PutRole {
        role: u8,
        permissions: u32,
        at_org: bool,
        at_ws: bool,
    },
    DeleteRole(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let u = 0..USERS as u8;
    prop_oneof![
        6 => (0..USERS as u8 + COLLECTIVES, 0..ORGS as u8, 0..=WORKSPACES as u8, 0..6 + CUSTOM_ROLES)
            .prop_map(|(grantee, org, scope, role)| Op::Assign { grantee, org, scope, role }),
        2 => (0..USERS as u8 + COLLECTIVES, 0..ORGS as u8, 0..=WORKSPACES as u8)
            .prop_map(|(grantee, org, scope)| Op::Revoke { grantee, org, scope }),
        3 => (0..COLLECTIVES, u.clone()).prop_map(|(collective, user)| Op::AddMember { collective, user }),
        1 => (0..COLLECTIVES, u.clone()).prop_map(|(collective, user)| Op::RemoveMember { collective, user }),
        1 => u.clone().prop_map(Op::Deactivate),
        1 => u.clone().prop_map(Op::Reactivate),
        1 => (u, 0..ORGS as u8).prop_map(|(user, org)| Op::RemoveFromOrg { user, org }),
        1 => (0..COLLECTIVES).prop_map(Op::DeleteCollective),
        2 => (0..CUSTOM_ROLES, any::<u32>(), any::<bool>(), any::<bool>())
            .prop_map(|(role, permissions, at_org, at_ws)| Op::PutRole { role, permissions, at_org, at_ws }),
        1 => (0..CUSTOM_ROLES).prop_map(Op::DeleteRole),
    ]
}

/// The naive model: plain collections, resolved by scanning everything.
#[derive(Debug, Clone, Default)]
struct Model {
    grants: BTreeMap<(Grantee, Scope), RoleId>,
    members: BTreeSet<(Collective, UserId)>,
    deactivated: BTreeSet<UserId>,
    custom: BTreeMap<RoleId, CustomRole>,
}

struct World {
    catalogue: Catalogue,
}

impl World {
    fn new() -> Self {
        let mut catalogue = Catalogue::new();
        catalogue
            .register(
                Permission::parse("workflows.run").unwrap(),
                &[BuiltinRole::Owner, BuiltinRole::Requester],
            )
            .unwrap();
        Self { catalogue }
    }

    fn role_permissions(
        &self,
        model: &Model,
        role: RoleId,
    ) -> Option<(PermissionSet, Option<OrgId>, AssignableAt)> {
        if let Some(b) = BuiltinRole::from_id(role) {
            return Some((
                self.catalogue.builtin_permissions(b),
                None,
                AssignableAt::ANY,
            ));
        }
        model.custom.get(&role).map(|r| {
            (
                self.catalogue
                    .set_of(r.permissions.iter().map(Permission::as_str)),
                Some(r.org),
                r.assignable_at,
            )
        })
    }

    fn holds(model: &Model, grantee: Grantee, u: UserId) -> bool {
        match grantee.collective() {
            None => grantee == Grantee::User(u),
            Some(c) => model.members.contains(&(c, u)),
        }
    }

    /// Every (role, source, grant scope) that justifies `permission` at `scope`.
    fn reasons(
        &self,
        model: &Model,
        u: UserId,
        p: PermissionId,
        at: Scope,
    ) -> BTreeSet<(RoleId, Source, Scope)> {
        let mut out = BTreeSet::new();
        if model.deactivated.contains(&u) {
            return out;
        }
        let admin = self.catalogue.builtin_permissions(BuiltinRole::Admin);
        for ((grantee, granted_at), role) in &model.grants {
            if !Self::holds(model, *grantee, u) {
                continue;
            }
            let Some((perms, _, _)) = self.role_permissions(model, *role) else {
                continue;
            };
            let direct = *granted_at == at && perms.contains(p);
            let org_admin = matches!(at, Scope::Workspace(..))
                && *granted_at == Scope::Organization(at.org())
                && [BuiltinRole::Owner.id(), BuiltinRole::Admin.id()].contains(role)
                && admin.contains(p);
            if direct || org_admin {
                out.insert((*role, Source::from(*grantee), *granted_at));
            }
        }
        out
    }

    fn owners(&self, model: &Model, o: OrgId) -> BTreeSet<UserId> {
        (0..USERS)
            .map(user)
            .filter(|u| !model.deactivated.contains(u))
            .filter(|u| {
                model.grants.iter().any(|((g, s), r)| {
                    *s == Scope::Organization(o)
                        && *r == BuiltinRole::Owner.id()
                        && Self::holds(model, *g, *u)
                })
            })
            .collect()
    }

    /// Turns an op into a change and the model's expected outcome; `None`
    /// for a custom role assignable nowhere, which `CustomRole::new` refuses
    /// before anything reaches the index.
    fn step(&self, model: &Model, op: &Op) -> Option<(Change, Result<Model, ()>)> {
        let mut next = model.clone();
        let grantee_of = |g: u8, o: u8| -> (Grantee, u128) {
            if g < USERS as u8 {
                (Grantee::User(user(u128::from(g))), u128::from(o))
            } else {
                let (c, co) = collective(g - USERS as u8);
                (Grantee::from(c), if co == org(0) { 0 } else { 1 })
            }
        };
        let (change, valid) = match *op {
            Op::Assign {
                grantee,
                org: o,
                scope: s,
                role,
            } => {
                let (g, o) = grantee_of(grantee, o);
                let sc = scope(o, s);
                let r = role_id(role);
                let valid = self.role_permissions(model, r).is_some_and(|(_, ro, at)| {
                    ro.is_none_or(|ro| ro == sc.org()) && at.allows(sc.kind())
                });
                if valid {
                    next.grants.insert((g, sc), r);
                }
                (
                    Change::Assign(Grant {
                        grantee: g,
                        scope: sc,
                        role: r,
                    }),
                    valid,
                )
            }
            Op::Revoke {
                grantee,
                org: o,
                scope: s,
            } => {
                let (g, o) = grantee_of(grantee, o);
                let sc = scope(o, s);
                next.grants.remove(&(g, sc));
                (
                    Change::Revoke {
                        grantee: g,
                        scope: sc,
                    },
                    true,
                )
            }
            Op::AddMember {
                collective: c,
                user: u,
            } => {
                let (c, o) = collective(c);
                next.members.insert((c, user(u128::from(u))));
                (
                    Change::AddMember(CollectiveMember {
                        collective: c,
                        org: o,
                        user: user(u128::from(u)),
                    }),
                    true,
                )
            }
            Op::RemoveMember {
                collective: c,
                user: u,
            } => {
                let (c, o) = collective(c);
                next.members.remove(&(c, user(u128::from(u))));
                (
                    Change::RemoveMember(CollectiveMember {
                        collective: c,
                        org: o,
                        user: user(u128::from(u)),
                    }),
                    true,
                )
            }
            Op::Deactivate(u) => {
                next.deactivated.insert(user(u128::from(u)));
                (Change::Deactivate(user(u128::from(u))), true)
            }
            Op::Reactivate(u) => {
                next.deactivated.remove(&user(u128::from(u)));
                (Change::Reactivate(user(u128::from(u))), true)
            }
            Op::RemoveFromOrg { user: u, org: o } => {
                let (u, o) = (user(u128::from(u)), org(u128::from(o)));
                next.grants
                    .retain(|(g, s), _| !(*g == Grantee::User(u) && s.org() == o));
                next.members.retain(|(c, m)| {
                    !(*m == u && (0..COLLECTIVES).any(|i| collective(i) == (*c, o)))
                });
                (Change::RemoveFromOrg { user: u, org: o }, true)
            }
            Op::DeleteCollective(c) => {
                let (c, _) = collective(c);
                next.grants.retain(|(g, _), _| *g != Grantee::from(c));
                next.members.retain(|(m, _)| *m != c);
                (Change::DeleteCollective(c), true)
            }
            Op::PutRole {
                role,
                permissions,
                at_org,
                at_ws,
            } => {
                let id = custom_role_id(role);
                let o = org(u128::from(role % 2));
                let names: BTreeSet<Permission> = self
                    .catalogue
                    .iter()
                    .filter(|(p, _)| permissions & (1 << p.index()) != 0)
                    .map(|(_, n)| n.clone())
                    .collect();
                let at = AssignableAt {
                    organization: at_org,
                    workspace: at_ws,
                };
                let name = RoleName::parse(&format!("Custom {role}")).unwrap();
                match CustomRole::new(id, o, name, names, at, &self.catalogue) {
                    Ok(r) => {
                        let stranded = model
                            .grants
                            .iter()
                            .any(|((_, s), g)| *g == id && !at.allows(s.kind()));
                        next.custom.insert(id, r.clone());
                        (Change::PutRole(r), !stranded)
                    }
                    Err(Error::NotGrantableInWorkspaces { permission }) => {
                        // Beyond the Admin set: nobody holds it in a
                        // workspace, so the role could never be granted
                        // there.
                        let admin = self.catalogue.builtin_permissions(BuiltinRole::Admin);
                        let id = self.catalogue.id(permission.as_str()).unwrap();
                        assert!(at_ws && !admin.contains(id));
                        return None;
                    }
                    Err(e) => {
                        assert_eq!(e, Error::NotAssignableAnywhere);
                        assert!(!at_org && !at_ws);
                        return None;
                    }
                }
            }
            Op::DeleteRole(role) => {
                let id = custom_role_id(role);
                let valid =
                    model.custom.contains_key(&id) && !model.grants.values().any(|r| *r == id);
                next.custom.remove(&id);
                (Change::DeleteRole(id), valid)
            }
        };
        if !valid {
            return Some((change, Err(())));
        }
        let keeps_owner = (0..ORGS)
            .map(org)
            .all(|o| self.owners(model, o).is_empty() || !self.owners(&next, o).is_empty());
        Some((change, if keeps_owner { Ok(next) } else { Err(()) }))
    }

    fn assert_same(&self, index: &AccessIndex, model: &Model) {
        for o in 0..ORGS {
            assert_eq!(
                index.check_index().owner_count(org(o)),
                self.owners(model, org(o)).len()
            );
            for sc in scopes_of(o) {
                for u in (0..USERS).map(user) {
                    for (p, name) in self.catalogue.iter() {
                        let expected = self.reasons(model, u, p, sc);
                        assert_eq!(
                            index.check(u, p, sc),
                            !expected.is_empty(),
                            "{u:?} {name} {sc:?}"
                        );
                        let decision = index.explain(u, p, sc);
                        let got: BTreeSet<_> = decision
                            .reasons
                            .iter()
                            .map(|r| (r.role, r.source, r.scope))
                            .collect();
                        assert_eq!(got, expected, "{u:?} {name} {sc:?}");
                        assert_eq!(decision.effect == Effect::Allow, !expected.is_empty());
                    }
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn index_matches_naive_resolver_after_every_step(ops in prop::collection::vec(op(), 1..30)) {
        let world = World::new();
        let mut model = Model::default();
        let mut index = AccessIndex::new(world.catalogue.clone());
        let mut versions: BTreeMap<OrgId, u64> = BTreeMap::new();
        for op in &ops {
            let Some((change, expected)) = world.step(&model, op) else { continue };
            let validated = index.validate(&change);
            let got = index.apply(change);
            // Validating without applying decides exactly like applying.
            prop_assert_eq!(&validated, &got, "{:?}", op);
            match expected {
                Ok(next) => {
                    prop_assert!(got.is_ok(), "{op:?}: {got:?}");
                    model = next;
                }
                Err(()) => prop_assert!(got.is_err(), "{op:?} should fail"),
            }
            // Versions never go back.
            for o in (0..ORGS).map(org) {
                let v = index.version(o);
                prop_assert!(v >= versions.get(&o).copied().unwrap_or(0));
                versions.insert(o, v);
            }
            world.assert_same(&index, &model);
        }
        // A full build from the same data gives the same answers.
        let built = AccessIndex::build(
            world.catalogue.clone(),
            model.custom.values().cloned(),
            model.grants.iter().map(|((g, s), r)| Grant { grantee: *g, scope: *s, role: *r }),
            model.members.iter().map(|(c, u)| CollectiveMember {
                collective: *c,
                org: (0..COLLECTIVES).map(collective).find(|(x, _)| x == c).unwrap().1,
                user: *u,
            }),
            model.deactivated.iter().copied(),
        )
        .unwrap();
        world.assert_same(&built, &model);
    }

    #[test]
    fn escalation_guard_never_lets_an_actor_grant_what_it_lacks(
        ops in prop::collection::vec(op(), 1..30),
        actor in 0..USERS,
        target in 0..USERS as u8 + COLLECTIVES,
        o in 0..ORGS as u8,
        s in 0..=WORKSPACES as u8,
        role in 0..6 + CUSTOM_ROLES,
    ) {
        let world = World::new();
        let mut model = Model::default();
        let mut index = AccessIndex::new(world.catalogue.clone());
        for op in &ops {
            let Some((change, expected)) = world.step(&model, op) else { continue };
            if index.apply(change).is_ok() {
                model = expected.unwrap();
            }
        }
        let actor = user(actor);
        let (grantee, o) = if target < USERS as u8 {
            (Grantee::User(user(u128::from(target))), u128::from(o))
        } else {
            let (c, co) = collective(target - USERS as u8);
            (Grantee::from(c), if co == org(0) { 0 } else { 1 })
        };
        let at = scope(o, s);
        let grant = Grant { grantee, scope: at, role: role_id(role) };
        let held: PermissionSet = world
            .catalogue
            .iter()
            .map(|(p, _)| p)
            .filter(|p| !world.reasons(&model, actor, *p, at).is_empty())
            .collect();
        let is_owner = world.owners(&model, at.org()).contains(&actor);
        let covered = |r: RoleId| {
            world.role_permissions(&model, r).is_some_and(|(perms, _, _)| perms.is_subset(&held))
                && (r != BuiltinRole::Owner.id() || is_owner)
        };
        match index.ensure_can_assign(actor, &grant) {
            Ok(()) => {
                prop_assert!(covered(grant.role), "granted a role beyond the actor's permissions");
                if let Some(replaced) = model.grants.get(&(grantee, at)) {
                    prop_assert!(covered(*replaced), "replaced a role beyond the actor's permissions");
                }
            }
            Err(Error::UnknownRole { .. }) => prop_assert!(world.role_permissions(&model, grant.role).is_none()),
            Err(_) => {
                let replaced_ok = model.grants.get(&(grantee, at)).is_none_or(|r| covered(*r));
                prop_assert!(!(covered(grant.role) && replaced_ok), "refused a grant the actor could make");
            }
        }
        if let Some(c) = grantee.collective()
            && index.ensure_can_change_membership(actor, c).is_ok()
        {
                for ((g, s), r) in &model.grants {
                    if *g == grantee {
                        let held_there: PermissionSet = world.catalogue.iter().map(|(p, _)| p)
                            .filter(|p| !world.reasons(&model, actor, *p, *s).is_empty()).collect();
                        let (perms, _, _) = world.role_permissions(&model, *r).unwrap();
                        prop_assert!(perms.is_subset(&held_there));
                        prop_assert!(*r != BuiltinRole::Owner.id() || world.owners(&model, s.org()).contains(&actor));
                    }
                }
        }
    }

    #[test]
    fn an_org_with_an_owner_keeps_one_across_any_sequence(ops in prop::collection::vec(op(), 1..40)) {
        let world = World::new();
        let mut index = AccessIndex::new(world.catalogue.clone());
        let mut had_owner = BTreeSet::new();
        let mut model = Model::default();
        for op in &ops {
            let Some((change, expected)) = world.step(&model, op) else { continue };
            if index.apply(change).is_ok() {
                model = expected.unwrap();
            }
            for o in (0..ORGS).map(org) {
                let owners = index.check_index().owner_count(o);
                if had_owner.contains(&o) {
                    prop_assert!(owners >= 1, "{o:?} lost its last owner");
                }
                if owners > 0 {
                    had_owner.insert(o);
                }
            }
        }
    }
}
