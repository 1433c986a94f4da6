//! RBAC repositories (custom roles, grants) over copy-on-write maps.

use iamkit_identity::{OrgId, RoleId, WorkspaceId};
use iamkit_rbac::{CustomRole, Grant, GrantRepository, Grantee, RoleRepository, Scope};
use iamkit_store_api::StoreError;
use imbl::{HashMap, OrdMap};
use uuid::Uuid;

use crate::MemoryTx;

/// Custom roles, the index enforcing their per-organization unique names,
/// and grants keyed by (grantee, scope) so a grantee holds one role per scope.
#[derive(Clone, Default)]
pub(crate) struct RbacState {
    roles: HashMap<RoleId, CustomRole>,
    role_names: HashMap<(OrgId, String), RoleId>,
    grants: OrdMap<(Grantee, Scope), RoleId>,
}

const MIN_SCOPE: Scope = Scope::Organization(OrgId::from_uuid(Uuid::nil()));
const MAX_SCOPE: Scope = Scope::Workspace(
    OrgId::from_uuid(Uuid::max()),
    WorkspaceId::from_uuid(Uuid::max()),
);

impl RbacState {
    fn name_taken_by_other(&self, role: &CustomRole) -> bool {
        self.role_names
            .get(&(role.org, role.name.unique_key()))
            .is_some_and(|id| *id != role.id)
    }

    /// Every custom role of `org`, in no particular order.
    pub(crate) fn roles_of(&self, org: OrgId) -> impl Iterator<Item = &CustomRole> {
        self.roles.values().filter(move |r| r.org == org)
    }

    /// Every grant whose scope is in `org`, in grant order.
    pub(crate) fn grants_in(&self, org: OrgId) -> impl Iterator<Item = Grant> + '_ {
        self.grants
            .iter()
            .filter(move |((_, scope), _)| scope.org() == org)
            .map(grant_of)
    }
}

fn grant_of(((grantee, scope), role): (&(Grantee, Scope), &RoleId)) -> Grant {
    Grant {
        grantee: *grantee,
        scope: *scope,
        role: *role,
    }
}

impl RoleRepository for MemoryTx {
    async fn insert_custom_role(&mut self, role: &CustomRole) -> Result<(), StoreError> {
        let state = &mut self.state.rbac;
        if state.roles.contains_key(&role.id) {
            return Err(StoreError::unique_violation("custom_roles_id"));
        }
        if state.name_taken_by_other(role) {
            return Err(StoreError::unique_violation("custom_roles_org_name"));
        }
        state
            .role_names
            .insert((role.org, role.name.unique_key()), role.id);
        state.roles.insert(role.id, role.clone());
        Ok(())
    }

    async fn get_custom_role(&mut self, id: RoleId) -> Result<Option<CustomRole>, StoreError> {
        Ok(self.state.rbac.roles.get(&id).cloned())
    }

    async fn list_custom_roles(&mut self, org: OrgId) -> Result<Vec<CustomRole>, StoreError> {
        let mut roles: Vec<CustomRole> = self.state.rbac.roles_of(org).cloned().collect();
        roles.sort_by_key(|r| (r.name.unique_key(), r.id));
        Ok(roles)
    }

    async fn update_custom_role(&mut self, role: &CustomRole) -> Result<(), StoreError> {
        let state = &mut self.state.rbac;
        let Some(stored) = state.roles.get(&role.id) else {
            return Err(StoreError::not_found());
        };
        if stored.org != role.org {
            return Err(StoreError::conflict());
        }
        if state.name_taken_by_other(role) {
            return Err(StoreError::unique_violation("custom_roles_org_name"));
        }
        let old_key = (stored.org, stored.name.unique_key());
        state.role_names.remove(&old_key);
        state
            .role_names
            .insert((role.org, role.name.unique_key()), role.id);
        state.roles.insert(role.id, role.clone());
        Ok(())
    }

    async fn delete_custom_role(&mut self, id: RoleId) -> Result<(), StoreError> {
        let state = &mut self.state.rbac;
        let Some(stored) = state.roles.get(&id) else {
            return Err(StoreError::not_found());
        };
        if state.grants.values().any(|r| *r == id) {
            return Err(StoreError::conflict());
        }
        let key = (stored.org, stored.name.unique_key());
        state.role_names.remove(&key);
        state.roles.remove(&id);
        Ok(())
    }
}

impl GrantRepository for MemoryTx {
    async fn assign_grant(&mut self, grant: &Grant) -> Result<Option<RoleId>, StoreError> {
        Ok(self
            .state
            .rbac
            .grants
            .insert((grant.grantee, grant.scope), grant.role))
    }

    async fn revoke_grant(
        &mut self,
        grantee: Grantee,
        scope: Scope,
    ) -> Result<Option<RoleId>, StoreError> {
        Ok(self.state.rbac.grants.remove(&(grantee, scope)))
    }

    async fn list_grants_in_org(&mut self, org: OrgId) -> Result<Vec<Grant>, StoreError> {
        Ok(self.state.rbac.grants_in(org).collect())
    }

    async fn list_grants_of(&mut self, grantee: Grantee) -> Result<Vec<Grant>, StoreError> {
        Ok(self
            .state
            .rbac
            .grants
            .range((grantee, MIN_SCOPE)..=(grantee, MAX_SCOPE))
            .map(grant_of)
            .collect())
    }

    async fn count_grants_of_role(&mut self, role: RoleId) -> Result<usize, StoreError> {
        Ok(self
            .state
            .rbac
            .grants
            .values()
            .filter(|r| **r == role)
            .count())
    }
}
