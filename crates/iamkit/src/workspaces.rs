//! Workspaces: creating the environments roles can be granted in.

use iamkit_audit::{Action, SettingName, Target};
use iamkit_identity::{Name, OrgId, Workspace, WorkspaceId};
use iamkit_rbac::Scope;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam, os_rng};
use crate::store::Store;
use crate::store::repositories::*;

impl<S: Store> Iam<S> {
    /// Creates a workspace in `org` (name unique in the organization).
    /// Requires `workspaces.manage`. Audited as the organization setting
    /// `workspaces` changing, with the workspace as target (the audit
    /// crate has no dedicated action for it).
    pub async fn create_workspace(
        &self,
        actor: &Actor,
        org: OrgId,
        name: &str,
    ) -> Result<WorkspaceId> {
        let name = Name::parse(name).map_err(|e| e.for_field("name"))?;
        let now = self.now();
        let workspace = Workspace {
            id: WorkspaceId::generate(now, &mut os_rng()),
            org,
            name,
            created_at: now,
        };
        let mut tx = self.begin().await?;
        let outcome: Flow<WorkspaceId> = async {
            self.authorize(
                &mut tx,
                actor,
                "workspaces.manage",
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            tx.insert_workspace(&workspace)
                .await
                .map_err(Error::from_store)?;
            let setting = SettingName::new("workspaces").map_err(|_| Error::Internal)?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::SettingsChanged { setting },
                Target::Workspace(workspace.id),
            )
            .await?;
            Ok(workspace.id)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
