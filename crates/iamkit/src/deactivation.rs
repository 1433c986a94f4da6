//! Deactivation and reactivation (SECURITY.md 20).

use iamkit_audit::{Action, Target};
use iamkit_identity::{OrgId, StatusChange, UserId, UserStatus};
use iamkit_rbac::{Change, Scope};

use crate::actor::Actor;
use crate::error::Result;
use crate::iam::{Flow, Iam, rbac_denial};
use crate::store::Store;
use crate::store::repositories::*;

const DEACTIVATE: &str = "users.deactivate";

impl<S: Store> Iam<S> {
    /// Deactivates a member, in one transaction: the membership and the
    /// account become DEACTIVATED, every session, API key and pending
    /// link (invite, reset, verification) of the user is revoked, and no
    /// notification reaches them any more. Data, roles and the audit trail
    /// stay; the email stays taken. The very next call of any actor sees
    /// the user without access (authorization reads the store, no cache).
    /// The last active Owner cannot be deactivated. Requires
    /// `users.deactivate`.
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
            let (mut account, mut membership) = self.member(&mut tx, org, user).await?;
            membership.status.apply(StatusChange::Deactivate)?;
            authz
                .apply(Change::Deactivate(user))
                .map_err(|e| rbac_denial(org, target, DEACTIVATE, e))?;
            membership.status = UserStatus::Deactivated;
            membership.updated_at = now;
            tx.update_membership(&membership).await?;
            if account.status == UserStatus::Active {
                account.apply(StatusChange::Deactivate, now)?;
                tx.update_user(&account).await?;
            }
            // The account is global: its standing changes in every org.
            self.bump_orgs_of(&mut tx, user).await?;
            tx.revoke_sessions_of(user, None, now).await?;
            tx.revoke_api_keys_of(user, now).await?;
            tx.revoke_tokens_of(user, now).await?;
            self.audit(&mut tx, org, actor, Action::Deactivated, target)
                .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Reactivates a deactivated member: ACTIVE again with the roles they
    /// had; revoked sessions and API keys stay revoked. Requires
    /// `users.deactivate`.
    pub async fn reactivate(&self, actor: &Actor, org: OrgId, user: UserId) -> Result<()> {
        let now = self.now();
        let target = Target::User(user);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            self.authorize(&mut tx, actor, DEACTIVATE, Scope::Organization(org), target)
                .await?;
            let (mut account, mut membership) = self.member(&mut tx, org, user).await?;
            membership.status.apply(StatusChange::Reactivate)?;
            membership.status = UserStatus::Active;
            membership.updated_at = now;
            tx.update_membership(&membership).await?;
            if account.status == UserStatus::Deactivated {
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
