//! Role changes: a member's organization role and workspace roles, each
//! through the escalation guard (SECURITY.md 26) and the last-Owner rule
//! (SECURITY.md 27), audited with from → to.

use iamkit_audit::Target;
use iamkit_identity::{OrgId, RoleId, UserId, WorkspaceId};
use iamkit_rbac::{Grantee, Scope};

use crate::actor::Actor;
use crate::error::Result;
use crate::iam::{Flow, Iam};
use crate::store::Store;

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
            let (from, action) = self
                .set_grant_in(
                    &mut tx,
                    &mut authz,
                    Grantee::User(user),
                    scope,
                    role,
                    target,
                    ASSIGN,
                )
                .await?;
            if let Some(action) = action {
                self.audit(&mut tx, org, actor, action, target).await?;
            }
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
