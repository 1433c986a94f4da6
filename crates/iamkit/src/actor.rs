//! The acting principal of every workflow.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use iamkit_identity::{ApiKeyId, OrgId, SessionId, UserId, WorkspaceId};

/// Who performs a workflow. Only the facade makes one: [`Actor::system`]
/// for bootstrap, [`Iam::authenticate_session`](crate::Iam::authenticate_session)
/// and [`Iam::authenticate_api_key`](crate::Iam::authenticate_api_key) for
/// everything else, so a caller can never claim to be someone it is not
/// (SECURITY.md 23: a key's creator comes from the authenticated actor).
///
/// Authenticate once per request and drop the actor with the request.
/// Every workflow re-checks the session or key and the user's status
/// inside its own transaction, so a revocation or deactivation is seen by
/// the very next workflow (SECURITY.md 20).
///
/// An authenticated actor also carries the authorization version of each
/// of its organizations as read at authentication. For
/// [`STAMP_LIFETIME`](crate::STAMP_LIFETIME) after that, [`Iam::is_allowed`]
/// answers from the in-process index without reading the store when that
/// index is at exactly the stamped version; otherwise (anything moved, or
/// the actor is older) it re-reads everything. So a change made through
/// any `Iam` over the same database is seen by the next request's check,
/// and a change made through this `Iam` by the very next check.
///
/// [`Iam::is_allowed`]: crate::Iam::is_allowed
///
/// Two actors are equal when they are the same principal (same session,
/// key, or the system), whenever they were authenticated.
#[derive(Debug, Clone)]
pub struct Actor {
    pub(crate) kind: ActorKind,
    pub(crate) stamp: Option<Arc<Stamp>>,
}

impl PartialEq for Actor {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Eq for Actor {}

/// What authentication read, for checks that need not read it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The authorization version of each organization the actor acts in
    /// (a user's memberships; a key's organization), at authentication.
    pub(crate) versions: Vec<(OrgId, u64)>,
    /// Until when the session or key is valid without a new read (the
    /// session's idle and absolute deadlines; the key's expiry).
    pub(crate) valid_until: Option<DateTime<Utc>>,
    /// Whether the user had a confirmed second factor.
    pub(crate) two_factor: bool,
}

impl Stamp {
    /// The stamped version of `org`, while the stamp is valid at `now`.
    pub(crate) fn version(&self, org: OrgId, now: DateTime<Utc>) -> Option<u64> {
        if self.valid_until.is_some_and(|until| now >= until) {
            return None;
        }
        self.versions
            .iter()
            .find(|(o, _)| *o == org)
            .map(|(_, version)| *version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActorKind {
    User {
        user: UserId,
        session: SessionId,
    },
    ApiKey {
        key: ApiKeyId,
        creator: UserId,
        org: OrgId,
        workspace: WorkspaceId,
        restriction: Option<BTreeSet<String>>,
    },
    System,
}

impl Actor {
    /// iamkit itself, for [`Iam::bootstrap`](crate::Iam::bootstrap) only:
    /// every other workflow refuses it.
    pub const fn system() -> Self {
        Self::new(ActorKind::System)
    }

    /// An actor without a stamp: every check reads the store.
    pub(crate) const fn new(kind: ActorKind) -> Self {
        Self { kind, stamp: None }
    }

    /// The signed-in user, or the creator of the API key.
    pub fn user(&self) -> Option<UserId> {
        match &self.kind {
            ActorKind::User { user, .. } => Some(*user),
            ActorKind::ApiKey { creator, .. } => Some(*creator),
            ActorKind::System => None,
        }
    }

    /// The session the actor signed in with, if a user.
    pub fn session(&self) -> Option<SessionId> {
        match &self.kind {
            ActorKind::User { session, .. } => Some(*session),
            _ => None,
        }
    }

    /// The API key, if the actor is one.
    pub fn api_key(&self) -> Option<ApiKeyId> {
        match &self.kind {
            ActorKind::ApiKey { key, .. } => Some(*key),
            _ => None,
        }
    }

    /// How the audit log names the actor.
    pub fn audit(&self) -> iamkit_audit::Actor {
        match &self.kind {
            ActorKind::User { user, .. } => iamkit_audit::Actor::User(*user),
            ActorKind::ApiKey { key, .. } => iamkit_audit::Actor::ApiKey(*key),
            ActorKind::System => iamkit_audit::Actor::System,
        }
    }
}
