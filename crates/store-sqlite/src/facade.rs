//! The facade's repositories: password hashes, the outbox, access requests
//! and service accounts.

use chrono::{DateTime, Utc};
use iamkit::{
    AccessRequest, AccessRequestRepository, AuthzDelta, AuthzVersionRepository, MessageId,
    MessageKind, OutboxRecord, OutboxRepository, PasswordRepository, PendingEmailRepository,
    RequestStatus, RequestedChange, ServiceAccount, ServiceAccountRepository,
};
use iamkit_credentials::{PasswordHash, SealedSecret, SealingKeyId, TokenId};
use iamkit_identity::{AccessRequestId, Email, Language, OrgId, RoleId, UserId};
use iamkit_store_api::StoreError;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::SqliteTx;
use crate::codec::{
    HEADER_LEN, Result, corrupt, db, from_json, int, opt_ts, parse_opt_ts, parse_ts, parse_uid,
    to_json, ts, uid, uint,
};

fn get<'r, T>(row: &'r SqliteRow, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(|_| corrupt(column))
}

fn get_uuid(row: &SqliteRow, column: &'static str) -> Result<uuid::Uuid> {
    parse_uid(&get::<String>(row, column)?, column)
}

fn get_opt_uuid(row: &SqliteRow, column: &'static str) -> Result<Option<uuid::Uuid>> {
    get::<Option<String>>(row, column)?
        .map(|t| parse_uid(&t, column))
        .transpose()
}

fn get_ts(row: &SqliteRow, column: &'static str) -> Result<DateTime<Utc>> {
    parse_ts(&get::<String>(row, column)?, column)
}

fn get_opt_ts(row: &SqliteRow, column: &'static str) -> Result<Option<DateTime<Utc>>> {
    parse_opt_ts(get::<Option<String>>(row, column)?, column)
}

impl PasswordRepository for SqliteTx {
    async fn set_password_hash(&mut self, user: UserId, hash: &PasswordHash) -> Result<()> {
        sqlx::query(
            "INSERT INTO password_hashes (user_id, phc) VALUES (?, ?)
             ON CONFLICT (user_id) DO UPDATE SET phc = excluded.phc",
        )
        .bind(uid(user.as_uuid()))
        .bind(hash.as_phc())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_password_hash(&mut self, user: UserId) -> Result<Option<PasswordHash>> {
        let phc: Option<String> =
            sqlx::query_scalar("SELECT phc FROM password_hashes WHERE user_id = ?")
                .bind(uid(user.as_uuid()))
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        phc.map(|p| PasswordHash::from_phc(p).map_err(|_| corrupt("password_hashes.phc")))
            .transpose()
    }

    async fn delete_password_hash(&mut self, user: UserId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM password_hashes WHERE user_id = ?")
            .bind(uid(user.as_uuid()))
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

fn outbox_of(row: &SqliteRow) -> Result<OutboxRecord> {
    let kind = match get::<String>(row, "kind")?.as_str() {
        "invitation" => MessageKind::Invitation,
        "email_verification" => MessageKind::EmailVerification,
        "password_reset" => MessageKind::PasswordReset,
        "two_factor_changed" => MessageKind::TwoFactorChanged,
        "email_changed" => MessageKind::EmailChanged,
        "password_changed" => MessageKind::PasswordChanged,
        _ => return Err(corrupt("outbox.kind")),
    };
    Ok(OutboxRecord {
        id: MessageId::from_uuid(get_uuid(row, "id")?),
        org: get_opt_uuid(row, "org_id")?.map(OrgId::from_uuid),
        recipient: UserId::from_uuid(get_uuid(row, "recipient")?),
        to: from_json(&get::<String>(row, "to_email")?)?,
        language: Language::parse(&get::<String>(row, "language")?)
            .map_err(|_| corrupt("outbox.language"))?,
        kind,
        sealed_link: get::<Option<Vec<u8>>>(row, "sealed_link")?.map(SealedSecret::from_bytes),
        created_at: get_ts(row, "created_at")?,
        delivered_at: get_opt_ts(row, "delivered_at")?,
    })
}

impl OutboxRepository for SqliteTx {
    async fn insert_outbox_message(&mut self, message: &OutboxRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO outbox (id, org_id, recipient, to_email, language, kind, sealed_link,
             created_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(uid(message.id.as_uuid()))
        .bind(message.org.map(|o| uid(o.as_uuid())))
        .bind(uid(message.recipient.as_uuid()))
        .bind(to_json(&message.to)?)
        .bind(message.language.code())
        .bind(message_kind_name(message.kind)?)
        .bind(message.sealed_link.as_ref().map(|s| s.as_bytes().to_vec()))
        .bind(ts(message.created_at))
        .bind(opt_ts(message.delivered_at))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn list_undelivered_outbox(&mut self, limit: usize) -> Result<Vec<OutboxRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(outbox),
            " FROM outbox WHERE delivered_at IS NULL ORDER BY id LIMIT ?"
        ))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(outbox_of).collect()
    }

    async fn mark_outbox_delivered(&mut self, id: MessageId, now: DateTime<Utc>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL")
                .bind(ts(now))
                .bind(uid(id.as_uuid()))
                .execute(self.conn())
                .await
                .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_outbox_to_reseal(
        &mut self,
        key: SealingKeyId,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>> {
        // As `list_totp_to_reseal`: the empty string sorts before every id.
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(outbox),
            " FROM outbox
             WHERE delivered_at IS NULL AND sealed_link IS NOT NULL AND id > ?
               AND substr(sealed_link, 1, ?) <> ?
             ORDER BY id LIMIT ?"
        ))
        .bind(after.map(|m| uid(m.as_uuid())).unwrap_or_default())
        .bind(HEADER_LEN)
        .bind(SealedSecret::header(key).to_vec())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(outbox_of).collect()
    }

    async fn replace_sealed_link(
        &mut self,
        id: MessageId,
        expected: &SealedSecret,
        resealed: &SealedSecret,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE outbox SET sealed_link = ?
             WHERE id = ? AND delivered_at IS NULL AND sealed_link = ?",
        )
        .bind(resealed.as_bytes().to_vec())
        .bind(uid(id.as_uuid()))
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

fn access_request_of(row: &SqliteRow) -> Result<AccessRequest> {
    let subject = UserId::from_uuid(get_uuid(row, "subject")?);
    let change = match get::<String>(row, "change_kind")?.as_str() {
        "role" => RequestedChange::Role {
            user: subject,
            scope: from_json(
                &get::<Option<String>>(row, "scope")?
                    .ok_or_else(|| corrupt("access_requests.scope"))?,
            )?,
            role: get_opt_uuid(row, "role_id")?.map(RoleId::from_uuid),
        },
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
        get_opt_uuid(row, "decided_by")?,
        get_opt_ts(row, "decided_at")?,
    ) {
        (Some(by), Some(at)) => Some((UserId::from_uuid(by), at)),
        _ => None,
    };
    Ok(AccessRequest {
        id: AccessRequestId::from_uuid(get_uuid(row, "id")?),
        org: OrgId::from_uuid(get_uuid(row, "org_id")?),
        requester: UserId::from_uuid(get_uuid(row, "requester")?),
        change,
        status,
        created_at: get_ts(row, "created_at")?,
        decided,
    })
}

impl AccessRequestRepository for SqliteTx {
    async fn insert_access_request(&mut self, request: &AccessRequest) -> Result<()> {
        let (kind, subject, scope, role) = match request.change {
            RequestedChange::Role { user, scope, role } => (
                "role",
                user,
                Some(to_json(&scope)?),
                role.map(|r| uid(r.as_uuid())),
            ),
            RequestedChange::Offboarding { user } => ("offboarding", user, None, None),
            // A change added after this adapter: refuse rather than lose it.
            _ => return Err(corrupt("access_requests.change_kind")),
        };
        sqlx::query(
            "INSERT INTO access_requests (id, org_id, requester, change_kind, subject, scope,
             role_id, status, created_at, decided_by, decided_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(uid(request.id.as_uuid()))
        .bind(uid(request.org.as_uuid()))
        .bind(uid(request.requester.as_uuid()))
        .bind(kind)
        .bind(uid(subject.as_uuid()))
        .bind(scope)
        .bind(role)
        .bind(status_name(request.status))
        .bind(ts(request.created_at))
        .bind(request.decided.map(|(by, _)| uid(by.as_uuid())))
        .bind(request.decided.map(|(_, at)| ts(at)))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_access_request(&mut self, id: AccessRequestId) -> Result<Option<AccessRequest>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(access_requests),
            " FROM access_requests WHERE id = ?"
        ))
        .bind(uid(id.as_uuid()))
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
            "UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ?
             WHERE id = ? AND status = 'pending'",
        )
        .bind(status_name(status))
        .bind(uid(by.as_uuid()))
        .bind(ts(at))
        .bind(uid(id.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_access_requests(&mut self, org: OrgId) -> Result<Vec<AccessRequest>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(access_requests),
            " FROM access_requests WHERE org_id = ? ORDER BY id"
        ))
        .bind(uid(org.as_uuid()))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(access_request_of).collect()
    }
}

fn service_account_of(row: &SqliteRow) -> Result<ServiceAccount> {
    Ok(ServiceAccount {
        user: UserId::from_uuid(get_uuid(row, "user_id")?),
        org: OrgId::from_uuid(get_uuid(row, "org_id")?),
        created_by: UserId::from_uuid(get_uuid(row, "created_by")?),
        created_at: get_ts(row, "created_at")?,
    })
}

impl ServiceAccountRepository for SqliteTx {
    async fn insert_service_account(&mut self, account: &ServiceAccount) -> Result<()> {
        sqlx::query(
            "INSERT INTO service_accounts (user_id, org_id, created_by, created_at)
             VALUES (?, ?, ?, ?)",
        )
        .bind(uid(account.user.as_uuid()))
        .bind(uid(account.org.as_uuid()))
        .bind(uid(account.created_by.as_uuid()))
        .bind(ts(account.created_at))
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_service_account(&mut self, user: UserId) -> Result<Option<ServiceAccount>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(service_accounts),
            " FROM service_accounts WHERE user_id = ?"
        ))
        .bind(uid(user.as_uuid()))
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        row.as_ref().map(service_account_of).transpose()
    }

    async fn list_service_accounts(&mut self, org: OrgId) -> Result<Vec<ServiceAccount>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            iamkit_store_api::columns!(service_accounts),
            " FROM service_accounts WHERE org_id = ? ORDER BY user_id"
        ))
        .bind(uid(org.as_uuid()))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(service_account_of).collect()
    }
}

/// An organization and its authorization version, as stored.
pub(crate) fn org_version(org: &str, version: i64) -> Result<(OrgId, u64)> {
    Ok((
        OrgId::from_uuid(parse_uid(org, "memberships.org_id")?),
        uint(version, "authz_versions.version")?,
    ))
}

impl AuthzVersionRepository for SqliteTx {
    async fn get_authz_version(&mut self, org: OrgId) -> Result<u64> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM authz_versions WHERE org_id = ?")
                .bind(uid(org.as_uuid()))
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        version.map_or(Ok(0), |v| uint(v, "authz_versions.version"))
    }

    async fn list_authz_versions_of_member(&mut self, user: UserId) -> Result<Vec<(OrgId, u64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT m.org_id, COALESCE(v.version, 0)
             FROM memberships m LEFT JOIN authz_versions v ON v.org_id = m.org_id
             WHERE m.user_id = ?",
        )
        .bind(uid(user.as_uuid()))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter()
            .map(|(org, version)| org_version(org, *version))
            .collect()
    }

    async fn list_active_members(&mut self, org: OrgId) -> Result<Vec<UserId>> {
        self.active_members(org).await
    }

    async fn bump_authz_version(&mut self, org: OrgId) -> Result<u64> {
        // One atomic increment; the transaction's write lock orders bumps.
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO authz_versions (org_id, version) VALUES (?, 1)
             ON CONFLICT (org_id) DO UPDATE SET version = version + 1
             RETURNING version",
        )
        .bind(uid(org.as_uuid()))
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
        let done = sqlx::query(
            "INSERT INTO authz_deltas (org_id, version, kind, subject) VALUES (?, ?, ?, ?)
             ON CONFLICT (org_id, version) DO NOTHING",
        )
        .bind(uid(org.as_uuid()))
        .bind(int(version)?)
        .bind(delta.kind())
        .bind(delta.subject().map(uid))
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
        // Versions are stored as INTEGER (i64): bounds beyond it select all.
        let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT version, kind, subject FROM authz_deltas
             WHERE org_id = ? AND version > ? AND version <= ? ORDER BY version",
        )
        .bind(uid(org.as_uuid()))
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::try_from(up_to).unwrap_or(i64::MAX))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(version, kind, subject)| {
                let subject = subject
                    .map(|s| parse_uid(&s, "authz_deltas.subject"))
                    .transpose()?;
                Ok((
                    uint(version, "authz_deltas.version")?,
                    AuthzDelta::from_parts(&kind, subject),
                ))
            })
            .collect()
    }

    async fn prune_authz_deltas(&mut self, org: OrgId, keep_from: u64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM authz_deltas WHERE org_id = ? AND version < ?")
            .bind(uid(org.as_uuid()))
            .bind(i64::try_from(keep_from).unwrap_or(i64::MAX))
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}

impl PendingEmailRepository for SqliteTx {
    async fn insert_pending_email(
        &mut self,
        token: TokenId,
        user: UserId,
        email: &Email,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO pending_emails (token_id, user_id, email) VALUES (?, ?, ?)
             ON CONFLICT (token_id) DO UPDATE SET user_id = excluded.user_id, email = excluded.email",
        )
        .bind(uid(token.as_uuid()))
        .bind(uid(user.as_uuid()))
        .bind(to_json(email)?)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_pending_email(&mut self, token: TokenId) -> Result<Option<(UserId, Email)>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT user_id, email FROM pending_emails WHERE token_id = ?")
                .bind(uid(token.as_uuid()))
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        row.map(|(user, email)| {
            Ok((
                UserId::from_uuid(parse_uid(&user, "pending_emails.user_id")?),
                from_json(&email)?,
            ))
        })
        .transpose()
    }
}
