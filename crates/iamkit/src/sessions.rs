//! Signing in and authenticating requests: password log-in, session and
//! API key authentication. Second factors and self-service build on this.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use iamkit_audit::{Action, SignInFailure, SignInMethod, Target};
use iamkit_credentials::{
    ClientMetadata, Password, PasswordCheck, PasswordHash, PresentedSecret, SecretKind,
    SecretString, Session, SessionState,
};
use iamkit_identity::{Email, SessionId, User, UserId, UserStatus, Username};

use crate::actor::{Actor, ActorKind, Stamp};
use crate::attempts::Guess;
use crate::error::{Error, Result};
use crate::iam::{Iam, os_rng};
use crate::store::repositories::*;
use crate::store::{Store, Transaction};
use crate::trace;

/// How stale a session's `last_seen_at` (or a key's `last_used_at`) may
/// get before a request records it again.
pub const TOUCH_GRANULARITY: chrono::Duration = chrono::Duration::seconds(60);

/// How long after authentication an [`Actor`] may answer
/// [`Iam::is_allowed`] from the in-process index without reading the store.
/// An actor is meant to live for one request; one kept longer (a
/// long-lived connection, say) then has every check read the store, so a
/// change made through another process is never hidden from it for longer
/// than this.
pub const STAMP_LIFETIME: chrono::Duration = chrono::Duration::seconds(1);

/// Until when a stamp taken at `now` vouches: [`STAMP_LIFETIME`], or
/// `limit` (the credential's own deadline) when that comes sooner.
fn stamp_until(now: DateTime<Utc>, limit: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    [limit, now.checked_add_signed(STAMP_LIFETIME)]
        .into_iter()
        .flatten()
        .min()
}

/// A successful sign-in: the session token to hand to the client once.
pub struct SignedIn {
    /// The session.
    pub session: SessionId,
    /// Who signed in.
    pub user: UserId,
    /// The token (`iamk_ses_...`); shown once, stored only as a hash.
    pub token: SecretString,
    /// The account has 2FA: the session authorizes nothing until
    /// [`Iam::complete_sign_in_with_totp`] or
    /// [`Iam::complete_sign_in_with_recovery_code`] (SECURITY.md 17).
    pub second_factor_required: bool,
    /// An organization of the user requires 2FA and the user has none:
    /// the session can only enrol ([`Iam::begin_totp_enrolment`]) until
    /// then (SECURITY.md 19).
    pub enrolment_required: bool,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("session", &self.session)
            .field("user", &self.user)
            .field("token", &self.token)
            .field("second_factor_required", &self.second_factor_required)
            .field("enrolment_required", &self.enrolment_required)
            .finish()
    }
}

impl<S: Store> Iam<S> {
    /// Signs in by email or username and password.
    ///
    /// Unknown user, wrong password, an INVITED or DEACTIVATED account and
    /// a locked account all answer [`Error::InvalidCredentials`] after the
    /// same argon2 work and the same writes (SECURITY.md 10, 29). The
    /// reason is audited in each organization the account belongs to; a
    /// name no account has, or an account in no organization, is audited
    /// in the [`SYSTEM_CHAIN`](iamkit_audit::SYSTEM_CHAIN). Failures count
    /// towards the lockout atomically (SECURITY.md 11, 38); tries of an
    /// unknown name count in a throttle slot of their own, so that path
    /// writes what a known account's does. argon2 runs outside any
    /// transaction, on the hashing pool.
    pub async fn log_in(
        &self,
        identifier: &str,
        password: &Password,
        client: ClientMetadata,
    ) -> Result<SignedIn> {
        let work = Box::pin(self.log_in_untraced(identifier, password, client));
        trace::sign_in_workflow("log_in", work, |signed, span| {
            trace::record_user(span, signed.user);
        })
        .await
    }

    async fn log_in_untraced(
        &self,
        identifier: &str,
        password: &Password,
        client: ClientMetadata,
    ) -> Result<SignedIn> {
        let now = self.now();
        // One transaction finds the account and reserves the guess before
        // the password is checked (SECURITY.md 38: racing guesses cannot
        // outrun the lockout). A name no account has reserves a guess too,
        // in a slot of its own, and its failure is audited in the system
        // chain: the two paths make the same writes, so the response time
        // does not tell which names exist (SECURITY.md 10).
        let (user, stored, guess) = {
            let mut tx = self.begin().await?;
            let user = find_account(&mut *tx, identifier).await?;
            let (slot, stored) = match &user {
                Some(u) => (u.id, tx.get_password_hash(u.id).await?),
                None => (unknown_name_slot(identifier), None),
            };
            let state = tx
                .reserve_attempt(slot, &self.config().throttle, now)
                .await?;
            tx.commit().await?;
            let guess = state.map(|state| Guess { user: slot, state });
            (user, stored, guess)
        };
        let imported = stored.as_ref().is_some_and(PasswordHash::is_imported);
        let locked = guess.is_none();
        // On the hashing pool; a locked account is checked against the
        // dummy hash, at the same cost (SECURITY.md 10).
        let check = self
            .inner
            .hashing
            .verify(password, if locked { None } else { stored })
            .await?;
        let Some(mut user) = user else {
            let mut tx = self.begin().await?;
            self.audit_system(
                &mut tx,
                &Actor::system(),
                Action::SignInFailed {
                    reason: SignInFailure::UnknownUser,
                },
                Target::Org(iamkit_audit::SYSTEM_CHAIN),
            )
            .await?;
            tx.commit().await?;
            return Err(Error::InvalidCredentials);
        };
        let failure = match check {
            _ if locked => Some(SignInFailure::AccountLocked),
            PasswordCheck::Invalid => Some(SignInFailure::WrongPassword),
            PasswordCheck::Valid { .. } if user.status != UserStatus::Active => {
                Some(SignInFailure::Deactivated)
            }
            PasswordCheck::Valid { .. } => None,
        };
        let actor = Actor::new(ActorKind::User {
            user: user.id,
            session: SessionId::generate(now, &mut os_rng()),
        });
        let mut tx = self.begin().await?;
        if let Some(reason) = failure {
            match guess {
                // The wrong guess is counted already; it may have locked.
                Some(guess) => {
                    self.audit_wrong_guess(&mut tx, guess, &actor, reason)
                        .await?;
                }
                None => {
                    self.audit_in_orgs_of(
                        &mut tx,
                        user.id,
                        &actor,
                        Action::SignInFailed { reason },
                    )
                    .await?;
                }
            }
            tx.commit().await?;
            return Err(Error::InvalidCredentials);
        }
        let orgs: Vec<_> = tx
            .list_memberships_of_user(user.id)
            .await?
            .into_iter()
            .map(|m| m.org)
            .collect();
        // Re-hash with the current parameters (SECURITY.md 8) when the
        // password still passes the policy; otherwise keep the old hash.
        // An imported hash is always replaced: its password is the one the
        // account signs in with, and the foreign hash must go.
        if let PasswordCheck::Valid { needs_rehash: true } = check {
            let fresh = if imported {
                Some(self.inner.hashing.rehash_imported(password).await?)
            } else {
                self.hash_new_password(
                    Password::new(password.expose()),
                    &user.email,
                    &user.username,
                )
                .await
                .ok()
            };
            if let Some(fresh) = fresh {
                tx.set_password_hash(user.id, &fresh).await?;
                self.audit_in_orgs_of(&mut tx, user.id, &actor, Action::PasswordRehashed)
                    .await?;
            }
        }
        let has_totp = crate::two_factor::has_two_factor(&mut *tx, user.id).await?;
        let mut enrolment_required = false;
        if !has_totp {
            for org in &orgs {
                enrolment_required |= tx
                    .get_organization(*org)
                    .await?
                    .is_some_and(|o| o.settings.require_two_factor);
            }
        }
        let state = if has_totp {
            // The failure count is reset only when the second factor is
            // done: a right password must not wipe TOTP guesses
            // (SECURITY.md 12).
            SessionState::MfaPending
        } else {
            tx.reset_throttle(user.id).await?;
            user.last_sign_in_at = Some(now);
            tx.update_user(&user).await?;
            SessionState::Full
        };
        let (session, token) = Session::start(user.id, None, state, client, now, &mut os_rng());
        let session_id = session.id;
        tx.insert_session(session).await?;
        let actor = Actor::new(ActorKind::User {
            user: user.id,
            session: session_id,
        });
        // With a second factor the sign-in is audited when it completes;
        // until then, that the password was right.
        let action = if has_totp {
            Action::PasswordVerified
        } else {
            Action::SignedIn {
                method: SignInMethod::Password,
            }
        };
        self.audit_in_orgs_of(&mut tx, user.id, &actor, action)
            .await?;
        tx.commit().await?;
        Ok(SignedIn {
            session: session_id,
            user: user.id,
            token: token.to_text(),
            second_factor_required: has_totp,
            enrolment_required,
        })
    }

    /// The actor of a request carrying a session token: the session must be
    /// live (idle and absolute timeouts), fully signed in, and its user
    /// active. Records the activity. Any failure is
    /// [`Error::InvalidCredentials`].
    pub async fn authenticate_session(&self, token: &str) -> Result<Actor> {
        let work = Box::pin(self.authenticate_session_untraced(token));
        trace::sign_in_workflow("authenticate_session", work, |actor, span| {
            trace::record_actor(span, actor);
        })
        .await
    }

    async fn authenticate_session_untraced(&self, token: &str) -> Result<Actor> {
        let presented = PresentedSecret::parse_as(token, SecretKind::Session)
            .map_err(|_| Error::InvalidCredentials)?;
        let now = self.now();
        let session_id = SessionId::from_uuid(presented.id());
        // One read: the session, its user's standing, and the versions of
        // the user's organizations, so that checks with this actor need not
        // read the store again while nothing changed (see `Actor`). One
        // consistent state, outside a transaction where the adapter can.
        let Some(context) = self.inner.store.session_context(session_id).await? else {
            return Err(Error::InvalidCredentials);
        };
        let mut session = context.session;
        let config = &self.config().sessions;
        if !session.accepts(&presented, config, now)
            || !session.authorizes(config, now)
            || !context.user_active
        {
            return Err(Error::InvalidCredentials);
        }
        // Activity is recorded at most once per TOUCH_GRANULARITY, in a
        // short write of its own: the idle timeout (minutes to hours) needs
        // no finer clock, and most requests then write nothing.
        if now - session.last_seen_at >= TOUCH_GRANULARITY {
            let mut tx = self.begin().await?;
            tx.touch_session(session_id, now).await?;
            tx.commit().await?;
            session.last_seen_at = now;
        }
        let valid_until = stamp_until(now, Some(session.live_until(config)));
        Ok(Actor {
            kind: ActorKind::User {
                user: session.user,
                session: session_id,
            },
            stamp: Some(Arc::new(Stamp {
                versions: context.authz_versions,
                valid_until,
                two_factor: context.two_factor,
            })),
        })
    }

    /// The actor of a request carrying an API key: the key must be
    /// unrevoked and unexpired and its creator active. Its permissions are
    /// computed on every workflow from the creator's current ones
    /// (SECURITY.md 23). Any failure is [`Error::InvalidCredentials`].
    pub async fn authenticate_api_key(&self, key: &str) -> Result<Actor> {
        let work = Box::pin(self.authenticate_api_key_untraced(key));
        trace::sign_in_workflow("authenticate_api_key", work, |actor, span| {
            trace::record_actor(span, actor);
            trace::record_key_org(span, actor);
        })
        .await
    }

    async fn authenticate_api_key_untraced(&self, key: &str) -> Result<Actor> {
        let presented = PresentedSecret::parse_as(key, SecretKind::ApiKey)
            .map_err(|_| Error::InvalidCredentials)?;
        let now = self.now();
        let id = iamkit_identity::ApiKeyId::from_uuid(presented.id());
        let Some(context) = self.inner.store.api_key_context(id).await? else {
            return Err(Error::InvalidCredentials);
        };
        let record = context.key;
        if !record.accepts(&presented, now) || !context.creator_active {
            return Err(Error::InvalidCredentials);
        }
        if record
            .last_used_at
            .is_none_or(|at| now - at >= TOUCH_GRANULARITY)
        {
            let mut tx = self.begin().await?;
            tx.touch_api_key(id, now).await?;
            tx.commit().await?;
        }
        Ok(Actor {
            kind: ActorKind::ApiKey {
                key: id,
                creator: record.created_by,
                org: context.org,
                workspace: record.workspace,
                restriction: record.restriction,
            },
            stamp: Some(Arc::new(Stamp {
                versions: vec![(context.org, context.authz_version)],
                valid_until: stamp_until(now, record.expires_at),
                two_factor: false,
            })),
        })
    }
}

/// The account an identifier names: an email when it parses as one, else
/// a username.
/// The throttle slot of a sign-in name no account has: one of 65,536,
/// chosen by a hash of the name as typed (case-folded), so repeated tries
/// of one name count together and the slots stay bounded whatever names
/// are sprayed. Slot ids have version 0, which no generated id (UUIDv7)
/// has, so they never meet a real account's record.
fn unknown_name_slot(identifier: &str) -> UserId {
    use sha2::{Digest, Sha256};
    let digest: [u8; 32] = Sha256::new()
        .chain_update(b"iamkit unknown sign-in name\0")
        .chain_update(identifier.trim().to_lowercase().as_bytes())
        .finalize()
        .into();
    let [high, low, ..] = digest;
    let mut bytes = [0u8; 16];
    bytes[0] = 0xff;
    bytes[14] = high;
    bytes[15] = low;
    UserId::from_uuid(iamkit_identity::__private::Uuid::from_bytes(bytes))
}

async fn find_account<T: Transaction>(tx: &mut T, identifier: &str) -> Result<Option<User>> {
    if identifier.contains('@') {
        match Email::parse(identifier) {
            Ok(email) => Ok(tx.find_user_by_email(&email).await?),
            Err(_) => Ok(None),
        }
    } else {
        match Username::parse(identifier) {
            Ok(username) => Ok(tx.find_user_by_username(&username).await?),
            Err(_) => Ok(None),
        }
    }
}
