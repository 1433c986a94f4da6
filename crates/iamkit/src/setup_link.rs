//! Bootstrapping an installation from its command line or first start:
//! the first Owner gets a one-time link to choose a password, so no
//! password ever appears in a command line, an environment variable, a
//! shell history or a configuration file.

use iamkit_audit::{Action, ResetInitiator, Target};
use iamkit_credentials::{SecretString, TokenKind, issue_token};
use iamkit_identity::{User, UserStatus};

use crate::actor::{Actor, ActorKind};
use crate::bootstrap::{Bootstrapped, NewAccount, OwnerRecord};
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam, os_rng};
use crate::store::Store;
use crate::store::repositories::*;

/// What [`Iam::bootstrap_with_setup_link`] created: the organization, its
/// first Owner and the one-time link secret that sets the Owner's password.
pub struct BootstrappedWithLink {
    /// The organization and its Owner.
    pub bootstrapped: Bootstrapped,
    /// `iamk_rst_...`: redeem it once with [`Iam::reset_password`] within
    /// the admin reset lifetime (24 h by default). Shown this once; the
    /// store holds only its hash (SECURITY.md 2).
    pub setup_link: SecretString,
}

impl std::fmt::Debug for BootstrappedWithLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrappedWithLink")
            .field("bootstrapped", &self.bootstrapped)
            .field("setup_link", &self.setup_link)
            .finish()
    }
}

impl<S: Store> Iam<S> {
    /// Creates an organization (`name`, URL `slug`) whose first Owner is a
    /// new ACTIVE account *without a password*, and returns a single-use
    /// password-set link for it, all in one transaction. Only
    /// [`Actor::system`] may call it.
    ///
    /// Meant for an operator starting an installation (a `--bootstrap-owner`
    /// flag): the link is handed out of band (printed on the operator's
    /// console) instead of a password passed on the command line. Until the
    /// link is redeemed with [`Iam::reset_password`] nobody can sign in as
    /// the Owner: a sign-in answers [`Error::InvalidCredentials`] after the
    /// same dummy argon2 work as for a wrong password (SECURITY.md 10).
    /// The link is an admin reset link (24 h by default, single use,
    /// throttled like every link); redeeming it also marks the address
    /// verified, the operator having vouched for it. The audit trail shows
    /// the account's creation, the Owner grant and the link's issue, by
    /// `System`.
    ///
    /// Running it again for the same slug fails with
    /// [`Conflict::NameTaken`](crate::Conflict::NameTaken) and changes
    /// nothing, so a start-up flag left in place is harmless; an email or
    /// username already taken fails the same way with its own conflict.
    pub async fn bootstrap_with_setup_link(
        &self,
        actor: &Actor,
        name: &str,
        slug: &str,
        account: &NewAccount,
    ) -> Result<BootstrappedWithLink> {
        if actor.kind != ActorKind::System {
            return Err(Error::Forbidden {
                permission: "system".to_owned(),
            });
        }
        let now = self.now();
        let org = self.new_organization(name, slug, now)?;
        let mut user = User::new(account.parse(UserStatus::Active)?, now, &mut os_rng());
        user.managed_by = Some(org.id);
        let user_id = user.id;
        let owner = OwnerRecord::New {
            user: Box::new(user),
            hash: None,
        };
        let mut tx = self.begin().await?;
        let outcome: Flow<BootstrappedWithLink> = async {
            let bootstrapped = self
                .insert_organization_with_owner(&mut tx, actor, &org, &owner, now)
                .await?;
            let issued = issue_token(
                TokenKind::PasswordReset { by_admin: true },
                user_id,
                &self.config().tokens,
                now,
                &mut os_rng(),
            );
            tx.insert_token(issued.record).await?;
            self.audit(
                &mut tx,
                bootstrapped.org,
                actor,
                Action::PasswordResetRequested {
                    by: ResetInitiator::Admin,
                },
                Target::User(user_id),
            )
            .await?;
            Ok(BootstrappedWithLink {
                bootstrapped,
                setup_link: issued.secret.to_text(),
            })
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
