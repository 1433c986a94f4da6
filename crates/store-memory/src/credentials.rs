//! Credentials repositories: tokens, sessions, API keys, TOTP, recovery
//! codes and throttle records.
//!
//! Every conditional update (consume, accept step, count a failure) reads
//! and writes inside one transaction, and the store runs one transaction at
//! a time, so each is atomic.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use iamkit_credentials::{
    ApiKey, ApiKeyRepository, PresentedSecret, RecoveryCodeRecord, RecoveryCodeRepository,
    SealedSecret, SealingKeyId, SecretDigest, Session, SessionRepository, SessionState,
    ThrottleConfig, ThrottleRepository, ThrottleState, TokenId, TokenRecord, TokenRepository,
    TotpEnrollment, TotpRepository,
};
use iamkit_identity::{ApiKeyId, SessionId, UserId, WorkspaceId};
use iamkit_store_api::StoreError;
use imbl::{OrdMap, Vector};

use crate::MemoryTx;

/// The credentials part of the store's state.
#[derive(Clone, Default)]
pub(crate) struct CredentialsState {
    tokens: OrdMap<TokenId, TokenRecord>,
    sessions: OrdMap<SessionId, Session>,
    api_keys: OrdMap<ApiKeyId, ApiKey>,
    totp: OrdMap<UserId, TotpEnrollment>,
    recovery_codes: OrdMap<UserId, Vector<RecoveryCodeRecord>>,
    throttle: OrdMap<UserId, ThrottleState>,
}

/// Applies `update` to every value matching `pick`; returns how many.
fn update_where<K: Ord + Clone, V: Clone>(
    map: &mut OrdMap<K, V>,
    pick: impl Fn(&K, &V) -> bool,
    update: impl Fn(&mut V),
) -> u64 {
    let keys: Vec<K> = map
        .iter()
        .filter(|(k, v)| pick(k, v))
        .map(|(k, _)| k.clone())
        .collect();
    let mut count = 0;
    for key in keys {
        if let Some(value) = map.get_mut(&key) {
            update(value);
            count += 1;
        }
    }
    count
}

impl TokenRepository for MemoryTx {
    async fn insert_token(&mut self, token: TokenRecord) -> Result<(), StoreError> {
        let state = &mut self.state.credentials;
        if state.tokens.contains_key(&token.id) {
            return Err(StoreError::unique_violation("tokens_id"));
        }
        let kind = token.kind.secret_kind();
        update_where(
            &mut state.tokens,
            |_, earlier| {
                earlier.subject == token.subject
                    && earlier.kind.secret_kind() == kind
                    && earlier.org == token.org
                    && earlier.consumed_at.is_none()
                    && earlier.revoked_at.is_none()
            },
            |earlier| earlier.revoked_at = Some(token.created_at),
        );
        state.tokens.insert(token.id, token);
        Ok(())
    }

    async fn get_token(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.state.credentials.tokens.get(&id).cloned())
    }

    async fn consume_token(
        &mut self,
        presented: &PresentedSecret,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let id = TokenId::from_uuid(presented.id());
        let Some(token) = self.state.credentials.tokens.get_mut(&id) else {
            return Ok(None);
        };
        if !token.accepts(presented, now) {
            return Ok(None);
        }
        token.consumed_at = Some(now);
        Ok(Some(token.clone()))
    }

    async fn revoke_tokens_of(
        &mut self,
        subject: UserId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(update_where(
            &mut self.state.credentials.tokens,
            |_, t| t.subject == subject && t.consumed_at.is_none() && t.revoked_at.is_none(),
            |t| t.revoked_at = Some(now),
        ))
    }
}

impl SessionRepository for MemoryTx {
    async fn insert_session(&mut self, session: Session) -> Result<(), StoreError> {
        let sessions = &mut self.state.credentials.sessions;
        if sessions.contains_key(&session.id) {
            return Err(StoreError::unique_violation("sessions_id"));
        }
        sessions.insert(session.id, session);
        Ok(())
    }

    async fn get_session(&mut self, id: SessionId) -> Result<Option<Session>, StoreError> {
        Ok(self.state.credentials.sessions.get(&id).cloned())
    }

    async fn touch_session(
        &mut self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.state.credentials.sessions.get_mut(&id) {
            Some(s) if s.revoked_at.is_none() => {
                s.last_seen_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn complete_session_mfa(
        &mut self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.state.credentials.sessions.get_mut(&id) {
            Some(s) if s.revoked_at.is_none() && s.state == SessionState::MfaPending => {
                s.state = SessionState::Full;
                s.last_seen_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn reauthenticate_session(
        &mut self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.state.credentials.sessions.get_mut(&id) {
            Some(s) if s.revoked_at.is_none() => {
                s.authenticated_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_session(
        &mut self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.state.credentials.sessions.get_mut(&id) {
            Some(s) if s.revoked_at.is_none() => {
                s.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_sessions_of(
        &mut self,
        user: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(update_where(
            &mut self.state.credentials.sessions,
            |id, s| s.user == user && s.revoked_at.is_none() && Some(*id) != except,
            |s| s.revoked_at = Some(now),
        ))
    }

    async fn list_sessions_of(&mut self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let mut sessions: Vec<Session> = self
            .state
            .credentials
            .sessions
            .values()
            .filter(|s| s.user == user && s.revoked_at.is_none())
            .cloned()
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));
        Ok(sessions)
    }
}

impl ApiKeyRepository for MemoryTx {
    async fn insert_api_key(&mut self, key: ApiKey) -> Result<(), StoreError> {
        let keys = &mut self.state.credentials.api_keys;
        if keys.contains_key(&key.id) {
            return Err(StoreError::unique_violation("api_keys_id"));
        }
        keys.insert(key.id, key);
        Ok(())
    }

    async fn get_api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.state.credentials.api_keys.get(&id).cloned())
    }

    async fn touch_api_key(
        &mut self,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.state.credentials.api_keys.get_mut(&id) {
            Some(k) if k.revoked_at.is_none() => {
                k.last_used_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_api_key(
        &mut self,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.state.credentials.api_keys.get_mut(&id) {
            Some(k) if k.revoked_at.is_none() => {
                k.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_api_keys_of(
        &mut self,
        creator: UserId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(update_where(
            &mut self.state.credentials.api_keys,
            |_, k| k.created_by == creator && k.revoked_at.is_none(),
            |k| k.revoked_at = Some(now),
        ))
    }

    async fn list_api_keys(&mut self, workspace: WorkspaceId) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys: Vec<ApiKey> = self
            .state
            .credentials
            .api_keys
            .values()
            .filter(|k| k.workspace == workspace)
            .cloned()
            .collect();
        keys.sort_by_key(|k| (k.created_at, k.id));
        Ok(keys)
    }
}

impl TotpRepository for MemoryTx {
    async fn insert_totp(&mut self, enrollment: TotpEnrollment) -> Result<(), StoreError> {
        let totp = &mut self.state.credentials.totp;
        if totp
            .get(&enrollment.user)
            .is_some_and(|e| e.confirmed_at.is_some())
        {
            return Err(StoreError::conflict());
        }
        totp.insert(enrollment.user, enrollment);
        Ok(())
    }

    async fn get_totp(&mut self, user: UserId) -> Result<Option<TotpEnrollment>, StoreError> {
        Ok(self.state.credentials.totp.get(&user).cloned())
    }

    async fn confirm_totp(
        &mut self,
        user: UserId,
        step: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.state.credentials.totp.get_mut(&user) {
            Some(e) if e.confirmed_at.is_none() => {
                e.confirmed_at = Some(now);
                e.last_step = Some(step);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn accept_totp_step(&mut self, user: UserId, step: u64) -> Result<bool, StoreError> {
        match self.state.credentials.totp.get_mut(&user) {
            Some(e) if e.confirmed_at.is_some() && e.last_step.is_none_or(|last| step > last) => {
                e.last_step = Some(step);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_totp(&mut self, user: UserId) -> Result<bool, StoreError> {
        Ok(self.state.credentials.totp.remove(&user).is_some())
    }

    async fn list_totp_to_reseal(
        &mut self,
        key: SealingKeyId,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<TotpEnrollment>, StoreError> {
        let totp = &self.state.credentials.totp;
        let from = match after {
            Some(user) => Bound::Excluded(user),
            None => Bound::Unbounded,
        };
        Ok(totp
            .range((from, Bound::Unbounded))
            .map(|(_, e)| e)
            .filter(|e| !e.sealed_secret.is_under(key))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn replace_sealed_totp(
        &mut self,
        user: UserId,
        expected: &SealedSecret,
        resealed: &SealedSecret,
    ) -> Result<bool, StoreError> {
        match self.state.credentials.totp.get_mut(&user) {
            Some(e) if e.sealed_secret == *expected => {
                e.sealed_secret = resealed.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl RecoveryCodeRepository for MemoryTx {
    async fn replace_recovery_codes(
        &mut self,
        user: UserId,
        records: Vec<RecoveryCodeRecord>,
    ) -> Result<(), StoreError> {
        self.state
            .credentials
            .recovery_codes
            .insert(user, records.into_iter().collect());
        Ok(())
    }

    async fn consume_recovery_code(
        &mut self,
        user: UserId,
        digest: &SecretDigest,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(codes) = self.state.credentials.recovery_codes.get_mut(&user) else {
            return Ok(false);
        };
        // `SecretDigest`'s `==` is constant time.
        match codes
            .iter_mut()
            .find(|c| c.used_at.is_none() && c.digest == *digest)
        {
            Some(code) => {
                code.used_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn count_recovery_codes(&mut self, user: UserId) -> Result<u64, StoreError> {
        Ok(self
            .state
            .credentials
            .recovery_codes
            .get(&user)
            .map_or(0, |codes| {
                codes.iter().filter(|c| c.used_at.is_none()).count() as u64
            }))
    }

    async fn delete_recovery_codes(&mut self, user: UserId) -> Result<(), StoreError> {
        self.state.credentials.recovery_codes.remove(&user);
        Ok(())
    }
}

impl ThrottleRepository for MemoryTx {
    async fn get_throttle(&mut self, user: UserId) -> Result<ThrottleState, StoreError> {
        Ok(self
            .state
            .credentials
            .throttle
            .get(&user)
            .copied()
            .unwrap_or_default())
    }

    async fn record_throttle_failure(
        &mut self,
        user: UserId,
        config: &ThrottleConfig,
        now: DateTime<Utc>,
    ) -> Result<ThrottleState, StoreError> {
        let throttle = &mut self.state.credentials.throttle;
        let next = throttle
            .get(&user)
            .copied()
            .unwrap_or_default()
            .after_failure(config, now);
        throttle.insert(user, next);
        Ok(next)
    }

    async fn reserve_attempt(
        &mut self,
        user: UserId,
        config: &ThrottleConfig,
        now: DateTime<Utc>,
    ) -> Result<Option<ThrottleState>, StoreError> {
        let throttle = &mut self.state.credentials.throttle;
        let current = throttle.get(&user).copied().unwrap_or_default();
        if current.check(now).is_err() {
            return Ok(None);
        }
        let next = current.after_failure(config, now);
        throttle.insert(user, next);
        Ok(Some(next))
    }

    async fn reset_throttle(&mut self, user: UserId) -> Result<(), StoreError> {
        self.state.credentials.throttle.remove(&user);
        Ok(())
    }
}
