//! The facade's repositories: password hashes, the outbox, access requests,
//! service accounts, authorization versions and pending email changes.

use chrono::{DateTime, Utc};
use iamkit::{
    AccessRequest, AccessRequestRepository, AuthzDelta, AuthzVersionRepository, MessageId,
    MessageKind, OutboxRecord, OutboxRepository, PasswordRepository, PendingEmailRepository,
    RequestStatus, RequestedChange, ServiceAccount, ServiceAccountRepository,
};
use iamkit_credentials::{PasswordHash, SealedSecret, SealingKeyId, TokenId};
use iamkit_identity::{AccessRequestId, Email, Language, OrgId, RoleId, UserId};
use iamkit_rbac::Scope;
use iamkit_store_api::StoreError;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::PgTx;
use crate::codec::{HEADER_LEN, Result, corrupt, db, get, int, limit, uint};

impl PasswordRepository for PgTx {
    async fn set_password_hash(&mut self, user: UserId, hash: &PasswordHash) -> Result<()> {
        sqlx::query(
            "INSERT INTO password_hashes (user_id, phc) VALUES ($1, $2)
             ON CONFLICT (user_id) DO UPDATE SET phc = excluded.phc",
        )
        .bind(user.as_uuid())
        .bind(hash.as_phc())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_password_hash(&mut self, user: UserId) -> Result<Option<PasswordHash>> {
        let phc: Option<String> =
            sqlx::query_scalar("SELECT phc FROM password_hashes WHERE user_id = $1")
                .bind(user.as_uuid())
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        phc.map(|p| PasswordHash::from_phc(p).map_err(|_| corrupt("password_hashes.phc")))
            .transpose()
    }

    async fn delete_password_hash(&mut self, user: UserId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM password_hashes WHERE user_id = $1")
            .bind(user.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}

fn message_kind_name(kind: MessageKind) -> Result<&'static str> {
    Ok(match kind {
        MessageKind::Invitation => "invitation",
        MessageKind::EmailVerification => "email_verification",
        MessageKind::PasswordReset => "password_reset",
        MessageKind::TwoFactorChanged => "two_factor_changed",
        MessageKind::EmailChanged => "email_changed",
        MessageKind::PasswordChanged => "password_changed",
        // A kind added after this adapter: refuse rather than mislabel.
        _ => return Err(corrupt("outbox.kind")),
    })
}

fn outbox_of(row: &PgRow) -> Result<OutboxRecord> {
    let kind = match get::<String>(row, "kind")?.as_str() {
        "invitation" => MessageKind::Invitation,
        "email_verification" => MessageKind::EmailVerification,
        "password_reset" => MessageKind::PasswordReset,
        "two_factor_changed" => MessageKind::TwoFactorChanged,
        "email_changed" => MessageKind::EmailChanged,
        "password_changed" => MessageKind::PasswordChanged,
        _ => return Err(corrupt("outbox.kind")),
    };
    let Json(to) = get::<Json<Email>>(row, "to_email")?;
    Ok(OutboxRecord {
        id: MessageId::from_uuid(get(row, "id")?),
        org: get::<Option<Uuid>>(row, "org_id")?.map(OrgId::from_uuid),
        recipient: UserId::from_uuid(get(row, "recipient")?),
        to,
        language: Language::parse(&get::<String>(row, "language")?)
            .map_err(|_| corrupt("outbox.language"))?,
        kind,
        sealed_link: get::<Option<Vec<u8>>>(row, "sealed_link")?.map(SealedSecret::from_bytes),
        created_at: get(row, "created_at")?,
        delivered_at: get(row, "delivered_at")?,
    })
}

impl OutboxRepository for PgTx {
    async fn insert_outbox_message(&mut self, message: &OutboxRecord) -> Result<()> {
        let kind = message_kind_name(message.kind)?;
        self.savepoint().await?;
        let done = sqlx::query(
            "INSERT INTO outbox (id, org_id, recipient, to_email, language, kind, sealed_link,
             created_at, delivered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(message.id.as_uuid())
        .bind(message.org.map(|o| o.as_uuid()))
        .bind(message.recipient.as_uuid())
        .bind(Json(&message.to))
        .bind(message.language.code())
        .bind(kind)
        .bind(message.sealed_link.as_ref().map(|s| s.as_bytes().to_vec()))
        .bind(message.created_at)
        .bind(message.delivered_at)
        .execute(self.conn())
        .await
        .map(|_| ())
        .map_err(db);
        self.settle(done).await
    }

    async fn list_undelivered_outbox(&mut self, max: usize) -> Result<Vec<OutboxRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(outbox),
            " FROM outbox WHERE delivered_at IS NULL ORDER BY id LIMIT $1"
        ))
        .bind(limit(max))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(outbox_of).collect()
    }

    async fn mark_outbox_delivered(&mut self, id: MessageId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE outbox SET delivered_at = $1 WHERE id = $2 AND delivered_at IS NULL",
        )
        .bind(now)
        .bind(id.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_outbox_to_reseal(
        &mut self,
        key: SealingKeyId,
        after: Option<MessageId>,
        max: usize,
    ) -> Result<Vec<OutboxRecord>> {
        // As `list_totp_to_reseal`: two statements, so the cached plan
        // starts at `after`.
        let sql = match after {
            Some(_) => {
                concat!(
                    "SELECT ",
                    iamkit_store_api::columns!(outbox),
                    " FROM outbox
                 WHERE delivered_at IS NULL AND sealed_link IS NOT NULL
                   AND substring(sealed_link FROM 1 FOR $1) <> $2 AND id > $4
                 ORDER BY id LIMIT $3"
                )
            }
            None => {
                concat!(
                    "SELECT ",
                    iamkit_store_api::columns!(outbox),
                    " FROM outbox
                 WHERE delivered_at IS NULL AND sealed_link IS NOT NULL
                   AND substring(sealed_link FROM 1 FOR $1) <> $2
                 ORDER BY id LIMIT $3"
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
        rows.iter().map(outbox_of).collect()
    }

    async fn replace_sealed_link(
        &mut self,
        id: MessageId,
        expected: &SealedSecret,
        resealed: &SealedSecret,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE outbox SET sealed_link = $1
             WHERE id = $2 AND delivered_at IS NULL AND sealed_link = $3",
        )
        .bind(resealed.as_bytes().to_vec())
        .bind(id.as_uuid())
        .bind(expected.as_bytes().to_vec())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}

fn status_name(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::Pending => "pending",
        RequestStatus::Approved => "approved",
        RequestStatus::Rejected => "rejected",
    }
}

fn access_request_of(row: &PgRow) -> Result<AccessRequest> {
    let subject = UserId::from_uuid(get(row, "subject")?);
    let change = match get::<String>(row, "change_kind")?.as_str() {
        "role" => {
            let Json(scope) = get::<Option<Json<Scope>>>(row, "scope")?
                .ok_or_else(|| corrupt("access_requests.scope"))?;
            RequestedChange::Role {
                user: subject,
                scope,
                role: get::<Option<Uuid>>(row, "role_id")?.map(RoleId::from_uuid),
            }
        }
        "offboarding" => RequestedChange::Offboarding { user: subject },
        _ => return Err(corrupt("access_requests.change_kind")),
    };
    let status = match get::<String>(row, "status")?.as_str() {
        "pending" => RequestStatus::Pending,
        "approved" => RequestStatus::Approved,
        "rejected" => RequestStatus::Rejected,
        _ => return Err(corrupt("access_requests.status")),
    };
    let decided = match (
        get::<Option<Uuid>>(row, "decided_by")?,
        get::<Option<DateTime<Utc>>>(row, "decided_at")?,
    ) {
        (Some(by), Some(at)) => Some((UserId::from_uuid(by), at)),
        _ => None,
    };
    Ok(AccessRequest {
        id: AccessRequestId::from_uuid(get(row, "id")?),
        org: OrgId::from_uuid(get(row, "org_id")?),
        requester: UserId::from_uuid(get(row, "requester")?),
        change,
        status,
        created_at: get(row, "created_at")?,
        decided,
    })
}

impl AccessRequestRepository for PgTx {
    async fn insert_access_request(&mut self, request: &AccessRequest) -> Result<()> {
        let (kind, subject, scope, role) = match request.change {
            RequestedChange::Role { user, scope, role } => {
                ("role", user, Some(scope), role.map(|r| r.as_uuid()))
            }
            RequestedChange::Offboarding { user } => ("offboarding", user, None, None),
            // A change added after this adapter: refuse rather than lose it.
            _ => return Err(corrupt("access_requests.change_kind")),
        };
        self.savepoint().await?;
        let done = sqlx::query(
            "INSERT INTO access_requests (id, org_id, requester, change_kind, subject, scope,
             role_id, status, created_at, decided_by, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(request.id.as_uuid())
        .bind(request.org.as_uuid())
        .bind(request.requester.as_uuid())
        .bind(kind)
        .bind(subject.as_uuid())
        .bind(scope.map(Json))
        .bind(role)
        .bind(status_name(request.status))
        .bind(request.created_at)
        .bind(request.decided.map(|(by, _)| by.as_uuid()))
        .bind(request.decided.map(|(_, at)| at))
        .execute(self.conn())
        .await
        .map(|_| ())
        .map_err(db);
        self.settle(done).await
    }

    async fn get_access_request(&mut self, id: AccessRequestId) -> Result<Option<AccessRequest>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(access_requests),
            " FROM access_requests WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(access_request_of).transpose()
    }

    async fn decide_access_request(
        &mut self,
        id: AccessRequestId,
        status: RequestStatus,
        by: UserId,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE access_requests SET status = $1, decided_by = $2, decided_at = $3
             WHERE id = $4 AND status = 'pending'",
        )
        .bind(status_name(status))
        .bind(by.as_uuid())
        .bind(at)
        .bind(id.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_access_requests(&mut self, org: OrgId) -> Result<Vec<AccessRequest>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(access_requests),
            " FROM access_requests WHERE org_id = $1 ORDER BY id"
        ))
        .bind(org.as_uuid())
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(access_request_of).collect()
    }
}

fn service_account_of(row: &PgRow) -> Result<ServiceAccount> {
    Ok(ServiceAccount {
        user: UserId::from_uuid(get(row, "user_id")?),
        org: OrgId::from_uuid(get(row, "org_id")?),
        created_by: UserId::from_uuid(get(row, "created_by")?),
        created_at: get(row, "created_at")?,
    })
}

impl ServiceAccountRepository for PgTx {
    async fn insert_service_account(&mut self, account: &ServiceAccount) -> Result<()> {
        self.savepoint().await?;
        let done = sqlx::query(
            "INSERT INTO service_accounts (user_id, org_id, created_by, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(account.user.as_uuid())
        .bind(account.org.as_uuid())
        .bind(account.created_by.as_uuid())
        .bind(account.created_at)
        .execute(self.conn())
        .await
        .map(|_| ())
        .map_err(db);
        self.settle(done).await
    }

    async fn get_service_account(&mut self, user: UserId) -> Result<Option<ServiceAccount>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(service_accounts),
            " FROM service_accounts WHERE user_id = $1"
        ))
        .bind(user.as_uuid())
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(service_account_of).transpose()
    }

    async fn list_service_accounts(&mut self, org: OrgId) -> Result<Vec<ServiceAccount>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(service_accounts),
            " FROM service_accounts WHERE org_id = $1 ORDER BY user_id"
        ))
        .bind(org.as_uuid())
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(service_account_of).collect()
    }
}

/// An organization and its authorization version, as stored.
pub(crate) fn org_version(org: Uuid, version: i64) -> Result<(OrgId, u64)> {
    Ok((
        OrgId::from_uuid(org),
        uint(version, "authz_versions.version")?,
    ))
}

impl AuthzVersionRepository for PgTx {
    async fn get_authz_version(&mut self, org: OrgId) -> Result<u64> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM authz_versions WHERE org_id = $1")
                .bind(org.as_uuid())
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        version.map_or(Ok(0), |v| uint(v, "authz_versions.version"))
    }

    async fn lock_authz_version(&mut self, org: OrgId) -> Result<u64> {
        // The row must exist to be locked: create it at 0 (the version of an
        // organization never bumped). A concurrent creator makes this insert
        // wait for it to end; the locking read then sees its row, and waits
        // for whoever holds it. Held until this transaction ends.
        sqlx::query(
            "INSERT INTO authz_versions (org_id, version) VALUES ($1, 0)
             ON CONFLICT (org_id) DO NOTHING",
        )
        .bind(org.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)?;
        let version: i64 =
            sqlx::query_scalar("SELECT version FROM authz_versions WHERE org_id = $1 FOR UPDATE")
                .bind(org.as_uuid())
                .fetch_one(self.conn())
                .await
                .map_err(db)?;
        uint(version, "authz_versions.version")
    }

    async fn list_authz_versions_of_member(&mut self, user: UserId) -> Result<Vec<(OrgId, u64)>> {
        let rows: Vec<(Uuid, i64)> = sqlx::query_as(
            "SELECT m.org_id, COALESCE(v.version, 0)
             FROM memberships m LEFT JOIN authz_versions v ON v.org_id = m.org_id
             WHERE m.user_id = $1",
        )
        .bind(user.as_uuid())
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(org, version)| org_version(org, version))
            .collect()
    }

    async fn list_active_members(&mut self, org: OrgId) -> Result<Vec<UserId>> {
        self.active_members(org).await
    }

    async fn bump_authz_version(&mut self, org: OrgId) -> Result<u64> {
        // One atomic increment, which also locks the row until the end of
        // the transaction.
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO authz_versions (org_id, version) VALUES ($1, 1)
             ON CONFLICT (org_id) DO UPDATE SET version = authz_versions.version + 1
             RETURNING version",
        )
        .bind(org.as_uuid())
        .fetch_one(self.conn())
        .await
        .map_err(db)?;
        uint(version, "authz_versions.version")
    }

    async fn append_authz_delta(
        &mut self,
        org: OrgId,
        version: u64,
        delta: AuthzDelta,
    ) -> Result<()> {
        // No savepoint needed: a taken version inserts nothing rather than
        // failing the statement (and with it the transaction).
        let done = sqlx::query(
            "INSERT INTO authz_deltas (org_id, version, kind, subject) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org_id, version) DO NOTHING",
        )
        .bind(org.as_uuid())
        .bind(int(version)?)
        .bind(delta.kind())
        .bind(delta.subject())
        .execute(self.conn())
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::unique_violation("authz_deltas_pkey"));
        }
        Ok(())
    }

    async fn list_authz_deltas(
        &mut self,
        org: OrgId,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<(u64, AuthzDelta)>> {
        // Versions are stored as bigint: bounds beyond it select all.
        let rows: Vec<(i64, String, Option<Uuid>)> = sqlx::query_as(
            "SELECT version, kind, subject FROM authz_deltas
             WHERE org_id = $1 AND version > $2 AND version <= $3 ORDER BY version",
        )
        .bind(org.as_uuid())
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::try_from(up_to).unwrap_or(i64::MAX))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(version, kind, subject)| {
                Ok((
                    uint(version, "authz_deltas.version")?,
                    AuthzDelta::from_parts(&kind, subject),
                ))
            })
            .collect()
    }

    async fn prune_authz_deltas(&mut self, org: OrgId, keep_from: u64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM authz_deltas WHERE org_id = $1 AND version < $2")
            .bind(org.as_uuid())
            .bind(i64::try_from(keep_from).unwrap_or(i64::MAX))
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}

impl PendingEmailRepository for PgTx {
    async fn insert_pending_email(
        &mut self,
        token: TokenId,
        user: UserId,
        email: &Email,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO pending_emails (token_id, user_id, email) VALUES ($1, $2, $3)
             ON CONFLICT (token_id) DO UPDATE SET user_id = excluded.user_id,
                 email = excluded.email",
        )
        .bind(token.as_uuid())
        .bind(user.as_uuid())
        .bind(Json(email))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_pending_email(&mut self, token: TokenId) -> Result<Option<(UserId, Email)>> {
        let row: Option<(Uuid, Json<Email>)> =
            sqlx::query_as("SELECT user_id, email FROM pending_emails WHERE token_id = $1")
                .bind(token.as_uuid())
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        Ok(row.map(|(user, Json(email))| (UserId::from_uuid(user), email)))
    }
}
