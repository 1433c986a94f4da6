//! The audit event: who did what to whom, when, with which outcome.

use std::net::IpAddr;

use chrono::{DateTime, SubsecRound, Utc};
use iamkit_identity::{
    AccessRequestId, ApiKeyId, DepartmentId, GroupId, OrgId, RoleId, SessionId, TeamId, UserId,
    WorkspaceId, define_id,
};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::chain::{ChainHead, EventHash};
use crate::text::{PermissionName, RequestId, UserAgent};

define_id!(
    /// Identifies an audit event.
    EventId
);

/// Who performed the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in user.
    User(UserId),
    /// A program authenticated by an API key.
    ApiKey(ApiKeyId),
    /// iamkit or the app itself (expiry, lockout, scheduled jobs).
    System,
}

/// What the action was done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Target {
    /// A user account.
    User(UserId),
    /// The organization itself (settings).
    Org(OrgId),
    /// A workspace.
    Workspace(WorkspaceId),
    /// A group.
    Group(GroupId),
    /// A team.
    Team(TeamId),
    /// A department.
    Department(DepartmentId),
    /// A role.
    Role(RoleId),
    /// An API key.
    ApiKey(ApiKeyId),
    /// A session.
    Session(SessionId),
    /// An access request.
    AccessRequest(AccessRequestId),
}

/// Why an operation was denied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenialReason {
    /// The actor lacks the named permission in the target's scope.
    MissingPermission {
        /// The permission required.
        permission: PermissionName,
    },
    /// The actor is deactivated.
    ActorDeactivated,
    /// The target belongs to another organization (SECURITY.md 25).
    OtherOrganization,
    /// Granting would give more than the actor holds (SECURITY.md 26).
    Escalation,
    /// The change would leave the organization without an active Owner
    /// (SECURITY.md 27).
    LastOwner,
    /// The actor must enrol or complete a second factor first
    /// (SECURITY.md 17, 19).
    SecondFactorRequired,
}

/// Whether the action took effect.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// It did.
    Success,
    /// It was refused.
    Denied {
        /// Why.
        reason: DenialReason,
    },
}

/// Request details the app passes in. Every text is bounded; none is
/// required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Context {
    /// The client's IP address as the app determined it.
    pub ip: Option<IpAddr>,
    /// The client's `User-Agent`.
    pub user_agent: Option<UserAgent>,
    /// The app's request id, to correlate with its own logs.
    pub request_id: Option<RequestId>,
}

/// An event not yet in the chain: everything but its sequence number and
/// hash, which [`seal`](crate::seal) assigns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NewEvent {
    /// The event's id.
    pub id: EventId,
    /// The organization whose chain records it.
    pub org: OrgId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: Actor,
    /// What was done.
    pub action: Action,
    /// To what.
    pub target: Target,
    /// Whether it took effect.
    pub outcome: Outcome,
    /// Request details.
    pub context: Context,
}

impl NewEvent {
    /// A successful action at `now` with an empty context.
    ///
    /// `now` is truncated to microseconds: that is the precision SQL
    /// timestamps keep, and the hash covers the time, so it must survive a
    /// round trip through any adapter.
    pub fn new(
        org: OrgId,
        actor: Actor,
        action: Action,
        target: Target,
        now: DateTime<Utc>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Self {
        let at = now.trunc_subsecs(6);
        Self {
            id: EventId::generate(at, rng),
            org,
            at,
            actor,
            action,
            target,
            outcome: Outcome::Success,
            context: Context::default(),
        }
    }

    /// The same event, recorded as denied.
    #[must_use]
    pub fn denied(mut self, reason: DenialReason) -> Self {
        self.outcome = Outcome::Denied { reason };
        self
    }

    /// The same event, with request details.
    #[must_use]
    pub fn with_context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }
}

/// An event in an organization's chain.
///
/// Fields are public because adapters rebuild events from their rows;
/// [`verify`](crate::verify) is what tells whether a stored event is
/// genuine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The event's id.
    pub id: EventId,
    /// The organization whose chain records it.
    pub org: OrgId,
    /// Its position in the organization's chain, from 1, without gaps.
    pub seq: u64,
    /// When it happened (microsecond precision).
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: Actor,
    /// What was done.
    pub action: Action,
    /// To what.
    pub target: Target,
    /// Whether it took effect.
    pub outcome: Outcome,
    /// Request details.
    pub context: Context,
    /// SHA-256 of the previous event's hash and this event's canonical
    /// encoding.
    pub hash: EventHash,
}

impl AuditEvent {
    /// The chain head once this event is the newest of its organization.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            org: self.org,
            seq: self.seq,
            hash: self.hash,
        }
    }

    /// Whether `user` performed this event or is its target: the events of
    /// a user's activity page.
    pub fn involves(&self, user: UserId) -> bool {
        self.actor == Actor::User(user) || self.target == Target::User(user)
    }

    /// Every object the event names (actor, target and payload ids), so a
    /// reader can load their names in one batch before rendering.
    pub fn mentions(&self) -> Vec<Target> {
        let mut out = Vec::with_capacity(4);
        match self.actor {
            Actor::User(id) => out.push(Target::User(id)),
            Actor::ApiKey(id) => out.push(Target::ApiKey(id)),
            Actor::System => {}
        }
        out.push(self.target);
        match &self.action {
            Action::Invited { role } | Action::AccessRequestCreated { role } => {
                out.extend(role.map(Target::Role));
            }
            Action::OrgRoleChanged { from, to } => {
                out.extend(from.map(Target::Role));
                out.extend(to.map(Target::Role));
            }
            Action::WorkspaceRoleChanged {
                workspace,
                from,
                to,
            } => {
                out.push(Target::Workspace(*workspace));
                out.extend(from.map(Target::Role));
                out.extend(to.map(Target::Role));
            }
            Action::GroupMembershipChanged { group, .. } => out.push(Target::Group(*group)),
            Action::TeamMembershipChanged { team, .. } => out.push(Target::Team(*team)),
            Action::SessionRevoked { session } => out.push(Target::Session(*session)),
            _ => {}
        }
        out.dedup();
        out
    }
}
