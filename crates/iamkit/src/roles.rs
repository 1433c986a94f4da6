//! Role changes: a member's organization role and workspace roles, each
//! through the escalation guard (SECURITY.md 26) and the last-Owner rule
//! (SECURITY.md 27), audited with from → to.

use iamkit_audit::{Action, Target};
use iamkit_identity::{OrgId, RoleId, UserId, WorkspaceId};
use iamkit_rbac::{Change, Grant, Grantee, Scope};

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam, rbac_denial};
use crate::store::Store;
use crate::store::repositories::*;

const ASSIGN: &str = "roles.assign";

impl<S: Store> Iam<S> {
    /// Sets (`Some`) or removes (`None`) `user`'s role at `scope` in one
    /// transaction: authorization, guards, the change, its audit event.
    async fn set_role(
        &self,
        actor: &Actor,
        user: UserId,
        scope: Scope,
        role: Option<RoleId>,
    ) -> Result<Option<RoleId>> {
        let org = scope.org();
        let target = Target::User(user);
        let mut tx = self.begin().await?;
        let outcome: Flow<Option<RoleId>> = async {
            let mut authz = self
                .authorize(&mut tx, actor, ASSIGN, scope, target)
                .await?;
            self.member(&mut tx, org, user).await?;
            if let Scope::Workspace(_, workspace) = scope
                && tx
                    .get_workspace(workspace)
                    .await?
                    .is_none_or(|w| w.org != org)
            {
                return Err(Error::NotFound.into());
            }
            let grantee = Grantee::User(user);
            authz
                .ensure_can_set(grantee, scope, role)
                .map_err(|e| rbac_denial(org, target, ASSIGN, e))?;
            let from = authz.index.grant_of(grantee, scope);
            let change = match role {
                Some(role) => Change::Assign(Grant {
                    grantee,
                    scope,
                    role,
                }),
                None => Change::Revoke { grantee, scope },
            };
            // The index refuses an unknown or misplaced role and the loss of
            // the last active Owner, before anything is written.
            authz
                .apply(change)
                .map_err(|e| rbac_denial(org, target, ASSIGN, e))?;
            match role {
                Some(role) => {
                    tx.assign_grant(&Grant {
                        grantee,
                        scope,
                        role,
                    })
                    .await?;
                }
                None => {
                    tx.revoke_grant(grantee, scope).await?;
                }
            }
            let action = match scope {
                Scope::Organization(_) => Action::OrgRoleChanged { from, to: role },
                Scope::Workspace(_, workspace) => Action::WorkspaceRoleChanged {
                    workspace,
                    from,
                    to: role,
                },
            };
            self.audit(&mut tx, org, actor, action, target).await?;
            Ok(from)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Changes a member's organization role (`None` removes it); takes
    /// effect at the next call. Returns the previous role. Requires
    /// `roles.assign`, holding every permission of both roles, Owner to
    /// grant or take Owner, and never leaves the organization without an
    /// active Owner.
    pub async fn change_org_role(
        &self,
        actor: &Actor,
        org: OrgId,
        user: UserId,
        role: Option<RoleId>,
    ) -> Result<Option<RoleId>> {
        self.set_role(actor, user, Scope::Organization(org), role)
            .await
    }

    /// Adds a member to a workspace with a role, or changes their role
    /// there; `None` removes them from the workspace. Returns the previous
    /// role. Same rules as [`change_org_role`](Self::change_org_role), at
    /// the workspace's scope.
    pub async fn set_workspace_role(
        &self,
        actor: &Actor,
        org: OrgId,
        workspace: WorkspaceId,
        user: UserId,
        role: Option<RoleId>,
    ) -> Result<Option<RoleId>> {
        self.set_role(actor, user, Scope::Workspace(org, workspace), role)
            .await
    }
}
