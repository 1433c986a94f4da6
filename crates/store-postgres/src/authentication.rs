//! Request authentication in one query each: the session or key with its
//! user's standing and the organizations' authorization versions. The
//! store runs the query alone, outside a transaction (its snapshot is the
//! statement's), so a request's authentication is one round trip.

use iamkit::{ApiKeyContext, AuthenticationRepository, SessionContext};
use iamkit_identity::{ApiKeyId, OrgId, SessionId};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::PgTx;
use crate::codec::{Result, corrupt, db, get, uint};
use crate::credentials::{api_key_of, session_of};
use crate::facade::org_version;

/// A user's status as stored in the `users.data` document and its generated
/// `users.status` column (`User::status`,
/// whose serde name of `UserStatus::Active` this is).
const ACTIVE: &str = "ACTIVE";

impl AuthenticationRepository for PgTx {
    async fn load_session_context(&mut self, id: SessionId) -> Result<Option<SessionContext>> {
        session_context(self.conn(), id).await
    }

    async fn load_api_key_context(&mut self, id: ApiKeyId) -> Result<Option<ApiKeyContext>> {
        api_key_context(self.conn(), id).await
    }
}

/// The session `id` and its context, in one statement on `conn` (a
/// transaction's connection, or the pool).
pub(crate) async fn session_context<'c>(
    conn: impl PgExecutor<'c>,
    id: SessionId,
) -> Result<Option<SessionContext>> {
    // The user's memberships and their versions come as two arrays in
    // one order (`array_agg` over no row is NULL, hence the COALESCE).
    let row = sqlx::query(concat!(
        "SELECT ",
        iamkit_store_api::columns!(sessions as s),
        ",
            (SELECT u.status FROM users u WHERE u.id = s.user_id) AS user_status,
            EXISTS (SELECT 1 FROM totp_enrollments t
                    WHERE t.user_id = s.user_id AND t.confirmed_at IS NOT NULL)
                AS two_factor,
            mv.orgs AS version_orgs, mv.versions AS versions
         FROM sessions s
         CROSS JOIN LATERAL (
            SELECT COALESCE(array_agg(m.org_id ORDER BY m.org_id), '{}') AS orgs,
                   COALESCE(array_agg(COALESCE(v.version, 0) ORDER BY m.org_id), '{}')
                       AS versions
            FROM memberships m LEFT JOIN authz_versions v ON v.org_id = m.org_id
            WHERE m.user_id = s.user_id
         ) mv
         WHERE s.id = $1"
    ))
    .bind(id.as_uuid())
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let orgs = get::<Vec<Uuid>>(&row, "version_orgs")?;
    let versions = get::<Vec<i64>>(&row, "versions")?;
    if orgs.len() != versions.len() {
        return Err(corrupt("authz_versions.version"));
    }
    let authz_versions = orgs
        .into_iter()
        .zip(versions)
        .map(|(org, version)| org_version(org, version))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(SessionContext {
        session: session_of(&row)?,
        user_active: get::<Option<String>>(&row, "user_status")?.as_deref() == Some(ACTIVE),
        two_factor: get::<bool>(&row, "two_factor")?,
        authz_versions,
    }))
}

/// The API key `id` and its context, in one statement on `conn`. A
/// workspace's organization exists (the foreign key cascades its deletion
/// to the workspace), so a key with a workspace has an organization: no
/// join checks it.
pub(crate) async fn api_key_context<'c>(
    conn: impl PgExecutor<'c>,
    id: ApiKeyId,
) -> Result<Option<ApiKeyContext>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        iamkit_store_api::columns!(api_keys as k),
        ", w.org_id AS key_org,
            (SELECT u.status FROM users u WHERE u.id = k.created_by)
                AS creator_status,
            COALESCE((SELECT v.version FROM authz_versions v WHERE v.org_id = w.org_id), 0)
                AS authz_version
         FROM api_keys k
         JOIN workspaces w ON w.id = k.workspace_id
         WHERE k.id = $1"
    ))
    .bind(id.as_uuid())
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(ApiKeyContext {
        key: api_key_of(&row)?,
        creator_active: get::<Option<String>>(&row, "creator_status")?.as_deref() == Some(ACTIVE),
        org: OrgId::from_uuid(get(&row, "key_org")?),
        authz_version: uint(get::<i64>(&row, "authz_version")?, "authz_versions.version")?,
    }))
}
