//! Notifications: iamkit sends no email. A workflow writes its messages to
//! an outbox in the same transaction as its change; the app drains the
//! outbox, delivers, and acknowledges (at-least-once delivery).
//!
//! A message that carries a link secret (invitation, verification, reset)
//! stores it sealed with the app's [`SecretSealer`](iamkit_credentials::SecretSealer)
//! key, so a dump of the store redeems nothing (SECURITY.md 2); it is
//! opened only when [`Iam::drain_outbox`](crate::Iam::drain_outbox) hands
//! the message to the app.

use std::future::Future;

use chrono::{DateTime, Utc};
use iamkit_credentials::{SealedSecret, SealingKeyId, SecretString};
use iamkit_identity::{Email, Language, OrgId, UserId};
use iamkit_store_api::StoreError;

iamkit_identity::define_id!(
    /// Identifies an outbox message.
    MessageId
);

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MessageKind {
    /// An invitation with its accept link.
    Invitation,
    /// A link proving control of the address.
    EmailVerification,
    /// A password reset link.
    PasswordReset,
    /// Two-factor authentication was turned on or off.
    TwoFactorChanged,
    /// The account's email address changed: sent to the previous address
    /// (SECURITY.md 39).
    EmailChanged,
    /// The account's password changed (changed by the user or reset).
    PasswordChanged,
}

impl MessageKind {
    /// Whether the message may go to an unverified address: only the
    /// messages that prove the address (or invite to it) may.
    pub const fn allowed_unverified(self) -> bool {
        matches!(self, Self::Invitation | Self::EmailVerification)
    }
}

/// A stored outbox message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// The message's id.
    pub id: MessageId,
    /// The organization the workflow ran in, if any.
    pub org: Option<OrgId>,
    /// The user it is for.
    pub recipient: UserId,
    /// The address at the time of the workflow.
    pub to: Email,
    /// The recipient's language.
    pub language: Language,
    /// What it is about.
    pub kind: MessageKind,
    /// The link secret, sealed with the app key (bound to the message id).
    pub sealed_link: Option<SealedSecret>,
    /// When queued.
    pub created_at: DateTime<Utc>,
    /// When the app acknowledged delivery.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The facade's outbox.
pub trait OutboxRepository: Send {
    /// Queues a message. MUST fail with
    /// `UniqueViolation { constraint: "outbox_id" }` for a reused id.
    fn insert_outbox_message(
        &mut self,
        message: &OutboxRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` undelivered messages, oldest first (by id, which is
    /// time-ordered). Delivered messages MUST NOT be returned.
    fn list_undelivered_outbox(
        &mut self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>, StoreError>> + Send;

    /// Marks a message delivered; returns whether it was undelivered.
    fn mark_outbox_delivered(
        &mut self,
        id: MessageId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Undelivered messages with a link secret not sealed under `key`
    /// (whose [`SealedSecret::is_under`]`(key)` is false, including links
    /// sealed before key ids existed), for resealing after a key rotation.
    /// MUST return them in ascending id order, only ids after `after` (all
    /// when `None`), at most `limit`; messages without a link and delivered
    /// messages MUST NOT be returned. Paging with the last id returned as
    /// `after` MUST visit every such message once.
    fn list_outbox_to_reseal(
        &mut self,
        key: SealingKeyId,
        after: Option<MessageId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>, StoreError>> + Send;

    /// Replaces an undelivered message's sealed link with `resealed`, MUST
    /// atomically and only if the message is still undelivered and its
    /// link is still `expected` (byte for byte); returns whether it did.
    /// Nothing else of the message changes.
    fn replace_sealed_link(
        &mut self,
        id: MessageId,
        expected: &SealedSecret,
        resealed: &SealedSecret,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// A message handed to the app for delivery.
pub struct Notification {
    /// Acknowledge with this id once delivered.
    pub id: MessageId,
    /// The organization the workflow ran in, if any.
    pub org: Option<OrgId>,
    /// The recipient.
    pub recipient: UserId,
    /// The address to send to.
    pub to: Email,
    /// The language of `subject` and `body`.
    pub language: Language,
    /// What it is about.
    pub kind: MessageKind,
    /// Default subject in `language`.
    pub subject: &'static str,
    /// Default body in `language`; the app appends its link built from
    /// `link_secret`.
    pub body: &'static str,
    /// The secret to put in the link (only for link-bearing kinds).
    pub link_secret: Option<SecretString>,
}

impl std::fmt::Debug for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notification")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("kind", &self.kind)
            .field("language", &self.language)
            .field("link_secret", &self.link_secret)
            .finish_non_exhaustive()
    }
}

/// The default subject and body of `kind` in `language`.
pub const fn default_text(kind: MessageKind, language: Language) -> (&'static str, &'static str) {
    use Language::{En, Es, Pt};
    use MessageKind as K;
    match (kind, language) {
        (K::Invitation, En) => (
            "You have been invited",
            "You have been invited to join an organization. Follow the link to set your password; it expires in 48 hours.",
        ),
        (K::Invitation, Es) => (
            "Has recibido una invitación",
            "Te han invitado a unirte a una organización. Sigue el enlace para crear tu contraseña; caduca en 48 horas.",
        ),
        (K::Invitation, Pt) => (
            "Você recebeu um convite",
            "Você foi convidado a participar de uma organização. Siga o link para definir sua senha; ele expira em 48 horas.",
        ),
        (K::EmailVerification, En) => (
            "Verify your email address",
            "Follow the link to confirm that this address is yours.",
        ),
        (K::EmailVerification, Es) => (
            "Verifica tu correo electrónico",
            "Sigue el enlace para confirmar que esta dirección es tuya.",
        ),
        (K::EmailVerification, Pt) => (
            "Verifique seu e-mail",
            "Siga o link para confirmar que este endereço é seu.",
        ),
        (K::PasswordReset, En) => (
            "Reset your password",
            "Follow the link to choose a new password. It can be used once.",
        ),
        (K::PasswordReset, Es) => (
            "Restablece tu contraseña",
            "Sigue el enlace para elegir una nueva contraseña. Solo puede usarse una vez.",
        ),
        (K::PasswordReset, Pt) => (
            "Redefina sua senha",
            "Siga o link para escolher uma nova senha. Ele pode ser usado uma vez.",
        ),
        (K::TwoFactorChanged, En) => (
            "Two-factor authentication changed",
            "The two-factor authentication of your account was changed. If this was not you, contact your administrator.",
        ),
        (K::TwoFactorChanged, Es) => (
            "Cambió la autenticación en dos pasos",
            "Se modificó la autenticación en dos pasos de tu cuenta. Si no fuiste tú, contacta con tu administrador.",
        ),
        (K::TwoFactorChanged, Pt) => (
            "A autenticação em dois fatores mudou",
            "A autenticação em dois fatores da sua conta foi alterada. Se não foi você, contate seu administrador.",
        ),
        (K::EmailChanged, En) => (
            "Your email address was changed",
            "The email address of your account was changed, and this address no longer signs in. If this was not you, contact your administrator.",
        ),
        (K::EmailChanged, Es) => (
            "Se cambió tu correo electrónico",
            "Se cambió el correo electrónico de tu cuenta y esta dirección ya no sirve para iniciar sesión. Si no fuiste tú, contacta con tu administrador.",
        ),
        (K::EmailChanged, Pt) => (
            "Seu e-mail foi alterado",
            "O e-mail da sua conta foi alterado e este endereço não serve mais para entrar. Se não foi você, contate seu administrador.",
        ),
        (K::PasswordChanged, En) => (
            "Your password was changed",
            "The password of your account was changed. If this was not you, reset it now and contact your administrator.",
        ),
        (K::PasswordChanged, Es) => (
            "Se cambió tu contraseña",
            "Se cambió la contraseña de tu cuenta. Si no fuiste tú, restablécela ahora y contacta con tu administrador.",
        ),
        (K::PasswordChanged, Pt) => (
            "Sua senha foi alterada",
            "A senha da sua conta foi alterada. Se não foi você, redefina-a agora e contate seu administrador.",
        ),
    }
}

impl<S: crate::Store> crate::Iam<S> {
    /// Up to `limit` undelivered messages, oldest first, with their default
    /// texts and their link secrets opened. Nothing deliverable is marked:
    /// a message stays in the outbox until
    /// [`acknowledge`](Self::acknowledge), so a crash between draining and
    /// delivering loses nothing (at-least-once). Messages whose recipient
    /// was deactivated or deleted since are dropped instead, so a drain may
    /// return fewer than `limit` while more wait.
    ///
    /// Fails with [`Error::Unsealable`](crate::Error::Unsealable) naming a
    /// message whose link no key of the sealer opens (its key was dropped
    /// too early): acknowledge it to move on.
    ///
    /// First it looks up the self-service reset requests this `Iam` queued
    /// (see [`request_password_reset`](Self::request_password_reset)) and
    /// queues their links, so run it in a loop (every second or so) even
    /// when nothing else is expected.
    pub async fn drain_outbox(&self, limit: usize) -> crate::Result<Vec<Notification>> {
        use crate::store::repositories::*;
        use iamkit_credentials::SecretSealer as _;
        // Self-service reset requests become messages here, off the
        // request path (SECURITY.md 28).
        self.process_reset_requests().await?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let records = tx.list_undelivered_outbox(limit).await?;
        // A recipient deactivated or deleted since the message was queued
        // receives nothing any more (SECURITY.md 20, 31): such messages are
        // dropped (marked done), never handed out.
        let mut deliverable = Vec::with_capacity(records.len());
        for record in records {
            let live = tx
                .get_user(record.recipient)
                .await?
                .is_some_and(|u| u.status != iamkit_identity::UserStatus::Deactivated);
            if live {
                deliverable.push(record);
            } else {
                tx.mark_outbox_delivered(record.id, now).await?;
            }
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(deliverable.len());
        for record in deliverable {
            let link_secret = match &record.sealed_link {
                Some(sealed) => {
                    // Names the message, so the app can acknowledge it when
                    // its key is lost (see `reseal`).
                    let unsealable = || crate::Error::Unsealable {
                        value: crate::SealedValue::OutboxLink(record.id),
                    };
                    let bytes = self
                        .inner
                        .sealer
                        .open(sealed, record.id.as_uuid().as_bytes())
                        .map_err(|_| unsealable())?;
                    let text =
                        String::from_utf8(bytes.expose().to_vec()).map_err(|_| unsealable())?;
                    Some(SecretString::new(text))
                }
                None => None,
            };
            let (subject, body) = default_text(record.kind, record.language);
            out.push(Notification {
                id: record.id,
                org: record.org,
                recipient: record.recipient,
                to: record.to,
                language: record.language,
                kind: record.kind,
                subject,
                body,
                link_secret,
            });
        }
        Ok(out)
    }

    /// Marks messages delivered; later drains skip them.
    pub async fn acknowledge(&self, ids: &[MessageId]) -> crate::Result<()> {
        use crate::store::repositories::*;
        let now = self.now();
        let mut tx = self.begin().await?;
        for id in ids {
            tx.mark_outbox_delivered(*id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
