//! RBAC repositories: custom roles (JSON document plus the unique name
//! key) and grants (one row per grantee and scope).

use iamkit_identity::{GroupId, OrgId, RoleId, TeamId, UserId, WorkspaceId};
use iamkit_rbac::{CustomRole, Grant, GrantRepository, Grantee, RoleRepository, Scope};
use iamkit_store_api::StoreError;

use crate::SqliteTx;
use crate::codec::{Result, corrupt, db, from_json, parse_uid, to_json, uid};

/// `(kind, id)` columns of a grantee. The kinds sort in `Grantee`'s order
/// only through [`GRANT_ORDER`], not alphabetically.
fn grantee_columns(grantee: Grantee) -> (&'static str, String) {
    match grantee {
        Grantee::User(u) => ("user", uid(u.as_uuid())),
        Grantee::Group(g) => ("group", uid(g.as_uuid())),
        Grantee::Team(t) => ("team", uid(t.as_uuid())),
    }
}

/// `(org_id, workspace_id)` columns of a scope; `''` for no workspace.
fn scope_columns(scope: Scope) -> (String, String) {
    match scope {
        Scope::Organization(org) => (uid(org.as_uuid()), String::new()),
        Scope::Workspace(org, ws) => (uid(org.as_uuid()), uid(ws.as_uuid())),
    }
}

/// `Grant`'s derived order: grantee (user, group, team; then id), then
/// scope (organization before workspace; then ids).
const GRANT_ORDER: &str =
    "ORDER BY CASE grantee_kind WHEN 'user' THEN 0 WHEN 'group' THEN 1 ELSE 2 END,
    grantee_id, workspace_id <> '', org_id, workspace_id";

type GrantRow = (String, String, String, String, String);

fn grant_of((kind, id, org, ws, role): GrantRow) -> Result<Grant> {
    let id = parse_uid(&id, "grants.grantee_id")?;
    let grantee = match kind.as_str() {
        "user" => Grantee::User(UserId::from_uuid(id)),
        "group" => Grantee::Group(GroupId::from_uuid(id)),
        "team" => Grantee::Team(TeamId::from_uuid(id)),
        _ => return Err(corrupt("grants.grantee_kind")),
    };
    let org = OrgId::from_uuid(parse_uid(&org, "grants.org_id")?);
    let scope = if ws.is_empty() {
        Scope::Organization(org)
    } else {
        Scope::Workspace(
            org,
            WorkspaceId::from_uuid(parse_uid(&ws, "grants.workspace_id")?),
        )
    };
    Ok(Grant {
        grantee,
        scope,
        role: RoleId::from_uuid(parse_uid(&role, "grants.role_id")?),
    })
}

fn role_id_of(text: Option<String>) -> Result<Option<RoleId>> {
    text.map(|r| parse_uid(&r, "grants.role_id").map(RoleId::from_uuid))
        .transpose()
}

impl SqliteTx {
    async fn grants_where(&mut self, filter: &'static str, binds: &[String]) -> Result<Vec<Grant>> {
        let sql = format!(
            "SELECT grantee_kind, grantee_id, org_id, workspace_id, role_id FROM grants
             WHERE {filter} {GRANT_ORDER}"
        );
        let mut q = sqlx::query_as::<_, GrantRow>(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b.clone());
        }
        let rows = q.fetch_all(self.conn()).await.map_err(db)?;
        rows.into_iter().map(grant_of).collect()
    }
}

impl RoleRepository for SqliteTx {
    async fn insert_custom_role(&mut self, role: &CustomRole) -> Result<()> {
        sqlx::query("INSERT INTO custom_roles (id, org_id, name_key, data) VALUES (?, ?, ?, ?)")
            .bind(uid(role.id.as_uuid()))
            .bind(uid(role.org.as_uuid()))
            .bind(role.name.unique_key())
            .bind(to_json(role)?)
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn get_custom_role(&mut self, id: RoleId) -> Result<Option<CustomRole>> {
        let data: Option<String> = sqlx::query_scalar("SELECT data FROM custom_roles WHERE id = ?")
            .bind(uid(id.as_uuid()))
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        data.map(|d| from_json(&d)).transpose()
    }

    async fn list_custom_roles(&mut self, org: OrgId) -> Result<Vec<CustomRole>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM custom_roles WHERE org_id = ? ORDER BY name_key, id",
        )
        .bind(uid(org.as_uuid()))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(|d| from_json(d)).collect()
    }

    async fn update_custom_role(&mut self, role: &CustomRole) -> Result<()> {
        let stored_org: Option<String> =
            sqlx::query_scalar("SELECT org_id FROM custom_roles WHERE id = ?")
                .bind(uid(role.id.as_uuid()))
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        match stored_org {
            None => return Err(StoreError::not_found()),
            Some(org) if org != uid(role.org.as_uuid()) => return Err(StoreError::conflict()),
            Some(_) => {}
        }
        sqlx::query("UPDATE custom_roles SET name_key = ?, data = ? WHERE id = ?")
            .bind(role.name.unique_key())
            .bind(to_json(role)?)
            .bind(uid(role.id.as_uuid()))
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn delete_custom_role(&mut self, id: RoleId) -> Result<()> {
        let id = uid(id.as_uuid());
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM custom_roles WHERE id = ?")
            .bind(id.clone())
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::not_found());
        }
        let in_use: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM grants WHERE role_id = ? LIMIT 1")
                .bind(id.clone())
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        if in_use.is_some() {
            return Err(StoreError::conflict());
        }
        sqlx::query("DELETE FROM custom_roles WHERE id = ?")
            .bind(id)
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(())
    }
}

impl GrantRepository for SqliteTx {
    async fn assign_grant(&mut self, grant: &Grant) -> Result<Option<RoleId>> {
        let (kind, id) = grantee_columns(grant.grantee);
        let (org, ws) = scope_columns(grant.scope);
        let previous: Option<String> = sqlx::query_scalar(
            "SELECT role_id FROM grants
             WHERE grantee_kind = ? AND grantee_id = ? AND org_id = ? AND workspace_id = ?",
        )
        .bind(kind)
        .bind(id.clone())
        .bind(org.clone())
        .bind(ws.clone())
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO grants (grantee_kind, grantee_id, org_id, workspace_id, role_id)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (grantee_kind, grantee_id, org_id, workspace_id)
             DO UPDATE SET role_id = excluded.role_id",
        )
        .bind(kind)
        .bind(id)
        .bind(org)
        .bind(ws)
        .bind(uid(grant.role.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db)?;
        role_id_of(previous)
    }

    async fn revoke_grant(&mut self, grantee: Grantee, scope: Scope) -> Result<Option<RoleId>> {
        let (kind, id) = grantee_columns(grantee);
        let (org, ws) = scope_columns(scope);
        let removed: Option<String> = sqlx::query_scalar(
            "DELETE FROM grants
             WHERE grantee_kind = ? AND grantee_id = ? AND org_id = ? AND workspace_id = ?
             RETURNING role_id",
        )
        .bind(kind)
        .bind(id)
        .bind(org)
        .bind(ws)
        .fetch_optional(self.conn())
        .await
        .map_err(db)?;
        role_id_of(removed)
    }

    async fn list_grants_in_org(&mut self, org: OrgId) -> Result<Vec<Grant>> {
        self.grants_where("org_id = ?", &[uid(org.as_uuid())]).await
    }

    async fn list_grants_of(&mut self, grantee: Grantee) -> Result<Vec<Grant>> {
        let (kind, id) = grantee_columns(grantee);
        self.grants_where(
            "grantee_kind = ? AND grantee_id = ?",
            &[kind.to_owned(), id],
        )
        .await
    }

    async fn count_grants_of_role(&mut self, role: RoleId) -> Result<usize> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE role_id = ?")
            .bind(uid(role.as_uuid()))
            .fetch_one(self.conn())
            .await
            .map_err(db)?;
        usize::try_from(n).map_err(|_| corrupt("grants.count"))
    }
}
