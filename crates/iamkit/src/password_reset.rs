//! Passwords after sign-up: change (knowing the current one), reset by an
//! admin's link, and self-service reset from the sign-in page.

use iamkit_audit::{Action, ResetInitiator, Target};
use iamkit_credentials::{
    Password, PasswordContext, PasswordHash, PresentedSecret, SecretKind, TokenId, TokenKind,
};
use iamkit_identity::{Email, OrgId, User, UserId};
use iamkit_rbac::Scope;

use crate::actor::Actor;
use crate::deactivation::Revoked;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam};
use crate::outbox::MessageKind;
use crate::store::repositories::*;
use crate::store::{Store, Transaction};

const UPDATE: &str = "users.update";

/// How many self-service reset requests may wait for the next
/// [`Iam::drain_outbox`]; requests beyond it are dropped (and still
/// answered `Ok`).
pub const MAX_PENDING_RESETS: usize = 10_000;

impl<S: Store> Iam<S> {
    /// Changes the actor's password: `current` must be right (throttled
    /// like a sign-in, SECURITY.md 12) and `new` must pass the policy.
    /// Every other session of the user ends; the current one stays
    /// (SECURITY.md 21).
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &Password,
        new: Password,
    ) -> Result<()> {
        let now = self.now();
        let user = self.check_current_password(actor, current).await?;
        let enforced = {
            let mut tx = self.begin_read().await?;
            let enforced = second_factor_enforced(&mut *tx, user.id).await;
            tx.rollback().await?;
            enforced?
        };
        let hash = self.hash_password_for(new, &user, enforced).await?;
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let user = self.session_user(&mut tx, actor).await?;
            tx.reset_throttle(user.id).await?;
            tx.set_password_hash(user.id, &hash).await?;
            self.queue_message(&mut tx, None, &user, MessageKind::PasswordChanged, None)
                .await?;
            let sessions = tx.revoke_sessions_of(user.id, actor.session(), now).await?;
            self.audit_in_orgs_of(&mut tx, user.id, actor, Action::PasswordChanged)
                .await?;
            self.audit_revoked_everywhere(&mut tx, actor, user.id, Revoked::sessions(sessions))
                .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// An admin sends `user` a reset link: valid 24 h (configurable), single
    /// use, and any earlier unused reset link dies (SECURITY.md 5, 6).
    /// Requires `users.update`. Only an ACTIVE account gets one (an invited
    /// user needs the invitation resent; otherwise [`Error::NotFound`]); the
    /// message goes out only to a verified address, like every
    /// notification but invitations and verifications.
    pub async fn send_password_reset(&self, actor: &Actor, org: OrgId, user: UserId) -> Result<()> {
        let target = Target::User(user);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            self.authorize(&mut tx, actor, UPDATE, Scope::Organization(org), target)
                .await?;
            let (account, _) = self.member(&mut tx, org, user).await?;
            Self::ensure_manages(org, &account)?;
            if !account.is_active() {
                return Err(Error::NotFound.into());
            }
            self.send_link(
                &mut tx,
                Some(org),
                &account,
                TokenKind::PasswordReset { by_admin: true },
                MessageKind::PasswordReset,
            )
            .await?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::PasswordResetRequested {
                    by: ResetInitiator::Admin,
                },
                target,
            )
            .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// "Forgot password". The answer is `Ok(())` for any input, and so is
    /// the work: the address is parsed and queued in this `Iam`, nothing
    /// more, so neither the answer nor its timing tells whether an account
    /// exists (SECURITY.md 28). The account lookup happens off the request
    /// path, at the next [`drain_outbox`](Self::drain_outbox) of this
    /// `Iam` (the app's delivery loop): for the active account with this
    /// email, if there is one, it queues a reset link (1 h, SECURITY.md 5)
    /// and audits the request, in one transaction; anything else is
    /// dropped. Repeated requests for one address before that drain count
    /// once; at most [`MAX_PENDING_RESETS`] wait (further ones are
    /// dropped); a process that stops before its next drain forgets its
    /// waiting requests (the user asks again).
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        if let Ok(mut queue) = self.inner.reset_requests.lock()
            && queue.len() < MAX_PENDING_RESETS
            && !queue.contains(&email)
        {
            queue.push_back(email);
        }
        Ok(())
    }

    /// Looks up every queued self-service reset request (see
    /// [`request_password_reset`](Self::request_password_reset)) and sends
    /// the links of those that name an active account. On a store error
    /// the requests not yet done are queued again and the error returned.
    pub(crate) async fn process_reset_requests(&self) -> Result<()> {
        let pending: Vec<Email> = match self.inner.reset_requests.lock() {
            Ok(mut queue) => queue.drain(..).collect(),
            Err(_) => return Err(Error::Internal),
        };
        let mut pending = pending.into_iter();
        while let Some(email) = pending.next() {
            if let Err(error) = self.reset_for(&email).await {
                if let Ok(mut queue) = self.inner.reset_requests.lock() {
                    let mut rest: std::collections::VecDeque<Email> =
                        std::iter::once(email).chain(pending).collect();
                    rest.append(&mut queue);
                    *queue = rest;
                }
                return Err(error);
            }
        }
        Ok(())
    }

    /// Sends a self-service reset link to the active account with `email`,
    /// if there is one.
    async fn reset_for(&self, email: &Email) -> Result<()> {
        let mut tx = self.begin().await?;
        let account = tx
            .find_user_by_email(email)
            .await?
            .filter(|u| u.is_active());
        let Some(account) = account else {
            tx.rollback().await?;
            return Ok(());
        };
        let system = Actor::system();
        let outcome: Flow<()> = async {
            self.send_link(
                &mut tx,
                None,
                &account,
                TokenKind::PasswordReset { by_admin: false },
                MessageKind::PasswordReset,
            )
            .await?;
            self.audit_in_orgs_of(
                &mut tx,
                account.id,
                &system,
                Action::PasswordResetRequested {
                    by: ResetInitiator::SelfService,
                },
            )
            .await?;
            Ok(())
        }
        .await;
        self.finish(tx, &system, outcome).await
    }

    /// Sets a new password with a reset link (admin's or self-service).
    /// The link is used up; every session of the user ends (SECURITY.md
    /// 21); the address counts as verified (the link proved it). It does
    /// not sign the user in and leaves 2FA on (SECURITY.md 18). Any link
    /// problem is [`Error::InvalidCredentials`]; a wrong secret for a live
    /// link counts towards the account's lockout (SECURITY.md 12); a
    /// password the policy refuses leaves the link usable.
    pub async fn reset_password(&self, token: &str, new: Password) -> Result<UserId> {
        let presented = PresentedSecret::parse_as(token, SecretKind::PasswordReset)
            .map_err(|_| Error::InvalidCredentials)?;
        let now = self.now();
        let (user, hash) = self.prepare_link_password(&presented, new).await?;
        let actor = Actor::system();
        let mut tx = self.begin().await?;
        let outcome: Flow<UserId> = async {
            let Some(record) = tx.consume_token(&presented, now).await? else {
                return Err(Error::InvalidCredentials.into());
            };
            let mut account = tx
                .get_user(record.subject)
                .await?
                .filter(|u| u.id == user && u.is_active())
                .ok_or(Error::InvalidCredentials)?;
            tx.set_password_hash(account.id, &hash).await?;
            let sessions = tx.revoke_sessions_of(account.id, None, now).await?;
            tx.reset_throttle(account.id).await?;
            if !account.email_verified {
                account.email_verified = true;
                account.updated_at = now;
                tx.update_user(&account).await?;
            }
            self.audit_in_orgs_of(&mut tx, account.id, &actor, Action::PasswordResetCompleted)
                .await?;
            self.audit_revoked_everywhere(&mut tx, &actor, account.id, Revoked::sessions(sessions))
                .await?;
            self.queue_message(&mut tx, None, &account, MessageKind::PasswordChanged, None)
                .await?;
            Ok(account.id)
        }
        .await;
        self.finish(tx, &actor, outcome).await
    }

    /// Looks the link up (outside the write transaction), throttles a wrong
    /// secret against its subject, and hashes the new password under the
    /// policy: argon2 never runs inside a transaction.
    async fn prepare_link_password(
        &self,
        presented: &PresentedSecret,
        new: Password,
    ) -> Result<(UserId, PasswordHash)> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let record = tx
            .get_token(TokenId::from_uuid(presented.id()))
            .await?
            .filter(|r| r.is_redeemable(now));
        let subject = match &record {
            Some(r) => tx.get_user(r.subject).await?.filter(|u| u.is_active()),
            None => None,
        };
        let enforced = match &subject {
            Some(u) => second_factor_enforced(&mut *tx, u.id).await?,
            None => false,
        };
        tx.rollback().await?;
        let (Some(record), Some(subject)) = (record, subject) else {
            return Err(Error::InvalidCredentials);
        };
        // The completed reset forgives the guess.
        self.guess_link(&record, presented).await?;
        let hash = self.hash_password_for(new, &subject, enforced).await?;
        Ok((subject.id, hash))
    }

    /// Checks a new password against the policy for `user` and hashes it.
    /// The minimum is the shorter one (8) only when a second factor is
    /// enforced (SECURITY.md 9, NIST 800-63B rev. 4 3.1.1.2).
    async fn hash_password_for(
        &self,
        password: Password,
        user: &User,
        second_factor_enforced: bool,
    ) -> Result<PasswordHash> {
        let context = PasswordContext {
            second_factor_enforced,
            email: Some(user.email.as_str()),
            username: Some(user.username.as_str()),
        };
        let checked = self
            .config()
            .password_policy
            .check(password, &context)
            .map_err(Error::from_credentials)?;
        self.inner.hashing.hash(checked).await
    }
}

/// Whether the password cannot be `user`'s only factor: 2FA is on and every
/// organization of theirs requires it (so it cannot be turned off and the
/// account used with the password alone anywhere).
async fn second_factor_enforced<T: Transaction>(tx: &mut T, user: UserId) -> Result<bool> {
    if !crate::two_factor::has_two_factor(tx, user).await? {
        return Ok(false);
    }
    let memberships = tx.list_memberships_of_user(user).await?;
    if memberships.is_empty() {
        return Ok(false);
    }
    for membership in memberships {
        let required = tx
            .get_organization(membership.org)
            .await?
            .is_some_and(|o| o.settings.require_two_factor);
        if !required {
            return Ok(false);
        }
    }
    Ok(true)
}
