//! Access requests: approval-gated changes. A member with
//! `requests.create` asks for a role change or an offboarding; a member
//! with `requests.approve`, other than the requester, approves (the change
//! is applied in the same transaction, under the approver's authority and
//! guards) or rejects.
//!
//! Approval is not a way around SECURITY.md 26: the approver must be
//! allowed to make the change themself — hold every permission of a
//! requested role (and of the role it replaces), and, for an offboarding,
//! of every role the leaver holds directly. An Approver thus approves
//! requests for roles up to their own; larger grants need an Owner or Admin.

use std::future::Future;

use chrono::{DateTime, Utc};
use iamkit_audit::{Action, Target};
use iamkit_identity::{AccessRequestId, OrgId, RoleId, UserId};
use iamkit_rbac::{Grantee, Scope};
use iamkit_store_api::StoreError;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::iam::{Denial, Failure, Flow, Iam, os_rng};
use crate::store::Store;
use crate::store::repositories::*;

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestedChange {
    /// Give `user` `role` at `scope` (`None`: remove their role there).
    Role {
        /// Who.
        user: UserId,
        /// Where.
        scope: Scope,
        /// Which role.
        role: Option<RoleId>,
    },
    /// Offboard `user`: deactivate them (sessions, keys, links revoked).
    Offboarding {
        /// Who.
        user: UserId,
    },
}

impl RequestedChange {
    /// The user the change concerns.
    pub const fn user(&self) -> UserId {
        match *self {
            Self::Role { user, .. } | Self::Offboarding { user } => user,
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// Waiting for an approver.
    Pending,
    /// Approved and applied.
    Approved,
    /// Rejected; nothing changed.
    Rejected,
}

/// A stored access request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// Its id.
    pub id: AccessRequestId,
    /// The organization.
    pub org: OrgId,
    /// Who asked.
    pub requester: UserId,
    /// What is asked.
    pub change: RequestedChange,
    /// Where it stands.
    pub status: RequestStatus,
    /// When asked.
    pub created_at: DateTime<Utc>,
    /// Who decided, and when.
    pub decided: Option<(UserId, DateTime<Utc>)>,
}

/// Storage of access requests.
pub trait AccessRequestRepository: Send {
    /// Stores a new request. MUST fail with
    /// `UniqueViolation { constraint: "access_requests_id" }` for a reused id.
    fn insert_access_request(
        &mut self,
        request: &AccessRequest,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The request with `id`, or `None`.
    fn get_access_request(
        &mut self,
        id: AccessRequestId,
    ) -> impl Future<Output = Result<Option<AccessRequest>, StoreError>> + Send;

    /// Records a decision: MUST atomically move a `Pending` request to
    /// `status` and return `true`; a decided request MUST stay as it is
    /// (`false`), so of two concurrent decisions exactly one wins.
    fn decide_access_request(
        &mut self,
        id: AccessRequestId,
        status: RequestStatus,
        by: UserId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The organization's requests, oldest first; MUST hold none of
    /// another organization.
    fn list_access_requests(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<Vec<AccessRequest>, StoreError>> + Send;
}

impl<S: Store> Iam<S> {
    /// Submits a request. Requires `requests.create`; the user concerned
    /// must be a member of `org`.
    pub async fn request_access(
        &self,
        actor: &Actor,
        org: OrgId,
        change: RequestedChange,
    ) -> Result<AccessRequestId> {
        let now = self.now();
        let id = AccessRequestId::generate(now, &mut os_rng());
        let target = Target::AccessRequest(id);
        let mut tx = self.begin().await?;
        let outcome: Flow<AccessRequestId> = async {
            let mut authz = self
                .authorize(
                    &mut tx,
                    actor,
                    "requests.create",
                    Scope::Organization(org),
                    target,
                )
                .await?;
            self.member(&mut tx, org, change.user()).await?;
            if let RequestedChange::Role { scope, .. } = change
                && scope.org() != org
            {
                return Err(Error::NotFound.into());
            }
            // Another organization's workspace looks absent (SECURITY.md 25).
            if let RequestedChange::Role {
                scope: Scope::Workspace(_, workspace),
                ..
            } = change
                && tx
                    .get_workspace(workspace)
                    .await?
                    .is_none_or(|w| w.org != org)
            {
                return Err(Error::NotFound.into());
            }
            // A role this organization does not have (another
            // organization's custom role), or one not grantable at the
            // scope, is refused when filed, not at approval.
            if let RequestedChange::Role {
                scope,
                role: Some(role),
                ..
            } = change
                && !authz
                    .index()?
                    .assignable_kinds(role)
                    .contains(&scope.kind())
            {
                return Err(Error::RoleNotAssignable.into());
            }
            let requester = actor.user().ok_or(Error::NotFound)?;
            let request = AccessRequest {
                id,
                org,
                requester,
                change,
                status: RequestStatus::Pending,
                created_at: now,
                decided: None,
            };
            tx.insert_access_request(&request).await?;
            let role = match change {
                RequestedChange::Role { role, .. } => role,
                RequestedChange::Offboarding { .. } => None,
            };
            self.audit(
                &mut tx,
                org,
                actor,
                Action::AccessRequestCreated { role },
                target,
            )
            .await?;
            Ok(id)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// The organization's requests. Requires `requests.read`.
    pub async fn list_access_requests(
        &self,
        actor: &Actor,
        org: OrgId,
    ) -> Result<Vec<AccessRequest>> {
        let mut tx = self.begin().await?;
        let outcome: Flow<Vec<AccessRequest>> = async {
            self.authorize(
                &mut tx,
                actor,
                "requests.read",
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            Ok(tx.list_access_requests(org).await?)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Approves a pending request and applies its change in the same
    /// transaction. Requires `requests.approve`; the requester cannot
    /// approve their own request. The change passes the same guards as if
    /// the approver made it directly (escalation, last Owner).
    pub async fn approve_access_request(
        &self,
        actor: &Actor,
        org: OrgId,
        request: AccessRequestId,
    ) -> Result<()> {
        self.decide(actor, org, request, RequestStatus::Approved)
            .await
    }

    /// Rejects a pending request; nothing else changes. Requires
    /// `requests.approve`; not by the requester.
    pub async fn reject_access_request(
        &self,
        actor: &Actor,
        org: OrgId,
        request: AccessRequestId,
    ) -> Result<()> {
        self.decide(actor, org, request, RequestStatus::Rejected)
            .await
    }

    async fn decide(
        &self,
        actor: &Actor,
        org: OrgId,
        id: AccessRequestId,
        status: RequestStatus,
    ) -> Result<()> {
        const APPROVE: &str = "requests.approve";
        let now = self.now();
        let target = Target::AccessRequest(id);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let mut authz = self
                .authorize(&mut tx, actor, APPROVE, Scope::Organization(org), target)
                .await?;
            let request = tx
                .get_access_request(id)
                .await?
                .filter(|r| r.org == org)
                .ok_or(Error::NotFound)?;
            let approver = actor.user().ok_or(Error::NotFound)?;
            if request.requester == approver {
                return Err(Failure::Denied(Box::new(Denial {
                    org,
                    target,
                    permission: APPROVE,
                    reason: iamkit_audit::DenialReason::Escalation,
                    error: Error::Forbidden {
                        permission: APPROVE.to_owned(),
                    },
                })));
            }
            if !tx.decide_access_request(id, status, approver, now).await? {
                return Err(Error::Conflict(crate::error::Conflict::AlreadyDecided).into());
            }
            if status == RequestStatus::Rejected {
                self.audit(&mut tx, org, actor, Action::AccessRequestRejected, target)
                    .await?;
                return Ok(());
            }
            match request.change {
                RequestedChange::Role { user, scope, role } => {
                    let user_target = Target::User(user);
                    self.member(&mut tx, org, user).await?;
                    let (_, action) = self
                        .set_grant_in(
                            &mut tx,
                            &mut authz,
                            Grantee::User(user),
                            scope,
                            role,
                            user_target,
                            APPROVE,
                        )
                        .await?;
                    self.audit(&mut tx, org, actor, Action::AccessRequestApproved, target)
                        .await?;
                    if let Some(action) = action {
                        self.audit(&mut tx, org, actor, action, user_target).await?;
                    }
                }
                RequestedChange::Offboarding { user } => {
                    let user_target = Target::User(user);
                    // Offboarding is a deactivation under the approver's
                    // guards (SECURITY.md 20, 26, 27).
                    let revoked = self
                        .deactivate_in(&mut tx, &mut authz, org, user, APPROVE, now)
                        .await?;
                    self.audit(&mut tx, org, actor, Action::AccessRequestApproved, target)
                        .await?;
                    // Nothing more when they were deactivated meanwhile.
                    if let Some(revoked) = revoked {
                        self.audit(&mut tx, org, actor, Action::Deactivated, user_target)
                            .await?;
                        self.audit_revoked(&mut tx, org, actor, user, revoked)
                            .await?;
                    }
                }
            }
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
