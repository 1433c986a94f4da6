//! Two-factor authentication: TOTP enrolment (RFC 6238), recovery codes,
//! disabling, and completing a sign-in with the second factor.

use iamkit_audit::{Action, SignInFailure, SignInMethod};
use iamkit_credentials::RecoveryCodeRepository as _;
use iamkit_credentials::{
    Password, PresentedSecret, RecoveryCode, SecretKind, SecretString, Session, SessionState,
    TotpEnrollment, TotpSetup, generate_recovery_codes,
};
use iamkit_identity::{SessionId, UserId};

use crate::actor::{Actor, ActorKind};
use crate::error::{Conflict, Error, Result};
use crate::iam::{Flow, Iam, os_rng};
use crate::outbox::MessageKind;
use crate::store::repositories::*;
use crate::store::{Store, Transaction};
use crate::trace;

/// Which second factor completes a sign-in.
#[derive(Clone, Copy)]
enum SecondFactor<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
}

/// A sign-in completed with its second factor: the new session, whose
/// token replaces the pending one (SECURITY.md 40).
pub struct SignInCompleted {
    /// The signed-in actor (on the new session).
    pub actor: Actor,
    /// The new session.
    pub session: SessionId,
    /// The new session's token (`iamk_ses_...`): give it to the client in
    /// place of the pending one, which no longer works.
    pub token: SecretString,
}

impl std::fmt::Debug for SignInCompleted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInCompleted")
            .field("actor", &self.actor)
            .field("session", &self.session)
            .field("token", &self.token)
            .finish()
    }
}

impl<S: Store> Iam<S> {
    /// Starts TOTP enrolment for the signed-in actor: a fresh 160-bit key
    /// (SECURITY.md 14) as an `otpauth://` URI, QR code (SVG/PNG) and
    /// base32 text, shown once. 2FA is not on until
    /// [`confirm_totp_enrolment`](Self::confirm_totp_enrolment) accepts a
    /// code; starting again replaces a pending enrolment. Allowed under
    /// org-wide enforcement (SECURITY.md 19: enrolling is what such a
    /// member may do). Fails with [`Conflict::TwoFactorEnabled`] when 2FA
    /// is already on.
    pub async fn begin_totp_enrolment(&self, actor: &Actor) -> Result<TotpSetup> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome: Flow<TotpSetup> = async {
            let user = self.session_user(&mut tx, actor).await?;
            if has_two_factor(&mut *tx, user.id).await? {
                return Err(Error::Conflict(Conflict::TwoFactorEnabled).into());
            }
            let (enrollment, setup) = TotpEnrollment::begin(
                user.id,
                user.email.as_str(),
                &self.config().totp,
                &self.inner.sealer,
                now,
                &mut os_rng(),
            )
            .map_err(Error::from_credentials)?;
            // Not confirmed (checked above): a pending one is replaced.
            let replacing = tx.get_totp(user.id).await?.is_some();
            tx.insert_totp(enrollment).await?;
            self.audit_in_orgs_of(
                &mut tx,
                user.id,
                actor,
                Action::TwoFactorEnrolmentStarted { replacing },
            )
            .await?;
            Ok(setup)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Confirms the pending enrolment with a first code from the
    /// authenticator app; 2FA is on from now and the recovery codes are
    /// returned, once (SECURITY.md 15). The enrolment code's time step
    /// counts as used (SECURITY.md 14). A wrong code counts towards the
    /// account's lockout (SECURITY.md 12) and is
    /// [`Error::InvalidCredentials`].
    pub async fn confirm_totp_enrolment(
        &self,
        actor: &Actor,
        code: &str,
    ) -> Result<Vec<RecoveryCode>> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let user = self.session_user(&mut tx, actor).await?;
        let pending = tx
            .get_totp(user.id)
            .await?
            .filter(|e| e.confirmed_at.is_none());
        tx.rollback().await?;
        let Some(pending) = pending else {
            return Err(Error::InvalidCredentials);
        };
        // SECURITY.md 38: counted before it is checked.
        let Some(guess) = self.reserve_guess(user.id).await? else {
            return Err(Error::InvalidCredentials);
        };
        let Ok(step) = pending.verify(&self.inner.sealer, code, now) else {
            self.wrong_guess(guess, actor, SignInFailure::WrongTotpCode)
                .await?;
            return Err(Error::InvalidCredentials);
        };
        let mut tx = self.begin().await?;
        let outcome: Flow<Vec<RecoveryCode>> = async {
            if !tx.confirm_totp(user.id, step, now).await? {
                return Err(Error::InvalidCredentials.into());
            }
            let set = generate_recovery_codes(user.id, now, &mut os_rng());
            tx.replace_recovery_codes(user.id, set.records).await?;
            tx.reset_throttle(user.id).await?;
            self.audit_in_orgs_of(&mut tx, user.id, actor, Action::TwoFactorEnrolled)
                .await?;
            self.queue_message(&mut tx, None, &user, MessageKind::TwoFactorChanged, None)
                .await?;
            Ok(set.codes)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Replaces the actor's recovery codes with a fresh set (the old ones
    /// stop working at once) and returns it, once. Requires 2FA to be on.
    pub async fn regenerate_recovery_codes(&self, actor: &Actor) -> Result<Vec<RecoveryCode>> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome: Flow<Vec<RecoveryCode>> = async {
            let user = self.session_user(&mut tx, actor).await?;
            if !has_two_factor(&mut *tx, user.id).await? {
                return Err(Error::NotFound.into());
            }
            self.ensure_recently_authenticated(&mut tx, actor).await?;
            let set = generate_recovery_codes(user.id, now, &mut os_rng());
            tx.replace_recovery_codes(user.id, set.records).await?;
            self.audit_in_orgs_of(&mut tx, user.id, actor, Action::RecoveryCodesRegenerated)
                .await?;
            Ok(set.codes)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Turns 2FA off for the actor: requires the current password
    /// (SECURITY.md 18), which is throttled like a sign-in. Deletes the
    /// TOTP key and the recovery codes and notifies the user.
    pub async fn disable_two_factor(&self, actor: &Actor, password: &Password) -> Result<()> {
        self.check_current_password(actor, password).await?;
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let user = self.session_user(&mut tx, actor).await?;
            tx.reset_throttle(user.id).await?;
            if !tx.delete_totp(user.id).await? {
                return Err(Error::NotFound.into());
            }
            tx.delete_recovery_codes(user.id).await?;
            self.audit_in_orgs_of(&mut tx, user.id, actor, Action::TwoFactorDisabled)
                .await?;
            self.queue_message(&mut tx, None, &user, MessageKind::TwoFactorChanged, None)
                .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Completes a sign-in whose [`SignedIn::second_factor_required`](crate::SignedIn)
    /// is set, with a code from the authenticator app. The pending session
    /// ends and a new session with a new token takes its place (SECURITY.md
    /// 40: a token seen before the second factor never authorizes); give
    /// the client [`SignInCompleted::token`]. A code's time step is accepted
    /// at most once (SECURITY.md 14); guesses are throttled per account
    /// (SECURITY.md 12, 38) and all failures answer
    /// [`Error::InvalidCredentials`].
    pub async fn complete_sign_in_with_totp(
        &self,
        session_token: &str,
        code: &str,
    ) -> Result<SignInCompleted> {
        let work = Box::pin(self.complete_sign_in(session_token, SecondFactor::Totp(code)));
        trace::sign_in_workflow("complete_sign_in_with_totp", work, |done, span| {
            trace::record_actor(span, &done.actor);
        })
        .await
    }

    /// Completes a pending sign-in with one of the user's recovery codes,
    /// which is used up (SECURITY.md 16). Throttled like a TOTP code.
    pub async fn complete_sign_in_with_recovery_code(
        &self,
        session_token: &str,
        code: &str,
    ) -> Result<SignInCompleted> {
        let work = Box::pin(self.complete_sign_in(session_token, SecondFactor::RecoveryCode(code)));
        trace::sign_in_workflow("complete_sign_in_with_recovery_code", work, |done, span| {
            trace::record_actor(span, &done.actor);
        })
        .await
    }

    async fn complete_sign_in(
        &self,
        token: &str,
        factor: SecondFactor<'_>,
    ) -> Result<SignInCompleted> {
        let presented = PresentedSecret::parse_as(token, SecretKind::Session)
            .map_err(|_| Error::InvalidCredentials)?;
        let now = self.now();
        let session_id = SessionId::from_uuid(presented.id());
        let mut tx = self.begin().await?;
        let Some(session) = tx.get_session(session_id).await? else {
            return Err(Error::InvalidCredentials);
        };
        let config = &self.config().sessions;
        let pending =
            session.accepts(&presented, config, now) && session.state == SessionState::MfaPending;
        let active = tx.get_user(session.user).await?.filter(|u| u.is_active());
        let (true, Some(mut user)) = (pending, active) else {
            return Err(Error::InvalidCredentials);
        };
        let actor = Actor::new(ActorKind::User {
            user: user.id,
            session: session_id,
        });
        // SECURITY.md 38: the code is a guess, counted before it is checked
        // (in a transaction of its own, so racing codes see each other).
        tx.rollback().await?;
        let Some(guess) = self.reserve_guess(user.id).await? else {
            self.locked_guess(user.id, &actor).await?;
            return Err(Error::InvalidCredentials);
        };
        let mut tx = self.begin().await?;
        let failure = {
            match factor {
                SecondFactor::Totp(code) => {
                    let enrollment = tx
                        .get_totp(user.id)
                        .await?
                        .filter(|e| e.confirmed_at.is_some());
                    match enrollment.map(|e| e.verify(&self.inner.sealer, code, now)) {
                        Some(Ok(step)) if tx.accept_totp_step(user.id, step).await? => None,
                        Some(Ok(_)) => Some(SignInFailure::ReplayedTotpCode),
                        _ => Some(SignInFailure::WrongTotpCode),
                    }
                }
                SecondFactor::RecoveryCode(code) => {
                    let used = match RecoveryCode::digest_of_input(code) {
                        Some(digest) => tx.consume_recovery_code(user.id, &digest, now).await?,
                        None => false,
                    };
                    (!used).then_some(SignInFailure::WrongRecoveryCode)
                }
            }
        };
        if let Some(reason) = failure {
            tx.rollback().await?;
            self.wrong_guess(guess, &actor, reason).await?;
            return Err(Error::InvalidCredentials);
        }
        let method = match factor {
            SecondFactor::Totp(_) => SignInMethod::PasswordAndTotp,
            SecondFactor::RecoveryCode(_) => SignInMethod::PasswordAndRecoveryCode,
        };
        let outcome: Flow<SignInCompleted> = async {
            // Single use: of two completions of one pending session, one
            // passes this step.
            if !tx.complete_session_mfa(session_id, now).await? {
                return Err(Error::InvalidCredentials.into());
            }
            // SECURITY.md 40: the pending token ends here; a new one with
            // the same client takes over.
            tx.revoke_session(session_id, now).await?;
            let (fresh, token) = Session::start(
                user.id,
                session.org,
                SessionState::Full,
                session.client.clone(),
                now,
                &mut os_rng(),
            );
            let fresh_id = fresh.id;
            tx.insert_session(fresh).await?;
            let actor = Actor::new(ActorKind::User {
                user: user.id,
                session: fresh_id,
            });
            tx.reset_throttle(user.id).await?;
            user.last_sign_in_at = Some(now);
            tx.update_user(&user).await?;
            self.audit_in_orgs_of(&mut tx, user.id, &actor, Action::SignedIn { method })
                .await?;
            Ok(SignInCompleted {
                actor,
                session: fresh_id,
                token: token.to_text(),
            })
        }
        .await;
        self.finish(tx, &actor, outcome).await
    }
}

/// Whether `user` has a confirmed TOTP enrolment (2FA on).
pub(crate) async fn has_two_factor<T: Transaction>(tx: &mut T, user: UserId) -> Result<bool> {
    Ok(tx
        .get_totp(user)
        .await?
        .is_some_and(|t| t.confirmed_at.is_some()))
}

/// SECURITY.md 19 for API keys: under organization-wide 2FA enforcement a
/// key acts only while its creator has a confirmed second factor, so a key
/// made before enforcement does not outlive it. A service account's key is
/// exempt (the account has no person to enrol).
pub(crate) async fn key_lacks_second_factor<T: Transaction>(
    tx: &mut T,
    creator: UserId,
) -> Result<bool> {
    if tx.get_service_account(creator).await?.is_some() {
        return Ok(false);
    }
    Ok(!has_two_factor(tx, creator).await?)
}
