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
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam, os_rng};
use crate::store::Store;
use crate::store::repositories::*;

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
        Ok(NewUser {
            username: Username::parse(&self.username)?,
            email: Email::parse(&self.email)?,
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
    pub(crate) fn hash_new_password(
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
        self.inner
            .hasher
            .hash(&checked, &mut os_rng())
            .map_err(Error::from_credentials)
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
        let mut rng = os_rng();
        let org = Organization {
            id: OrgId::generate(now, &mut rng),
            name: Name::parse(name).map_err(|e| e.for_field("name"))?,
            slug: Slug::parse(slug)?,
            settings: OrgSettings::default(),
            created_at: now,
        };
        let (new_owner, existing) = match owner {
            FirstOwner::NewUser { account, password } => {
                let input = account.parse(UserStatus::Active)?;
                let hash = self.hash_new_password(password, &input.email, &input.username)?;
                (Some((User::new(input, now, &mut rng), hash)), None)
            }
            FirstOwner::Existing(id) => (None, Some(id)),
        };
        let mut tx = self.begin().await?;
        let outcome: Flow<Bootstrapped> = async {
            tx.insert_organization(&org)
                .await
                .map_err(Error::from_store)?;
            let owner_id = match (&new_owner, existing) {
                (Some((user, hash)), _) => {
                    tx.insert_user(user).await.map_err(Error::from_store)?;
                    tx.set_password_hash(user.id, hash).await?;
                    self.audit(
                        &mut tx,
                        org.id,
                        actor,
                        Action::UserCreated,
                        Target::User(user.id),
                    )
                    .await?;
                    user.id
                }
                (None, Some(id)) => {
                    let user = tx.get_user(id).await?.ok_or(Error::NotFound)?;
                    if !user.is_active() {
                        return Err(Error::NotFound.into());
                    }
                    id
                }
                (None, None) => return Err(Error::NotFound.into()),
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
                &mut tx,
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
        .await;
        self.finish(tx, actor, outcome).await
    }
}
