//! Credentials repositories: tokens, sessions, API keys, TOTP, recovery
//! codes and throttle records. Secrets are stored only as digests (and the
//! TOTP secret sealed by the facade).
//!
//! At `READ COMMITTED`, every single-use step is one conditional
//! `UPDATE ... WHERE <still usable>`: when concurrent transactions update
//! the same row, PostgreSQL makes each wait for the previous one to commit
//! and then re-checks the condition on the new row version, so exactly one
//! of them changes it.

use chrono::{DateTime, Utc};
use iamkit_credentials::{
    ApiKey, ApiKeyRepository, ClientMetadata, PresentedSecret, RecoveryCodeRecord,
    RecoveryCodeRepository, SealedSecret, SealingKeyId, SecretDigest, Session, SessionRepository,
    SessionState, ThrottleConfig, ThrottleRepository, ThrottleState, TokenId, TokenKind,
    TokenRecord, TokenRepository, TotpAlgorithm, TotpEnrollment, TotpRepository,
};
use iamkit_identity::{ApiKeyId, OrgId, SessionId, UserId, WorkspaceId};
use iamkit_store_api::StoreError;
use sqlx::postgres::{PgQueryResult, PgRow};
use sqlx::types::Json;
use uuid::Uuid;

use crate::PgTx;
use crate::codec::{HEADER_LEN, Result, corrupt, db, digest, get, int, limit, uint};

fn get_digest(row: &PgRow, column: &'static str) -> Result<SecretDigest> {
    digest(&get::<Vec<u8>>(row, column)?, column)
}

fn changed(done: PgQueryResult) -> bool {
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

fn token_of(row: &PgRow) -> Result<TokenRecord> {
    let kind = match get::<String>(row, "kind")?.as_str() {
        "invite" => TokenKind::Invite,
        "password_reset" => TokenKind::PasswordReset {
            by_admin: get::<bool>(row, "by_admin")?,
        },
        "email_verification" => TokenKind::EmailVerification,
        _ => return Err(corrupt("tokens.kind")),
    };
    Ok(TokenRecord {
        id: TokenId::from_uuid(get(row, "id")?),
        kind,
        subject: UserId::from_uuid(get(row, "subject")?),
        org: get::<Option<Uuid>>(row, "org_id")?.map(OrgId::from_uuid),
        secret_hash: get_digest(row, "secret_hash")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        consumed_at: get(row, "consumed_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

impl PgTx {
    async fn insert_token_steps(&mut self, token: &TokenRecord) -> Result<()> {
        let (kind, by_admin) = token_kind_columns(token.kind);
        let subject = token.subject.as_uuid();
        // Issuing reads the subject's live tokens and revokes them; a token
        // issued concurrently is not committed yet and so not seen. The
        // advisory lock makes two issuances for one subject run one after
        // the other, so the later one revokes the earlier.
        self.lock_key("tokens", subject).await?;
        sqlx::query(
            "UPDATE tokens SET revoked_at = $1
             WHERE subject = $2 AND kind = $3 AND org_id IS NOT DISTINCT FROM $4
               AND consumed_at IS NULL AND revoked_at IS NULL",
        )
        .bind(token.created_at)
        .bind(subject)
        .bind(kind)
        .bind(token.org.map(|o| o.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO tokens (id, kind, by_admin, subject, org_id, secret_hash, created_at,
             expires_at, consumed_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(token.id.as_uuid())
        .bind(kind)
        .bind(by_admin)
        .bind(subject)
        .bind(token.org.map(|o| o.as_uuid()))
        .bind(token.secret_hash.to_bytes().to_vec())
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.consumed_at)
        .bind(token.revoked_at)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }
}

impl TokenRepository for PgTx {
    async fn insert_token(&mut self, token: TokenRecord) -> Result<()> {
        // A duplicate id fails the insert (`tokens_id`); the savepoint then
        // undoes the revocations too.
        self.savepoint().await?;
        let done = self.insert_token_steps(&token).await;
        self.settle(done).await
    }

    async fn get_token(&mut self, id: TokenId) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(tokens),
            " FROM tokens WHERE id = $1"
        ))
        .bind(id.as_uuid())
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
            "UPDATE tokens SET consumed_at = $1
             WHERE id = $2 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $1
             RETURNING ",
            iamkit_store_api::columns!(tokens)
        ))
        .bind(now)
        .bind(id.as_uuid())
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(token_of).transpose()
    }

    async fn revoke_tokens_of(&mut self, subject: UserId, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = $1
             WHERE subject = $2 AND consumed_at IS NULL AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(subject.as_uuid())
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

pub(crate) fn session_of(row: &PgRow) -> Result<Session> {
    let state = match get::<String>(row, "state")?.as_str() {
        "mfa_pending" => SessionState::MfaPending,
        "full" => SessionState::Full,
        _ => return Err(corrupt("sessions.state")),
    };
    Ok(Session {
        id: SessionId::from_uuid(get(row, "id")?),
        user: UserId::from_uuid(get(row, "user_id")?),
        org: get::<Option<Uuid>>(row, "org_id")?.map(OrgId::from_uuid),
        secret_hash: get_digest(row, "secret_hash")?,
        state,
        created_at: get(row, "created_at")?,
        last_seen_at: get(row, "last_seen_at")?,
        // Sessions from before the column: signed in when they started.
        authenticated_at: match get::<Option<DateTime<Utc>>>(row, "authenticated_at")? {
            Some(at) => at,
            None => get(row, "created_at")?,
        },
        client: ClientMetadata {
            ip: get(row, "client_ip")?,
            user_agent: get(row, "user_agent")?,
        },
        revoked_at: get(row, "revoked_at")?,
    })
}

impl SessionRepository for PgTx {
    async fn insert_session(&mut self, session: Session) -> Result<()> {
        self.savepoint().await?;
        let done = sqlx::query(
            "INSERT INTO sessions (id, user_id, org_id, secret_hash, state, created_at,
             last_seen_at, authenticated_at, client_ip, user_agent, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(session.id.as_uuid())
        .bind(session.user.as_uuid())
        .bind(session.org.map(|o| o.as_uuid()))
        .bind(session.secret_hash.to_bytes().to_vec())
        .bind(session_state(session.state))
        .bind(session.created_at)
        .bind(session.last_seen_at)
        .bind(session.authenticated_at)
        .bind(session.client.ip.clone())
        .bind(session.client.user_agent.clone())
        .bind(session.revoked_at)
        .execute(self.conn())
        .await
        .map(|_| ())
        .map_err(db);
        self.settle(done).await
    }

    async fn get_session(&mut self, id: SessionId) -> Result<Option<Session>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(sessions),
            " FROM sessions WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(session_of).transpose()
    }

    async fn touch_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn complete_session_mfa(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET state = 'full', last_seen_at = $1
             WHERE id = $2 AND revoked_at IS NULL AND state = 'mfa_pending'",
        )
        .bind(now)
        .bind(id.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn reauthenticate_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET authenticated_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn revoke_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id.as_uuid())
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
            "UPDATE sessions SET revoked_at = $1
             WHERE user_id = $2 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3)",
        )
        .bind(now)
        .bind(user.as_uuid())
        .bind(except.map(|e| e.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn list_sessions_of(&mut self, user: UserId) -> Result<Vec<Session>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(sessions),
            " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.as_uuid())
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(session_of).collect()
    }
}

// API keys ----------------------------------------------------------------

pub(crate) fn api_key_of(row: &PgRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId::from_uuid(get(row, "id")?),
        name: get(row, "name")?,
        workspace: WorkspaceId::from_uuid(get(row, "workspace_id")?),
        restriction: get::<Option<Json<_>>>(row, "restriction")?.map(|Json(r)| r),
        created_by: UserId::from_uuid(get(row, "created_by")?),
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        last_used_at: get(row, "last_used_at")?,
        revoked_at: get(row, "revoked_at")?,
        secret_hash: get_digest(row, "secret_hash")?,
    })
}

impl ApiKeyRepository for PgTx {
    async fn insert_api_key(&mut self, key: ApiKey) -> Result<()> {
        self.savepoint().await?;
        let done = sqlx::query(
            "INSERT INTO api_keys (id, name, workspace_id, restriction, created_by, created_at,
             expires_at, last_used_at, revoked_at, secret_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(key.id.as_uuid())
        .bind(key.name.clone())
        .bind(key.workspace.as_uuid())
        .bind(key.restriction.as_ref().map(Json))
        .bind(key.created_by.as_uuid())
        .bind(key.created_at)
        .bind(key.expires_at)
        .bind(key.last_used_at)
        .bind(key.revoked_at)
        .bind(key.secret_hash.to_bytes().to_vec())
        .execute(self.conn())
        .await
        .map(|_| ())
        .map_err(db);
        self.settle(done).await
    }

    async fn get_api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(api_keys),
            " FROM api_keys WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(api_key_of).transpose()
    }

    async fn touch_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn revoke_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(id.as_uuid())
                .execute(self.conn())
                .await
                .map_err(db)?;
        Ok(changed(done))
    }

    async fn revoke_api_keys_of(&mut self, creator: UserId, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE created_by = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(creator.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn list_api_keys(&mut self, workspace: WorkspaceId) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(api_keys),
            " FROM api_keys WHERE workspace_id = $1 ORDER BY created_at, id"
        ))
        .bind(workspace.as_uuid())
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

fn totp_of(row: &PgRow) -> Result<TotpEnrollment> {
    let algorithm = match get::<String>(row, "algorithm")?.as_str() {
        "sha1" => TotpAlgorithm::Sha1,
        "sha256" => TotpAlgorithm::Sha256,
        "sha512" => TotpAlgorithm::Sha512,
        _ => return Err(corrupt("totp_enrollments.algorithm")),
    };
    Ok(TotpEnrollment {
        user: UserId::from_uuid(get(row, "user_id")?),
        sealed_secret: SealedSecret::from_bytes(get(row, "sealed_secret")?),
        algorithm,
        digits: u8::try_from(get::<i16>(row, "digits")?)
            .map_err(|_| corrupt("totp_enrollments.digits"))?,
        period_secs: uint(get(row, "period_secs")?, "totp_enrollments.period_secs")?,
        created_at: get(row, "created_at")?,
        confirmed_at: get(row, "confirmed_at")?,
        last_step: get::<Option<i64>>(row, "last_step")?
            .map(|s| uint(s, "totp_enrollments.last_step"))
            .transpose()?,
    })
}

impl TotpRepository for PgTx {
    async fn insert_totp(&mut self, enrollment: TotpEnrollment) -> Result<()> {
        // One statement: a pending enrolment is replaced, a confirmed one is
        // left alone (the DO UPDATE's condition fails, no row returns).
        let replaced: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO totp_enrollments (user_id, sealed_secret, algorithm, digits,
             period_secs, created_at, confirmed_at, last_step)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret,
                 algorithm = excluded.algorithm, digits = excluded.digits,
                 period_secs = excluded.period_secs, created_at = excluded.created_at,
                 confirmed_at = excluded.confirmed_at, last_step = excluded.last_step
             WHERE totp_enrollments.confirmed_at IS NULL
             RETURNING user_id",
        )
        .bind(enrollment.user.as_uuid())
        .bind(enrollment.sealed_secret.as_bytes().to_vec())
        .bind(algorithm_name(enrollment.algorithm))
        .bind(i16::from(enrollment.digits))
        .bind(int(enrollment.period_secs)?)
        .bind(enrollment.created_at)
        .bind(enrollment.confirmed_at)
        .bind(enrollment.last_step.map(int).transpose()?)
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        match replaced {
            Some(_) => Ok(()),
            None => Err(StoreError::conflict()),
        }
    }

    async fn get_totp(&mut self, user: UserId) -> Result<Option<TotpEnrollment>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(totp_enrollments),
            " FROM totp_enrollments WHERE user_id = $1"
        ))
        .bind(user.as_uuid())
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(totp_of).transpose()
    }

    async fn confirm_totp(&mut self, user: UserId, step: u64, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE totp_enrollments SET confirmed_at = $1, last_step = $2
             WHERE user_id = $3 AND confirmed_at IS NULL",
        )
        .bind(now)
        .bind(int(step)?)
        .bind(user.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn accept_totp_step(&mut self, user: UserId, step: u64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE totp_enrollments SET last_step = $1
             WHERE user_id = $2 AND confirmed_at IS NOT NULL
               AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(int(step)?)
        .bind(user.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn delete_totp(&mut self, user: UserId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM totp_enrollments WHERE user_id = $1")
            .bind(user.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(changed(done))
    }

    async fn list_totp_to_reseal(
        &mut self,
        key: SealingKeyId,
        after: Option<UserId>,
        max: usize,
    ) -> Result<Vec<TotpEnrollment>> {
        // A value under `key` starts with its header
        // (`SealedSecret::is_under`). Two statements rather than
        // `$4 IS NULL OR ...`, so the cached plan walks the primary key from
        // `after` instead of from the start.
        let sql = match after {
            Some(_) => {
                concat!(
                    "SELECT ",
                    iamkit_store_api::columns!(totp_enrollments),
                    " FROM totp_enrollments
                 WHERE substring(sealed_secret FROM 1 FOR $1) <> $2 AND user_id > $4
                 ORDER BY user_id LIMIT $3"
                )
            }
            None => {
                concat!(
                    "SELECT ",
                    iamkit_store_api::columns!(totp_enrollments),
                    " FROM totp_enrollments
                 WHERE substring(sealed_secret FROM 1 FOR $1) <> $2
                 ORDER BY user_id LIMIT $3"
                )
            }
        };
        let mut query = sqlx::query(sql)
            .bind(HEADER_LEN)
            .bind(SealedSecret::header(key).to_vec())
            .bind(limit(max));
        if let Some(after) = after {
            query = query.bind(after.as_uuid());
        }
        let rows = query.fetch_all(self.conn()).await.map_err(db)?;
        rows.iter().map(totp_of).collect()
    }

    async fn replace_sealed_totp(
        &mut self,
        user: UserId,
        expected: &SealedSecret,
        resealed: &SealedSecret,
    ) -> Result<bool> {
        // One conditional statement: a concurrent re-enrolment or deletion
        // makes the condition fail on the row version it waited for.
        let done = sqlx::query(
            "UPDATE totp_enrollments SET sealed_secret = $1
             WHERE user_id = $2 AND sealed_secret = $3",
        )
        .bind(resealed.as_bytes().to_vec())
        .bind(user.as_uuid())
        .bind(expected.as_bytes().to_vec())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }
}

// Recovery codes ----------------------------------------------------------

impl RecoveryCodeRepository for PgTx {
    async fn replace_recovery_codes(
        &mut self,
        user: UserId,
        records: Vec<RecoveryCodeRecord>,
    ) -> Result<()> {
        // Two concurrent replacements would each delete only the committed
        // set and then collide on the positions: the advisory lock makes
        // them run one after the other, the later set winning whole.
        self.lock_key("recovery_codes", user.as_uuid()).await?;
        self.delete_recovery_codes(user).await?;
        let mut positions = Vec::with_capacity(records.len());
        let mut digests = Vec::with_capacity(records.len());
        let mut created = Vec::with_capacity(records.len());
        let mut used = Vec::with_capacity(records.len());
        for (position, record) in records.iter().enumerate() {
            positions
                .push(i64::try_from(position).map_err(|_| corrupt("recovery_codes.position"))?);
            digests.push(record.digest.to_bytes().to_vec());
            created.push(record.created_at);
            used.push(record.used_at);
        }
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, position, digest, created_at, used_at)
             SELECT $1, position, digest, created_at, used_at
             FROM UNNEST($2::bigint[], $3::bytea[], $4::timestamptz[], $5::timestamptz[])
                  AS codes (position, digest, created_at, used_at)",
        )
        .bind(user.as_uuid())
        .bind(positions)
        .bind(digests)
        .bind(created)
        .bind(used)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn consume_recovery_code(
        &mut self,
        user: UserId,
        digest_in: &SecretDigest,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let rows = sqlx::query(
            "SELECT position, digest FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL
             ORDER BY position",
        )
        .bind(user.as_uuid())
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
            "UPDATE recovery_codes SET used_at = $1
             WHERE user_id = $2 AND position = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user.as_uuid())
        .bind(position)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(changed(done))
    }

    async fn count_recovery_codes(&mut self, user: UserId) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.as_uuid())
        .fetch_one(self.conn())
        .await
        .map_err(db)?;
        uint(n, "recovery_codes.count")
    }

    async fn delete_recovery_codes(&mut self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(())
    }
}

// Throttle ----------------------------------------------------------------

impl ThrottleRepository for PgTx {
    async fn get_throttle(&mut self, user: UserId) -> Result<ThrottleState> {
        let row: Option<(i64, Option<DateTime<Utc>>)> =
            sqlx::query_as("SELECT failures, locked_until FROM throttle WHERE user_id = $1")
                .bind(user.as_uuid())
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        let Some((failures, locked_until)) = row else {
            return Ok(ThrottleState::default());
        };
        Ok(ThrottleState {
            failures: u32::try_from(failures).map_err(|_| corrupt("throttle.failures"))?,
            locked_until,
        })
    }

    async fn record_throttle_failure(
        &mut self,
        user: UserId,
        config: &ThrottleConfig,
        now: DateTime<Utc>,
    ) -> Result<ThrottleState> {
        // The count is an atomic increment that also locks the row for the
        // rest of the transaction; the lockout that follows from it is the
        // domain's rule (`after_failure`).
        let (failures, locked_until): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "INSERT INTO throttle (user_id, failures, locked_until) VALUES ($1, 1, NULL)
             ON CONFLICT (user_id) DO UPDATE SET failures = LEAST(throttle.failures + 1, 4294967295)
             RETURNING failures, locked_until",
        )
        .bind(user.as_uuid())
        .fetch_one(self.conn())
        .await
        .map_err(db)?;
        let failures = u32::try_from(failures).map_err(|_| corrupt("throttle.failures"))?;
        let before = ThrottleState {
            failures: failures.saturating_sub(1),
            locked_until,
        };
        let next = before.after_failure(config, now);
        if next.locked_until != before.locked_until {
            sqlx::query("UPDATE throttle SET locked_until = $1 WHERE user_id = $2")
                .bind(next.locked_until)
                .bind(user.as_uuid())
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
        // The no-op upsert creates or locks the user's row until the
        // transaction ends, so concurrent reservations of one user run one
        // after the other, each seeing the count the previous one left.
        let (failures, locked_until): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "INSERT INTO throttle (user_id, failures, locked_until) VALUES ($1, 0, NULL)
             ON CONFLICT (user_id) DO UPDATE SET failures = throttle.failures
             RETURNING failures, locked_until",
        )
        .bind(user.as_uuid())
        .fetch_one(self.conn())
        .await
        .map_err(db)?;
        let current = ThrottleState {
            failures: u32::try_from(failures).map_err(|_| corrupt("throttle.failures"))?,
            locked_until,
        };
        if current.check(now).is_err() {
            return Ok(None);
        }
        let next = current.after_failure(config, now);
        sqlx::query("UPDATE throttle SET failures = $1, locked_until = $2 WHERE user_id = $3")
            .bind(i64::from(next.failures))
            .bind(next.locked_until)
            .bind(user.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(Some(next))
    }

    async fn reset_throttle(&mut self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM throttle WHERE user_id = $1")
            .bind(user.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(())
    }
}
