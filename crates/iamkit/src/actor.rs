//! The acting principal of every workflow.

use std::collections::BTreeSet;

use iamkit_identity::{ApiKeyId, OrgId, SessionId, UserId, WorkspaceId};

/// Who performs a workflow. Only the facade makes one: [`Actor::system`]
/// for bootstrap, [`Iam::authenticate_session`](crate::Iam::authenticate_session)
/// and [`Iam::authenticate_api_key`](crate::Iam::authenticate_api_key) for
/// everything else, so a caller can never claim to be someone it is not
/// (SECURITY.md 23: a key's creator comes from the authenticated actor).
///
/// Authentication happens once per request; every workflow re-checks the
/// session or key and the user's status inside its own transaction, so a
/// revocation or deactivation is seen by the very next call (SECURITY.md 20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub(crate) kind: ActorKind,
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
        Self {
            kind: ActorKind::System,
        }
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
