//! Deleting a user: erasure for compliance, refused while the app still
//! links records to the user (deactivate instead).

use iamkit_audit::{Action, Target};
use iamkit_identity::{OrgId, UserId};
use iamkit_rbac::{Change, Grantee, Scope};

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam, rbac_denial};
use crate::store::Store;
use crate::store::repositories::*;

const DELETE: &str = "users.delete";

/// Records of the app that still point at a user ("3 incidents created").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedRecord {
    /// What kind of record (`"registered incidents"`).
    pub kind: String,
    /// How many.
    pub count: u64,
}

/// The app's hook consulted before a deletion: it lists the records that
/// still link to the user; any entry refuses the deletion
/// ([`Error::LinkedData`]) with the list and the suggestion to deactivate.
pub trait LinkedData: Send + Sync + 'static {
    /// The app's records linked to `user`; empty when none.
    fn linked_records(&self, user: UserId) -> Vec<LinkedRecord>;
}

impl<S: Store> Iam<S> {
    /// Deletes a member. When the app's [`LinkedData`] hook reports linked
    /// records, nothing changes and [`Error::LinkedData`] lists them (the
    /// suggestion is to [`deactivate`](Self::deactivate) instead).
    /// Otherwise, in one transaction: the member's grants and memberships
    /// in the organization go; if the account belongs to no other
    /// organization it is erased — profile gone, email and username free,
    /// password, sessions, keys, links and second factor removed. The
    /// audit trail keeps its ids and reads "Deleted user"; the chain still
    /// verifies (SECURITY.md 31). The last active Owner cannot be deleted.
    /// Requires `users.delete` and being allowed to revoke each of the
    /// member's direct roles (only an Owner deletes an Owner). A member
    /// who stays in another organization keeps the account, but their API
    /// keys in this organization are revoked.
    pub async fn delete_user(&self, actor: &Actor, org: OrgId, user: UserId) -> Result<()> {
        let now = self.now();
        let target = Target::User(user);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let mut authz = self
                .authorize(&mut tx, actor, DELETE, Scope::Organization(org), target)
                .await?;
            let (account, _) = self.member(&mut tx, org, user).await?;
            if let Some(hook) = &self.inner.linked_data {
                let records = hook.linked_records(user);
                if !records.is_empty() {
                    return Err(Error::LinkedData { records }.into());
                }
            }
            // Deleting takes every role the member holds here, direct or
            // inherited (SECURITY.md 37; only an Owner takes Owner).
            authz
                .ensure_can_act_on(user, org)
                .map_err(|e| rbac_denial(org, target, DELETE, e))?;
            authz
                .apply(Change::RemoveFromOrg { user, org })
                .map_err(|e| rbac_denial(org, target, DELETE, e))?;
            let elsewhere = tx
                .list_memberships_of_user(user)
                .await?
                .iter()
                .any(|m| m.org != org);
            // SECURITY.md 32: only the managing organization deletes the
            // account, and only while it belongs to no other; otherwise
            // the member is removed from this organization.
            let remove_only = elsewhere || account.managed_by != Some(org);
            for grant in tx.list_grants_of(Grantee::User(user)).await? {
                if !remove_only || grant.scope.org() == org {
                    tx.revoke_grant(grant.grantee, grant.scope).await?;
                }
            }
            let revoked = if remove_only {
                let revoked = self.revoke_keys_in(&mut tx, org, user, now).await?;
                self.leave(&mut tx, account, org).await?;
                revoked
            } else {
                let revoked = self.revoke_credentials_of(&mut tx, user, now).await?;
                tx.delete_password_hash(user).await?;
                if tx.get_totp(user).await?.is_some() {
                    tx.delete_totp(user).await?;
                }
                tx.delete_user(user).await?;
                revoked
            };
            self.audit(&mut tx, org, actor, Action::Deleted, target)
                .await?;
            self.audit_revoked(&mut tx, org, actor, user, revoked)
                .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
