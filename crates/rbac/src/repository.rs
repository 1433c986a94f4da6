//! Storage traits of the RBAC domain. Adapters implement them on their
//! transaction type; `iamkit-testkit` checks every MUST below.

use std::future::Future;

use iamkit_identity::{OrgId, RoleId};
use iamkit_store_api::StoreError;

use crate::grants::{Grant, Grantee, Scope};
use crate::roles::CustomRole;

/// Custom roles of organizations. Built-in roles are not stored.
///
/// Constraint names: `custom_roles_id`, `custom_roles_org_name`.
pub trait RoleRepository: Send {
    /// Stores a new custom role. MUST fail with `UniqueViolation
    /// { constraint: "custom_roles_id" }` if the id exists, and with
    /// `UniqueViolation { constraint: "custom_roles_org_name" }` if a role of
    /// the same organization has the same name ignoring case; on failure
    /// nothing is stored.
    fn insert_custom_role(
        &mut self,
        role: &CustomRole,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The custom role with that id. MUST return `None` for an unknown id.
    fn get_custom_role(
        &mut self,
        id: RoleId,
    ) -> impl Future<Output = Result<Option<CustomRole>, StoreError>> + Send;

    /// Every custom role of `org`, MUST be sorted by lowercase name and MUST
    /// hold no role of another organization.
    fn list_custom_roles(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<Vec<CustomRole>, StoreError>> + Send;

    /// Replaces a custom role's name, permissions and scopes. MUST fail with
    /// `NotFound` if the id is unknown, with `Conflict` if `role.org`
    /// differs from the stored one, and with `UniqueViolation { constraint:
    /// "custom_roles_org_name" }` if another role of the organization has the
    /// name ignoring case; on failure nothing changes.
    fn update_custom_role(
        &mut self,
        role: &CustomRole,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes a custom role. MUST fail with `NotFound` if the id is unknown
    /// and with `Conflict` while any grant uses the role (nothing deleted).
    fn delete_custom_role(
        &mut self,
        id: RoleId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Grants of roles to users, groups and teams.
///
/// A grantee holds at most one role per scope: the pair (grantee, scope) is
/// the key.
pub trait GrantRepository: Send {
    /// Grants `grant.role` to `grant.grantee` at `grant.scope`, replacing the
    /// grantee's role at that scope. MUST return the replaced role (`None`
    /// if there was none) and MUST leave exactly one grant for the pair.
    fn assign_grant(
        &mut self,
        grant: &Grant,
    ) -> impl Future<Output = Result<Option<RoleId>, StoreError>> + Send;

    /// Removes the grantee's role at the scope. MUST return the removed role,
    /// or `None` (and change nothing) if there was none.
    fn revoke_grant(
        &mut self,
        grantee: Grantee,
        scope: Scope,
    ) -> impl Future<Output = Result<Option<RoleId>, StoreError>> + Send;

    /// Every grant whose scope is in `org` (organization or any of its
    /// workspaces), to any grantee. MUST be sorted (by [`Grant`]'s order) and
    /// MUST hold no grant of another organization.
    fn list_grants_in_org(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<Vec<Grant>, StoreError>> + Send;

    /// Every grant of one grantee (a user's direct grants, or a group's or
    /// team's), in every organization. MUST be sorted by [`Grant`]'s order.
    fn list_grants_of(
        &mut self,
        grantee: Grantee,
    ) -> impl Future<Output = Result<Vec<Grant>, StoreError>> + Send;

    /// How many grants use `role`. MUST count every grantee and scope.
    fn count_grants_of_role(
        &mut self,
        role: RoleId,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}
