//! Deactivation and reactivation (SECURITY.md 20).

use chrono::{DateTime, Utc};

use iamkit_audit::{Action, Target};
use iamkit_identity::{OrgId, StatusChange, UserId, UserStatus};
use iamkit_rbac::{Change, Scope};

use crate::actor::Actor;
use crate::cache::Work;
use crate::error::Result;
use crate::iam::{Authorized, Flow, Iam, rbac_denial};
use crate::store::Store;
use crate::store::repositories::*;

const DEACTIVATE: &str = "users.deactivate";

impl<S: Store> Iam<S> {
    /// The account is global: deactivating it in `org` must not leave any
    /// other organization of the user without an active Owner either
    /// (SECURITY.md 27). Denied (audited in `org`) as the last Owner.
    pub(crate) async fn ensure_owner_elsewhere(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        user: UserId,
        permission: &'static str,
    ) -> Flow<()> {
        for other in tx.list_memberships_of_user(user).await? {
            if other.org == org {
                continue;
            }
            self.load_index(tx, other.org)
                .await?
                .validate(&Change::Deactivate(user))
                .map_err(|e| rbac_denial(org, Target::User(user), permission, e))?;
        }
        Ok(())
    }

    /// Deactivates `user` in `org` inside `tx`, after the guards: the actor
    /// (whose index is `authz`) must be allowed to revoke each of the
    /// member's direct roles (SECURITY.md 26; only an Owner takes Owner),
    /// and no organization of the account may lose its last active Owner
    /// (27). Then the membership and the account become DEACTIVATED and
    /// every session, API key and pending link is revoked in the same
    /// transaction (20). `deactivate` and an approved offboarding both come
    /// here, so the two paths cannot drift apart. The caller audits, with
    /// what was revoked.
    /// Revokes the live API keys `user` made in `org`'s workspaces: keys
    /// die with a suspended or removed membership, and a later
    /// reactivation or re-invitation must not bring them back.
    pub(crate) async fn revoke_keys_in(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Revoked> {
        let mut revoked = Revoked::default();
        for workspace in tx.list_workspaces(org).await? {
            for key in tx.list_api_keys(workspace.id).await? {
                if key.created_by == user
                    && key.revoked_at.is_none()
                    && tx.revoke_api_key(key.id, now).await?
                {
                    revoked.api_keys += 1;
                }
            }
        }
        Ok(revoked)
    }

    /// Ends every session and API key of `user` (and their pending links)
    /// with the account's standing: deactivation, deletion, reclaim.
    pub(crate) async fn revoke_credentials_of(
        &self,
        tx: &mut Work<S>,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Revoked> {
        let sessions = tx.revoke_sessions_of(user, None, now).await?;
        let api_keys = tx.revoke_api_keys_of(user, now).await?;
        tx.revoke_tokens_of(user, now).await?;
        Ok(Revoked { sessions, api_keys })
    }

    /// Audits, in `org`'s chain, what a change to `user` ended with it
    /// (issue 16, item 8): one event naming the counts, none when nothing
    /// was live.
    pub(crate) async fn audit_revoked(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        actor: &Actor,
        user: UserId,
        revoked: Revoked,
    ) -> Result<()> {
        match revoked.action() {
            Some(action) => self.audit(tx, org, actor, action, Target::User(user)).await,
            None => Ok(()),
        }
    }

    /// [`audit_revoked`](Self::audit_revoked) for an account-wide change
    /// (a password set, a reclaimed account): in every chain of `user`.
    pub(crate) async fn audit_revoked_everywhere(
        &self,
        tx: &mut Work<S>,
        actor: &Actor,
        user: UserId,
        revoked: Revoked,
    ) -> Result<()> {
        match revoked.action() {
            Some(action) => self.audit_in_orgs_of(tx, user, actor, action).await,
            None => Ok(()),
        }
    }

    pub(crate) async fn deactivate_in(
        &self,
        tx: &mut Work<S>,
        authz: &mut Authorized,
        org: OrgId,
        user: UserId,
        permission: &'static str,
        now: DateTime<Utc>,
    ) -> Flow<Option<Revoked>> {
        let target = Target::User(user);
        let (mut account, mut membership) = self.member(tx, org, user).await?;
        let already = membership.status == UserStatus::Deactivated;
        if !already {
            membership.status.apply(StatusChange::Deactivate)?;
        }
        authz
            .ensure_can_act_on(user, org)
            .map_err(|e| rbac_denial(org, target, permission, e))?;
        if already {
            // A no-op once the guards pass (the no-op rule,
            // crates/iamkit/README.md).
            return Ok(None);
        }
        authz
            .apply(Change::Deactivate(user))
            .map_err(|e| rbac_denial(org, target, permission, e))?;
        membership.status = UserStatus::Deactivated;
        membership.updated_at = now;
        tx.update_membership(&membership).await?;
        if account.managed_by != Some(org) {
            // SECURITY.md 32: another organization's (or a self-managed)
            // account is only suspended here. It can do nothing in `org`
            // and its keys acting in `org` die; it keeps working elsewhere.
            return Ok(Some(self.revoke_keys_in(tx, org, user, now).await?));
        }
        if account.status == UserStatus::Active {
            self.ensure_owner_elsewhere(tx, org, user, permission)
                .await?;
            account.apply(StatusChange::Deactivate, now)?;
            tx.update_user(&account).await?;
        }
        // The managed account is global: its standing changes in every org.
        self.bump_orgs_of(tx, user).await?;
        Ok(Some(self.revoke_credentials_of(tx, user, now).await?))
    }

    /// Deactivates a member, in one transaction: the membership and the
    /// account become DEACTIVATED, every session, API key and pending
    /// link (invite, reset, verification) of the user is revoked, and no
    /// notification reaches them any more. Data, roles and the audit trail
    /// stay; the email stays taken. The very next call of any actor sees
    /// the user without access (the organization's authorization version
    /// is bumped in this transaction, so no cached index survives it).
    /// The last active Owner cannot be deactivated, here or in any other
    /// organization of the account. Requires `users.deactivate` and being
    /// allowed to revoke each of the member's direct roles (only an Owner
    /// deactivates an Owner).
    ///
    /// The account is global, so deactivating it in one organization stops
    /// its sign-in everywhere; an admin of another organization sees their
    /// membership unchanged but the account inactive.
    pub async fn deactivate(&self, actor: &Actor, org: OrgId, user: UserId) -> Result<()> {
        let now = self.now();
        let target = Target::User(user);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let mut authz = self
                .authorize(&mut tx, actor, DEACTIVATE, Scope::Organization(org), target)
                .await?;
            let Some(revoked) = self
                .deactivate_in(&mut tx, &mut authz, org, user, DEACTIVATE, now)
                .await?
            else {
                return Ok(());
            };
            self.audit(&mut tx, org, actor, Action::Deactivated, target)
                .await?;
            self.audit_revoked(&mut tx, org, actor, user, revoked)
                .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Reactivates a deactivated member: ACTIVE again with the roles they
    /// had; revoked sessions and API keys stay revoked. Requires
    /// `users.deactivate` and being allowed to grant each of the member's
    /// direct roles (only an Owner reactivates an Owner).
    pub async fn reactivate(&self, actor: &Actor, org: OrgId, user: UserId) -> Result<()> {
        let now = self.now();
        let target = Target::User(user);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let mut authz = self
                .authorize(&mut tx, actor, DEACTIVATE, Scope::Organization(org), target)
                .await?;
            let (mut account, mut membership) = self.member(&mut tx, org, user).await?;
            let already = membership.status == UserStatus::Active;
            if !already {
                membership.status.apply(StatusChange::Reactivate)?;
            }
            // Reactivating gives back every role the member holds here,
            // direct or inherited (SECURITY.md 37).
            authz
                .ensure_can_act_on(user, org)
                .map_err(|e| rbac_denial(org, target, DEACTIVATE, e))?;
            if already {
                return Ok(());
            }
            membership.status = UserStatus::Active;
            membership.updated_at = now;
            tx.update_membership(&membership).await?;
            // Only the managing organization brings the account itself back
            // (SECURITY.md 32); any other lifts its own suspension.
            if account.managed_by == Some(org) && account.status == UserStatus::Deactivated {
                account.apply(StatusChange::Reactivate, now)?;
                tx.update_user(&account).await?;
            }
            self.bump_orgs_of(&mut tx, user).await?;
            self.audit(&mut tx, org, actor, Action::Reactivated, target)
                .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}

/// What a change to an account ended with it: audited as one
/// [`Action::CredentialsRevoked`] naming the counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Revoked {
    pub(crate) sessions: u64,
    pub(crate) api_keys: u64,
}

impl Revoked {
    /// Sessions only (a password change keeps keys: they are not signed in
    /// with the password).
    pub(crate) fn sessions(sessions: u64) -> Self {
        Self {
            sessions,
            api_keys: 0,
        }
    }

    /// The event to record; `None` when nothing was live.
    pub(crate) fn action(self) -> Option<Action> {
        (self.sessions > 0 || self.api_keys > 0).then_some(Action::CredentialsRevoked {
            sessions: self.sessions,
            api_keys: self.api_keys,
        })
    }
}
