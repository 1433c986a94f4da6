//! API keys, admin side: create (secret shown once), list, revoke.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use iamkit_audit::{Action, Target};
use iamkit_credentials::{ApiKey, NewApiKey, SecretString};
use iamkit_identity::{ApiKeyId, OrgId, UserId, WorkspaceId};
use iamkit_rbac::Scope;

use crate::actor::{Actor, ActorKind};
use crate::cache::Work;
use crate::error::{Error, Result};
use crate::iam::{Denial, Failure, Flow, Iam, os_rng};
use crate::store::Store;
use crate::store::repositories::*;

const CREATE: &str = "api_keys.create";
const MANAGE: &str = "api_keys.manage";

/// A key just created: its record and the secret, shown this once.
pub struct CreatedApiKey {
    /// The stored key (holds only the SHA-256 of the secret).
    pub key: ApiKey,
    /// `iamk_key_<id>_<secret>`: give it to the program, it is not kept.
    pub secret: SecretString,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key", &self.key)
            .field("secret", &self.secret)
            .finish()
    }
}

impl<S: Store> Iam<S> {
    /// Creates a workspace-scoped key for the signed-in actor. The creator
    /// is the authenticated user, never an input (SECURITY.md 23). An
    /// optional restriction must be a subset of what the creator holds in
    /// the workspace (else [`Error::Escalation`]); on every use the key's
    /// permissions are its restriction intersected with the creator's
    /// *current* ones. Requires `api_keys.create` in the workspace; an API
    /// key cannot create keys.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        org: OrgId,
        new: NewApiKey,
    ) -> Result<CreatedApiKey> {
        let now = self.now();
        let workspace = new.workspace;
        let mut tx = self.begin().await?;
        let outcome: Flow<CreatedApiKey> = async {
            let authz = self
                .authorize(
                    &mut tx,
                    actor,
                    CREATE,
                    Scope::Workspace(org, workspace),
                    Target::Workspace(workspace),
                )
                .await?;
            let creator = match &actor.kind {
                ActorKind::User { user, .. } => *user,
                // A key cannot mint keys: a denial, audited like any other.
                _ => {
                    return Err(Failure::Denied(Box::new(Denial {
                        org,
                        target: Target::Workspace(workspace),
                        permission: CREATE,
                        reason: iamkit_audit::DenialReason::MissingPermission {
                            permission: iamkit_audit::PermissionName::new(CREATE)
                                .map_err(|_| Error::Internal)?,
                        },
                        error: Error::Forbidden {
                            permission: CREATE.to_owned(),
                        },
                    })));
                }
            };
            if let Some(restriction) = &new.restriction {
                let catalogue = self.catalogue();
                let missing: BTreeSet<String> = restriction
                    .iter()
                    .filter(|name| {
                        catalogue
                            .id(name)
                            .is_none_or(|p| !authz.access.permissions.contains(p))
                    })
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    return Err(Failure::Denied(Box::new(Denial {
                        org,
                        target: Target::Workspace(workspace),
                        permission: CREATE,
                        reason: iamkit_audit::DenialReason::Escalation,
                        error: Error::Escalation {
                            missing: missing
                                .iter()
                                .filter_map(|m| iamkit_rbac::Permission::parse(m).ok())
                                .collect(),
                        },
                    })));
                }
            }
            Ok(self
                .store_api_key(&mut tx, actor, org, new, creator, now)
                .await?)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Creates the key `new` of `creator` (after the caller's guards),
    /// stores it and audits it in `tx`; its secret is returned once.
    pub(crate) async fn store_api_key(
        &self,
        tx: &mut Work<S>,
        actor: &Actor,
        org: OrgId,
        new: NewApiKey,
        creator: UserId,
        now: DateTime<Utc>,
    ) -> Result<CreatedApiKey> {
        let (key, secret) =
            ApiKey::create(new, creator, now, &mut os_rng()).map_err(Error::from_credentials)?;
        tx.insert_api_key(key.clone()).await?;
        self.audit(
            tx,
            org,
            actor,
            Action::ApiKeyCreated,
            Target::ApiKey(key.id),
        )
        .await?;
        Ok(CreatedApiKey {
            key,
            secret: secret.to_text(),
        })
    }

    /// The workspace's keys (revoked ones included), without secrets: all
    /// of them for an actor with `api_keys.manage`, else the actor's own
    /// (requires `api_keys.create`).
    pub async fn list_api_keys(
        &self,
        actor: &Actor,
        org: OrgId,
        workspace: WorkspaceId,
    ) -> Result<Vec<ApiKey>> {
        let mut tx = self.begin().await?;
        let outcome: Flow<Vec<ApiKey>> = async {
            let scope = Scope::Workspace(org, workspace);
            let authz = self
                .authorize(&mut tx, actor, CREATE, scope, Target::Workspace(workspace))
                .await?;
            let manages = self
                .catalogue()
                .id(MANAGE)
                .is_some_and(|p| authz.access.permissions.contains(p));
            let mine = actor.user();
            Ok(tx
                .list_api_keys(workspace)
                .await?
                .into_iter()
                .filter(|k| manages || Some(k.created_by) == mine)
                .collect())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Revokes a key at once. One's own key needs `api_keys.create`;
    /// anyone else's in the organization needs `api_keys.manage`. A key of
    /// another organization is [`Error::NotFound`].
    pub async fn revoke_api_key(&self, actor: &Actor, org: OrgId, key: ApiKeyId) -> Result<()> {
        let now = self.now();
        let target = Target::ApiKey(key);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let record = tx.get_api_key(key).await?;
            let workspace = match &record {
                Some(k) => tx.get_workspace(k.workspace).await?,
                None => None,
            };
            let (Some(record), Some(workspace)) = (record, workspace) else {
                return Err(Error::NotFound.into());
            };
            if workspace.org != org {
                return Err(Error::NotFound.into());
            }
            let permission = if actor.user() == Some(record.created_by) {
                CREATE
            } else {
                MANAGE
            };
            self.authorize(
                &mut tx,
                actor,
                permission,
                Scope::Workspace(org, workspace.id),
                target,
            )
            .await?;
            tx.revoke_api_key(key, now).await?;
            self.audit(&mut tx, org, actor, Action::ApiKeyRevoked, target)
                .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
