//! Guards the facade calls inside its transaction before a change: no
//! escalation (SECURITY.md 26) and API key narrowing (SECURITY.md 23). The
//! last-Owner rule (SECURITY.md 27) is enforced by
//! [`AccessIndex::apply`](crate::AccessIndex::apply) itself.

use std::collections::BTreeSet;

use iamkit_identity::{OrgId, RoleId, UserId, WorkspaceId};

use crate::error::{Error, Result};
use crate::grants::{Collective, Grant, Grantee, Scope};
use crate::index::{Access, AccessIndex};
use crate::permissions::{Catalogue, PermissionSet};
use crate::roles::{BuiltinRole, RoleDefinition};

/// Whether an actor holding `actor` at a scope may grant or revoke `role`
/// there: only an Owner grants or revokes Owner, and the actor must hold
/// every permission of the role (SECURITY.md 26).
pub fn ensure_can_grant(
    catalogue: &Catalogue,
    actor: &Access,
    role: &RoleDefinition,
) -> Result<()> {
    if role.builtin == Some(BuiltinRole::Owner) && !actor.is_owner {
        return Err(Error::OwnerRequired);
    }
    let missing = role.permissions.difference(&actor.permissions);
    if !missing.is_empty() {
        return Err(Error::Escalation {
            missing: catalogue.names_of(&missing),
        });
    }
    Ok(())
}

/// An API key's effective permissions: its restriction (permission names;
/// `None` means unrestricted) intersected with its creator's current
/// permissions in the key's workspace. Names the catalogue does not know
/// grant nothing.
pub fn restrict_api_key(
    catalogue: &Catalogue,
    creator: &PermissionSet,
    restriction: Option<&BTreeSet<String>>,
) -> PermissionSet {
    let mut effective = creator.clone();
    if let Some(names) = restriction {
        effective.intersect_with(&catalogue.set_of(names.iter().map(String::as_str)));
    }
    effective
}

impl AccessIndex {
    /// SECURITY.md 37: whether an actor may act on `target` as a person in
    /// `org` (deactivate, suspend, reactivate, delete, remove, offboard).
    /// Such an act takes away, or gives back, every role the target holds
    /// there, direct or inherited through a group or team, so the actor
    /// must be allowed to grant each of them at the scope where it is held:
    /// hold all its permissions there, and be an Owner to act on an
    /// effective Owner. `actor_at` is what the actor holds at a scope.
    ///
    /// # Errors
    /// [`Error::OwnerRequired`] or [`Error::Escalation`] for the first role
    /// the actor could not grant.
    pub fn ensure_can_act_on(
        &self,
        actor_at: impl Fn(Scope) -> Access,
        target: UserId,
        org: OrgId,
    ) -> Result<()> {
        for held in self.roles_of(target, org) {
            let role = self
                .role(held.role)
                .ok_or(Error::UnknownRole { role: held.role })?;
            ensure_can_grant(self.catalogue(), &actor_at(held.scope), role)?;
        }
        Ok(())
    }

    /// Guards setting `grantee`'s role at `scope` to `role` (`None`:
    /// removing it), for an actor that holds `actor` there: the actor must
    /// be allowed to grant the new role and, when it replaces one, to
    /// revoke the replaced role (else an Admin could demote an Owner by
    /// overwriting the grant). Grants are checked at the scope granted
    /// (SECURITY.md 37).
    ///
    /// # Errors
    /// [`Error::UnknownRole`] for a new role the organization does not
    /// have; [`Error::OwnerRequired`] or [`Error::Escalation`].
    pub fn ensure_can_set(
        &self,
        actor: &Access,
        grantee: Grantee,
        scope: Scope,
        role: Option<RoleId>,
    ) -> Result<()> {
        if let Some(role) = role {
            let def = self.role(role).ok_or(Error::UnknownRole { role })?;
            ensure_can_grant(self.catalogue(), actor, def)?;
        }
        if let Some(current) = self.grant_of(grantee, scope)
            && let Some(def) = self.role(current)
        {
            ensure_can_grant(self.catalogue(), actor, def)?;
        }
        Ok(())
    }

    /// Guards granting `grant` (see [`ensure_can_set`](Self::ensure_can_set)).
    pub fn ensure_can_assign(&self, actor: UserId, grant: &Grant) -> Result<()> {
        let access = self.access(actor, grant.scope);
        self.ensure_can_set(&access, grant.grantee, grant.scope, Some(grant.role))
    }

    /// Guards revoking whatever role `grantee` holds at `scope`.
    pub fn ensure_can_revoke(&self, actor: UserId, grantee: Grantee, scope: Scope) -> Result<()> {
        self.ensure_can_set(&self.access(actor, scope), grantee, scope, None)
    }

    /// Guards adding a member to, or removing one from, a group or team: it
    /// grants or revokes every role the group or team holds, so the actor
    /// must be allowed to grant each at its scope (SECURITY.md 26).
    pub fn ensure_can_change_membership(
        &self,
        actor: UserId,
        collective: Collective,
    ) -> Result<()> {
        self.ensure_can_change_membership_as(|scope| self.access(actor, scope), collective)
    }

    /// [`ensure_can_change_membership`](Self::ensure_can_change_membership)
    /// for an actor that holds `actor_at(scope)` at each scope (a user, or
    /// an API key that holds its access in its own workspace only).
    pub fn ensure_can_change_membership_as(
        &self,
        actor_at: impl Fn(Scope) -> Access,
        collective: Collective,
    ) -> Result<()> {
        for grant in self.grants_of(Grantee::from(collective)) {
            let role = self
                .role(grant.role)
                .ok_or(Error::UnknownRole { role: grant.role })?;
            ensure_can_grant(self.catalogue(), &actor_at(grant.scope), role)?;
        }
        Ok(())
    }

    /// An API key's effective permissions right now (see
    /// [`restrict_api_key`]); it shrinks as soon as the creator loses a role.
    pub fn api_key_permissions(
        &self,
        creator: UserId,
        org: OrgId,
        workspace: WorkspaceId,
        restriction: Option<&BTreeSet<String>>,
    ) -> PermissionSet {
        let creator_permissions = self
            .access(creator, Scope::Workspace(org, workspace))
            .permissions;
        restrict_api_key(self.catalogue(), &creator_permissions, restriction)
    }
}
