//! Request authentication in one query each: the session or key with its
//! user's standing and the organizations' authorization versions. The
//! store runs the query alone, without `BEGIN` and `ROLLBACK` around it.

use iamkit::{ApiKeyContext, AuthenticationRepository, SessionContext};
use iamkit_identity::{ApiKeyId, OrgId, SessionId};
use sqlx::SqliteExecutor;

use crate::SqliteTx;
use crate::codec::{Result, db, from_json, parse_uid, uid, uint};
use crate::credentials::{api_key_of, get, session_of};
use crate::facade::org_version;

/// A user's status as stored in the `users.data` document.
const ACTIVE: &str = "ACTIVE";

fn versions(json: &str) -> Result<Vec<(OrgId, u64)>> {
    from_json::<Vec<(String, i64)>>(json)?
        .iter()
        .map(|(org, version)| org_version(org, *version))
        .collect()
}

impl AuthenticationRepository for SqliteTx {
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
    conn: impl SqliteExecutor<'c>,
    id: SessionId,
) -> Result<Option<SessionContext>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        iamkit_store_api::columns!(sessions as s),
        ",
            (SELECT json_extract(u.data, '$.status') FROM users u WHERE u.id = s.user_id)
                AS user_status,
            EXISTS (SELECT 1 FROM totp_enrollments t
                    WHERE t.user_id = s.user_id AND t.confirmed_at IS NOT NULL)
                AS two_factor,
            (SELECT json_group_array(json_array(m.org_id, COALESCE(v.version, 0)))
             FROM memberships m LEFT JOIN authz_versions v ON v.org_id = m.org_id
             WHERE m.user_id = s.user_id)
                AS versions
         FROM sessions s WHERE s.id = ?"
    ))
    .bind(uid(id.as_uuid()))
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(SessionContext {
        session: session_of(&row)?,
        user_active: get::<Option<String>>(&row, "user_status")?.as_deref() == Some(ACTIVE),
        two_factor: get::<bool>(&row, "two_factor")?,
        authz_versions: versions(&get::<String>(&row, "versions")?)?,
    }))
}

/// The API key `id` and its context, in one statement on `conn`.
pub(crate) async fn api_key_context<'c>(
    conn: impl SqliteExecutor<'c>,
    id: ApiKeyId,
) -> Result<Option<ApiKeyContext>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        iamkit_store_api::columns!(api_keys as k),
        ", w.org_id AS key_org,
            (SELECT json_extract(u.data, '$.status') FROM users u WHERE u.id = k.created_by)
                AS creator_status,
            COALESCE((SELECT v.version FROM authz_versions v WHERE v.org_id = w.org_id), 0)
                AS authz_version
         FROM api_keys k
         JOIN workspaces w ON w.id = k.workspace_id
         JOIN organizations o ON o.id = w.org_id
         WHERE k.id = ?"
    ))
    .bind(uid(id.as_uuid()))
    .fetch_optional(conn)
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(ApiKeyContext {
        key: api_key_of(&row)?,
        creator_active: get::<Option<String>>(&row, "creator_status")?.as_deref() == Some(ACTIVE),
        org: OrgId::from_uuid(parse_uid(
            &get::<String>(&row, "key_org")?,
            "workspaces.org_id",
        )?),
        authz_version: uint(get::<i64>(&row, "authz_version")?, "authz_versions.version")?,
    }))
}
