//! The facade's own repositories: password hashes and the outbox.

use chrono::{DateTime, Utc};
use iamkit::{MessageId, OutboxRecord, OutboxRepository, PasswordRepository};
use iamkit_credentials::PasswordHash;
use iamkit_identity::UserId;
use iamkit_store_api::StoreError;
use imbl::{HashMap, OrdMap};

use crate::MemoryTx;

/// Password hashes by user, and the outbox ordered by (time-ordered) id.
#[derive(Clone, Default)]
pub(crate) struct FacadeState {
    passwords: HashMap<UserId, PasswordHash>,
    outbox: OrdMap<MessageId, OutboxRecord>,
}

impl PasswordRepository for MemoryTx {
    async fn set_password_hash(
        &mut self,
        user: UserId,
        hash: &PasswordHash,
    ) -> Result<(), StoreError> {
        self.state.facade.passwords.insert(user, hash.clone());
        Ok(())
    }

    async fn get_password_hash(
        &mut self,
        user: UserId,
    ) -> Result<Option<PasswordHash>, StoreError> {
        Ok(self.state.facade.passwords.get(&user).cloned())
    }

    async fn delete_password_hash(&mut self, user: UserId) -> Result<bool, StoreError> {
        Ok(self.state.facade.passwords.remove(&user).is_some())
    }
}

impl OutboxRepository for MemoryTx {
    async fn insert_outbox_message(&mut self, message: &OutboxRecord) -> Result<(), StoreError> {
        if self.state.facade.outbox.contains_key(&message.id) {
            return Err(StoreError::unique_violation("outbox_id"));
        }
        self.state.facade.outbox.insert(message.id, message.clone());
        Ok(())
    }

    async fn list_undelivered_outbox(
        &mut self,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        Ok(self
            .state
            .facade
            .outbox
            .values()
            .filter(|m| m.delivered_at.is_none())
            .take(limit)
            .cloned()
            .collect())
    }

    async fn mark_outbox_delivered(
        &mut self,
        id: MessageId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.state.facade.outbox.get_mut(&id) {
            Some(message) if message.delivered_at.is_none() => {
                message.delivered_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
