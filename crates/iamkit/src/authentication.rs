//! What authenticating a request reads: the session or API key together
//! with everything a check needs next (the user's standing, the
//! organizations' authorization versions), in one read where the adapter
//! can make it one query.

use std::future::Future;

use iamkit_credentials::{ApiKey, ApiKeyRepository, Session, SessionRepository, TotpRepository};
use iamkit_identity::{
    ApiKeyId, OrgId, OrganizationRepository, SessionId, UserRepository, WorkspaceRepository,
};
use iamkit_store_api::StoreError;

use crate::authorization::AuthzVersionRepository;

/// A session with what authenticating it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionContext {
    /// The stored session.
    pub session: Session,
    /// Whether its user exists and is ACTIVE.
    pub user_active: bool,
    /// Whether its user has a confirmed TOTP enrolment.
    pub two_factor: bool,
    /// The authorization version of every organization the user is a
    /// member of, as [`AuthzVersionRepository::list_authz_versions_of_member`]
    /// reads them.
    pub authz_versions: Vec<(OrgId, u64)>,
}

/// An API key with what authenticating it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyContext {
    /// The stored key.
    pub key: ApiKey,
    /// Whether its creator exists and is ACTIVE.
    pub creator_active: bool,
    /// The organization of the key's workspace.
    pub org: OrgId,
    /// That organization's authorization version.
    pub authz_version: u64,
}

/// The reads of request authentication. The provided methods compose the
/// other repositories (several queries); a SQL adapter overrides them with
/// one query each, so a request costs one round trip before its checks
/// (and, through [`Store::session_context`](crate::Store::session_context)
/// and [`Store::api_key_context`](crate::Store::api_key_context), no
/// transaction around it). Overrides MUST return exactly what the provided
/// methods return.
pub trait AuthenticationRepository:
    SessionRepository
    + ApiKeyRepository
    + TotpRepository
    + UserRepository
    + WorkspaceRepository
    + OrganizationRepository
    + AuthzVersionRepository
    + Send
{
    /// The session `id` and its context; `None` when there is no such
    /// session.
    fn load_session_context(
        &mut self,
        id: SessionId,
    ) -> impl Future<Output = Result<Option<SessionContext>, StoreError>> + Send {
        async move {
            let Some(session) = self.get_session(id).await? else {
                return Ok(None);
            };
            let user_active = self
                .get_user(session.user)
                .await?
                .is_some_and(|u| u.is_active());
            let two_factor = self
                .get_totp(session.user)
                .await?
                .is_some_and(|t| t.confirmed_at.is_some());
            let authz_versions = self.list_authz_versions_of_member(session.user).await?;
            Ok(Some(SessionContext {
                session,
                user_active,
                two_factor,
                authz_versions,
            }))
        }
    }

    /// The key `id` and its context; `None` when there is no such key, or
    /// its workspace or organization is gone.
    fn load_api_key_context(
        &mut self,
        id: ApiKeyId,
    ) -> impl Future<Output = Result<Option<ApiKeyContext>, StoreError>> + Send {
        async move {
            let Some(key) = self.get_api_key(id).await? else {
                return Ok(None);
            };
            let Some(workspace) = self.get_workspace(key.workspace).await? else {
                return Ok(None);
            };
            if self.get_organization(workspace.org).await?.is_none() {
                return Ok(None);
            }
            let creator_active = self
                .get_user(key.created_by)
                .await?
                .is_some_and(|u| u.is_active());
            let authz_version = self.get_authz_version(workspace.org).await?;
            Ok(Some(ApiKeyContext {
                key,
                creator_active,
                org: workspace.org,
                authz_version,
            }))
        }
    }
}
