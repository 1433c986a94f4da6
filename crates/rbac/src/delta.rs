//! Bringing an organization's index up to date from what the store holds
//! now of the few entities that changed, instead of compiling it again.
//!
//! The caller (the facade, reading an organization's change log) knows which
//! members, groups, teams and roles were touched since the index was built,
//! re-reads exactly those and hands them over as an [`Observed`].
//! [`AccessIndex::changes_to`] diffs them against the index and returns the
//! [`Change`]s that, applied in order with [`AccessIndex::apply`], give the
//! index [`AccessIndex::build`] would compile from the store now. Only
//! `apply` and the public read methods are used: how the index stores its
//! data stays its own business.

use std::collections::{BTreeMap, BTreeSet};

use iamkit_identity::{OrgId, RoleId, UserId};

use crate::grants::{Collective, CollectiveMember, Grant, Grantee, Scope};
use crate::index::{AccessIndex, Change};
use crate::roles::{CustomRole, RoleDefinition};

/// What the store holds now of one member of the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedMember {
    /// Who.
    pub user: UserId,
    /// Their direct grants in the organization (any other organization's
    /// are ignored).
    pub grants: Vec<Grant>,
    /// The organization's groups and teams they belong to.
    pub collectives: Vec<Collective>,
    /// Whether both their membership and their account are active. A user
    /// who is no member (removed, deleted) is not.
    pub active: bool,
}

/// What the store holds now of one group or team of the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedCollective {
    /// Which.
    pub collective: Collective,
    /// `false` when it no longer exists (or is not the organization's).
    pub exists: bool,
    /// Its members (empty when it does not exist).
    pub members: Vec<UserId>,
    /// Its grants in the organization (empty when it does not exist).
    pub grants: Vec<Grant>,
}

/// What the store holds now of the entities touched since an index was
/// built, in one organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The touched members.
    pub members: Vec<ObservedMember>,
    /// The touched groups and teams.
    pub collectives: Vec<ObservedCollective>,
    /// The touched custom roles of the organization, `None` when deleted
    /// (or not the organization's).
    pub roles: Vec<(RoleId, Option<CustomRole>)>,
    /// Whether membership and account are active, for the users that
    /// [`AccessIndex::standing_needed`] names.
    pub standing: BTreeMap<UserId, bool>,
}

/// The data of one grantee at its scopes of one organization.
type Grants = BTreeMap<Scope, RoleId>;

impl AccessIndex {
    /// Users, besides `observed`'s members, whose standing the diff needs:
    /// those a touched group or team gained while they held nothing in
    /// `org` (a compiled index marks only members holding something as
    /// deactivated, so their standing was never recorded).
    pub fn standing_needed(&self, observed: &Observed) -> Vec<UserId> {
        let touched: BTreeSet<UserId> = observed.members.iter().map(|m| m.user).collect();
        let mut needed = BTreeSet::new();
        for c in observed.collectives.iter().filter(|c| c.exists) {
            let before: BTreeSet<UserId> = self.members_of(c.collective).into_iter().collect();
            for user in &c.members {
                if !before.contains(user) && !touched.contains(user) && self.holds_nothing(*user) {
                    needed.insert(*user);
                }
            }
        }
        needed.into_iter().collect()
    }

    /// The changes that bring this index of `org` to what `observed` says
    /// the store holds now, for [`AccessIndex::apply_all`]. Each sets one
    /// key (a grantee's role at a scope, a membership, a standing, a role),
    /// so their outcome does not depend on their order; they come in the
    /// order that usually passes `apply`'s checks at the first try (roles
    /// first, what is gained before what is lost, deactivations last).
    ///
    /// `None` when a standing that [`AccessIndex::standing_needed`] names
    /// is missing from `observed`.
    pub fn changes_to(&self, org: OrgId, observed: &Observed) -> Option<Vec<Change>> {
        let mut put_roles = Vec::new();
        let mut delete_roles = Vec::new();
        for (id, role) in &observed.roles {
            match role {
                Some(role) if role.org == org => {
                    let definition = RoleDefinition::custom(role, self.catalogue());
                    if self.role(*id) != Some(&definition) {
                        put_roles.push(Change::PutRole(role.clone()));
                    }
                }
                _ => {
                    if self.role(*id).is_some_and(|d| d.org == Some(org)) {
                        delete_roles.push(Change::DeleteRole(*id));
                    }
                }
            }
        }

        let mut assigns = Vec::new();
        let mut revokes = Vec::new();
        // (collective, user) pairs gained and lost; sets, because a member
        // and their group may both be touched and both say the same.
        let mut joins: BTreeSet<(Collective, UserId)> = BTreeSet::new();
        let mut leaves: BTreeSet<(Collective, UserId)> = BTreeSet::new();
        let mut deleted = Vec::new();
        for c in &observed.collectives {
            let grantee = Grantee::from(c.collective);
            let before: BTreeSet<UserId> = self.members_of(c.collective).into_iter().collect();
            if !c.exists {
                self.diff_grants(grantee, org, &Grants::new(), &mut assigns, &mut revokes);
                leaves.extend(before.iter().map(|u| (c.collective, *u)));
                if self.is_bound_to(c.collective, org) {
                    deleted.push(Change::DeleteCollective(c.collective));
                }
                continue;
            }
            self.diff_grants(
                grantee,
                org,
                &in_org(&c.grants, org),
                &mut assigns,
                &mut revokes,
            );
            let now: BTreeSet<UserId> = c.members.iter().copied().collect();
            joins.extend(now.difference(&before).map(|u| (c.collective, *u)));
            leaves.extend(before.difference(&now).map(|u| (c.collective, *u)));
        }
        for m in &observed.members {
            self.diff_grants(
                Grantee::User(m.user),
                org,
                &in_org(&m.grants, org),
                &mut assigns,
                &mut revokes,
            );
            let before: BTreeSet<Collective> = self.collectives_of(m.user).into_iter().collect();
            let now: BTreeSet<Collective> = m.collectives.iter().copied().collect();
            joins.extend(now.difference(&before).map(|c| (*c, m.user)));
            leaves.extend(before.difference(&now).map(|c| (*c, m.user)));
        }

        // Standing: a compiled index marks as deactivated exactly the users
        // who hold something in the organization (a direct grant or a
        // group or team) without being active there.
        let mut deactivated_now: BTreeMap<UserId, bool> = BTreeMap::new();
        let mut holds_now: BTreeMap<UserId, bool> = BTreeMap::new();
        for m in &observed.members {
            let holds = !in_org(&m.grants, org).is_empty() || !m.collectives.is_empty();
            holds_now.insert(m.user, holds);
            deactivated_now.insert(m.user, holds && !m.active);
        }
        let others: BTreeSet<UserId> = joins
            .iter()
            .chain(&leaves)
            .map(|(_, u)| *u)
            .filter(|u| !holds_now.contains_key(u))
            .collect();
        for user in others {
            let mut collectives: BTreeSet<Collective> =
                self.collectives_of(user).into_iter().collect();
            for (c, _) in leaves.iter().filter(|(_, u)| *u == user) {
                collectives.remove(c);
            }
            for (c, _) in joins.iter().filter(|(_, u)| *u == user) {
                collectives.insert(*c);
            }
            let holds = !collectives.is_empty() || !self.grants_of(Grantee::User(user)).is_empty();
            let deactivated = if !holds {
                false
            } else if self.holds_nothing(user) {
                !*observed.standing.get(&user)?
            } else {
                // Untouched, so their standing is what the index has.
                self.is_deactivated(user)
            };
            holds_now.insert(user, holds);
            deactivated_now.insert(user, deactivated);
        }

        let mut changes = put_roles;
        let (mut early, mut late, mut cleanup) = (Vec::new(), Vec::new(), Vec::new());
        let mut reactivate = Vec::new();
        for (user, deactivated) in &deactivated_now {
            match (self.is_deactivated(*user), *deactivated) {
                // Holding nothing yet: marking them first affects no Owner
                // count, and what they gain below is compiled as inactive.
                (false, true) if self.holds_nothing(*user) => {
                    early.push(Change::Deactivate(*user));
                }
                (false, true) => late.push(Change::Deactivate(*user)),
                (true, false) if holds_now.get(user).copied().unwrap_or(false) => {
                    reactivate.push(Change::Reactivate(*user));
                }
                (true, false) => cleanup.push(Change::Reactivate(*user)),
                _ => {}
            }
        }
        let member = |(collective, user): &(Collective, UserId)| CollectiveMember {
            collective: *collective,
            org,
            user: *user,
        };
        changes.extend(early);
        changes.extend(reactivate);
        changes.extend(joins.iter().map(|j| Change::AddMember(member(j))));
        changes.extend(assigns);
        changes.extend(revokes);
        changes.extend(leaves.iter().map(|l| Change::RemoveMember(member(l))));
        changes.extend(deleted);
        changes.extend(late);
        changes.extend(cleanup);
        changes.extend(delete_roles);
        Some(changes)
    }

    /// Applies `changes`, each as [`AccessIndex::apply`] does. A change
    /// refused on the way (the last active Owner would go before another
    /// one arrives; a grant of a role defined later in the list) is tried
    /// again after the others, until all pass or a whole round passes none.
    ///
    /// # Errors
    /// The refusal of a change no order lets through (the final state has
    /// no active Owner left, or is not one [`AccessIndex::build`] accepts);
    /// the index then holds the changes that passed: build it again.
    pub fn apply_all(&mut self, changes: Vec<Change>) -> crate::Result<()> {
        let mut pending = changes;
        loop {
            let mut refused = Vec::new();
            let mut first_error = None;
            let before = pending.len();
            for change in pending {
                if let Err(e) = self.apply(change.clone()) {
                    first_error.get_or_insert(e);
                    refused.push(change);
                }
            }
            match first_error {
                None => return Ok(()),
                Some(e) if refused.len() == before => return Err(e),
                Some(_) => pending = refused,
            }
        }
    }

    /// Assigns and revokes that turn `grantee`'s grants in `org` into `now`.
    fn diff_grants(
        &self,
        grantee: Grantee,
        org: OrgId,
        now: &Grants,
        assigns: &mut Vec<Change>,
        revokes: &mut Vec<Change>,
    ) {
        let before: Grants = self
            .grants_of(grantee)
            .into_iter()
            .filter(|g| g.scope.org() == org)
            .map(|g| (g.scope, g.role))
            .collect();
        for (scope, role) in now {
            if before.get(scope) != Some(role) {
                assigns.push(Change::Assign(Grant {
                    grantee,
                    scope: *scope,
                    role: *role,
                }));
            }
        }
        for scope in before.keys().filter(|s| !now.contains_key(s)) {
            revokes.push(Change::Revoke {
                grantee,
                scope: *scope,
            });
        }
    }

    /// Whether `user` holds neither a direct grant nor a group or team.
    fn holds_nothing(&self, user: UserId) -> bool {
        self.grants_of(Grantee::User(user)).is_empty() && self.collectives_of(user).is_empty()
    }

    /// Whether the index knows `collective` as `org`'s: it has members or
    /// grants there.
    fn is_bound_to(&self, collective: Collective, org: OrgId) -> bool {
        !self.members_of(collective).is_empty()
            || self
                .grants_of(Grantee::from(collective))
                .iter()
                .any(|g| g.scope.org() == org)
    }
}

/// The grants of `grants` in `org`, by scope.
fn in_org(grants: &[Grant], org: OrgId) -> Grants {
    grants
        .iter()
        .filter(|g| g.scope.org() == org)
        .map(|g| (g.scope, g.role))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use iamkit_identity::GroupId;
    use uuid::Uuid;

    use super::*;
    use crate::permissions::{Catalogue, Permission};
    use crate::roles::{AssignableAt, BuiltinRole, RoleName};

    fn org(n: u128) -> OrgId {
        OrgId::from_uuid(Uuid::from_u128(0x100 + n))
    }
    fn user(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(0x300 + n))
    }

    fn index() -> AccessIndex {
        let grants = [Grant {
            grantee: Grantee::User(user(0)),
            scope: Scope::Organization(org(0)),
            role: BuiltinRole::Owner.id(),
        }];
        AccessIndex::build(Catalogue::new(), [], grants, [], []).unwrap()
    }

    #[test]
    fn another_organizations_grants_and_roles_change_nothing() {
        let index = index();
        let catalogue = index.catalogue().clone();
        let foreign_role = CustomRole::new(
            RoleId::from_uuid(Uuid::from_u128(0x600)),
            org(1),
            RoleName::parse("Theirs").unwrap(),
            BTreeSet::from([Permission::parse("users.read").unwrap()]),
            AssignableAt::ANY,
            &catalogue,
        )
        .unwrap();
        let theirs = Scope::Organization(org(1));
        let observed = Observed {
            members: vec![ObservedMember {
                user: user(0),
                grants: vec![
                    Grant {
                        grantee: Grantee::User(user(0)),
                        scope: Scope::Organization(org(0)),
                        role: BuiltinRole::Owner.id(),
                    },
                    Grant {
                        grantee: Grantee::User(user(0)),
                        scope: theirs,
                        role: BuiltinRole::Admin.id(),
                    },
                ],
                collectives: Vec::new(),
                active: true,
            }],
            collectives: vec![ObservedCollective {
                collective: Collective::Group(GroupId::from_uuid(Uuid::from_u128(0x400))),
                exists: true,
                members: Vec::new(),
                grants: vec![Grant {
                    grantee: Grantee::Group(GroupId::from_uuid(Uuid::from_u128(0x400))),
                    scope: theirs,
                    role: BuiltinRole::Owner.id(),
                }],
            }],
            roles: vec![(foreign_role.id, Some(foreign_role))],
            standing: BTreeMap::new(),
        };
        assert_eq!(index.changes_to(org(0), &observed), Some(Vec::new()));
    }

    #[test]
    fn a_missing_standing_is_asked_for_not_guessed() {
        let index = index();
        let group = Collective::Group(GroupId::from_uuid(Uuid::from_u128(0x400)));
        let mut observed = Observed {
            collectives: vec![ObservedCollective {
                collective: group,
                exists: true,
                members: vec![user(1)],
                grants: Vec::new(),
            }],
            ..Observed::default()
        };
        assert_eq!(index.standing_needed(&observed), vec![user(1)]);
        assert_eq!(index.changes_to(org(0), &observed), None);
        observed.standing.insert(user(1), false);
        let changes = index.changes_to(org(0), &observed).unwrap();
        assert!(
            changes.contains(&Change::Deactivate(user(1))),
            "{changes:?}"
        );
    }
}
