//! Sealing-key rotation: moving every stored sealed secret (TOTP secrets,
//! undelivered outbox links) to the sealer's current key, in batches, so
//! the app can then drop its old key.
//!
//! The procedure (also in the crate README): give the `Iam` a ring whose
//! current key is the new one and which still holds the old one, deploy
//! it everywhere, run [`Iam::reseal`] until it reports `done`, then drop
//! the old key.

use iamkit_audit::{Action, SYSTEM_CHAIN, Target};
use iamkit_credentials::{FieldRule, SecretSealer as _};
use iamkit_identity::UserId;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::iam::{Iam, os_rng};
use crate::outbox::MessageId;
use crate::store::repositories::*;
use crate::store::{Store, Transaction};

/// A stored sealed secret, named by what holds it (never its content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SealedValue {
    /// A user's TOTP secret, of a pending or confirmed enrolment.
    TotpSecret(UserId),
    /// The link secret of an undelivered outbox message.
    OutboxLink(MessageId),
}

impl std::fmt::Display for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TotpSecret(user) => write!(f, "the TOTP secret of user {user}"),
            Self::OutboxLink(id) => write!(f, "the link of outbox message {id}"),
        }
    }
}

/// What one [`Iam::reseal`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResealProgress {
    /// How many sealed values this call moved to the current key.
    pub resealed: usize,
    /// Whether every stored sealed value is now under the current key:
    /// the old keys can be dropped from the ring.
    pub done: bool,
}

/// Where the next [`Iam::reseal`] call continues: TOTP secrets in user
/// order, then outbox links in message order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResealCursor {
    /// TOTP secrets of users after `after` (all when `None`).
    Totp { after: Option<UserId> },
    /// Links of messages after `after` (all when `None`).
    Outbox { after: Option<MessageId> },
}

impl ResealCursor {
    pub(crate) const START: Self = Self::Totp { after: None };
}

impl<S: Store> Iam<S> {
    /// Moves up to `batch_size` stored sealed secrets (TOTP secrets of
    /// pending and confirmed enrolments, then the links of undelivered
    /// outbox messages) that are not under the sealer's
    /// [current key](iamkit_credentials::XChaChaSealer::current_key) to
    /// it, in one transaction. Call it until
    /// [`done`](ResealProgress::done); then no stored value needs an old
    /// key, and the ring may drop them.
    ///
    /// Resumable: each call commits its batch, and a value already under
    /// the current key is never listed again, so after a crash a new `Iam`
    /// simply starts over and finds only what is left. The position between
    /// calls is kept in this `Iam`; `done` is reported only once a scan
    /// from the start finds nothing left, so values sealed under an old key
    /// meanwhile (by an instance still running the old ring) are not
    /// missed. A value changed while being resealed (re-enrolment, delivery)
    /// is left to its writer. Calls may run concurrently, also from several
    /// instances: each value is replaced at most once.
    ///
    /// Fails with [`Error::Unsealable`] naming the value when no key of the
    /// ring opens it (its key was dropped too early, or the value was
    /// damaged); that batch then changes nothing, and the next call stops
    /// at the same value until the key is back in the ring (or the message
    /// is acknowledged, or the user disables 2FA). A `batch_size` of 0 is
    /// [`Error::InvalidField`].
    ///
    /// Run by the app (an operator's job), not on behalf of an actor. A
    /// batch that moved anything is recorded in the system chain
    /// ([`Action::SecretsResealed`](iamkit_audit::Action::SecretsResealed)
    /// with the count): no user's or organization's state changes, only
    /// the key the secrets are stored under.
    pub async fn reseal(&self, batch_size: usize) -> Result<ResealProgress> {
        if batch_size == 0 {
            return Err(Error::InvalidField {
                field: "batch_size",
                rule: FieldRule::TooSmall { min: 1 },
            });
        }
        let sealer = &self.inner.sealer;
        let key = sealer.current_key();
        let mut rng = os_rng();
        let mut cursor = self.reseal_cursor();
        let mut room = batch_size;
        let mut resealed = 0;
        let mut pass_ended = false;
        let mut tx = self.begin().await?;
        if let ResealCursor::Totp { after } = cursor {
            let batch = tx.list_totp_to_reseal(key, after, room).await?;
            for enrollment in &batch {
                let value =
                    enrollment
                        .resealed(sealer, &mut rng)
                        .map_err(|_| Error::Unsealable {
                            value: SealedValue::TotpSecret(enrollment.user),
                        })?;
                if tx
                    .replace_sealed_totp(enrollment.user, &enrollment.sealed_secret, &value)
                    .await?
                {
                    resealed += 1;
                }
            }
            cursor = if batch.len() >= room {
                ResealCursor::Totp {
                    after: batch.last().map(|e| e.user).or(after),
                }
            } else {
                ResealCursor::Outbox { after: None }
            };
            room = room.saturating_sub(batch.len());
        }
        if let (ResealCursor::Outbox { after }, true) = (cursor, room > 0) {
            let batch = tx.list_outbox_to_reseal(key, after, room).await?;
            for message in &batch {
                let Some(link) = &message.sealed_link else {
                    continue;
                };
                let unsealable = || Error::Unsealable {
                    value: SealedValue::OutboxLink(message.id),
                };
                let value = sealer
                    .reseal(link, message.id.as_uuid().as_bytes(), &mut rng)
                    .map_err(|_| unsealable())?;
                if tx.replace_sealed_link(message.id, link, &value).await? {
                    resealed += 1;
                }
            }
            if batch.len() >= room {
                cursor = ResealCursor::Outbox {
                    after: batch.last().map(|m| m.id).or(after),
                };
            } else {
                pass_ended = true;
                cursor = ResealCursor::START;
            }
        }
        // The end of a pass: done only if a scan from the start finds
        // nothing (values may have been sealed under an old key behind the
        // cursor); otherwise the next call starts a new pass.
        let done = pass_ended && nothing_to_reseal(&mut *tx, key).await?;
        if resealed > 0 {
            // The rotation is the security team's to see (issue 16).
            self.audit_system(
                &mut tx,
                &Actor::system(),
                Action::SecretsResealed {
                    count: u64::try_from(resealed).unwrap_or(u64::MAX),
                },
                Target::Org(SYSTEM_CHAIN),
            )
            .await?;
        }
        tx.commit().await?;
        self.set_reseal_cursor(cursor);
        Ok(ResealProgress { resealed, done })
    }

    fn reseal_cursor(&self) -> ResealCursor {
        self.inner
            .reseal_cursor
            .lock()
            .map_or(ResealCursor::START, |cursor| *cursor)
    }

    fn set_reseal_cursor(&self, cursor: ResealCursor) {
        if let Ok(mut position) = self.inner.reseal_cursor.lock() {
            *position = cursor;
        }
    }
}

async fn nothing_to_reseal<T: Transaction>(
    tx: &mut T,
    key: iamkit_credentials::SealingKeyId,
) -> Result<bool> {
    Ok(tx.list_totp_to_reseal(key, None, 1).await?.is_empty()
        && tx.list_outbox_to_reseal(key, None, 1).await?.is_empty())
}
