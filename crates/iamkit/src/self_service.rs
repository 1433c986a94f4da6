//! What a signed-in user does for themself that is not a credential
//! change — their sessions — and what the app asks on every request: may
//! this actor do that?

use chrono::{DateTime, Utc};
use iamkit_audit::{Action, Target};
use iamkit_credentials::ClientMetadata;
use iamkit_identity::{OrgId, SessionId, User, UserId};
use iamkit_rbac::{PermissionId, Scope};

use crate::actor::{Actor, ActorKind};
use crate::cache::Work;
use crate::error::{Error, Result};
use crate::iam::{CachedIndex, Failure, Flow, Iam};
use crate::store::Store;
use crate::store::repositories::*;

const REVOKE: &str = "sessions.revoke";

/// One of a user's live sessions, as a "where you're signed in" list shows
/// it. Carries no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session.
    pub id: SessionId,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// Last activity.
    pub last_seen_at: DateTime<Utc>,
    /// What the app recorded about the client.
    pub client: ClientMetadata,
    /// Whether it is the session the request came with.
    pub current: bool,
}

impl<S: Store> Iam<S> {
    /// The account behind a user actor whose session is live and fully
    /// signed in. API keys and `System` do not act for themselves here.
    pub(crate) async fn session_user(&self, tx: &mut Work<S>, actor: &Actor) -> Result<User> {
        let ActorKind::User { user, session } = &actor.kind else {
            return Err(Error::InvalidCredentials);
        };
        let now = self.now();
        let live = tx
            .get_session(*session)
            .await?
            .is_some_and(|s| s.user == *user && s.authorizes(&self.config().sessions, now));
        let account = tx.get_user(*user).await?;
        match account {
            Some(account) if live && account.is_active() => Ok(account),
            _ => Err(Error::InvalidCredentials),
        }
    }

    /// Appends `action` about `user` to the chain of every organization the
    /// user belongs to: a self-service change concerns each of them. An
    /// account in no organization has it in the system chain.
    pub(crate) async fn audit_in_orgs_of(
        &self,
        tx: &mut Work<S>,
        user: UserId,
        actor: &Actor,
        action: Action,
    ) -> Result<()> {
        let memberships = tx.list_memberships_of_user(user).await?;
        if memberships.is_empty() {
            // An account in no organization is still audited (issue 16).
            return self
                .audit_system(tx, actor, action, Target::User(user))
                .await;
        }
        for membership in memberships {
            self.audit(
                tx,
                membership.org,
                actor,
                action.clone(),
                Target::User(user),
            )
            .await?;
        }
        Ok(())
    }

    /// Whether `actor` holds `permission` (iamkit's or one the app
    /// registered) at `scope`, read from the store on this call: a
    /// deactivation, a revoked session or key, or a role removal is seen at
    /// once (SECURITY.md 20, 24). Denies on any error, including an unknown
    /// permission, an MfaPending session (SECURITY.md 17) and a member
    /// without 2FA under enforcement (SECURITY.md 19). Denials are not
    /// audited: the app asks this on every request.
    ///
    /// Named `is_allowed` because the workflows' own authorization step is
    /// the crate-internal `authorize`.
    pub async fn is_allowed(&self, actor: &Actor, permission: &str, scope: Scope) -> bool {
        if let Some(allowed) = self.check_stamped(actor, permission, scope) {
            return allowed;
        }
        // Boxed: a SQL adapter's futures are large, and inline they would
        // make every warm check move kilobytes of future state.
        Box::pin(self.is_allowed_in_store(actor, permission, scope)).await
    }

    /// [`is_allowed`](Self::is_allowed) read from the store.
    async fn is_allowed_in_store(&self, actor: &Actor, permission: &str, scope: Scope) -> bool {
        let Ok(mut tx) = self.begin_read().await else {
            return false;
        };
        let allowed = self
            .check_permission(&mut tx, actor, permission, scope)
            .await
            .unwrap_or(false);
        let _ = tx.rollback().await;
        allowed
    }

    /// The answer from the in-process index alone, when the actor's stamp
    /// (see [`Actor`]) is valid and the cached index of the scope's
    /// organization is at exactly the stamped version: nothing that
    /// authorization depends on changed since authentication. `None` when
    /// the store must be read.
    fn check_stamped(&self, actor: &Actor, permission: &str, scope: Scope) -> Option<bool> {
        let id = self.catalogue().id(permission)?;
        let org = scope.org();
        let stamp = actor.stamp.as_ref()?;
        let version = stamp.version(org, self.now())?;
        let entry = self.cached_index(org, version)?;
        // A key under 2FA enforcement is decided by its creator's standing,
        // which the stamp does not carry: read it from the store.
        if entry.require_two_factor && matches!(actor.kind, ActorKind::ApiKey { .. }) {
            return None;
        }
        let second_factor_missing = entry.require_two_factor && !stamp.two_factor;
        Some(allows(
            &actor.kind,
            &entry,
            id,
            scope,
            second_factor_missing,
        ))
    }

    async fn check_permission(
        &self,
        tx: &mut Work<S>,
        actor: &Actor,
        permission: &str,
        scope: Scope,
    ) -> Result<bool> {
        let Some(id) = self.catalogue().id(permission) else {
            return Ok(false);
        };
        let org = scope.org();
        let Some(organization) = tx.get_organization(org).await? else {
            return Ok(false);
        };
        let now = self.now();
        // First the credential and the actor's standing, read from the
        // store; then the same decision as a stamped check.
        let second_factor_missing = match &actor.kind {
            ActorKind::System => return Ok(false),
            ActorKind::User { user, session } => {
                let live = tx
                    .get_session(*session)
                    .await?
                    .is_some_and(|s| s.user == *user && s.authorizes(&self.config().sessions, now));
                if !live || tx.get_membership(org, *user).await?.is_none() {
                    return Ok(false);
                }
                organization.settings.require_two_factor
                    && !crate::two_factor::has_two_factor(&mut **tx, *user).await?
            }
            ActorKind::ApiKey { key, creator, .. } => {
                let active = tx
                    .get_api_key(*key)
                    .await?
                    .is_some_and(|k| k.is_active(now));
                if !active {
                    return Ok(false);
                }
                organization.settings.require_two_factor
                    && crate::two_factor::key_lacks_second_factor(&mut **tx, *creator).await?
            }
        };
        let entry = self.read_index(tx, org).await?;
        Ok(allows(
            &actor.kind,
            &entry,
            id,
            scope,
            second_factor_missing,
        ))
    }

    /// The actor's own live sessions, newest first.
    pub async fn list_my_sessions(&self, actor: &Actor) -> Result<Vec<SessionSummary>> {
        let now = self.now();
        // Only reads: no write lock (see `Store::begin_read`).
        let mut tx = self.begin_read().await?;
        let user = self.session_user(&mut tx, actor).await?;
        let sessions = tx.list_sessions_of(user.id).await?;
        tx.rollback().await?;
        let current = actor.session();
        Ok(sessions
            .into_iter()
            .filter(|s| s.is_live(&self.config().sessions, now))
            .map(|s| SessionSummary {
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                client: s.client,
                current: Some(s.id) == current,
            })
            .collect())
    }

    /// Signs one of the actor's own sessions out (possibly the current
    /// one). Another user's session looks like no session.
    pub async fn revoke_my_session(&self, actor: &Actor, session: SessionId) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let user = self.session_user(&mut tx, actor).await?;
            let owned = tx
                .get_session(session)
                .await?
                .is_some_and(|s| s.user == user.id && s.revoked_at.is_none());
            if !owned {
                return Err(Error::NotFound.into());
            }
            tx.revoke_session(session, now).await?;
            self.audit_in_orgs_of(&mut tx, user.id, actor, Action::SessionRevoked { session })
                .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Signs the actor out everywhere else (keeps the current session), or
    /// everywhere (`keep_current = false`). Returns how many sessions ended.
    pub async fn revoke_my_sessions(&self, actor: &Actor, keep_current: bool) -> Result<u64> {
        let mut tx = self.begin().await?;
        let outcome: Flow<u64> = async {
            let user = self.session_user(&mut tx, actor).await?;
            let except = if keep_current { actor.session() } else { None };
            let ended = self
                .revoke_and_audit(&mut tx, user.id, except, actor)
                .await?;
            Ok(ended)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// An admin signs a member out everywhere (SECURITY.md 22). Requires
    /// `sessions.revoke` in the member's organization.
    pub async fn revoke_sessions_of_user(
        &self,
        actor: &Actor,
        org: OrgId,
        user: UserId,
    ) -> Result<u64> {
        let mut tx = self.begin().await?;
        let outcome: Flow<u64> = async {
            self.authorize(
                &mut tx,
                actor,
                REVOKE,
                Scope::Organization(org),
                Target::User(user),
            )
            .await?;
            let (account, _) = self.member(&mut tx, org, user).await?;
            Self::ensure_manages(org, &account)?;
            let ended = self.revoke_and_audit(&mut tx, user, None, actor).await?;
            Ok(ended)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Revokes `user`'s sessions but `except`, one `SessionRevoked` event
    /// per session ended.
    pub(crate) async fn revoke_and_audit(
        &self,
        tx: &mut Work<S>,
        user: UserId,
        except: Option<SessionId>,
        actor: &Actor,
    ) -> std::result::Result<u64, Failure> {
        let mut ended = 0;
        for session in tx.list_sessions_of(user).await? {
            if Some(session.id) == except || session.revoked_at.is_some() {
                continue;
            }
            if tx.revoke_session(session.id, self.now()).await? {
                ended += 1;
                self.audit_in_orgs_of(
                    tx,
                    user,
                    actor,
                    Action::SessionRevoked {
                        session: session.id,
                    },
                )
                .await?;
            }
        }
        Ok(ended)
    }
}

/// Whether an actor whose credential is live holds permission `id` at
/// `scope` by `index`: deny by default and when deactivated (SECURITY.md
/// 24), when a required second factor is missing (SECURITY.md 19); an API
/// key only in its workspace, within its restriction and its creator's
/// current permissions (SECURITY.md 23). Stamped and store-read checks
/// both end here.
fn allows(
    kind: &ActorKind,
    entry: &CachedIndex,
    id: PermissionId,
    scope: Scope,
    second_factor_missing: bool,
) -> bool {
    let org = scope.org();
    let index = &entry.index;
    if second_factor_missing || !entry.contains(scope) {
        return false;
    }
    match kind {
        ActorKind::System => false,
        ActorKind::User { user, .. } => {
            !index.is_deactivated(*user) && index.check(*user, id, scope)
        }
        ActorKind::ApiKey {
            creator,
            org: key_org,
            workspace,
            restriction,
            ..
        } => {
            *key_org == org
                && scope == Scope::Workspace(org, *workspace)
                && !index.is_deactivated(*creator)
                && index
                    .api_key_permissions(*creator, org, *workspace, restriction.as_ref())
                    .contains(id)
        }
    }
}
