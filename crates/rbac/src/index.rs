//! The access index: the plain data (roles, grants, memberships,
//! deactivated users) and the [`CheckIndex`] compiled from it, kept in step
//! incrementally.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use iamkit_identity::{OrgId, RoleId, UserId, WorkspaceId};
use smallvec::SmallVec;

use crate::error::{Error, Result};
use crate::grants::{Collective, CollectiveMember, Grant, Grantee, Scope, ScopeKind, Source};
use crate::permissions::{Catalogue, Permission, PermissionId, PermissionSet};
use crate::roles::{BuiltinRole, CustomRole, RoleDefinition};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One grantee's roles by scope, sorted by scope.
///
/// Nearly every grantee holds one role (a member's organization role), so
/// one is kept inline: a `BTreeMap` here allocated a node of eleven slots,
/// about 550 B per member, more than the rest of a member's entry.
#[derive(Debug, Clone, Default)]
struct ScopedRoles(SmallVec<[(Scope, RoleId); 1]>);

impl ScopedRoles {
    fn position(&self, scope: &Scope) -> std::result::Result<usize, usize> {
        self.0.binary_search_by(|(s, _)| s.cmp(scope))
    }

    fn get(&self, scope: &Scope) -> Option<&RoleId> {
        let at = self.position(scope).ok()?;
        self.0.get(at).map(|(_, role)| role)
    }

    /// Sets the role at `scope`, returning the one it replaces.
    fn insert(&mut self, scope: Scope, role: RoleId) -> Option<RoleId> {
        match self.position(&scope) {
            Ok(at) => self
                .0
                .get_mut(at)
                .map(|(_, held)| std::mem::replace(held, role)),
            Err(at) => {
                self.0.insert(at, (scope, role));
                None
            }
        }
    }

    fn remove(&mut self, scope: &Scope) -> Option<RoleId> {
        let at = self.position(scope).ok()?;
        Some(self.0.remove(at).1)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn keys(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter().map(|(scope, _)| scope)
    }

    fn iter(&self) -> impl Iterator<Item = (&Scope, &RoleId)> {
        self.0.iter().map(|(scope, role)| (scope, role))
    }
}

/// The groups and teams one user belongs to, sorted; a few at most, so
/// kept inline rather than in a `BTreeSet` node of eleven slots.
#[derive(Debug, Clone, Default)]
struct CollectiveSet(SmallVec<[Collective; 2]>);

impl CollectiveSet {
    fn insert(&mut self, c: Collective) {
        if let Err(at) = self.0.binary_search(&c) {
            self.0.insert(at, c);
        }
    }

    fn remove(&mut self, c: &Collective) {
        if let Ok(at) = self.0.binary_search(c) {
            self.0.remove(at);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn iter(&self) -> std::slice::Iter<'_, Collective> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a CollectiveSet {
    type Item = &'a Collective;
    type IntoIter = std::slice::Iter<'a, Collective>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The set-table slot of the empty set.
const EMPTY_SET: u32 = 0;

/// Distinct permission sets, stored flat so a check is one indexed load.
///
/// Users share sets (most hold the same few role combinations), so an entry
/// stores a 4-byte slot instead of a bitset. Slots are never freed: their
/// number is bounded by the distinct role combinations in use, not by users.
#[derive(Debug, Clone)]
struct SetTable {
    stride: usize,
    words: Vec<u64>,
    slots: FastMap<Vec<u64>, u32>,
}

impl SetTable {
    fn new(permissions: usize) -> Self {
        let stride = permissions.div_ceil(64).max(1);
        let mut table = Self {
            stride,
            words: Vec::new(),
            slots: FastMap::default(),
        };
        let empty = table.intern(&PermissionSet::new());
        debug_assert_eq!(empty, EMPTY_SET);
        table
    }

    fn intern(&mut self, set: &PermissionSet) -> u32 {
        let mut row = vec![0u64; self.stride];
        for (dst, src) in row.iter_mut().zip(set.words()) {
            *dst = *src;
        }
        if let Some(&slot) = self.slots.get(&row) {
            return slot;
        }
        let slot = u32::try_from(self.words.len() / self.stride).unwrap_or(EMPTY_SET);
        if slot == EMPTY_SET && !self.words.is_empty() {
            // 2^32 distinct sets cannot arise from real role combinations;
            // if it ever did, deny rather than alias another set.
            return EMPTY_SET;
        }
        self.words.extend_from_slice(&row);
        self.slots.insert(row, slot);
        slot
    }

    #[inline]
    fn contains(&self, slot: u32, permission: PermissionId) -> bool {
        let word = slot as usize * self.stride + permission.index() / 64;
        self.words
            .get(word)
            .is_some_and(|w| w & (1 << (permission.index() % 64)) != 0)
    }

    fn get(&self, slot: u32) -> PermissionSet {
        let start = slot as usize * self.stride;
        let mut set = PermissionSet::new();
        for (i, word) in self
            .words
            .get(start..start + self.stride)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            for bit in 0..64 {
                if word & (1 << bit) != 0
                    && let Some(id) = u32::try_from(i * 64 + bit).ok().map(PermissionId::from_raw)
                {
                    set.insert(id);
                }
            }
        }
        set
    }
}

/// What one user may do in one organization, compiled.
#[derive(Debug, Clone)]
struct UserAccess {
    /// Set slot at organization scope.
    org: u32,
    /// Set slot in any workspace not listed below: the Admin set for an
    /// organization Owner or Admin (so workspaces created later are covered),
    /// else the empty set.
    other_workspaces: u32,
    /// Holds Owner at organization scope and is active.
    owner: bool,
    /// How many of `inline` are used.
    inline_len: u8,
    /// More workspace entries live in [`CheckIndex::overflow`].
    overflowed: bool,
    /// Workspaces with their own grants as (workspace number, set slot),
    /// the org-admin set folded in. Stored in the hash table's own bucket so
    /// a check touches one cache line run, not a second heap allocation.
    inline: [WorkspaceEntry; INLINE_WORKSPACES],
}

/// A workspace entry of a user: (workspace number, set slot).
type WorkspaceEntry = (u32, u32);

/// Workspace entries kept inline per (user, organization): users hold a
/// handful of workspace roles (direct plus via groups); more spill over.
const INLINE_WORKSPACES: usize = 6;

impl UserAccess {
    fn entries(&self) -> &[WorkspaceEntry] {
        self.inline
            .get(..usize::from(self.inline_len))
            .unwrap_or_default()
    }
}

/// Per-organization bookkeeping, off the check path.
#[derive(Debug, Clone, Default)]
struct OrgState {
    version: u64,
    owners: usize,
}

/// The compiled, read-only part of an [`AccessIndex`]: per (user,
/// organization), a slot for the organization set, per-workspace slots and
/// the "org admin ⇒ every workspace" slot.
///
/// A check is one hash lookup on (organization, user); at workspace scope
/// also the workspace's number from a small table (one entry per
/// workspace), then a scan of the user's few inline workspace entries and a
/// bit test. Its cost does not depend on how many users, groups or grants
/// the organization has.
#[derive(Debug, Clone)]
pub struct CheckIndex {
    users: FastMap<(OrgId, UserId), UserAccess>,
    /// Workspace entries beyond [`INLINE_WORKSPACES`].
    overflow: FastMap<(OrgId, UserId), Box<[WorkspaceEntry]>>,
    /// Workspace ids numbered densely, so an entry is 8 bytes. Numbers are
    /// never reused; there is one per workspace that ever held a grant.
    workspace_numbers: FastMap<WorkspaceId, u32>,
    orgs: FastMap<OrgId, OrgState>,
    sets: SetTable,
}

impl CheckIndex {
    /// Whether `user` holds `permission` at `scope`. Deny by default: an
    /// unknown user, organization or permission, or a deactivated user, is
    /// denied (SECURITY.md 24).
    #[inline]
    pub fn check(&self, user: UserId, permission: PermissionId, scope: Scope) -> bool {
        let Some(access) = self.users.get(&(scope.org(), user)) else {
            return false;
        };
        let slot = self.slot(access, user, scope);
        self.sets.contains(slot, permission)
    }

    #[inline]
    fn slot(&self, access: &UserAccess, user: UserId, scope: Scope) -> u32 {
        let Scope::Workspace(org, ws) = scope else {
            return access.org;
        };
        // A workspace no grant ever named (e.g. created later) has no
        // number: only the org-admin slot applies there.
        let Some(number) = self.workspace_numbers.get(&ws) else {
            return access.other_workspaces;
        };
        if let Some((_, slot)) = access.entries().iter().find(|(w, _)| w == number) {
            return *slot;
        }
        if access.overflowed
            && let Some((_, slot)) = self
                .overflow
                .get(&(org, user))
                .and_then(|more| more.iter().find(|(w, _)| w == number))
        {
            return *slot;
        }
        access.other_workspaces
    }

    /// Every permission `user` holds at `scope`.
    pub fn permissions(&self, user: UserId, scope: Scope) -> PermissionSet {
        let Some(access) = self.users.get(&(scope.org(), user)) else {
            return PermissionSet::new();
        };
        let slot = self.slot(access, user, scope);
        self.sets.get(slot)
    }

    /// Whether `user` is an active Owner of `org`.
    pub fn is_owner(&self, user: UserId, org: OrgId) -> bool {
        self.users.get(&(org, user)).is_some_and(|a| a.owner)
    }

    /// The organization's version: it grows on every change that touches
    /// the organization's grants, members or roles, so a caller holding an
    /// older number knows its cached answers are stale.
    pub fn version(&self, org: OrgId) -> u64 {
        self.orgs.get(&org).map_or(0, |o| o.version)
    }

    /// Number of active Owners of `org`.
    pub fn owner_count(&self, org: OrgId) -> usize {
        self.orgs.get(&org).map_or(0, |o| o.owners)
    }

    /// Number of (user, organization) entries.
    pub fn entries(&self) -> usize {
        self.users.len()
    }
}

/// A change to the data the index is compiled from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Grants a role; replaces the grantee's role at that scope if any.
    Assign(Grant),
    /// Removes the grantee's role at that scope, if any.
    Revoke {
        /// Who.
        grantee: Grantee,
        /// Where.
        scope: Scope,
    },
    /// Adds a user to a group or team.
    AddMember(CollectiveMember),
    /// Removes a user from a group or team.
    RemoveMember(CollectiveMember),
    /// Deactivates a user: they can do nothing anywhere.
    Deactivate(UserId),
    /// Reactivates a user.
    Reactivate(UserId),
    /// Removes a user from an organization: their direct grants there and
    /// their memberships of its groups and teams.
    RemoveFromOrg {
        /// Who.
        user: UserId,
        /// Which organization.
        org: OrgId,
    },
    /// Deletes a group or team with its grants and memberships.
    DeleteCollective(Collective),
    /// Creates or updates a custom role.
    PutRole(CustomRole),
    /// Deletes an unused custom role.
    DeleteRole(RoleId),
}

/// One primitive edit of the plain data; its inverse is another primitive.
#[derive(Debug, Clone)]
enum Edit {
    Grant(Grantee, Scope, Option<RoleId>),
    Member(Collective, UserId, bool),
    Deactivated(UserId, bool),
    CollectiveOrg(Collective, Option<OrgId>),
    Role(RoleId, Option<RoleDefinition>),
}

#[derive(Debug, Clone, Default)]
struct CollectiveData {
    org: Option<OrgId>,
    members: BTreeSet<UserId>,
}

/// The plain data as a change's edits would leave it, read through to the
/// index for everything they do not touch: what [`AccessIndex::validate`]
/// evaluates Owner status on.
struct Draft<'a> {
    base: &'a AccessIndex,
    grants: HashMap<(Grantee, Scope), Option<RoleId>>,
    members: HashMap<(Collective, UserId), bool>,
    deactivated: HashMap<UserId, bool>,
    collective_orgs: HashMap<Collective, Option<OrgId>>,
}

impl<'a> Draft<'a> {
    fn new(base: &'a AccessIndex, edits: &[Edit]) -> Self {
        let mut draft = Self {
            base,
            grants: HashMap::new(),
            members: HashMap::new(),
            deactivated: HashMap::new(),
            collective_orgs: HashMap::new(),
        };
        for edit in edits {
            match edit {
                Edit::Grant(grantee, scope, role) => {
                    draft.grants.insert((*grantee, *scope), *role);
                }
                Edit::Member(c, user, present) => {
                    draft.members.insert((*c, *user), *present);
                }
                Edit::Deactivated(user, on) => {
                    draft.deactivated.insert(*user, *on);
                }
                Edit::CollectiveOrg(c, org) => {
                    draft.collective_orgs.insert(*c, *org);
                }
                // Custom roles never make an Owner, and built-ins do not
                // change.
                Edit::Role(..) => {}
            }
        }
        draft
    }

    fn grant(&self, grantee: Grantee, scope: Scope) -> Option<RoleId> {
        match self.grants.get(&(grantee, scope)) {
            Some(role) => *role,
            None => self.base.grant_of(grantee, scope),
        }
    }

    fn collective_org(&self, c: Collective) -> Option<OrgId> {
        match self.collective_orgs.get(&c) {
            Some(org) => *org,
            None => self.base.collective_org(c),
        }
    }

    /// Members of `c` before or after the edits.
    fn members_ever(&self, c: Collective) -> BTreeSet<UserId> {
        let mut users: BTreeSet<UserId> = self
            .base
            .collectives
            .get(&c)
            .into_iter()
            .flat_map(|d| d.members.iter().copied())
            .collect();
        users.extend(
            self.members
                .keys()
                .filter(|(x, _)| *x == c)
                .map(|(_, user)| *user),
        );
        users
    }

    /// Groups and teams `user` belongs to after the edits.
    fn collectives_of(&self, user: UserId) -> BTreeSet<Collective> {
        let mut of: BTreeSet<Collective> = self
            .base
            .user_collectives
            .get(&user)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for ((c, u), present) in &self.members {
            if *u == user {
                if *present {
                    of.insert(*c);
                } else {
                    of.remove(c);
                }
            }
        }
        of
    }

    /// Whether `user` is an active Owner of `org` after the edits, as
    /// [`AccessIndex::recompute`] would find.
    fn is_owner(&self, user: UserId, org: OrgId) -> bool {
        let deactivated = self
            .deactivated
            .get(&user)
            .copied()
            .unwrap_or_else(|| self.base.deactivated.contains(&user));
        if deactivated {
            return false;
        }
        let at = Scope::Organization(org);
        let owner = |grantee| {
            self.grant(grantee, at).is_some_and(|role| {
                self.base
                    .roles
                    .get(&role)
                    .is_some_and(|d| d.builtin == Some(BuiltinRole::Owner))
            })
        };
        owner(Grantee::User(user))
            || self
                .collectives_of(user)
                .into_iter()
                .any(|c| self.collective_org(c) == Some(org) && owner(Grantee::from(c)))
    }

    /// Every (user, organization) whose Owner status the edits could
    /// change (a superset: the others keep theirs).
    fn touched(&self, edits: &[Edit]) -> BTreeSet<(UserId, OrgId)> {
        let mut touched = BTreeSet::new();
        let orgs_of = |c: Collective| {
            [self.base.collective_org(c), self.collective_org(c)]
                .into_iter()
                .flatten()
        };
        for edit in edits {
            match edit {
                Edit::Grant(grantee, Scope::Organization(org), _) => match grantee.collective() {
                    None => {
                        if let Grantee::User(user) = grantee {
                            touched.insert((*user, *org));
                        }
                    }
                    Some(c) => {
                        touched.extend(self.members_ever(c).into_iter().map(|u| (u, *org)));
                    }
                },
                Edit::Grant(_, Scope::Workspace(..), _) | Edit::Role(..) => {}
                Edit::Member(c, user, _) => {
                    touched.extend(orgs_of(*c).map(|org| (*user, org)));
                }
                Edit::Deactivated(user, _) => {
                    touched.extend(self.base.orgs_of(*user).into_iter().map(|org| (*user, org)));
                }
                Edit::CollectiveOrg(c, _) => {
                    for user in self.members_ever(*c) {
                        touched.extend(orgs_of(*c).map(|org| (user, org)));
                    }
                }
            }
        }
        touched
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// At least one grant justifies the permission.
    Allow,
    /// No grant does, or the user is deactivated.
    Deny,
}

/// One grant that justifies a decision.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reason {
    /// The role.
    pub role: RoleId,
    /// Its display name.
    pub role_name: String,
    /// How the user holds it.
    pub source: Source,
    /// Where it is granted: the asked scope, or the organization when an
    /// organization Owner or Admin acts in a workspace.
    pub scope: Scope,
}

/// An explained authorization decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow or deny.
    pub effect: Effect,
    /// Every grant that justifies an allow, sorted; empty on deny.
    pub reasons: Vec<Reason>,
}

impl Decision {
    /// Whether the decision allows.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }
}

/// One role a user holds, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleAssignment {
    /// Where the role is granted.
    pub scope: Scope,
    /// The role.
    pub role: RoleId,
    /// Its display name.
    pub role_name: String,
    /// Direct, or via which group or team.
    pub source: Source,
}

/// What an actor holds at one scope, as the guards need it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Access {
    /// Effective permissions at the scope.
    pub permissions: PermissionSet,
    /// Whether the actor is an active Owner of the scope's organization.
    pub is_owner: bool,
}

/// The authorization model of every organization: the plain data and the
/// [`CheckIndex`] compiled from it.
///
/// Its inputs are plain data (grants, memberships, deactivated users,
/// custom roles) so it needs no repository; the facade loads it from the
/// store and feeds it each committed [`Change`]. A change recomputes only the
/// users it touches (one user, or one group's members) and bumps the
/// versions of the organizations concerned.
#[derive(Debug, Clone)]
pub struct AccessIndex {
    catalogue: Catalogue,
    roles: FastMap<RoleId, RoleDefinition>,
    admin: PermissionSet,
    grants: FastMap<Grantee, ScopedRoles>,
    role_usage: FastMap<RoleId, BTreeSet<(Grantee, Scope)>>,
    collectives: FastMap<Collective, CollectiveData>,
    user_collectives: FastMap<UserId, CollectiveSet>,
    deactivated: HashSet<UserId, foldhash::fast::RandomState>,
    compiled: CheckIndex,
}

impl AccessIndex {
    /// An empty index over `catalogue`, knowing the built-in roles.
    pub fn new(catalogue: Catalogue) -> Self {
        let roles = BuiltinRole::ALL
            .iter()
            .map(|r| (r.id(), RoleDefinition::builtin(*r, &catalogue)))
            .collect();
        Self {
            admin: catalogue.builtin_permissions(BuiltinRole::Admin),
            compiled: CheckIndex {
                users: FastMap::default(),
                overflow: FastMap::default(),
                workspace_numbers: FastMap::default(),
                orgs: FastMap::default(),
                sets: SetTable::new(catalogue.len()),
            },
            catalogue,
            roles,
            grants: FastMap::default(),
            role_usage: FastMap::default(),
            collectives: FastMap::default(),
            user_collectives: FastMap::default(),
            deactivated: HashSet::default(),
        }
    }

    /// Compiles an index from stored data in one pass. Grants and
    /// memberships are validated like [`AccessIndex::apply`] does, but the
    /// last-Owner rule is not applied: stored data is taken as it is.
    pub fn build(
        catalogue: Catalogue,
        roles: impl IntoIterator<Item = CustomRole>,
        grants: impl IntoIterator<Item = Grant>,
        memberships: impl IntoIterator<Item = CollectiveMember>,
        deactivated: impl IntoIterator<Item = UserId>,
    ) -> Result<Self> {
        let mut index = Self::new(catalogue);
        for role in roles {
            let definition = RoleDefinition::custom(&role, &index.catalogue);
            index.roles.insert(role.id, definition);
        }
        let mut dirty: HashSet<(UserId, OrgId), foldhash::fast::RandomState> = HashSet::default();
        for membership in memberships {
            index.bind_collective(membership.collective, membership.org)?;
            index.edit(
                Edit::Member(membership.collective, membership.user, true),
                &mut dirty,
            );
        }
        for grant in grants {
            index.validate_grant(&grant)?;
            if let Some(c) = grant.grantee.collective() {
                index.bind_collective(c, grant.scope.org())?;
            }
            index.edit(
                Edit::Grant(grant.grantee, grant.scope, Some(grant.role)),
                &mut dirty,
            );
        }
        for user in deactivated {
            index.deactivated.insert(user);
        }
        for (user, org) in dirty {
            index.recompute(user, org);
        }
        Ok(index)
    }

    /// The catalogue the index was compiled with.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The compiled index (cheap to share as a read-only snapshot).
    pub fn check_index(&self) -> &CheckIndex {
        &self.compiled
    }

    /// Whether `user` holds `permission` at `scope`.
    #[inline]
    pub fn check(&self, user: UserId, permission: PermissionId, scope: Scope) -> bool {
        self.compiled.check(user, permission, scope)
    }

    /// [`AccessIndex::check`] by permission name; an unknown name is denied.
    pub fn check_name(&self, user: UserId, permission: &str, scope: Scope) -> bool {
        self.catalogue
            .id(permission)
            .is_some_and(|p| self.check(user, p, scope))
    }

    /// See [`CheckIndex::version`].
    pub fn version(&self, org: OrgId) -> u64 {
        self.compiled.version(org)
    }

    /// A role's definition (built-in or custom).
    pub fn role(&self, role: RoleId) -> Option<&RoleDefinition> {
        self.roles.get(&role)
    }

    /// The role a grantee holds at a scope.
    pub fn grant_of(&self, grantee: Grantee, scope: Scope) -> Option<RoleId> {
        self.grants
            .get(&grantee)
            .and_then(|g| g.get(&scope))
            .copied()
    }

    /// Every grant of a grantee.
    pub fn grants_of(&self, grantee: Grantee) -> Vec<Grant> {
        self.grants.get(&grantee).map_or_else(Vec::new, |g| {
            g.iter()
                .map(|(scope, role)| Grant {
                    grantee,
                    scope: *scope,
                    role: *role,
                })
                .collect()
        })
    }

    /// The groups and teams a user is a member of, sorted.
    pub fn collectives_of(&self, user: UserId) -> Vec<Collective> {
        self.user_collectives
            .get(&user)
            .map_or_else(Vec::new, |c| c.iter().copied().collect())
    }

    /// The members of a group or team, sorted.
    pub fn members_of(&self, collective: Collective) -> Vec<UserId> {
        self.collectives
            .get(&collective)
            .map_or_else(Vec::new, |c| c.members.iter().copied().collect())
    }

    /// Whether a user is deactivated.
    pub fn is_deactivated(&self, user: UserId) -> bool {
        self.deactivated.contains(&user)
    }

    /// What `user` holds at `scope`, for the guards.
    pub fn access(&self, user: UserId, scope: Scope) -> Access {
        Access {
            permissions: self.compiled.permissions(user, scope),
            is_owner: self.compiled.is_owner(user, scope.org()),
        }
    }

    /// Explains a decision: every grant that justifies it, with role,
    /// source and scope. Agrees with [`AccessIndex::check`].
    pub fn explain(&self, user: UserId, permission: PermissionId, scope: Scope) -> Decision {
        let mut reasons = Vec::new();
        if !self.deactivated.contains(&user) {
            for (scope_of_grant, role, source) in self.sources_in(user, scope.org()) {
                let Some(def) = self.roles.get(&role) else {
                    continue;
                };
                let justifies = if scope_of_grant == scope {
                    def.permissions.contains(permission)
                } else {
                    // DESIGN.md: an organization Owner or Admin is an admin on
                    // every workspace of the organization.
                    matches!(scope, Scope::Workspace(..))
                        && scope_of_grant == Scope::Organization(scope.org())
                        && is_org_admin_role(def)
                        && self.admin.contains(permission)
                };
                if justifies {
                    reasons.push(Reason {
                        role,
                        role_name: def.name.clone(),
                        source,
                        scope: scope_of_grant,
                    });
                }
            }
        }
        reasons.sort();
        Decision {
            effect: if reasons.is_empty() {
                Effect::Deny
            } else {
                Effect::Allow
            },
            reasons,
        }
    }

    /// Every role `user` holds in `org`, direct and inherited, with its
    /// source, sorted by scope then role.
    pub fn roles_of(&self, user: UserId, org: OrgId) -> Vec<RoleAssignment> {
        let mut out: Vec<_> = self
            .sources_in(user, org)
            .filter_map(|(scope, role, source)| {
                self.roles.get(&role).map(|def| RoleAssignment {
                    scope,
                    role,
                    role_name: def.name.clone(),
                    source,
                })
            })
            .collect();
        out.sort();
        out
    }

    /// Number of grants of a custom role (built-ins are not counted).
    pub fn role_usage(&self, role: RoleId) -> usize {
        self.role_usage.get(&role).map_or(0, BTreeSet::len)
    }

    /// Applies a change and recomputes only the users it touches.
    ///
    /// Fails, changing nothing, on an unknown role, a role not assignable at
    /// the scope or of another organization, a group or team used outside
    /// its organization, a custom role still in use, or when the change would
    /// leave an organization that has an active Owner without one
    /// (SECURITY.md 27: demoting, removing or deactivating the last Owner).
    pub fn apply(&mut self, change: Change) -> Result<()> {
        let edits = self.plan(change)?;
        let mut dirty = HashSet::default();
        let mut undo = Vec::with_capacity(edits.len());
        for edit in edits {
            undo.push(self.edit(edit, &mut dirty));
        }
        let orgs: BTreeSet<OrgId> = dirty.iter().map(|(_, org)| *org).collect();
        let before: BTreeMap<OrgId, usize> = orgs
            .iter()
            .map(|org| (*org, self.compiled.owner_count(*org)))
            .collect();
        for (user, org) in &dirty {
            self.recompute(*user, *org);
        }
        if let Some(org) = before
            .iter()
            .find(|(org, n)| **n > 0 && self.compiled.owner_count(**org) == 0)
            .map(|(org, _)| *org)
        {
            let mut again = HashSet::default();
            for edit in undo.into_iter().rev() {
                self.edit(edit, &mut again);
            }
            for (user, org) in dirty.into_iter().chain(again) {
                self.recompute(user, org);
            }
            return Err(Error::LastOwner { org });
        }
        for org in orgs {
            if let Some(o) = self.compiled.orgs.get_mut(&org) {
                o.version += 1;
            }
        }
        Ok(())
    }

    /// Whether [`apply`](Self::apply) would accept `change`: the same
    /// validation and the same last-Owner rule (same error), without
    /// changing or copying the index.
    ///
    /// For a caller that shares the index with concurrent readers and must
    /// refuse a change before writing it to the store: copying a large
    /// organization's index to try the change costs milliseconds per
    /// hundred thousand members, this costs what the change touches. The
    /// Owner count after the change is the count before, corrected for
    /// exactly the (user, organization) pairs whose Owner status the
    /// change's edits could alter, each evaluated over the edits.
    pub fn validate(&self, change: &Change) -> Result<()> {
        let edits = self.plan(change.clone())?;
        let draft = Draft::new(self, &edits);
        let mut owners: BTreeMap<OrgId, isize> = BTreeMap::new();
        for (user, org) in draft.touched(&edits) {
            let now = self.compiled.is_owner(user, org);
            let later = draft.is_owner(user, org);
            if now != later {
                *owners.entry(org).or_default() += if later { 1 } else { -1 };
            }
        }
        for (org, delta) in owners {
            let before = self.compiled.owner_count(org);
            let after = isize::try_from(before).unwrap_or(isize::MAX) + delta;
            if before > 0 && after <= 0 {
                return Err(Error::LastOwner { org });
            }
        }
        Ok(())
    }

    /// Validates a change and expands it into primitive edits.
    fn plan(&self, change: Change) -> Result<Vec<Edit>> {
        Ok(match change {
            Change::Assign(grant) => {
                self.validate_grant(&grant)?;
                let mut edits = Vec::new();
                if let Some(c) = grant.grantee.collective() {
                    self.check_collective_org(c, grant.scope.org())?;
                    if self.collective_org(c).is_none() {
                        edits.push(Edit::CollectiveOrg(c, Some(grant.scope.org())));
                    }
                }
                edits.push(Edit::Grant(grant.grantee, grant.scope, Some(grant.role)));
                edits
            }
            Change::Revoke { grantee, scope } => vec![Edit::Grant(grantee, scope, None)],
            Change::AddMember(m) => {
                self.check_collective_org(m.collective, m.org)?;
                let mut edits = Vec::new();
                if self.collective_org(m.collective).is_none() {
                    edits.push(Edit::CollectiveOrg(m.collective, Some(m.org)));
                }
                edits.push(Edit::Member(m.collective, m.user, true));
                edits
            }
            Change::RemoveMember(m) => {
                self.check_collective_org(m.collective, m.org)?;
                vec![Edit::Member(m.collective, m.user, false)]
            }
            Change::Deactivate(user) => vec![Edit::Deactivated(user, true)],
            Change::Reactivate(user) => vec![Edit::Deactivated(user, false)],
            Change::RemoveFromOrg { user, org } => {
                let mut edits: Vec<Edit> = self
                    .grants
                    .get(&Grantee::User(user))
                    .into_iter()
                    .flat_map(|g| g.keys())
                    .filter(|scope| scope.org() == org)
                    .map(|scope| Edit::Grant(Grantee::User(user), *scope, None))
                    .collect();
                edits.extend(
                    self.user_collectives
                        .get(&user)
                        .into_iter()
                        .flatten()
                        .filter(|c| self.collective_org(**c) == Some(org))
                        .map(|c| Edit::Member(*c, user, false)),
                );
                edits
            }
            Change::DeleteCollective(c) => {
                let grantee = Grantee::from(c);
                let mut edits: Vec<Edit> = self
                    .grants
                    .get(&grantee)
                    .into_iter()
                    .flat_map(|g| g.keys())
                    .map(|scope| Edit::Grant(grantee, *scope, None))
                    .collect();
                if let Some(data) = self.collectives.get(&c) {
                    edits.extend(data.members.iter().map(|u| Edit::Member(c, *u, false)));
                }
                edits.push(Edit::CollectiveOrg(c, None));
                edits
            }
            Change::PutRole(role) => {
                if BuiltinRole::from_id(role.id).is_some() {
                    return Err(Error::BuiltinRoleImmutable { role: role.id });
                }
                let def = RoleDefinition::custom(&role, &self.catalogue);
                if let Some(existing) = self.roles.get(&role.id)
                    && existing.org != def.org
                {
                    return Err(Error::OrganizationMismatch);
                }
                // Narrowing where a role may be granted must not strand
                // grants at a scope kind it no longer allows.
                if let Some(used) = self.role_usage.get(&role.id)
                    && used
                        .iter()
                        .any(|(_, scope)| !def.assignable_at.allows(scope.kind()))
                {
                    return Err(Error::RoleInUse {
                        role: role.id,
                        grants: used.len(),
                    });
                }
                vec![Edit::Role(role.id, Some(def))]
            }
            Change::DeleteRole(role) => {
                if BuiltinRole::from_id(role).is_some() {
                    return Err(Error::BuiltinRoleImmutable { role });
                }
                if !self.roles.contains_key(&role) {
                    return Err(Error::UnknownRole { role });
                }
                let grants = self.role_usage(role);
                if grants > 0 {
                    return Err(Error::RoleInUse { role, grants });
                }
                vec![Edit::Role(role, None)]
            }
        })
    }

    fn validate_grant(&self, grant: &Grant) -> Result<()> {
        let def = self
            .roles
            .get(&grant.role)
            .ok_or(Error::UnknownRole { role: grant.role })?;
        let kind = grant.scope.kind();
        if !def.assignable_at.allows(kind) || def.org.is_some_and(|o| o != grant.scope.org()) {
            return Err(Error::RoleNotAssignable {
                role: grant.role,
                scope: kind,
            });
        }
        Ok(())
    }

    fn collective_org(&self, c: Collective) -> Option<OrgId> {
        self.collectives.get(&c).and_then(|d| d.org)
    }

    fn check_collective_org(&self, c: Collective, org: OrgId) -> Result<()> {
        match self.collective_org(c) {
            Some(o) if o != org => Err(Error::OrganizationMismatch),
            _ => Ok(()),
        }
    }

    fn bind_collective(&mut self, c: Collective, org: OrgId) -> Result<()> {
        self.check_collective_org(c, org)?;
        self.collectives.entry(c).or_default().org = Some(org);
        Ok(())
    }

    /// Applies one edit, records the users it touches and returns its inverse.
    fn edit(
        &mut self,
        edit: Edit,
        dirty: &mut HashSet<(UserId, OrgId), foldhash::fast::RandomState>,
    ) -> Edit {
        match edit {
            Edit::Grant(grantee, scope, role) => {
                let scopes = self.grants.entry(grantee).or_default();
                let previous = match role {
                    Some(r) => scopes.insert(scope, r),
                    None => scopes.remove(&scope),
                };
                if scopes.is_empty() {
                    self.grants.remove(&grantee);
                }
                if let Some(p) = previous
                    && let Some(used) = self.role_usage.get_mut(&p)
                {
                    used.remove(&(grantee, scope));
                    if used.is_empty() {
                        self.role_usage.remove(&p);
                    }
                }
                // Built-ins cannot change or be deleted, so only custom roles
                // need their holders tracked (it saves a set entry per grant).
                if let Some(r) = role.filter(|r| BuiltinRole::from_id(*r).is_none()) {
                    self.role_usage
                        .entry(r)
                        .or_default()
                        .insert((grantee, scope));
                }
                self.mark_grantee(grantee, scope.org(), dirty);
                Edit::Grant(grantee, scope, previous)
            }
            Edit::Member(c, user, present) => {
                if !present && !self.collectives.contains_key(&c) {
                    return Edit::Member(c, user, false);
                }
                let data = self.collectives.entry(c).or_default();
                let was = if present {
                    !data.members.insert(user)
                } else {
                    data.members.remove(&user)
                };
                let org = data.org;
                let of_user = self.user_collectives.entry(user).or_default();
                if present {
                    of_user.insert(c);
                } else {
                    of_user.remove(&c);
                    if of_user.is_empty() {
                        self.user_collectives.remove(&user);
                    }
                }
                if let Some(org) = org {
                    dirty.insert((user, org));
                }
                Edit::Member(c, user, was)
            }
            Edit::Deactivated(user, on) => {
                let was = if on {
                    !self.deactivated.insert(user)
                } else {
                    self.deactivated.remove(&user)
                };
                for org in self.orgs_of(user) {
                    dirty.insert((user, org));
                }
                Edit::Deactivated(user, was)
            }
            Edit::CollectiveOrg(c, org) => {
                let previous = match org {
                    Some(o) => self.collectives.entry(c).or_default().org.replace(o),
                    None => {
                        let previous = self.collective_org(c);
                        if self
                            .collectives
                            .get(&c)
                            .is_some_and(|d| d.members.is_empty())
                        {
                            self.collectives.remove(&c);
                        } else if let Some(d) = self.collectives.get_mut(&c) {
                            d.org = None;
                        }
                        previous
                    }
                };
                Edit::CollectiveOrg(c, previous)
            }
            Edit::Role(role, def) => {
                let previous = match def {
                    Some(d) => self.roles.insert(role, d),
                    None => self.roles.remove(&role),
                };
                let holders: Vec<(Grantee, Scope)> = self
                    .role_usage
                    .get(&role)
                    .into_iter()
                    .flatten()
                    .copied()
                    .collect();
                for (grantee, scope) in holders {
                    self.mark_grantee(grantee, scope.org(), dirty);
                }
                Edit::Role(role, previous)
            }
        }
    }

    fn mark_grantee(
        &self,
        grantee: Grantee,
        org: OrgId,
        dirty: &mut HashSet<(UserId, OrgId), foldhash::fast::RandomState>,
    ) {
        match grantee {
            Grantee::User(u) => {
                dirty.insert((u, org));
            }
            Grantee::Group(_) | Grantee::Team(_) => {
                if let Some(c) = grantee.collective().and_then(|c| self.collectives.get(&c)) {
                    dirty.extend(c.members.iter().map(|u| (*u, org)));
                }
            }
        }
    }

    /// Organizations where a user holds anything, directly or inherited.
    fn orgs_of(&self, user: UserId) -> BTreeSet<OrgId> {
        let mut orgs: BTreeSet<OrgId> = self
            .grants
            .get(&Grantee::User(user))
            .into_iter()
            .flat_map(|g| g.keys().map(|s| s.org()))
            .collect();
        orgs.extend(
            self.user_collectives
                .get(&user)
                .into_iter()
                .flatten()
                .filter_map(|c| self.collective_org(*c)),
        );
        orgs
    }

    /// Every (scope, role, source) a user holds in an organization,
    /// regardless of deactivation.
    fn sources_in(
        &self,
        user: UserId,
        org: OrgId,
    ) -> impl Iterator<Item = (Scope, RoleId, Source)> + '_ {
        let direct = std::iter::once(Grantee::User(user));
        let inherited = self
            .user_collectives
            .get(&user)
            .into_iter()
            .flatten()
            .filter(move |c| self.collective_org(**c) == Some(org))
            .map(|c| Grantee::from(*c));
        direct.chain(inherited).flat_map(move |grantee| {
            self.grants
                .get(&grantee)
                .into_iter()
                .flat_map(ScopedRoles::iter)
                .filter(move |(scope, _)| scope.org() == org)
                .map(move |(scope, role)| (*scope, *role, Source::from(grantee)))
        })
    }

    /// Recompiles one user's entry in one organization.
    fn recompute(&mut self, user: UserId, org: OrgId) {
        let mut org_set = PermissionSet::new();
        let mut owner = false;
        let mut org_admin = false;
        let mut any = false;
        let mut workspaces: BTreeMap<WorkspaceId, PermissionSet> = BTreeMap::new();
        if !self.deactivated.contains(&user) {
            for (scope, role, _) in self.sources_in(user, org) {
                let Some(def) = self.roles.get(&role) else {
                    continue;
                };
                any = true;
                match scope {
                    Scope::Organization(_) => {
                        org_set.union_with(&def.permissions);
                        owner |= def.builtin == Some(BuiltinRole::Owner);
                        org_admin |= is_org_admin_role(def);
                    }
                    Scope::Workspace(_, ws) => {
                        workspaces
                            .entry(ws)
                            .or_default()
                            .union_with(&def.permissions);
                    }
                }
            }
        }
        let previous = if any {
            let sets = &mut self.compiled.sets;
            let other = if org_admin {
                sets.intern(&self.admin)
            } else {
                EMPTY_SET
            };
            let mut entries: Vec<WorkspaceEntry> = Vec::with_capacity(workspaces.len());
            for (ws, mut set) in workspaces {
                if org_admin {
                    set.union_with(&self.admin);
                }
                let next = u32::try_from(self.compiled.workspace_numbers.len()).unwrap_or(u32::MAX);
                let number = *self.compiled.workspace_numbers.entry(ws).or_insert(next);
                entries.push((number, sets.intern(&set)));
            }
            let mut inline = [(0, 0); INLINE_WORKSPACES];
            let inline_len = entries.len().min(INLINE_WORKSPACES);
            for (dst, src) in inline.iter_mut().zip(&entries) {
                *dst = *src;
            }
            let rest = entries.get(INLINE_WORKSPACES..).unwrap_or_default();
            let overflowed = !rest.is_empty();
            if overflowed {
                self.compiled.overflow.insert((org, user), rest.into());
            } else {
                self.compiled.overflow.remove(&(org, user));
            }
            self.compiled.users.insert(
                (org, user),
                UserAccess {
                    org: sets.intern(&org_set),
                    other_workspaces: other,
                    owner,
                    inline_len: u8::try_from(inline_len).unwrap_or(u8::MAX),
                    overflowed,
                    inline,
                },
            )
        } else {
            self.compiled.overflow.remove(&(org, user));
            self.compiled.users.remove(&(org, user))
        };
        let entry = self.compiled.orgs.entry(org).or_default();
        let was_owner = previous.is_some_and(|p| p.owner);
        match (was_owner, owner) {
            (false, true) => entry.owners += 1,
            (true, false) => entry.owners = entry.owners.saturating_sub(1),
            _ => {}
        }
    }

    /// Permission names → ids; unknown names are dropped.
    pub fn permission_ids<'a>(
        &self,
        names: impl IntoIterator<Item = &'a Permission>,
    ) -> PermissionSet {
        self.catalogue
            .set_of(names.into_iter().map(Permission::as_str))
    }

    /// Kinds of scope a role may be granted at (for UI listings).
    pub fn assignable_kinds(&self, role: RoleId) -> Vec<ScopeKind> {
        self.roles.get(&role).map_or_else(Vec::new, |d| {
            [ScopeKind::Organization, ScopeKind::Workspace]
                .into_iter()
                .filter(|k| d.assignable_at.allows(*k))
                .collect()
        })
    }
}

/// An Owner or Admin at organization scope is an admin on every workspace.
pub(crate) fn is_org_admin_role(def: &RoleDefinition) -> bool {
    matches!(def.builtin, Some(BuiltinRole::Owner | BuiltinRole::Admin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::{AssignableAt, RoleName};
    use iamkit_identity::{GroupId, TeamId};
    use uuid::Uuid;

    fn uid(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(n))
    }
    fn org(n: u128) -> OrgId {
        OrgId::from_uuid(Uuid::from_u128(0x1000 + n))
    }
    fn ws(n: u128) -> WorkspaceId {
        WorkspaceId::from_uuid(Uuid::from_u128(0x2000 + n))
    }
    fn group(n: u128) -> GroupId {
        GroupId::from_uuid(Uuid::from_u128(0x3000 + n))
    }
    fn grant(grantee: Grantee, scope: Scope, role: BuiltinRole) -> Change {
        Change::Assign(Grant {
            grantee,
            scope,
            role: role.id(),
        })
    }

    /// The README table, parsed: permission → the roles with a ✓.
    fn readme_table() -> Vec<(String, Vec<BuiltinRole>)> {
        include_str!("../README.md")
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let name = cells[1].trim_matches('`').to_owned();
                let roles = BuiltinRole::ALL
                    .iter()
                    .zip(&cells[2..8])
                    .filter(|(_, c)| **c == "✓")
                    .map(|(r, _)| *r)
                    .collect();
                (name, roles)
            })
            .collect()
    }

    #[test]
    fn readme_table_matches_the_code() {
        let table = readme_table();
        let code: Vec<(String, Vec<BuiltinRole>)> = crate::IAMKIT_PERMISSIONS
            .iter()
            .map(|(n, r)| ((*n).to_owned(), r.to_vec()))
            .collect();
        assert_eq!(table, code);
        let header = BuiltinRole::ALL.map(BuiltinRole::name).join(" | ");
        assert!(include_str!("../README.md").contains(&format!("| Permission | {header} |")));
    }

    #[test]
    fn every_builtin_role_and_permission_at_both_scopes_follows_the_readme() {
        let table = readme_table();
        let mut index = AccessIndex::new(Catalogue::new());
        let (o, w) = (org(1), ws(1));
        for (i, role) in BuiltinRole::ALL.iter().enumerate() {
            let at_org = uid(100 + i as u128);
            let at_ws = uid(200 + i as u128);
            index
                .apply(grant(Grantee::User(at_org), Scope::Organization(o), *role))
                .unwrap();
            index
                .apply(grant(Grantee::User(at_ws), Scope::Workspace(o, w), *role))
                .unwrap();
            for (name, holders) in &table {
                let p = index.catalogue().id(name).unwrap();
                let expected = holders.contains(role);
                assert_eq!(
                    index.check(at_org, p, Scope::Organization(o)),
                    expected,
                    "{role} org {name}"
                );
                assert_eq!(
                    index.check(at_ws, p, Scope::Workspace(o, w)),
                    expected,
                    "{role} ws {name}"
                );
                assert!(
                    !index.check(at_ws, p, Scope::Organization(o)),
                    "ws role leaks to org"
                );
                // An org Owner or Admin is an admin in every workspace; other
                // org roles do not reach workspaces.
                let in_ws = matches!(role, BuiltinRole::Owner | BuiltinRole::Admin)
                    && holders.contains(&BuiltinRole::Admin);
                assert_eq!(
                    index.check(at_org, p, Scope::Workspace(o, ws(77))),
                    in_ws,
                    "{role} org→ws {name}"
                );
                assert!(
                    !index.check(at_org, p, Scope::Organization(org(2))),
                    "other org"
                );
            }
        }
    }

    #[test]
    fn assigning_replaces_and_explain_names_the_source() {
        let mut index = AccessIndex::new(Catalogue::new());
        let (o, w, u, g) = (org(1), ws(1), uid(1), group(1));
        let scope = Scope::Workspace(o, w);
        index
            .apply(grant(Grantee::User(u), scope, BuiltinRole::Admin))
            .unwrap();
        index
            .apply(grant(Grantee::User(u), scope, BuiltinRole::ReadOnly))
            .unwrap();
        assert_eq!(
            index.grant_of(Grantee::User(u), scope),
            Some(BuiltinRole::ReadOnly.id())
        );
        let invite = index.catalogue().id("users.invite").unwrap();
        assert!(!index.check(u, invite, scope), "replaced, not added");
        index
            .apply(grant(Grantee::Group(g), scope, BuiltinRole::Admin))
            .unwrap();
        assert!(!index.check(u, invite, scope), "not a member yet");
        let v = index.version(o);
        index
            .apply(Change::AddMember(CollectiveMember {
                collective: Collective::Group(g),
                org: o,
                user: u,
            }))
            .unwrap();
        assert!(
            index.version(o) > v,
            "membership change bumps the org version"
        );
        assert!(index.check(u, invite, scope));
        let decision = index.explain(u, invite, scope);
        assert_eq!(decision.effect, Effect::Allow);
        assert_eq!(
            decision.reasons,
            vec![Reason {
                role: BuiltinRole::Admin.id(),
                role_name: "Admin".into(),
                source: Source::Group(g),
                scope
            }]
        );
        let roles = index.roles_of(u, o);
        assert_eq!(roles.len(), 2);
        assert!(
            roles
                .iter()
                .any(|r| r.source == Source::Direct && r.role_name == "Read-only")
        );
        assert!(
            roles
                .iter()
                .any(|r| r.source == Source::Group(g) && r.role_name == "Admin")
        );
        index.apply(Change::Deactivate(u)).unwrap();
        assert!(!index.check(u, invite, scope));
        assert_eq!(index.explain(u, invite, scope).effect, Effect::Deny);
        index.apply(Change::Reactivate(u)).unwrap();
        assert!(index.check(u, invite, scope));
    }

    #[test]
    fn users_with_many_workspace_roles_spill_over_and_stay_exact() {
        let mut index = AccessIndex::new(Catalogue::new());
        let (o, u, g) = (org(1), uid(1), group(1));
        let approve = index.catalogue().id("requests.approve").unwrap();
        let create = index.catalogue().id("requests.create").unwrap();
        for w in 0..10 {
            let role = if w % 2 == 0 {
                BuiltinRole::Approver
            } else {
                BuiltinRole::Requester
            };
            index
                .apply(grant(Grantee::User(u), Scope::Workspace(o, ws(w)), role))
                .unwrap();
        }
        index
            .apply(grant(
                Grantee::Group(g),
                Scope::Workspace(o, ws(9)),
                BuiltinRole::Approver,
            ))
            .unwrap();
        index
            .apply(Change::AddMember(CollectiveMember {
                collective: Collective::Group(g),
                org: o,
                user: u,
            }))
            .unwrap();
        for w in 0..10 {
            let scope = Scope::Workspace(o, ws(w));
            assert_eq!(
                index.check(u, approve, scope),
                w % 2 == 0 || w == 9,
                "ws {w}"
            );
            assert_eq!(index.check(u, create, scope), w % 2 == 1, "ws {w}");
        }
        assert!(!index.check(u, create, Scope::Workspace(o, ws(10))));
        for w in 0..10 {
            index
                .apply(Change::Revoke {
                    grantee: Grantee::User(u),
                    scope: Scope::Workspace(o, ws(w)),
                })
                .unwrap();
        }
        assert!(
            index.check(u, approve, Scope::Workspace(o, ws(9))),
            "still via the group"
        );
        assert!(!index.check(u, approve, Scope::Workspace(o, ws(8))));
        assert!(index.check_index().overflow.is_empty(), "spill-over freed");
    }

    #[test]
    fn org_admin_reaches_workspaces_created_later_and_explains_it() {
        let mut index = AccessIndex::new(Catalogue::new());
        let (o, u) = (org(1), uid(1));
        index
            .apply(grant(
                Grantee::User(u),
                Scope::Organization(o),
                BuiltinRole::Owner,
            ))
            .unwrap();
        let later = Scope::Workspace(o, ws(999));
        let manage = index.catalogue().id("workspaces.manage").unwrap();
        let billing = index.catalogue().id("org.billing").unwrap();
        assert!(index.check(u, manage, later));
        assert!(
            !index.check(u, billing, later),
            "admin, not owner, in workspaces"
        );
        let d = index.explain(u, manage, later);
        assert_eq!(d.reasons[0].scope, Scope::Organization(o));
        assert_eq!(d.reasons[0].role, BuiltinRole::Owner.id());
    }

    #[test]
    fn last_owner_cannot_be_demoted_removed_or_deactivated() {
        let mut index = AccessIndex::new(Catalogue::new());
        let (o, a, b, g) = (org(1), uid(1), uid(2), group(1));
        let scope = Scope::Organization(o);
        index
            .apply(grant(Grantee::User(a), scope, BuiltinRole::Owner))
            .unwrap();
        let last = Err(Error::LastOwner { org: o });
        assert_eq!(
            index.apply(grant(Grantee::User(a), scope, BuiltinRole::Admin)),
            last
        );
        assert_eq!(
            index.apply(Change::Revoke {
                grantee: Grantee::User(a),
                scope
            }),
            last
        );
        assert_eq!(index.apply(Change::Deactivate(a)), last);
        assert_eq!(index.apply(Change::RemoveFromOrg { user: a, org: o }), last);
        assert!(
            index.check_index().is_owner(a, o),
            "rejected changes change nothing"
        );
        assert_eq!(
            index.grant_of(Grantee::User(a), scope),
            Some(BuiltinRole::Owner.id())
        );
        // Owner via a group counts; then the direct grant may go.
        index
            .apply(grant(Grantee::Group(g), scope, BuiltinRole::Owner))
            .unwrap();
        index
            .apply(Change::AddMember(CollectiveMember {
                collective: Collective::Group(g),
                org: o,
                user: b,
            }))
            .unwrap();
        assert_eq!(index.check_index().owner_count(o), 2);
        index
            .apply(Change::Revoke {
                grantee: Grantee::User(a),
                scope,
            })
            .unwrap();
        assert_eq!(
            index.apply(Change::DeleteCollective(Collective::Group(g))),
            last
        );
        assert_eq!(
            index.apply(Change::RemoveMember(CollectiveMember {
                collective: Collective::Group(g),
                org: o,
                user: b
            })),
            last
        );
        assert!(index.check_index().is_owner(b, o));
    }

    #[test]
    fn custom_roles_are_org_bound_scoped_and_protected_while_used() {
        let catalogue = Catalogue::new();
        let (o, other, u) = (org(1), org(2), uid(1));
        let role = CustomRole::new(
            RoleId::from_uuid(Uuid::from_u128(0x9000)),
            o,
            RoleName::parse("Auditor plus").unwrap(),
            [Permission::parse("audit.read").unwrap()].into(),
            AssignableAt {
                organization: false,
                workspace: true,
            },
            &catalogue,
        )
        .unwrap();
        let mut index = AccessIndex::new(catalogue);
        index.apply(Change::PutRole(role.clone())).unwrap();
        let at = |scope| {
            Change::Assign(Grant {
                grantee: Grantee::User(u),
                scope,
                role: role.id,
            })
        };
        assert_eq!(
            index.apply(at(Scope::Organization(o))),
            Err(Error::RoleNotAssignable {
                role: role.id,
                scope: ScopeKind::Organization
            })
        );
        assert!(matches!(
            index.apply(at(Scope::Workspace(other, ws(1)))),
            Err(Error::RoleNotAssignable { .. })
        ));
        index.apply(at(Scope::Workspace(o, ws(1)))).unwrap();
        let audit = index.catalogue().id("audit.read").unwrap();
        let users = index.catalogue().id("users.read").unwrap();
        assert!(index.check(u, audit, Scope::Workspace(o, ws(1))));
        let mut wider = role.clone();
        wider
            .permissions
            .insert(Permission::parse("users.read").unwrap());
        index.apply(Change::PutRole(wider)).unwrap();
        assert!(
            index.check(u, users, Scope::Workspace(o, ws(1))),
            "role edits reach holders"
        );
        assert_eq!(
            index.apply(Change::DeleteRole(role.id)),
            Err(Error::RoleInUse {
                role: role.id,
                grants: 1
            })
        );
        index
            .apply(Change::Revoke {
                grantee: Grantee::User(u),
                scope: Scope::Workspace(o, ws(1)),
            })
            .unwrap();
        index.apply(Change::DeleteRole(role.id)).unwrap();
        assert!(index.role(role.id).is_none());
        assert_eq!(
            index.apply(Change::DeleteRole(BuiltinRole::Owner.id())),
            Err(Error::BuiltinRoleImmutable {
                role: BuiltinRole::Owner.id()
            })
        );
    }

    #[test]
    fn groups_and_teams_stay_in_their_org() {
        let mut index = AccessIndex::new(Catalogue::new());
        let t = Collective::Team(TeamId::from_uuid(Uuid::from_u128(5)));
        index
            .apply(Change::AddMember(CollectiveMember {
                collective: t,
                org: org(1),
                user: uid(1),
            }))
            .unwrap();
        assert_eq!(
            index.apply(Change::AddMember(CollectiveMember {
                collective: t,
                org: org(2),
                user: uid(2)
            })),
            Err(Error::OrganizationMismatch)
        );
        let g = Grantee::from(t);
        assert_eq!(
            index.apply(grant(g, Scope::Organization(org(2)), BuiltinRole::Admin)),
            Err(Error::OrganizationMismatch)
        );
    }

    #[test]
    fn escalation_guards() {
        let mut index = AccessIndex::new(Catalogue::new());
        let (o, owner, admin, approver, g) = (org(1), uid(1), uid(2), uid(3), group(1));
        let scope = Scope::Organization(o);
        index
            .apply(grant(Grantee::User(owner), scope, BuiltinRole::Owner))
            .unwrap();
        index
            .apply(grant(Grantee::User(admin), scope, BuiltinRole::Admin))
            .unwrap();
        index
            .apply(grant(Grantee::User(approver), scope, BuiltinRole::Approver))
            .unwrap();
        let to = |who, role: BuiltinRole| Grant {
            grantee: Grantee::User(who),
            scope,
            role: role.id(),
        };
        assert_eq!(
            index.ensure_can_assign(admin, &to(approver, BuiltinRole::Owner)),
            Err(Error::OwnerRequired)
        );
        assert!(
            index
                .ensure_can_assign(owner, &to(approver, BuiltinRole::Owner))
                .is_ok()
        );
        assert!(
            index
                .ensure_can_assign(admin, &to(approver, BuiltinRole::Auditor))
                .is_ok()
        );
        // Overwriting an Owner's grant is revoking Owner.
        assert_eq!(
            index.ensure_can_assign(admin, &to(owner, BuiltinRole::ReadOnly)),
            Err(Error::OwnerRequired)
        );
        assert_eq!(
            index.ensure_can_revoke(admin, Grantee::User(owner), scope),
            Err(Error::OwnerRequired)
        );
        match index.ensure_can_assign(approver, &to(approver, BuiltinRole::Auditor)) {
            Err(Error::Escalation { missing }) => {
                assert_eq!(
                    missing,
                    vec![
                        Permission::parse("audit.read").unwrap(),
                        Permission::parse("audit.export").unwrap()
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        index
            .apply(grant(Grantee::Group(g), scope, BuiltinRole::Admin))
            .unwrap();
        assert!(
            index
                .ensure_can_change_membership(approver, Collective::Group(g))
                .is_err()
        );
        assert!(
            index
                .ensure_can_change_membership(admin, Collective::Group(g))
                .is_ok()
        );
    }

    #[test]
    fn api_keys_shrink_with_their_creator() {
        let mut index = AccessIndex::new(Catalogue::new());
        let (o, w, u) = (org(1), ws(1), uid(1));
        let scope = Scope::Workspace(o, w);
        index
            .apply(grant(Grantee::User(u), scope, BuiltinRole::Admin))
            .unwrap();
        let restriction: BTreeSet<String> =
            ["users.invite", "audit.read", "org.billing", "nope.nope"]
                .map(String::from)
                .into();
        let catalogue = index.catalogue().clone();
        let names = |set: &PermissionSet| {
            catalogue
                .names_of(set)
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        let key = index.api_key_permissions(u, o, w, Some(&restriction));
        assert_eq!(names(&key), ["users.invite", "audit.read"]);
        let unrestricted = index.api_key_permissions(u, o, w, None);
        assert_eq!(unrestricted, index.access(u, scope).permissions);
        index
            .apply(grant(Grantee::User(u), scope, BuiltinRole::Auditor))
            .unwrap();
        let key = index.api_key_permissions(u, o, w, Some(&restriction));
        assert_eq!(names(&key), ["audit.read"]);
    }

    #[test]
    fn build_equals_incremental() {
        let (o, g) = (org(1), group(1));
        let grants = vec![
            Grant {
                grantee: Grantee::User(uid(1)),
                scope: Scope::Organization(o),
                role: BuiltinRole::Owner.id(),
            },
            Grant {
                grantee: Grantee::Group(g),
                scope: Scope::Workspace(o, ws(1)),
                role: BuiltinRole::Requester.id(),
            },
        ];
        let members = vec![CollectiveMember {
            collective: Collective::Group(g),
            org: o,
            user: uid(2),
        }];
        let built = AccessIndex::build(
            Catalogue::new(),
            [],
            grants.clone(),
            members.clone(),
            [uid(3)],
        )
        .unwrap();
        let mut inc = AccessIndex::new(Catalogue::new());
        for m in members {
            inc.apply(Change::AddMember(m)).unwrap();
        }
        for g in grants {
            inc.apply(Change::Assign(g)).unwrap();
        }
        for (p, _) in built.catalogue().iter() {
            for u in 1..=3 {
                for s in [
                    Scope::Organization(o),
                    Scope::Workspace(o, ws(1)),
                    Scope::Workspace(o, ws(2)),
                ] {
                    assert_eq!(built.check(uid(u), p, s), inc.check(uid(u), p, s));
                }
            }
        }
        assert_eq!(built.check_index().entries(), 2);
    }
}
