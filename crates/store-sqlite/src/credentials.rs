//! Credentials repositories: tokens, sessions, API keys, TOTP, recovery
//! codes and throttle records. Secrets are stored only as digests (and the
//! TOTP secret sealed by the facade).
//!
//! Single-use steps are one conditional `UPDATE ... WHERE <still usable>`;
//! the write lock taken by `BEGIN IMMEDIATE` makes each transaction's reads
//! and writes atomic with respect to every other transaction.

use chrono::{DateTime, Utc};
use iamkit_credentials::{
    ApiKey, ApiKeyRepository, ClientMetadata, PresentedSecret, RecoveryCodeRecord,
    RecoveryCodeRepository, SealedSecret, SealingKeyId, SecretDigest, Session, SessionRepository,
    SessionState, ThrottleConfig, ThrottleRepository, ThrottleState, TokenId, TokenKind,
    TokenRecord, TokenRepository, TotpAlgorithm, TotpEnrollment, TotpRepository,
};
use iamkit_identity::{ApiKeyId, OrgId, SessionId, UserId, WorkspaceId};
use iamkit_store_api::StoreError;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::SqliteTx;
use crate::codec::{
    HEADER_LEN, Result, corrupt, db, digest, from_json, int, opt_ts, parse_opt_ts, parse_ts,
    parse_uid, to_json, ts, uid, uint,
};

pub(crate) fn get<'r, T>(row: &'r SqliteRow, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(|_| corrupt(column))
}

fn get_ts(row: &SqliteRow, column: &'static str) -> Result<DateTime<Utc>> {
    parse_ts(&get::<String>(row, column)?, column)
}

fn get_opt_ts(row: &SqliteRow, column: &'static str) -> Result<Option<DateTime<Utc>>> {
    parse_opt_ts(get::<Option<String>>(row, column)?, column)
}

fn get_uuid(row: &SqliteRow, column: &'static str) -> Result<uuid::Uuid> {
    parse_uid(&get::<String>(row, column)?, column)
}

fn get_digest(row: &SqliteRow, column: &'static str) -> Result<SecretDigest> {
    digest(&get::<Vec<u8>>(row, column)?, column)
}

fn changed(done: sqlx::sqlite::SqliteQueryResult) -> bool {
    done.rows_affected() > 0
}

// Tokens ------------------------------------------------------------------

/// `(kind, by_admin)` columns; `kind` is the secret kind, so "same kind"
/// for revoking earlier tokens is column equality.
fn token_kind_columns(kind: TokenKind) -> (&'static str, bool) {
    match kind {
        TokenKind::Invite => ("invite", false),
        TokenKind::PasswordReset { by_admin } => ("password_reset", by_admin),
        TokenKind::EmailVerification => ("email_verification", false),
    }
}

fn token_of(row: &SqliteRow) -> Result<TokenRecord> {
    let kind = match get::<String>(row, "kind")?.as_str() {
        "invite" => TokenKind::Invite,
        "password_reset" => TokenKind::PasswordReset {
            by_admin: get::<bool>(row, "by_admin")?,
        },
        "email_verification" => TokenKind::EmailVerification,
        _ => return Err(corrupt("tokens.kind")),
    };
    Ok(TokenRecord {
        id: TokenId::from_uuid(get_uuid(row, "id")?),
        kind,
        subject: UserId::from_uuid(get_uuid(row, "subject")?),
        org: get::<Option<String>>(row, "org_id")?
            .map(|o| parse_uid(&o, "tokens.org_id").map(OrgId::from_uuid))
            .transpose()?,
        secret_hash: get_digest(row, "secret_hash")?,
        created_at: get_ts(row, "created_at")?,
        expires_at: get_ts(row, "expires_at")?,
        consumed_at: get_opt_ts(row, "consumed_at")?,
        revoked_at: get_opt_ts(row, "revoked_at")?,
    })
}

impl TokenRepository for SqliteTx {
    async fn insert_token(&mut self, token: TokenRecord) -> Result<()> {
        let (kind, by_admin) = token_kind_columns(token.kind);
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM tokens WHERE id = ?")
            .bind(uid(token.id.as_uuid()))
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        if exists.is_some() {
            return Err(StoreError::unique_violation("tokens_id"));
        }
        sqlx::query(
            "UPDATE tokens SET revoked_at = ?
             WHERE subject = ? AND kind = ? AND org_id IS ?
               AND consumed_at IS NULL AND revoked_at IS NULL",
        )
        .bind(ts(token.created_at))
        .bind(uid(token.subject.as_uuid()))
        .bind(kind)
        .bind(token.org.map(|o| uid(o.as_uuid())))
        .execute(self.conn())
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO tokens (id, kind, by_admin, subject, org_id, secret_hash, created_at,
             expires_at, consumed_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(uid(token.id.as_uuid()))
        .bind(kind)
        .bind(by_admin)
        .bind(uid(token.subject.as_uuid()))
        .bind(token.org.map(|o| uid(o.as_uuid())))
        .bind(token.secret_hash.to_bytes().to_vec())
        .bind(ts(token.created_at))
        .bind(ts(token.expires_at))
        .bind(opt_ts(token.consumed_at))
        .bind(opt_ts(token.revoked_at))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_token(&mut self, id: TokenId) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(tokens),
            " FROM tokens WHERE id = ?"
        ))
        .bind(uid(id.as_uuid()))
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(token_of).transpose()
    }

    async fn consume_token(
        &mut self,
        presented: &PresentedSecret,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>> {
        // The secret is compared in constant time in Rust (`accepts`), never
        // by SQL equality; the state change is then one conditional update.
        let id = TokenId::from_uuid(presented.id());
        let Some(stored) = self.get_token(id).await? else {
            return Ok(None);
        };
        if !stored.accepts(presented, now) {
            return Ok(None);
        }
        let row = sqlx::query(concat!(
            "UPDATE tokens SET consumed_at = ?
             WHERE id = ? AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > ?
             RETURNING ",
            iamkit_store_api::columns!(tokens)
        ))
        .bind(ts(now))
        .bind(uid(id.as_uuid()))
        .bind(ts(now))
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(token_of).transpose()
    }

    async fn revoke_tokens_of(&mut self, subject: UserId, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = ?
             WHERE subject = ? AND consumed_at IS NULL AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(uid(subject.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }
}

// Sessions ----------------------------------------------------------------

fn session_state(state: SessionState) -> &'static str {
    match state {
        SessionState::MfaPending => "mfa_pending",
        SessionState::Full => "full",
    }
}

pub(crate) fn session_of(row: &SqliteRow) -> Result<Session> {
    let state = match get::<String>(row, "state")?.as_str() {
        "mfa_pending" => SessionState::MfaPending,
        "full" => SessionState::Full,
        _ => return Err(corrupt("sessions.state")),
    };
    Ok(Session {
        id: SessionId::from_uuid(get_uuid(row, "id")?),
        user: UserId::from_uuid(get_uuid(row, "user_id")?),
        org: get::<Option<String>>(row, "org_id")?
            .map(|o| parse_uid(&o, "sessions.org_id").map(OrgId::from_uuid))
            .transpose()?,
        secret_hash: get_digest(row, "secret_hash")?,
        state,
        created_at: get_ts(row, "created_at")?,
        last_seen_at: get_ts(row, "last_seen_at")?,
        // Sessions from before the column: signed in when they started.
        authenticated_at: match get_opt_ts(row, "authenticated_at")? {
            Some(at) => at,
            None => get_ts(row, "created_at")?,
        },
        client: ClientMetadata {
            ip: get(row, "client_ip")?,
            user_agent: get(row, "user_agent")?,
        },
        revoked_at: get_opt_ts(row, "revoked_at")?,
    })
}

impl SessionRepository for SqliteTx {
    async fn insert_session(&mut self, session: Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, org_id, secret_hash, state, created_at,
             last_seen_at, authenticated_at, client_ip, user_agent, revoked_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(uid(session.id.as_uuid()))
        .bind(uid(session.user.as_uuid()))
        .bind(session.org.map(|o| uid(o.as_uuid())))
        .bind(session.secret_hash.to_bytes().to_vec())
        .bind(session_state(session.state))
        .bind(ts(session.created_at))
        .bind(ts(session.last_seen_at))
        .bind(ts(session.authenticated_at))
        .bind(session.client.ip.clone())
        .bind(session.client.user_agent.clone())
        .bind(opt_ts(session.revoked_at))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_session(&mut self, id: SessionId) -> Result<Option<Session>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(sessions),
            " FROM sessions WHERE id = ?"
        ))
        .bind(uid(id.as_uuid()))
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(session_of).transpose()
    }

    async fn touch_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(ts(now))
                .bind(uid(id.as_uuid()))
                .execute(self.conn())
                .await
                .map_err(db)?;
        Ok(changed(done))
    }

    async fn complete_session_mfa(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET state = 'full', last_seen_at = ?
             WHERE id = ? AND revoked_at IS NULL AND state = 'mfa_pending'",
        )
        .bind(ts(now))
        .bind(uid(id.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn reauthenticate_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET authenticated_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(uid(id.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn revoke_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(ts(now))
                .bind(uid(id.as_uuid()))
                .execute(self.conn())
                .await
                .map_err(db)?;
        Ok(changed(done))
    }

    async fn revoke_sessions_of(
        &mut self,
        user: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = ?
             WHERE user_id = ? AND revoked_at IS NULL AND (? IS NULL OR id <> ?)",
        )
        .bind(ts(now))
        .bind(uid(user.as_uuid()))
        .bind(except.map(|e| uid(e.as_uuid())))
        .bind(except.map(|e| uid(e.as_uuid())))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn list_sessions_of(&mut self, user: UserId) -> Result<Vec<Session>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(sessions),
            " FROM sessions WHERE user_id = ? AND revoked_at IS NULL
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(uid(user.as_uuid()))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(session_of).collect()
    }
}

// API keys ----------------------------------------------------------------

pub(crate) fn api_key_of(row: &SqliteRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId::from_uuid(get_uuid(row, "id")?),
        name: get(row, "name")?,
        workspace: WorkspaceId::from_uuid(get_uuid(row, "workspace_id")?),
        restriction: get::<Option<String>>(row, "restriction")?
            .map(|r| from_json(&r))
            .transpose()?,
        created_by: UserId::from_uuid(get_uuid(row, "created_by")?),
        created_at: get_ts(row, "created_at")?,
        expires_at: get_opt_ts(row, "expires_at")?,
        last_used_at: get_opt_ts(row, "last_used_at")?,
        revoked_at: get_opt_ts(row, "revoked_at")?,
        secret_hash: get_digest(row, "secret_hash")?,
    })
}

impl ApiKeyRepository for SqliteTx {
    async fn insert_api_key(&mut self, key: ApiKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, workspace_id, restriction, created_by, created_at,
             expires_at, last_used_at, revoked_at, secret_hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(uid(key.id.as_uuid()))
        .bind(key.name.clone())
        .bind(uid(key.workspace.as_uuid()))
        .bind(key.restriction.as_ref().map(to_json).transpose()?)
        .bind(uid(key.created_by.as_uuid()))
        .bind(ts(key.created_at))
        .bind(opt_ts(key.expires_at))
        .bind(opt_ts(key.last_used_at))
        .bind(opt_ts(key.revoked_at))
        .bind(key.secret_hash.to_bytes().to_vec())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(api_keys),
            " FROM api_keys WHERE id = ?"
        ))
        .bind(uid(id.as_uuid()))
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(api_key_of).transpose()
    }

    async fn touch_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(ts(now))
                .bind(uid(id.as_uuid()))
                .execute(self.conn())
                .await
                .map_err(db)?;
        Ok(changed(done))
    }

    async fn revoke_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(ts(now))
                .bind(uid(id.as_uuid()))
                .execute(self.conn())
                .await
                .map_err(db)?;
        Ok(changed(done))
    }

    async fn revoke_api_keys_of(&mut self, creator: UserId, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = ? WHERE created_by = ? AND revoked_at IS NULL",
        )
        .bind(ts(now))
        .bind(uid(creator.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn list_api_keys(&mut self, workspace: WorkspaceId) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(api_keys),
            " FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id"
        ))
        .bind(uid(workspace.as_uuid()))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(api_key_of).collect()
    }
}

// TOTP --------------------------------------------------------------------

fn algorithm_name(algorithm: TotpAlgorithm) -> &'static str {
    match algorithm {
        TotpAlgorithm::Sha1 => "sha1",
        TotpAlgorithm::Sha256 => "sha256",
        TotpAlgorithm::Sha512 => "sha512",
    }
}

fn totp_of(row: &SqliteRow) -> Result<TotpEnrollment> {
    let algorithm = match get::<String>(row, "algorithm")?.as_str() {
        "sha1" => TotpAlgorithm::Sha1,
        "sha256" => TotpAlgorithm::Sha256,
        "sha512" => TotpAlgorithm::Sha512,
        _ => return Err(corrupt("totp_enrollments.algorithm")),
    };
    Ok(TotpEnrollment {
        user: UserId::from_uuid(get_uuid(row, "user_id")?),
        sealed_secret: SealedSecret::from_bytes(get(row, "sealed_secret")?),
        algorithm,
        digits: u8::try_from(get::<i64>(row, "digits")?).map_err(|_| corrupt("digits"))?,
        period_secs: uint(get(row, "period_secs")?, "totp_enrollments.period_secs")?,
        created_at: get_ts(row, "created_at")?,
        confirmed_at: get_opt_ts(row, "confirmed_at")?,
        last_step: get::<Option<i64>>(row, "last_step")?
            .map(|s| uint(s, "totp_enrollments.last_step"))
            .transpose()?,
    })
}

impl TotpRepository for SqliteTx {
    async fn insert_totp(&mut self, enrollment: TotpEnrollment) -> Result<()> {
        let confirmed: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM totp_enrollments WHERE user_id = ? AND confirmed_at IS NOT NULL",
        )
        .bind(uid(enrollment.user.as_uuid()))
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        if confirmed.is_some() {
            return Err(StoreError::conflict());
        }
        sqlx::query(
            "INSERT OR REPLACE INTO totp_enrollments (user_id, sealed_secret, algorithm, digits,
             period_secs, created_at, confirmed_at, last_step) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(uid(enrollment.user.as_uuid()))
        .bind(enrollment.sealed_secret.as_bytes().to_vec())
        .bind(algorithm_name(enrollment.algorithm))
        .bind(i64::from(enrollment.digits))
        .bind(int(enrollment.period_secs)?)
        .bind(ts(enrollment.created_at))
        .bind(opt_ts(enrollment.confirmed_at))
        .bind(enrollment.last_step.map(int).transpose()?)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_totp(&mut self, user: UserId) -> Result<Option<TotpEnrollment>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(totp_enrollments),
            " FROM totp_enrollments WHERE user_id = ?"
        ))
        .bind(uid(user.as_uuid()))
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(totp_of).transpose()
    }

    async fn confirm_totp(&mut self, user: UserId, step: u64, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE totp_enrollments SET confirmed_at = ?, last_step = ?
             WHERE user_id = ? AND confirmed_at IS NULL",
        )
        .bind(ts(now))
        .bind(int(step)?)
        .bind(uid(user.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn accept_totp_step(&mut self, user: UserId, step: u64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE totp_enrollments SET last_step = ?
             WHERE user_id = ? AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < ?)",
        )
        .bind(int(step)?)
        .bind(uid(user.as_uuid()))
        .bind(int(step)?)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn delete_totp(&mut self, user: UserId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM totp_enrollments WHERE user_id = ?")
            .bind(uid(user.as_uuid()))
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(changed(done))
    }

    async fn list_totp_to_reseal(
        &mut self,
        key: SealingKeyId,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<TotpEnrollment>> {
        // `substr` of a BLOB counts bytes; a value under `key` starts with
        // its header (`SealedSecret::is_under`). Every id's text sorts
        // after the empty string, the start when there is no `after`.
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(totp_enrollments),
            " FROM totp_enrollments
             WHERE user_id > ? AND substr(sealed_secret, 1, ?) <> ?
             ORDER BY user_id LIMIT ?"
        ))
        .bind(after.map(|u| uid(u.as_uuid())).unwrap_or_default())
        .bind(HEADER_LEN)
        .bind(SealedSecret::header(key).to_vec())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(totp_of).collect()
    }

    async fn replace_sealed_totp(
        &mut self,
        user: UserId,
        expected: &SealedSecret,
        resealed: &SealedSecret,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE totp_enrollments SET sealed_secret = ? WHERE user_id = ? AND sealed_secret = ?",
        )
        .bind(resealed.as_bytes().to_vec())
        .bind(uid(user.as_uuid()))
        .bind(expected.as_bytes().to_vec())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }
}

// Recovery codes ----------------------------------------------------------

impl RecoveryCodeRepository for SqliteTx {
    async fn replace_recovery_codes(
        &mut self,
        user: UserId,
        records: Vec<RecoveryCodeRecord>,
    ) -> Result<()> {
        self.delete_recovery_codes(user).await?;
        for (position, record) in records.iter().enumerate() {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, position, digest, created_at, used_at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(uid(user.as_uuid()))
            .bind(i64::try_from(position).map_err(|_| corrupt("recovery_codes.position"))?)
            .bind(record.digest.to_bytes().to_vec())
            .bind(ts(record.created_at))
            .bind(opt_ts(record.used_at))
            .execute(self.conn())
            .await
            .map_err(db)?;
        }
        Ok(())
    }

    async fn consume_recovery_code(
        &mut self,
        user: UserId,
        digest_in: &SecretDigest,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let rows = sqlx::query(
            "SELECT position, digest FROM recovery_codes WHERE user_id = ? AND used_at IS NULL
             ORDER BY position",
        )
        .bind(uid(user.as_uuid()))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        // `SecretDigest`'s `==` is constant time; compare in Rust, not SQL.
        let mut found = None;
        for row in &rows {
            if get_digest(row, "digest")? == *digest_in {
                found = Some(get::<i64>(row, "position")?);
                break;
            }
        }
        let Some(position) = found else {
            return Ok(false);
        };
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = ?
             WHERE user_id = ? AND position = ? AND used_at IS NULL",
        )
        .bind(ts(now))
        .bind(uid(user.as_uuid()))
        .bind(position)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn count_recovery_codes(&mut self, user: UserId) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL",
        )
        .bind(uid(user.as_uuid()))
        .fetch_one(self.conn())
        .await
        .map_err(db)?;
        uint(n, "recovery_codes.count")
    }

    async fn delete_recovery_codes(&mut self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = ?")
            .bind(uid(user.as_uuid()))
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(())
    }
}

// Throttle ----------------------------------------------------------------

impl ThrottleRepository for SqliteTx {
    async fn get_throttle(&mut self, user: UserId) -> Result<ThrottleState> {
        let row: Option<(i64, Option<String>)> =
            sqlx::query_as("SELECT failures, locked_until FROM throttle WHERE user_id = ?")
                .bind(uid(user.as_uuid()))
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        let Some((failures, locked_until)) = row else {
            return Ok(ThrottleState::default());
        };
        Ok(ThrottleState {
            failures: u32::try_from(failures).map_err(|_| corrupt("throttle.failures"))?,
            locked_until: parse_opt_ts(locked_until, "throttle.locked_until")?,
        })
    }

    async fn record_throttle_failure(
        &mut self,
        user: UserId,
        config: &ThrottleConfig,
        now: DateTime<Utc>,
    ) -> Result<ThrottleState> {
        // The count is an atomic increment; the lockout that follows from
        // it is the domain's rule (`after_failure`).
        let (failures, locked_until): (i64, Option<String>) = sqlx::query_as(
            "INSERT INTO throttle (user_id, failures, locked_until) VALUES (?, 1, NULL)
             ON CONFLICT (user_id) DO UPDATE SET failures = MIN(failures + 1, 4294967295)
             RETURNING failures, locked_until",
        )
        .bind(uid(user.as_uuid()))
        .fetch_one(self.conn())
        .await
        .map_err(db)?;
        let failures = u32::try_from(failures).map_err(|_| corrupt("throttle.failures"))?;
        let before = ThrottleState {
            failures: failures.saturating_sub(1),
            locked_until: parse_opt_ts(locked_until, "throttle.locked_until")?,
        };
        let next = before.after_failure(config, now);
        if next.locked_until != before.locked_until {
            sqlx::query("UPDATE throttle SET locked_until = ? WHERE user_id = ?")
                .bind(opt_ts(next.locked_until))
                .bind(uid(user.as_uuid()))
                .execute(self.conn())
                .await
                .map_err(db)?;
        }
        Ok(next)
    }

    async fn reserve_attempt(
        &mut self,
        user: UserId,
        config: &ThrottleConfig,
        now: DateTime<Utc>,
    ) -> Result<Option<ThrottleState>> {
        // The transaction holds SQLite's write lock (`BEGIN IMMEDIATE`), so
        // the read and the write below are one step for other writers.
        let current = self.get_throttle(user).await?;
        if current.check(now).is_err() {
            return Ok(None);
        }
        let next = current.after_failure(config, now);
        sqlx::query(
            "INSERT INTO throttle (user_id, failures, locked_until) VALUES (?, ?, ?)
             ON CONFLICT (user_id) DO UPDATE
             SET failures = excluded.failures, locked_until = excluded.locked_until",
        )
        .bind(uid(user.as_uuid()))
        .bind(i64::from(next.failures))
        .bind(opt_ts(next.locked_until))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(Some(next))
    }

    async fn reset_throttle(&mut self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM throttle WHERE user_id = ?")
            .bind(uid(user.as_uuid()))
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(())
    }
}
