//! Guesses of a secret (password, TOTP code, recovery code, link secret)
//! under the account's lockout. A guess is reserved, that is counted as a
//! failure in a transaction of its own, *before* the secret is checked,
//! and only a right guess forgives it: so however many guesses race, at
//! most the limit are ever evaluated per lock period (SECURITY.md 11, 12,
//! 38; Zitadel CVE-2023-47111).

use iamkit_audit::{Action, SignInFailure};
use iamkit_credentials::{Password, PasswordCheck, PresentedSecret, ThrottleState, TokenRecord};
use iamkit_identity::{User, UserId};

use crate::actor::Actor;
use crate::cache::Work;
use crate::error::{Error, Result};
use crate::iam::Iam;
use crate::store::Store;
use crate::store::repositories::*;

/// A reserved guess: check the secret, then report a wrong one with
/// [`Iam::wrong_guess`] or forgive a right one with `reset_throttle` in the
/// workflow's transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Guess {
    pub(crate) user: UserId,
    /// The account's state with this guess counted.
    pub(crate) state: ThrottleState,
}

impl<S: Store> Iam<S> {
    /// Reserves one guess of `user`'s secret. `None` while the account is
    /// locked: the secret must then not be checked at all.
    pub(crate) async fn reserve_guess(&self, user: UserId) -> Result<Option<Guess>> {
        let mut tx = self.begin().await?;
        let state = tx
            .reserve_attempt(user, &self.config().throttle, self.now())
            .await?;
        tx.commit().await?;
        Ok(state.map(|state| Guess { user, state }))
    }

    /// A guess at the live link `record` with `presented`: counted before
    /// the secret is compared (SECURITY.md 12, 38), refused unchecked while
    /// the link's subject is locked; a wrong secret is audited. The
    /// workflow the link opens forgives the guess when it completes.
    pub(crate) async fn guess_link(
        &self,
        record: &TokenRecord,
        presented: &PresentedSecret,
    ) -> Result<Guess> {
        let Some(guess) = self.reserve_guess(record.subject).await? else {
            return Err(Error::InvalidCredentials);
        };
        if !record.accepts(presented, self.now()) {
            self.wrong_guess(guess, &Actor::system(), SignInFailure::WrongLinkSecret)
                .await?;
            return Err(Error::InvalidCredentials);
        }
        Ok(guess)
    }

    /// Audits a guess found wrong (it is counted already): why it failed,
    /// and the lock it caused.
    pub(crate) async fn wrong_guess(
        &self,
        guess: Guess,
        actor: &Actor,
        reason: SignInFailure,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        self.audit_wrong_guess(&mut tx, guess, actor, reason)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`wrong_guess`](Self::wrong_guess) in the caller's `tx`.
    pub(crate) async fn audit_wrong_guess(
        &self,
        tx: &mut Work<S>,
        guess: Guess,
        actor: &Actor,
        reason: SignInFailure,
    ) -> Result<()> {
        if guess.state.check(self.now()).is_err() {
            self.audit_in_orgs_of(tx, guess.user, &Actor::system(), Action::AccountLocked)
                .await?;
        }
        self.audit_in_orgs_of(tx, guess.user, actor, Action::SignInFailed { reason })
            .await
    }

    /// Checks the signed-in `actor`'s current `password` (a reserved guess;
    /// argon2 outside any transaction): the actor's account when right,
    /// else [`Error::InvalidCredentials`] with the wrong guess audited.
    /// The caller forgives the guess (`reset_throttle`) in its workflow.
    pub(crate) async fn check_current_password(
        &self,
        actor: &Actor,
        password: &Password,
    ) -> Result<User> {
        let (user, stored) = {
            let mut tx = self.begin().await?;
            let user = self.session_user(&mut tx, actor).await?;
            let stored = tx.get_password_hash(user.id).await?;
            tx.rollback().await?;
            (user, stored)
        };
        let Some(guess) = self.reserve_guess(user.id).await? else {
            return Err(Error::InvalidCredentials);
        };
        if matches!(
            self.inner.hashing.verify(password, stored).await?,
            PasswordCheck::Invalid
        ) {
            self.wrong_guess(guess, actor, SignInFailure::WrongPassword)
                .await?;
            return Err(Error::InvalidCredentials);
        }
        Ok(user)
    }

    /// Proves the signed-in `actor`'s current password again: the session
    /// counts as freshly authenticated for [`Config::reauth_window`], so
    /// the changes that need it (email change, new recovery codes) go
    /// through (SECURITY.md 39). A wrong password is a guess like any
    /// other (SECURITY.md 38) and answers [`Error::InvalidCredentials`].
    ///
    /// [`Config::reauth_window`]: crate::Config::reauth_window
    pub async fn reauthenticate(&self, actor: &Actor, password: &Password) -> Result<()> {
        let user = self.check_current_password(actor, password).await?;
        let session = actor.session().ok_or(Error::InvalidCredentials)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        if !tx.reauthenticate_session(session, now).await? {
            tx.rollback().await?;
            return Err(Error::InvalidCredentials);
        }
        tx.reset_throttle(user.id).await?;
        self.audit_in_orgs_of(&mut tx, user.id, actor, Action::Reauthenticated)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// SECURITY.md 39: the actor's session proved a factor within
    /// [`Config::reauth_window`](crate::Config::reauth_window).
    pub(crate) async fn ensure_recently_authenticated(
        &self,
        tx: &mut Work<S>,
        actor: &Actor,
    ) -> Result<()> {
        let session = actor.session().ok_or(Error::InvalidCredentials)?;
        let session = tx
            .get_session(session)
            .await?
            .ok_or(Error::InvalidCredentials)?;
        let fresh_until = session
            .authenticated_at
            .checked_add_signed(self.config().reauth_window)
            .unwrap_or(session.authenticated_at);
        if self.now() >= fresh_until {
            return Err(Error::ReauthenticationRequired);
        }
        Ok(())
    }

    /// Audits a guess refused unchecked because the account is locked.
    pub(crate) async fn locked_guess(&self, user: UserId, actor: &Actor) -> Result<()> {
        let mut tx = self.begin().await?;
        self.audit_in_orgs_of(
            &mut tx,
            user,
            actor,
            Action::SignInFailed {
                reason: SignInFailure::AccountLocked,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
