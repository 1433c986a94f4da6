//! RBAC repositories: custom roles (a `jsonb` document plus the unique
//! name key) and grants (one row per grantee and scope).

use iamkit_identity::{GroupId, OrgId, RoleId, TeamId, UserId, WorkspaceId};
use iamkit_rbac::{CustomRole, Grant, GrantRepository, Grantee, RoleRepository, Scope};
use iamkit_store_api::StoreError;
use sqlx::types::Json;
use uuid::Uuid;

use crate::PgTx;
use crate::codec::{Result, corrupt, db, get};

/// `(kind, id)` columns of a grantee. The kinds sort in `Grantee`'s order
/// only through [`GRANT_ORDER`], not alphabetically.
fn grantee_columns(grantee: Grantee) -> (&'static str, Uuid) {
    match grantee {
        Grantee::User(u) => ("user", u.as_uuid()),
        Grantee::Group(g) => ("group", g.as_uuid()),
        Grantee::Team(t) => ("team", t.as_uuid()),
    }
}

/// `(org_id, workspace_id)` columns of a scope; no workspace is NULL.
fn scope_columns(scope: Scope) -> (Uuid, Option<Uuid>) {
    match scope {
        Scope::Organization(org) => (org.as_uuid(), None),
        Scope::Workspace(org, ws) => (org.as_uuid(), Some(ws.as_uuid())),
    }
}

/// `Grant`'s derived order: grantee (user, group, team; then id), then
/// scope (organization before workspace; then ids). `uuid` order is byte
/// order, as `Uuid`'s.
const GRANT_ORDER: &str =
    "ORDER BY CASE grantee_kind WHEN 'user' THEN 0 WHEN 'group' THEN 1 ELSE 2 END,
    grantee_id, workspace_id IS NOT NULL, org_id, workspace_id";

/// The row of one (grantee, scope) pair; `IS NOT DISTINCT FROM` matches
/// the NULL workspace of organization scope.
const PAIR: &str = "grantee_kind = $1 AND grantee_id = $2 AND org_id = $3
    AND workspace_id IS NOT DISTINCT FROM $4";

fn grant_of(row: &sqlx::postgres::PgRow) -> Result<Grant> {
    let id: Uuid = get(row, "grantee_id")?;
    let grantee = match get::<String>(row, "grantee_kind")?.as_str() {
        "user" => Grantee::User(UserId::from_uuid(id)),
        "group" => Grantee::Group(GroupId::from_uuid(id)),
        "team" => Grantee::Team(TeamId::from_uuid(id)),
        _ => return Err(corrupt("grants.grantee_kind")),
    };
    let org = OrgId::from_uuid(get(row, "org_id")?);
    let scope = match get::<Option<Uuid>>(row, "workspace_id")? {
        None => Scope::Organization(org),
        Some(ws) => Scope::Workspace(org, WorkspaceId::from_uuid(ws)),
    };
    Ok(Grant {
        grantee,
        scope,
        role: RoleId::from_uuid(get(row, "role_id")?),
    })
}

/// How often [`GrantRepository::assign_grant`] re-reads a pair that a
/// concurrent transaction inserted first.
const ASSIGN_ATTEMPTS: usize = 3;

impl PgTx {
    async fn grants_where(
        &mut self,
        filter: &'static str,
        kind: Option<&'static str>,
        id: Uuid,
    ) -> Result<Vec<Grant>> {
        let sql = format!(
            "SELECT grantee_kind, grantee_id, org_id, workspace_id, role_id FROM grants
             WHERE {filter} {GRANT_ORDER}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(kind) = kind {
            q = q.bind(kind);
        }
        let rows = q.bind(id).fetch_all(self.conn()).await.map_err(db)?;
        rows.iter().map(grant_of).collect()
    }

    async fn assign_grant_once(&mut self, grant: &Grant) -> Result<Option<Option<RoleId>>> {
        let (kind, id) = grantee_columns(grant.grantee);
        let (org, ws) = scope_columns(grant.scope);
        let role = grant.role.as_uuid();
        // The pair's row, locked: a concurrent assignment of the same pair
        // waits, and then replaces this one's role (reporting it).
        let previous: Option<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT role_id FROM grants WHERE {PAIR} FOR UPDATE"
        )))
        .bind(kind)
        .bind(id)
        .bind(org)
        .bind(ws)
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        if let Some(previous) = previous {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE grants SET role_id = $5 WHERE {PAIR}"
            )))
            .bind(kind)
            .bind(id)
            .bind(org)
            .bind(ws)
            .bind(role)
            .execute(self.conn())
            .await
            .map_err(db)?;
            return Ok(Some(Some(RoleId::from_uuid(previous))));
        }
        let inserted: Option<i32> = sqlx::query_scalar(
            "INSERT INTO grants (grantee_kind, grantee_id, org_id, workspace_id, role_id)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
        )
        .bind(kind)
        .bind(id)
        .bind(org)
        .bind(ws)
        .bind(role)
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        // Nothing inserted: a concurrent transaction inserted the pair and
        // committed after this one's read; read it again.
        Ok(inserted.map(|_| None))
    }
}

impl RoleRepository for PgTx {
    async fn insert_custom_role(&mut self, role: &CustomRole) -> Result<()> {
        self.savepoint().await?;
        let done = sqlx::query(
            "INSERT INTO custom_roles (id, org_id, name_key, data) VALUES ($1, $2, $3, $4)",
        )
        .bind(role.id.as_uuid())
        .bind(role.org.as_uuid())
        .bind(role.name.unique_key())
        .bind(Json(role))
        .execute(self.conn())
        .await
        .map(|_| ())
        .map_err(db);
        self.settle(done).await
    }

    async fn get_custom_role(&mut self, id: RoleId) -> Result<Option<CustomRole>> {
        let data: Option<Json<CustomRole>> =
            sqlx::query_scalar("SELECT data FROM custom_roles WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        Ok(data.map(|Json(role)| role))
    }

    async fn list_custom_roles(&mut self, org: OrgId) -> Result<Vec<CustomRole>> {
        let rows: Vec<Json<CustomRole>> = sqlx::query_scalar(
            "SELECT data FROM custom_roles WHERE org_id = $1 ORDER BY name_key, id",
        )
        .bind(org.as_uuid())
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(|Json(role)| role).collect())
    }

    async fn update_custom_role(&mut self, role: &CustomRole) -> Result<()> {
        // One conditional statement; when it changes nothing, the stored
        // role (if any) tells NotFound from Conflict. A role never moves
        // between organizations, so the two reads agree.
        self.savepoint().await?;
        let done = sqlx::query(
            "UPDATE custom_roles SET name_key = $1, data = $2 WHERE id = $3 AND org_id = $4",
        )
        .bind(role.name.unique_key())
        .bind(Json(role))
        .bind(role.id.as_uuid())
        .bind(role.org.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db);
        let done = self.settle(done).await?;
        if done.rows_affected() > 0 {
            return Ok(());
        }
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM custom_roles WHERE id = $1")
            .bind(role.id.as_uuid())
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        Err(match exists {
            None => StoreError::not_found(),
            Some(_) => StoreError::conflict(),
        })
    }

    async fn delete_custom_role(&mut self, id: RoleId) -> Result<()> {
        let id = id.as_uuid();
        // The role's row, locked against a concurrent delete or update. A
        // concurrent grant of the role is ordered by the facade, which
        // locks the organization's authorization version first.
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM custom_roles WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::not_found());
        }
        let in_use: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM grants WHERE role_id = $1 LIMIT 1")
                .bind(id)
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        if in_use.is_some() {
            return Err(StoreError::conflict());
        }
        sqlx::query("DELETE FROM custom_roles WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(())
    }
}

impl GrantRepository for PgTx {
    async fn assign_grant(&mut self, grant: &Grant) -> Result<Option<RoleId>> {
        for _ in 0..ASSIGN_ATTEMPTS {
            if let Some(previous) = self.assign_grant_once(grant).await? {
                return Ok(previous);
            }
        }
        Err(StoreError::conflict())
    }

    async fn revoke_grant(&mut self, grantee: Grantee, scope: Scope) -> Result<Option<RoleId>> {
        let (kind, id) = grantee_columns(grantee);
        let (org, ws) = scope_columns(scope);
        let removed: Option<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "DELETE FROM grants WHERE {PAIR} RETURNING role_id"
        )))
        .bind(kind)
        .bind(id)
        .bind(org)
        .bind(ws)
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        Ok(removed.map(RoleId::from_uuid))
    }

    async fn list_grants_in_org(&mut self, org: OrgId) -> Result<Vec<Grant>> {
        self.grants_where("org_id = $1", None, org.as_uuid()).await
    }

    async fn list_grants_of(&mut self, grantee: Grantee) -> Result<Vec<Grant>> {
        let (kind, id) = grantee_columns(grantee);
        self.grants_where("grantee_kind = $1 AND grantee_id = $2", Some(kind), id)
            .await
    }

    async fn count_grants_of_role(&mut self, role: RoleId) -> Result<usize> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE role_id = $1")
            .bind(role.as_uuid())
            .fetch_one(self.conn())
            .await
            .map_err(db)?;
        usize::try_from(n).map_err(|_| corrupt("grants.count"))
    }
}
