//! Service accounts: non-human members for integrations. They have no
//! password and no email inbox, so they cannot sign in; they act only
//! through API keys an admin creates for them, with the roles the account
//! holds (granted like any member's).

use std::future::Future;

use chrono::{DateTime, Utc};
use iamkit_audit::{Action, Target};
use iamkit_credentials::NewApiKey;
use iamkit_identity::{
    Email, Membership, NewUser, OrgId, Profile, User, UserId, UserStatus, Username,
};
use iamkit_rbac::Scope;
use iamkit_store_api::StoreError;

use crate::actor::Actor;
use crate::api_keys::CreatedApiKey;
use crate::error::{Conflict, Error, Result};
use crate::iam::{Denial, Failure, Flow, Iam, os_rng};
use crate::invitations::Placement;
use crate::store::Store;
use crate::store::repositories::*;

/// The reserved domain of service accounts' placeholder addresses
/// (RFC 2606 `.invalid`: no mail can ever be delivered there).
pub const SERVICE_ACCOUNT_DOMAIN: &str = "service-accounts.invalid";

/// The username prefix of service accounts: `sa.<organization slug>.<name>`.
/// People's usernames may not start with it, nor their addresses use
/// [`SERVICE_ACCOUNT_DOMAIN`].
pub const SERVICE_ACCOUNT_PREFIX: &str = "sa.";

/// Whether a person's `username` or `email` is reserved for service
/// accounts.
pub(crate) fn is_reserved(username: &Username, email: &Email) -> bool {
    username.as_str().starts_with(SERVICE_ACCOUNT_PREFIX)
        || email.domain() == SERVICE_ACCOUNT_DOMAIN
}

/// A stored service account: the user that is one, and its organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// The account's user.
    pub user: UserId,
    /// The organization it belongs to.
    pub org: OrgId,
    /// Who created it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Which users are service accounts.
pub trait ServiceAccountRepository: Send {
    /// Marks a user as a service account. MUST fail with
    /// `UniqueViolation { constraint: "service_accounts_user" }` if it
    /// already is one.
    fn insert_service_account(
        &mut self,
        account: &ServiceAccount,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The service account record of `user`, or `None` for a human.
    fn get_service_account(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<Option<ServiceAccount>, StoreError>> + Send;

    /// The organization's service accounts, by user id; MUST hold none of
    /// another organization.
    fn list_service_accounts(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<Vec<ServiceAccount>, StoreError>> + Send;
}

impl<S: Store> Iam<S> {
    /// Creates a service account `name` (shown as `display_name`) in `org`
    /// with `placement`'s roles. It is ACTIVE but has no password, so it
    /// never signs in. Requires `users.invite` and the escalation guard
    /// for the roles.
    ///
    /// The name belongs to the organization: the account's username is
    /// `sa.<organization slug>.<name>` (at most 64 characters in all,
    /// else `username` is too long), so two organizations may both have a
    /// `ci` account and neither learns of the other's (SECURITY.md 34);
    /// within one organization a name is taken once
    /// ([`Conflict::UsernameTaken`](crate::Conflict::UsernameTaken)).
    pub async fn create_service_account(
        &self,
        actor: &Actor,
        org: OrgId,
        name: &str,
        display_name: &str,
        placement: &Placement,
    ) -> Result<UserId> {
        let name = Username::parse(name)?;
        let profile = Profile::parse(display_name, "Service account", None, None, None)
            .map_err(|e| e.for_field("display_name"))?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome: Flow<UserId> = async {
            let mut authz = self
                .authorize(
                    &mut tx,
                    actor,
                    "users.invite",
                    Scope::Organization(org),
                    Target::Org(org),
                )
                .await?;
            let created_by = actor.user().ok_or(Error::NotFound)?;
            let slug = tx.get_organization(org).await?.ok_or(Error::NotFound)?.slug;
            let username = Username::parse(&format!(
                "{SERVICE_ACCOUNT_PREFIX}{}.{}",
                slug.as_str(),
                name.as_str()
            ))?;
            let email = Email::parse(&format!("{}@{SERVICE_ACCOUNT_DOMAIN}", username.as_str()))?;
            let mut user = User::new(
                NewUser {
                    username,
                    email,
                    profile,
                    status: UserStatus::Active,
                },
                now,
                &mut os_rng(),
            );
            user.managed_by = Some(org);
            // The address is made from the name: either taken means the
            // name is.
            tx.insert_user(&user)
                .await
                .map_err(|e| match Error::from_store(e) {
                    Error::Conflict(Conflict::EmailTaken) => {
                        Error::Conflict(Conflict::UsernameTaken)
                    }
                    other => other,
                })?;
            tx.insert_membership(&Membership {
                org,
                user: user.id,
                status: UserStatus::Active,
                department: None,
                created_at: now,
                updated_at: now,
            })
            .await?;
            tx.insert_service_account(&ServiceAccount {
                user: user.id,
                org,
                created_by,
                created_at: now,
            })
            .await?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::UserCreated,
                Target::User(user.id),
            )
            .await?;
            self.place(&mut tx, actor, &mut authz, org, user.id, placement)
                .await?;
            Ok(user.id)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Creates a workspace-scoped key for a service account of `org`. The
    /// key acts as the service account: its permissions are its restriction
    /// intersected with the account's current roles. The restriction must
    /// also be within the admin's own permissions in the workspace (no
    /// escalation through a key). Requires `api_keys.manage` there.
    pub async fn create_service_account_key(
        &self,
        actor: &Actor,
        org: OrgId,
        account: UserId,
        new: NewApiKey,
    ) -> Result<CreatedApiKey> {
        const MANAGE: &str = "api_keys.manage";
        let now = self.now();
        let workspace = new.workspace;
        let target = Target::Workspace(workspace);
        let mut tx = self.begin().await?;
        let outcome: Flow<CreatedApiKey> = async {
            let mut authz = self
                .authorize(
                    &mut tx,
                    actor,
                    MANAGE,
                    Scope::Workspace(org, workspace),
                    target,
                )
                .await?;
            if tx
                .get_workspace(workspace)
                .await?
                .is_none_or(|w| w.org != org)
                || tx
                    .get_service_account(account)
                    .await?
                    .is_none_or(|sa| sa.org != org)
            {
                return Err(Error::NotFound.into());
            }
            if let Some(restriction) = &new.restriction {
                let catalogue = self.catalogue();
                let missing: Vec<_> = restriction
                    .iter()
                    .filter(|n| {
                        catalogue
                            .id(n)
                            .is_none_or(|p| !authz.access.permissions.contains(p))
                    })
                    .filter_map(|n| iamkit_rbac::Permission::parse(n).ok())
                    .collect();
                if !missing.is_empty() {
                    return Err(Failure::Denied(Box::new(Denial {
                        org,
                        target,
                        permission: MANAGE,
                        reason: iamkit_audit::DenialReason::Escalation,
                        error: Error::Escalation { missing },
                    })));
                }
            }
            // What the key could do right now (its restriction, or none,
            // intersected with the account's roles) must be within the
            // admin's own permissions: an unrestricted key for a more
            // powerful account would hand the admin what they lack
            // (SECURITY.md 23, 26).
            let effective = authz.index()?.api_key_permissions(
                account,
                org,
                workspace,
                new.restriction.as_ref(),
            );
            let beyond = effective.difference(&authz.access.permissions);
            if !beyond.is_empty() {
                return Err(Failure::Denied(Box::new(Denial {
                    org,
                    target,
                    permission: MANAGE,
                    reason: iamkit_audit::DenialReason::Escalation,
                    error: Error::Escalation {
                        missing: self.catalogue().names_of(&beyond),
                    },
                })));
            }
            Ok(self
                .store_api_key(&mut tx, actor, org, new, account, now)
                .await?)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// The organization's service accounts. Requires `users.read`.
    pub async fn list_service_accounts(
        &self,
        actor: &Actor,
        org: OrgId,
    ) -> Result<Vec<ServiceAccount>> {
        let mut tx = self.begin().await?;
        let outcome: Flow<Vec<ServiceAccount>> = async {
            self.authorize(
                &mut tx,
                actor,
                "users.read",
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            Ok(tx.list_service_accounts(org).await?)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
