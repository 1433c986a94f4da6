//! Proving control of an email address: change it (verified before it
//! takes effect), resend the link, redeem it.

use std::future::Future;

use iamkit_audit::Action;
use iamkit_credentials::{PresentedSecret, SecretKind, TokenId, TokenKind, issue_token};
use iamkit_identity::{Email, UserId};
use iamkit_store_api::StoreError;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam, os_rng};
use crate::outbox::MessageKind;
use crate::store::Store;
use crate::store::repositories::*;

/// Requested email changes waiting for their verification: the new
/// address per verification token. The account keeps its old address
/// until the link is redeemed.
pub trait PendingEmailRepository: Send {
    /// Records that redeeming `token` moves `user` to `email`.
    fn insert_pending_email(
        &mut self,
        token: TokenId,
        user: UserId,
        email: &Email,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The change `token` stands for, if any. MUST return `None` for a
    /// token that was issued without a change (plain verification).
    fn get_pending_email(
        &mut self,
        token: TokenId,
    ) -> impl Future<Output = Result<Option<(UserId, Email)>, StoreError>> + Send;
}

impl<S: Store> Iam<S> {
    /// Asks to change the actor's address to `new_email`: a verification
    /// link goes to the new address, and the account keeps (and signs in
    /// with, and is notified at) the old one until the link is redeemed
    /// with [`verify_email`](Self::verify_email). A newer request or
    /// verification link kills the older one (SECURITY.md 6). When another
    /// account has the address the answer is the same and no link is sent
    /// (SECURITY.md 34: no caller learns which addresses have accounts;
    /// someone who owns the address already has its account).
    pub async fn request_email_change(&self, actor: &Actor, new_email: &str) -> Result<()> {
        let email = Email::parse(new_email).map_err(|e| e.for_field("email"))?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let user = self.session_user(&mut tx, actor).await?;
            if user.email == email {
                return Ok(());
            }
            self.ensure_recently_authenticated(&mut tx, actor).await?;
            if tx.find_user_by_email(&email).await?.is_some() {
                self.audit_in_orgs_of(&mut tx, user.id, actor, Action::EmailChangeRequested)
                    .await?;
                return Ok(());
            }
            let issued = issue_token(
                TokenKind::EmailVerification,
                user.id,
                &self.config().tokens,
                now,
                &mut os_rng(),
            );
            let token = issued.record.id;
            tx.insert_token(issued.record).await?;
            tx.insert_pending_email(token, user.id, &email).await?;
            // The link goes to the address it proves.
            let mut recipient = user.clone();
            recipient.email = email;
            self.queue_message(
                &mut tx,
                None,
                &recipient,
                MessageKind::EmailVerification,
                Some(&issued.secret),
            )
            .await?;
            self.audit_in_orgs_of(&mut tx, user.id, actor, Action::EmailChangeRequested)
                .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

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
            self.audit_in_orgs_of(&mut tx, user.id, actor, Action::EmailVerificationResent)
                .await?;
            Ok(true)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Redeems a verification link: the account's address — the new one,
    /// for a link from [`request_email_change`](Self::request_email_change)
    /// — is verified from now on (it receives notifications), and the link
    /// is used up. Any
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
            // A change request's link moves the account to the new
            // address; a plain link verifies the current one.
            if let Some((owner, email)) = tx.get_pending_email(record.id).await?
                && owner == user.id
            {
                // SECURITY.md 39: the previous address hears of it.
                let previous = user.clone();
                user.email = email;
                if previous.email != user.email {
                    self.queue_message(&mut tx, None, &previous, MessageKind::EmailChanged, None)
                        .await?;
                }
            }
            user.email_verified = true;
            user.updated_at = now;
            tx.update_user(&user).await.map_err(Error::from_store)?;
            self.audit_in_orgs_of(&mut tx, user.id, &actor, Action::EmailVerified)
                .await?;
            Ok(user.id)
        }
        .await;
        self.finish(tx, &actor, outcome).await
    }
}
