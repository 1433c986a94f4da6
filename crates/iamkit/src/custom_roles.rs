//! Custom roles: an organization's own roles, from the permission catalogue.

use std::collections::BTreeSet;

use iamkit_audit::{Action, SettingName, Target};
use iamkit_identity::{OrgId, RoleId};
use iamkit_rbac::{
    AssignableAt, Change, CustomRole, Permission, RoleDefinition, RoleName, Scope, ensure_can_grant,
};

use crate::actor::Actor;
use crate::error::{Conflict, Error, Result};
use crate::iam::{Flow, Iam, os_rng, rbac_denial};
use crate::store::Store;
use crate::store::repositories::*;

const MANAGE: &str = "roles.manage";

/// A custom role's definition as an admin form sends it.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// Name, unique in the organization ignoring case.
    pub name: String,
    /// Permission names from the catalogue.
    pub permissions: Vec<String>,
    /// Where it may be granted.
    pub assignable_at: AssignableAt,
}

impl<S: Store> Iam<S> {
    fn custom_role(&self, id: RoleId, org: OrgId, spec: &RoleSpec) -> Result<CustomRole> {
        let name = RoleName::parse(&spec.name).map_err(|reason| Error::InvalidRole { reason })?;
        let permissions = spec
            .permissions
            .iter()
            .map(|p| Permission::parse(p))
            .collect::<std::result::Result<BTreeSet<_>, _>>()
            .map_err(|reason| Error::InvalidRole { reason })?;
        CustomRole::new(
            id,
            org,
            name,
            permissions,
            spec.assignable_at,
            self.catalogue(),
        )
        .map_err(|reason| Error::InvalidRole { reason })
    }

    /// Creates a custom role. Requires `roles.manage` and holding every
    /// permission the role carries (no role can be defined to exceed its
    /// author). Audited as the `roles` setting with the role as target.
    pub async fn create_custom_role(
        &self,
        actor: &Actor,
        org: OrgId,
        spec: &RoleSpec,
    ) -> Result<RoleId> {
        let id = RoleId::generate(self.now(), &mut os_rng());
        let role = self.custom_role(id, org, spec)?;
        self.put_custom_role(actor, org, role, true).await?;
        Ok(id)
    }

    /// Replaces a custom role's name, permissions and scopes; holders gain
    /// or lose permissions at once. Same rules as creating it.
    pub async fn update_custom_role(
        &self,
        actor: &Actor,
        org: OrgId,
        role: RoleId,
        spec: &RoleSpec,
    ) -> Result<()> {
        let role = self.custom_role(role, org, spec)?;
        self.put_custom_role(actor, org, role, false).await
    }

    async fn put_custom_role(
        &self,
        actor: &Actor,
        org: OrgId,
        role: CustomRole,
        new: bool,
    ) -> Result<()> {
        let target = Target::Role(role.id);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let mut authz = self
                .authorize(&mut tx, actor, MANAGE, Scope::Organization(org), target)
                .await?;
            if !new {
                let stored = tx.get_custom_role(role.id).await?;
                if stored.is_none_or(|r| r.org != org) {
                    return Err(Error::NotFound.into());
                }
            }
            let definition = RoleDefinition::custom(&role, self.catalogue());
            ensure_can_grant(self.catalogue(), &authz.access, &definition)
                .map_err(|e| rbac_denial(org, target, MANAGE, e))?;
            authz
                .apply(Change::PutRole(role.clone()))
                .map_err(|e| rbac_denial(org, target, MANAGE, e))?;
            if new {
                tx.insert_custom_role(&role)
                    .await
                    .map_err(Error::from_store)?;
            } else {
                tx.update_custom_role(&role)
                    .await
                    .map_err(Error::from_store)?;
            }
            let setting = SettingName::new("roles").map_err(|_| Error::Internal)?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::SettingsChanged { setting },
                target,
            )
            .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Deletes an unused custom role; while any grant uses it the answer
    /// is [`Conflict::RoleInUse`] (reassign first). Requires `roles.manage`.
    pub async fn delete_custom_role(&self, actor: &Actor, org: OrgId, role: RoleId) -> Result<()> {
        let target = Target::Role(role);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            self.authorize(&mut tx, actor, MANAGE, Scope::Organization(org), target)
                .await?;
            let stored = tx.get_custom_role(role).await?;
            if stored.is_none_or(|r| r.org != org) {
                return Err(Error::NotFound.into());
            }
            let grants = tx.count_grants_of_role(role).await?;
            if grants > 0 {
                return Err(Error::Conflict(Conflict::RoleInUse { grants }).into());
            }
            tx.delete_custom_role(role).await?;
            let setting = SettingName::new("roles").map_err(|_| Error::Internal)?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::SettingsChanged { setting },
                target,
            )
            .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// The organization's custom roles, by name. Requires `roles.read`.
    pub async fn list_custom_roles(&self, actor: &Actor, org: OrgId) -> Result<Vec<CustomRole>> {
        let mut tx = self.begin().await?;
        let outcome: Flow<Vec<CustomRole>> = async {
            self.authorize(
                &mut tx,
                actor,
                "roles.read",
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            Ok(tx.list_custom_roles(org).await?)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
