//! Proving control of an email address: resend the link, redeem it.

use iamkit_audit::Action;
use iamkit_credentials::{PresentedSecret, SecretKind, TokenKind};
use iamkit_identity::UserId;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam};
use crate::outbox::MessageKind;
use crate::store::Store;
use crate::store::repositories::*;

impl<S: Store> Iam<S> {
    /// Sends the actor a new verification link for their address (earlier
    /// unused links die, SECURITY.md 6). Returns `false`, changing nothing,
    /// when the address is already verified.
    pub async fn resend_verification(&self, actor: &Actor) -> Result<bool> {
        let mut tx = self.begin().await?;
        let outcome: Flow<bool> = async {
            let user = self.session_user(&mut tx, actor).await?;
            if user.email_verified {
                return Ok(false);
            }
            self.send_link(
                &mut tx,
                None,
                &user,
                TokenKind::EmailVerification,
                MessageKind::EmailVerification,
            )
            .await?;
            Ok(true)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Redeems a verification link: the account's address is verified from
    /// now on (it receives notifications), and the link is used up. Any
    /// link problem is [`Error::InvalidCredentials`]. No sign-in needed:
    /// the link itself is the proof.
    pub async fn verify_email(&self, token: &str) -> Result<UserId> {
        let presented = PresentedSecret::parse_as(token, SecretKind::EmailVerification)
            .map_err(|_| Error::InvalidCredentials)?;
        let now = self.now();
        let actor = Actor::system();
        let mut tx = self.begin().await?;
        let outcome: Flow<UserId> = async {
            let Some(record) = tx.consume_token(&presented, now).await? else {
                return Err(Error::InvalidCredentials.into());
            };
            let mut user = tx
                .get_user(record.subject)
                .await?
                .filter(|u| u.is_active())
                .ok_or(Error::InvalidCredentials)?;
            user.email_verified = true;
            user.updated_at = now;
            tx.update_user(&user).await?;
            self.audit_in_orgs_of(&mut tx, user.id, &actor, Action::EmailVerified)
                .await?;
            Ok(user.id)
        }
        .await;
        self.finish(tx, &actor, outcome).await
    }
}
