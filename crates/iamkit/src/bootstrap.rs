//! Bootstrap: an organization with its first Owner, and the account input
//! shared by the workflows that create accounts.

use iamkit_audit::{Action, Target};
use iamkit_credentials::{Password, PasswordContext, PasswordHash};
use iamkit_identity::{
    Email, Membership, Name, NewUser, OrgId, OrgSettings, Organization, Profile, Slug, User,
    UserId, UserStatus, Username,
};
use iamkit_rbac::{BuiltinRole, Grant, Grantee, Scope};

use crate::actor::{Actor, ActorKind};
use crate::cache::Work;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam, os_rng};
use crate::store::Store;
use crate::store::repositories::*;
use iamkit_identity::{InvalidInput, Rule};

/// A new account's details, as an admin form or an API sends them.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Login handle.
    pub username: String,
    /// Address.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// `en`, `es` or `pt`; `None` means `en`.
    pub language: Option<String>,
}

impl NewAccount {
    /// Validates every field; the error names the field and the rule.
    pub(crate) fn parse(&self, status: UserStatus) -> Result<NewUser> {
        let username = Username::parse(&self.username)?;
        let email = Email::parse(&self.email)?;
        // Service accounts' names and addresses are their organization's
        // (see `create_service_account`): a person can take neither, so no
        // tenant squats or probes another's service-account names.
        if crate::service_accounts::is_reserved(&username, &email) {
            let field = if email.domain() == crate::SERVICE_ACCOUNT_DOMAIN {
                "email"
            } else {
                "username"
            };
            return Err(Error::InvalidInput(InvalidInput::new(
                field,
                Rule::Reserved,
            )));
        }
        Ok(NewUser {
            username,
            email,
            profile: Profile::parse(
                &self.first_name,
                &self.last_name,
                None,
                None,
                self.language.as_deref(),
            )?,
            status,
        })
    }
}

/// Who becomes the first Owner.
#[derive(Debug)]
pub enum FirstOwner {
    /// A new account, active at once with this password.
    NewUser {
        /// The account.
        account: NewAccount,
        /// Its password (checked against the policy).
        password: Password,
    },
    /// An existing active account.
    Existing(UserId),
}

/// What [`Iam::bootstrap`] created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootstrapped {
    /// The new organization.
    pub org: OrgId,
    /// Its first Owner.
    pub owner: UserId,
}

impl<S: Store> Iam<S> {
    /// Hashes a new password after checking it against the policy for this
    /// account (no lock held: argon2 runs outside any transaction).
    pub(crate) async fn hash_new_password(
        &self,
        password: Password,
        email: &Email,
        username: &Username,
    ) -> Result<PasswordHash> {
        let context = PasswordContext {
            second_factor_enforced: false,
            email: Some(email.as_str()),
            username: Some(username.as_str()),
        };
        let checked = self
            .config()
            .password_policy
            .check(password, &context)
            .map_err(Error::from_credentials)?;
        self.inner.hashing.hash(checked).await
    }

    /// Creates an organization (`name`, URL `slug`) with its first Owner.
    /// Only [`Actor::system`] may call it: it is how an installation or a
    /// sign-up page starts a tenant.
    pub async fn bootstrap(
        &self,
        actor: &Actor,
        name: &str,
        slug: &str,
        owner: FirstOwner,
    ) -> Result<Bootstrapped> {
        if actor.kind != ActorKind::System {
            return Err(Error::Forbidden {
                permission: "system".to_owned(),
            });
        }
        let now = self.now();
        let org = self.new_organization(name, slug, now)?;
        let owner = match owner {
            FirstOwner::NewUser { account, password } => {
                let input = account.parse(UserStatus::Active)?;
                let hash = self
                    .hash_new_password(password, &input.email, &input.username)
                    .await?;
                let mut user = User::new(input, now, &mut os_rng());
                user.managed_by = Some(org.id);
                OwnerRecord::New {
                    user: Box::new(user),
                    hash: Some(hash),
                }
            }
            FirstOwner::Existing(id) => OwnerRecord::Existing(id),
        };
        let mut tx = self.begin().await?;
        let outcome = self
            .insert_organization_with_owner(&mut tx, actor, &org, &owner, now)
            .await;
        self.finish(tx, actor, outcome).await
    }
}

/// The first Owner as the bootstrap transaction writes it.
pub(crate) enum OwnerRecord {
    /// A new account and its password hash (`None`: no password yet, set
    /// through a link).
    New {
        /// The account, ACTIVE (boxed: a user is large, an id small).
        user: Box<User>,
        /// Its password hash, if it has one yet.
        hash: Option<PasswordHash>,
    },
    /// An existing account (must be active).
    Existing(UserId),
}

impl<S: Store> Iam<S> {
    /// A new organization's record from its validated `name` and `slug`.
    pub(crate) fn new_organization(
        &self,
        name: &str,
        slug: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Organization> {
        Ok(Organization {
            id: OrgId::generate(now, &mut os_rng()),
            name: Name::parse(name).map_err(|e| e.for_field("name"))?,
            slug: Slug::parse(slug)?,
            settings: OrgSettings::default(),
            created_at: now,
        })
    }

    /// Writes `org` with its first Owner in `tx`: the organization, the
    /// account (when new), the active membership, the Owner grant and
    /// their audit events. Shared by every bootstrap flavour so they cannot
    /// drift apart.
    pub(crate) async fn insert_organization_with_owner(
        &self,
        tx: &mut Work<S>,
        actor: &Actor,
        org: &Organization,
        owner: &OwnerRecord,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Flow<Bootstrapped> {
        tx.insert_organization(org)
            .await
            .map_err(Error::from_store)?;
        let owner_id = match owner {
            OwnerRecord::New { user, hash } => {
                tx.insert_user(user).await.map_err(Error::from_store)?;
                if let Some(hash) = hash {
                    tx.set_password_hash(user.id, hash).await?;
                }
                self.audit(
                    tx,
                    org.id,
                    actor,
                    Action::UserCreated,
                    Target::User(user.id),
                )
                .await?;
                user.id
            }
            OwnerRecord::Existing(id) => {
                let user = tx.get_user(*id).await?.ok_or(Error::NotFound)?;
                if !user.is_active() {
                    return Err(Error::NotFound.into());
                }
                self.joined(tx, *id, org.id).await?;
                *id
            }
        };
        tx.insert_membership(&Membership {
            org: org.id,
            user: owner_id,
            status: UserStatus::Active,
            department: None,
            created_at: now,
            updated_at: now,
        })
        .await?;
        tx.assign_grant(&Grant {
            grantee: Grantee::User(owner_id),
            scope: Scope::Organization(org.id),
            role: BuiltinRole::Owner.id(),
        })
        .await?;
        self.audit(
            tx,
            org.id,
            actor,
            Action::OrgRoleChanged {
                from: None,
                to: Some(BuiltinRole::Owner.id()),
            },
            Target::User(owner_id),
        )
        .await?;
        Ok(Bootstrapped {
            org: org.id,
            owner: owner_id,
        })
    }
}
