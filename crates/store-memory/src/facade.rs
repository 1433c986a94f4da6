//! The facade's own repositories: password hashes, the outbox, access
//! requests and service accounts.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use iamkit::{
    AccessModel, AccessModelRepository, AccessRequest, AccessRequestRepository,
    AuthenticationRepository, AuthzDelta, AuthzVersionRepository, MessageId, OutboxRecord,
    OutboxRepository, PasswordRepository, PendingEmailRepository, RequestStatus, ServiceAccount,
    ServiceAccountRepository,
};
use iamkit_credentials::{PasswordHash, SealedSecret, SealingKeyId, TokenId};
use iamkit_identity::{AccessRequestId, Email, OrgId, UserId};
use iamkit_store_api::StoreError;
use imbl::{HashMap, OrdMap};

use crate::{MemoryTx, State};

/// Password hashes by user, and the outbox ordered by (time-ordered) id.
#[derive(Clone, Default)]
pub(crate) struct FacadeState {
    passwords: HashMap<UserId, PasswordHash>,
    outbox: OrdMap<MessageId, OutboxRecord>,
    requests: OrdMap<AccessRequestId, AccessRequest>,
    service_accounts: OrdMap<UserId, ServiceAccount>,
    authz_versions: HashMap<OrgId, u64>,
    /// Each organization's change log, by version.
    authz_deltas: HashMap<OrgId, OrdMap<u64, AuthzDelta>>,
    pending_emails: HashMap<TokenId, (UserId, Email)>,
}

impl PasswordRepository for MemoryTx {
    async fn set_password_hash(
        &mut self,
        user: UserId,
        hash: &PasswordHash,
    ) -> Result<(), StoreError> {
        self.state.facade.passwords.insert(user, hash.clone());
        Ok(())
    }

    async fn get_password_hash(
        &mut self,
        user: UserId,
    ) -> Result<Option<PasswordHash>, StoreError> {
        Ok(self.state.facade.passwords.get(&user).cloned())
    }

    async fn delete_password_hash(&mut self, user: UserId) -> Result<bool, StoreError> {
        Ok(self.state.facade.passwords.remove(&user).is_some())
    }
}

impl OutboxRepository for MemoryTx {
    async fn insert_outbox_message(&mut self, message: &OutboxRecord) -> Result<(), StoreError> {
        if self.state.facade.outbox.contains_key(&message.id) {
            return Err(StoreError::unique_violation("outbox_id"));
        }
        self.state.facade.outbox.insert(message.id, message.clone());
        Ok(())
    }

    async fn list_undelivered_outbox(
        &mut self,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        Ok(self
            .state
            .facade
            .outbox
            .values()
            .filter(|m| m.delivered_at.is_none())
            .take(limit)
            .cloned()
            .collect())
    }

    async fn mark_outbox_delivered(
        &mut self,
        id: MessageId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.state.facade.outbox.get_mut(&id) {
            Some(message) if message.delivered_at.is_none() => {
                message.delivered_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list_outbox_to_reseal(
        &mut self,
        key: SealingKeyId,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        let from = match after {
            Some(id) => Bound::Excluded(id),
            None => Bound::Unbounded,
        };
        Ok(self
            .state
            .facade
            .outbox
            .range((from, Bound::Unbounded))
            .map(|(_, m)| m)
            .filter(|m| {
                m.delivered_at.is_none() && m.sealed_link.as_ref().is_some_and(|l| !l.is_under(key))
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn replace_sealed_link(
        &mut self,
        id: MessageId,
        expected: &SealedSecret,
        resealed: &SealedSecret,
    ) -> Result<bool, StoreError> {
        match self.state.facade.outbox.get_mut(&id) {
            Some(message)
                if message.delivered_at.is_none()
                    && message.sealed_link.as_ref() == Some(expected) =>
            {
                message.sealed_link = Some(resealed.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl AccessRequestRepository for MemoryTx {
    async fn insert_access_request(&mut self, request: &AccessRequest) -> Result<(), StoreError> {
        if self.state.facade.requests.contains_key(&request.id) {
            return Err(StoreError::unique_violation("access_requests_id"));
        }
        self.state
            .facade
            .requests
            .insert(request.id, request.clone());
        Ok(())
    }

    async fn get_access_request(
        &mut self,
        id: AccessRequestId,
    ) -> Result<Option<AccessRequest>, StoreError> {
        Ok(self.state.facade.requests.get(&id).cloned())
    }

    async fn decide_access_request(
        &mut self,
        id: AccessRequestId,
        status: RequestStatus,
        by: UserId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.state.facade.requests.get_mut(&id) {
            Some(request) if request.status == RequestStatus::Pending => {
                request.status = status;
                request.decided = Some((by, at));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list_access_requests(&mut self, org: OrgId) -> Result<Vec<AccessRequest>, StoreError> {
        Ok(self
            .state
            .facade
            .requests
            .values()
            .filter(|r| r.org == org)
            .cloned()
            .collect())
    }
}

impl ServiceAccountRepository for MemoryTx {
    async fn insert_service_account(&mut self, account: &ServiceAccount) -> Result<(), StoreError> {
        let accounts = &mut self.state.facade.service_accounts;
        if accounts.contains_key(&account.user) {
            return Err(StoreError::unique_violation("service_accounts_user"));
        }
        accounts.insert(account.user, account.clone());
        Ok(())
    }

    async fn get_service_account(
        &mut self,
        user: UserId,
    ) -> Result<Option<ServiceAccount>, StoreError> {
        Ok(self.state.facade.service_accounts.get(&user).cloned())
    }

    async fn list_service_accounts(
        &mut self,
        org: OrgId,
    ) -> Result<Vec<ServiceAccount>, StoreError> {
        Ok(self
            .state
            .facade
            .service_accounts
            .values()
            .filter(|a| a.org == org)
            .cloned()
            .collect())
    }
}

/// The provided methods: the memory store has no round trips to save.
impl AuthenticationRepository for MemoryTx {}

impl AccessModelRepository for MemoryTx {
    async fn load_access_model(&mut self, org: OrgId) -> Result<AccessModel, StoreError> {
        let State { identity, rbac, .. } = &self.state;
        Ok(AccessModel {
            custom_roles: rbac.roles_of(org).cloned().collect(),
            grants: rbac.grants_in(org).collect(),
            collective_members: identity.collective_members_of(org).collect(),
            active_members: identity.active_members_of(org).collect(),
        })
    }
}

impl AuthzVersionRepository for MemoryTx {
    async fn get_authz_version(&mut self, org: OrgId) -> Result<u64, StoreError> {
        Ok(self
            .state
            .facade
            .authz_versions
            .get(&org)
            .copied()
            .unwrap_or(0))
    }

    async fn list_authz_versions_of_member(
        &mut self,
        user: UserId,
    ) -> Result<Vec<(OrgId, u64)>, StoreError> {
        let versions = &self.state.facade.authz_versions;
        Ok(self
            .state
            .identity
            .orgs_of_member(user)
            .map(|org| (org, versions.get(&org).copied().unwrap_or(0)))
            .collect())
    }

    async fn list_active_members(&mut self, org: OrgId) -> Result<Vec<UserId>, StoreError> {
        Ok(self.state.identity.active_members_of(org).collect())
    }

    async fn bump_authz_version(&mut self, org: OrgId) -> Result<u64, StoreError> {
        let versions = &mut self.state.facade.authz_versions;
        let next = versions.get(&org).copied().unwrap_or(0).saturating_add(1);
        versions.insert(org, next);
        Ok(next)
    }

    async fn append_authz_delta(
        &mut self,
        org: OrgId,
        version: u64,
        delta: AuthzDelta,
    ) -> Result<(), StoreError> {
        let log = self.state.facade.authz_deltas.entry(org).or_default();
        if log.contains_key(&version) {
            return Err(StoreError::unique_violation("authz_deltas_pkey"));
        }
        log.insert(version, delta);
        Ok(())
    }

    async fn list_authz_deltas(
        &mut self,
        org: OrgId,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<(u64, AuthzDelta)>, StoreError> {
        if after >= up_to {
            return Ok(Vec::new());
        }
        Ok(self
            .state
            .facade
            .authz_deltas
            .get(&org)
            .map(|log| {
                log.range((Bound::Excluded(after), Bound::Included(up_to)))
                    .map(|(version, delta)| (*version, *delta))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn prune_authz_deltas(&mut self, org: OrgId, keep_from: u64) -> Result<u64, StoreError> {
        let Some(log) = self.state.facade.authz_deltas.get_mut(&org) else {
            return Ok(0);
        };
        let kept: OrdMap<u64, AuthzDelta> = log
            .range(keep_from..)
            .map(|(version, delta)| (*version, *delta))
            .collect();
        let pruned = log.len() - kept.len();
        *log = kept;
        Ok(u64::try_from(pruned).unwrap_or(u64::MAX))
    }
}

impl PendingEmailRepository for MemoryTx {
    async fn insert_pending_email(
        &mut self,
        token: TokenId,
        user: UserId,
        email: &Email,
    ) -> Result<(), StoreError> {
        self.state
            .facade
            .pending_emails
            .insert(token, (user, email.clone()));
        Ok(())
    }

    async fn get_pending_email(
        &mut self,
        token: TokenId,
    ) -> Result<Option<(UserId, Email)>, StoreError> {
        Ok(self.state.facade.pending_emails.get(&token).cloned())
    }
}
