//! The development mailer: the integration point where an app delivers
//! iamkit's outbox. iamkit sends no email; each workflow queues its
//! messages in the same transaction as its change, and the app drains,
//! delivers and acknowledges them.
//!
//! This one "delivers" by printing recipient, kind and link on stdout and
//! keeps the last messages in memory for tests. **Development only**: the
//! printed links are live single-use secrets. In production, send the
//! message by email (its `subject` and `body` come in the recipient's
//! language) and acknowledge it once the mail provider accepted it.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use iamkit::credentials::SecretString;
use iamkit::identity::UserId;
use iamkit::{Iam, MessageKind, Notification, Store};
use tokio::task::JoinHandle;

/// How many delivered messages the mailer remembers.
const KEPT: usize = 100;
/// Messages drained per round.
const BATCH: usize = 50;

/// A message the dev mailer delivered.
#[derive(Clone)]
pub struct SentMail {
    /// The recipient's account.
    pub recipient: UserId,
    /// The address it went to.
    pub to: String,
    /// What it is about.
    pub kind: MessageKind,
    /// Its subject, in the recipient's language.
    pub subject: &'static str,
    /// The link's secret (`iamk_inv_…`, `iamk_rst_…`, ...), for the kinds
    /// that carry one.
    pub link_secret: Option<SecretString>,
}

impl std::fmt::Debug for SentMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentMail")
            .field("recipient", &self.recipient)
            .field("to", &self.to)
            .field("kind", &self.kind)
            .field("link_secret", &self.link_secret)
            .finish_non_exhaustive()
    }
}

/// Drains the outbox of an [`Iam`] and "delivers" by printing. Cloning is
/// cheap (shared state).
pub struct DevMailer<S: Store> {
    iam: Iam<S>,
    public_url: String,
    sent: Arc<Mutex<VecDeque<SentMail>>>,
    /// One delivery round at a time, so a message drained by one round is
    /// not printed twice by a concurrent one.
    round: Arc<tokio::sync::Mutex<()>>,
}

impl<S: Store> Clone for DevMailer<S> {
    fn clone(&self) -> Self {
        Self {
            iam: self.iam.clone(),
            public_url: self.public_url.clone(),
            sent: Arc::clone(&self.sent),
            round: Arc::clone(&self.round),
        }
    }
}

impl<S: Store> std::fmt::Debug for DevMailer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevMailer")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// The page of a front end that would take the link's secret.
fn link_path(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Invitation => "/accept-invitation",
        MessageKind::PasswordReset => "/reset-password",
        MessageKind::EmailVerification => "/verify-email",
        // Non-exhaustive: a kind added later still gets a usable link.
        _ => "/link",
    }
}

impl<S: Store> DevMailer<S> {
    /// A mailer for `iam` whose links point at `public_url`.
    pub fn new(iam: Iam<S>, public_url: &str) -> Self {
        Self {
            iam,
            public_url: public_url.trim_end_matches('/').to_owned(),
            sent: Arc::new(Mutex::new(VecDeque::new())),
            round: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// One delivery round: drains what waits, prints each message and
    /// acknowledges those printed. A message that could not be printed
    /// stays in the outbox for the next round (at-least-once). Returns how
    /// many were delivered.
    ///
    /// # Errors
    /// The store's or iamkit's error when draining or acknowledging; the
    /// messages stay queued.
    pub async fn deliver_pending(&self) -> iamkit::Result<usize> {
        let _round = self.round.lock().await;
        let mut delivered = 0;
        loop {
            let batch = self.iam.drain_outbox(BATCH).await?;
            if batch.is_empty() {
                return Ok(delivered);
            }
            let drained = batch.len();
            let mut acknowledged = Vec::with_capacity(drained);
            for message in batch {
                if self.print(&message).is_ok() {
                    acknowledged.push(message.id);
                    self.remember(message);
                }
            }
            self.iam.acknowledge(&acknowledged).await?;
            delivered += acknowledged.len();
            if acknowledged.len() < drained {
                // stdout failed: the rest waits for the next round instead
                // of being drained again at once.
                return Ok(delivered);
            }
        }
    }

    fn print(&self, message: &Notification) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        write!(
            out,
            "[dev-mailer] to={} kind={:?} subject={:?}",
            message.to.as_str(),
            message.kind,
            message.subject
        )?;
        if let Some(secret) = &message.link_secret {
            write!(
                out,
                " link={}{}?token={}",
                self.public_url,
                link_path(message.kind),
                secret.expose()
            )?;
        }
        writeln!(out)?;
        out.flush()
    }

    fn remember(&self, message: Notification) {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if sent.len() >= KEPT {
            sent.pop_front();
        }
        sent.push_back(SentMail {
            recipient: message.recipient,
            to: message.to.as_str().to_owned(),
            kind: message.kind,
            subject: message.subject,
            link_secret: message.link_secret,
        });
    }

    /// The messages delivered so far (the last 100), oldest first.
    pub fn sent(&self) -> Vec<SentMail> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// Runs a delivery round every `every` in a background task until the
    /// runtime shuts down or the handle is aborted. Failures are logged
    /// and retried next round.
    pub fn spawn(&self, every: Duration) -> JoinHandle<()> {
        let mailer = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = mailer.deliver_pending().await {
                    eprintln!("[dev-mailer] delivery failed, retrying: {e}");
                }
            }
        })
    }
}
