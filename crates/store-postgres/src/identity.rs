//! Identity repositories: users (a `jsonb` document plus the columns their
//! unique indexes and the directory need), organizations, memberships,
//! departments, workspaces, groups and teams.

use chrono::{DateTime, Utc};
use iamkit_identity::{
    Department, DepartmentId, DirectoryEntry, DirectoryQuery, Email, Group, GroupId,
    GroupRepository, Membership, OrgId, Organization, OrganizationRepository, Slug, StoreResult,
    Team, TeamId, TeamMember, TeamRepository, TeamRole, User, UserId, UserRepository, Username,
    Workspace, WorkspaceId, WorkspaceRepository, search_text, sort_key,
};
use iamkit_store_api::{Page, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;
use uuid::Uuid;

use crate::PgTx;
use crate::codec::{db, db_ref, get, limit, parse_variant, variant};

/// Fails with `NotFound` when a statement changed no row.
fn require_row(affected: u64) -> StoreResult<()> {
    if affected == 0 {
        Err(StoreError::not_found())
    } else {
        Ok(())
    }
}

const MEMBERSHIP_COLUMNS: &str =
    "m.org_id, m.user_id, m.status, m.department_id, m.created_at, m.updated_at";

fn membership_of(row: &sqlx::postgres::PgRow) -> StoreResult<Membership> {
    Ok(Membership {
        org: OrgId::from_uuid(get(row, "org_id")?),
        user: UserId::from_uuid(get(row, "user_id")?),
        status: parse_variant(&get::<String>(row, "status")?, "memberships.status")?,
        department: get::<Option<Uuid>>(row, "department_id")?.map(DepartmentId::from_uuid),
        created_at: get::<DateTime<Utc>>(row, "created_at")?,
        updated_at: get::<DateTime<Utc>>(row, "updated_at")?,
    })
}

/// The tables of organization-scoped named items (`(id, org_id, name_key,
/// data)`), so that their SQL is written once.
#[derive(Clone, Copy)]
enum Named {
    Organizations,
    Departments,
    Workspaces,
    Groups,
    Teams,
}

impl Named {
    fn table(self) -> &'static str {
        match self {
            Self::Organizations => "organizations",
            Self::Departments => "departments",
            Self::Workspaces => "workspaces",
            Self::Groups => "groups",
            Self::Teams => "teams",
        }
    }
}

impl PgTx {
    async fn user_where<T>(&mut self, sql: &'static str, value: T) -> StoreResult<Option<User>>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
    {
        let data: Option<Json<User>> = sqlx::query_scalar(sql)
            .bind(value)
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        Ok(data.map(|Json(user)| user))
    }

    /// Inserts an organization-scoped named item. An unknown organization
    /// breaks the `org_id` foreign key: `NotFound`.
    async fn insert_named<T: Serialize + Sync>(
        &mut self,
        named: Named,
        id: Uuid,
        org: OrgId,
        name_key: String,
        item: &T,
    ) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO {} (id, org_id, name_key, data) VALUES ($1, $2, $3, $4)",
            named.table()
        );
        self.savepoint().await?;
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(org.as_uuid())
            .bind(name_key)
            .bind(Json(item))
            .execute(self.conn())
            .await
            .map(|_| ())
            .map_err(db_ref);
        self.settle(done).await
    }

    async fn get_named<T: DeserializeOwned + Send + Unpin + 'static>(
        &mut self,
        named: Named,
        id: Uuid,
    ) -> StoreResult<Option<T>> {
        let sql = format!("SELECT data FROM {} WHERE id = $1", named.table());
        let data: Option<Json<T>> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        Ok(data.map(|Json(item)| item))
    }

    /// An organization's items, by name key then id.
    async fn list_named<T: DeserializeOwned + Send + Unpin + 'static>(
        &mut self,
        named: Named,
        org: OrgId,
    ) -> StoreResult<Vec<T>> {
        let sql = format!(
            "SELECT data FROM {} WHERE org_id = $1 ORDER BY name_key, id",
            named.table()
        );
        let rows: Vec<Json<T>> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(org.as_uuid())
            .fetch_all(self.conn())
            .await
            .map_err(db)?;
        Ok(rows.into_iter().map(|Json(item)| item).collect())
    }

    async fn update_named<T: Serialize + Sync>(
        &mut self,
        named: Named,
        id: Uuid,
        org: OrgId,
        name_key: String,
        item: &T,
    ) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {} SET org_id = $1, name_key = $2, data = $3 WHERE id = $4",
            named.table()
        );
        self.savepoint().await?;
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(org.as_uuid())
            .bind(name_key)
            .bind(Json(item))
            .bind(id)
            .execute(self.conn())
            .await
            .map_err(db)
            .and_then(|done| require_row(done.rows_affected()));
        self.settle(done).await
    }

    async fn delete_named(&mut self, named: Named, id: Uuid) -> StoreResult<()> {
        let sql = format!("DELETE FROM {} WHERE id = $1", named.table());
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }
}

impl UserRepository for PgTx {
    async fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        self.savepoint().await?;
        let done = sqlx::query(
            "INSERT INTO users (id, username, email_normalized, sort_key, search_text, data)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id.as_uuid())
        .bind(user.username.as_str())
        .bind(user.email.normalized())
        .bind(sort_key(user))
        .bind(search_text(user))
        .bind(Json(user))
        .execute(self.conn())
        .await
        .map(|_| ())
        .map_err(db);
        self.settle(done).await
    }

    async fn get_user(&mut self, id: UserId) -> StoreResult<Option<User>> {
        self.user_where("SELECT data FROM users WHERE id = $1", id.as_uuid())
            .await
    }

    async fn find_user_by_username(&mut self, username: &Username) -> StoreResult<Option<User>> {
        self.user_where(
            "SELECT data FROM users WHERE username = $1",
            username.as_str().to_owned(),
        )
        .await
    }

    async fn find_user_by_email(&mut self, email: &Email) -> StoreResult<Option<User>> {
        self.user_where(
            "SELECT data FROM users WHERE email_normalized = $1",
            email.normalized().to_owned(),
        )
        .await
    }

    async fn update_user(&mut self, user: &User) -> StoreResult<()> {
        self.savepoint().await?;
        let done = sqlx::query(
            "UPDATE users SET username = $1, email_normalized = $2, sort_key = $3,
             search_text = $4, data = $5 WHERE id = $6",
        )
        .bind(user.username.as_str())
        .bind(user.email.normalized())
        .bind(sort_key(user))
        .bind(search_text(user))
        .bind(Json(user))
        .bind(user.id.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)
        .and_then(|done| require_row(done.rows_affected()));
        self.settle(done).await
    }

    async fn delete_user(&mut self, id: UserId) -> StoreResult<()> {
        // Memberships, and through them group and team memberships,
        // cascade.
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn list_directory(
        &mut self,
        org: OrgId,
        query: &DirectoryQuery,
    ) -> StoreResult<Page<DirectoryEntry>> {
        // Filters, order and cursor run in SQL on the columns the domain
        // computes (`sort_key`, `search_text`, both in the "C" collation),
        // so they match the reference exactly; `paginate` then only cuts
        // the page and the next cursor.
        let mut sql = format!(
            "SELECT u.data, {MEMBERSHIP_COLUMNS} FROM memberships m
             JOIN users u ON u.id = m.user_id WHERE m.org_id = $1"
        );
        let mut n = 1;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if query.group().is_some() {
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM group_members g
                   WHERE g.group_id = {} AND g.org_id = m.org_id AND g.user_id = m.user_id)",
                param()
            ));
        }
        if query.team().is_some() {
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM team_members t
                   WHERE t.team_id = {} AND t.org_id = m.org_id AND t.user_id = m.user_id)",
                param()
            ));
        }
        if query.department().is_some() {
            sql.push_str(&format!(" AND m.department_id = {}", param()));
        }
        if query.status().is_some() {
            sql.push_str(&format!(" AND m.status = {}", param()));
        }
        if query.text().is_some() {
            sql.push_str(&format!(" AND strpos(u.search_text, {}) > 0", param()));
        }
        if query.start_after().is_some() {
            let (key, id) = (param(), param());
            sql.push_str(&format!(" AND (u.sort_key, u.id) > ({key}, {id})"));
        }
        sql.push_str(&format!(" ORDER BY u.sort_key, u.id LIMIT {}", param()));
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(org.as_uuid());
        if let Some(group) = query.group() {
            q = q.bind(group.as_uuid());
        }
        if let Some(team) = query.team() {
            q = q.bind(team.as_uuid());
        }
        if let Some(department) = query.department() {
            q = q.bind(department.as_uuid());
        }
        if let Some(status) = query.status() {
            q = q.bind(variant(&status)?);
        }
        if let Some(text) = query.text() {
            q = q.bind(text.to_owned());
        }
        if let Some(after) = query.start_after() {
            q = q.bind(after.sort_key.clone()).bind(after.user.as_uuid());
        }
        let rows = q
            .bind(limit(query.limit().saturating_add(1)))
            .fetch_all(self.conn())
            .await
            .map_err(db)?;
        let mut matching = Vec::with_capacity(rows.len());
        for row in &rows {
            let Json(user) = get::<Json<User>>(row, "data")?;
            let entry = DirectoryEntry {
                user,
                membership: membership_of(row)?,
            };
            if query.matches(&entry) {
                matching.push(entry);
            }
        }
        Ok(query.paginate(matching))
    }
}

impl OrganizationRepository for PgTx {
    async fn insert_organization(&mut self, org: &Organization) -> StoreResult<()> {
        self.savepoint().await?;
        let done = sqlx::query("INSERT INTO organizations (id, slug, data) VALUES ($1, $2, $3)")
            .bind(org.id.as_uuid())
            .bind(org.slug.as_str())
            .bind(Json(org))
            .execute(self.conn())
            .await
            .map(|_| ())
            .map_err(db);
        self.settle(done).await
    }

    async fn get_organization(&mut self, id: OrgId) -> StoreResult<Option<Organization>> {
        self.get_named(Named::Organizations, id.as_uuid()).await
    }

    async fn find_organization_by_slug(
        &mut self,
        slug: &Slug,
    ) -> StoreResult<Option<Organization>> {
        let data: Option<Json<Organization>> =
            sqlx::query_scalar("SELECT data FROM organizations WHERE slug = $1")
                .bind(slug.as_str())
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        Ok(data.map(|Json(org)| org))
    }

    async fn update_organization(&mut self, org: &Organization) -> StoreResult<()> {
        self.savepoint().await?;
        let done = sqlx::query("UPDATE organizations SET slug = $1, data = $2 WHERE id = $3")
            .bind(org.slug.as_str())
            .bind(Json(org))
            .bind(org.id.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db)
            .and_then(|done| require_row(done.rows_affected()));
        self.settle(done).await
    }

    async fn insert_membership(&mut self, membership: &Membership) -> StoreResult<()> {
        self.savepoint().await?;
        let done = match variant(&membership.status) {
            Ok(status) => sqlx::query(
                "INSERT INTO memberships
                 (org_id, user_id, status, department_id, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(membership.org.as_uuid())
            .bind(membership.user.as_uuid())
            .bind(status)
            .bind(membership.department.map(|d| d.as_uuid()))
            .bind(membership.created_at)
            .bind(membership.updated_at)
            .execute(self.conn())
            .await
            .map(|_| ())
            .map_err(db_ref),
            Err(e) => Err(e),
        };
        self.settle(done).await
    }

    async fn get_membership(
        &mut self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Option<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships m WHERE m.org_id = $1 AND m.user_id = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(org.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        row.as_ref().map(membership_of).transpose()
    }

    async fn update_membership(&mut self, membership: &Membership) -> StoreResult<()> {
        self.savepoint().await?;
        // A department unknown to the organization breaks the
        // (org_id, department_id) foreign key: NotFound.
        let done = match variant(&membership.status) {
            Ok(status) => sqlx::query(
                "UPDATE memberships SET status = $1, department_id = $2, created_at = $3,
                 updated_at = $4 WHERE org_id = $5 AND user_id = $6",
            )
            .bind(status)
            .bind(membership.department.map(|d| d.as_uuid()))
            .bind(membership.created_at)
            .bind(membership.updated_at)
            .bind(membership.org.as_uuid())
            .bind(membership.user.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db_ref)
            .and_then(|done| require_row(done.rows_affected())),
            Err(e) => Err(e),
        };
        self.settle(done).await
    }

    async fn delete_membership(&mut self, org: OrgId, user: UserId) -> StoreResult<()> {
        // The user's group and team memberships in `org` cascade.
        let done = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org.as_uuid())
            .bind(user.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn list_memberships_of_user(&mut self, user: UserId) -> StoreResult<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships m WHERE m.user_id = $1 ORDER BY m.org_id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(user.as_uuid())
            .fetch_all(self.conn())
            .await
            .map_err(db)?;
        rows.iter().map(membership_of).collect()
    }

    async fn insert_department(&mut self, department: &Department) -> StoreResult<()> {
        self.insert_named(
            Named::Departments,
            department.id.as_uuid(),
            department.org,
            department.name.key(),
            department,
        )
        .await
    }

    async fn list_departments(&mut self, org: OrgId) -> StoreResult<Vec<Department>> {
        self.list_named(Named::Departments, org).await
    }

    async fn get_department(&mut self, id: DepartmentId) -> StoreResult<Option<Department>> {
        self.get_named(Named::Departments, id.as_uuid()).await
    }

    async fn update_department(&mut self, department: &Department) -> StoreResult<()> {
        // Matched on the organization too: a department never moves.
        self.savepoint().await?;
        let done = sqlx::query(
            "UPDATE departments SET name_key = $1, data = $2 WHERE id = $3 AND org_id = $4",
        )
        .bind(department.name.key())
        .bind(Json(department))
        .bind(department.id.as_uuid())
        .bind(department.org.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db)
        .and_then(|done| require_row(done.rows_affected()));
        self.settle(done).await
    }

    async fn list_department_members(&mut self, id: DepartmentId) -> StoreResult<Vec<UserId>> {
        let rows: Vec<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM memberships WHERE department_id = $1 ORDER BY user_id",
        )
        .bind(id.as_uuid())
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(UserId::from_uuid).collect())
    }

    async fn delete_department(&mut self, id: DepartmentId) -> StoreResult<()> {
        // Memberships filed under it fall back to no department
        // (ON DELETE SET NULL (department_id)).
        self.delete_named(Named::Departments, id.as_uuid()).await
    }
}

impl WorkspaceRepository for PgTx {
    async fn insert_workspace(&mut self, workspace: &Workspace) -> StoreResult<()> {
        self.insert_named(
            Named::Workspaces,
            workspace.id.as_uuid(),
            workspace.org,
            workspace.name.key(),
            workspace,
        )
        .await
    }

    async fn get_workspace(&mut self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        self.get_named(Named::Workspaces, id.as_uuid()).await
    }

    async fn list_workspaces(&mut self, org: OrgId) -> StoreResult<Vec<Workspace>> {
        self.list_named(Named::Workspaces, org).await
    }

    async fn update_workspace(&mut self, workspace: &Workspace) -> StoreResult<()> {
        self.update_named(
            Named::Workspaces,
            workspace.id.as_uuid(),
            workspace.org,
            workspace.name.key(),
            workspace,
        )
        .await
    }

    async fn delete_workspace(&mut self, id: WorkspaceId) -> StoreResult<()> {
        self.delete_named(Named::Workspaces, id.as_uuid()).await
    }
}

impl GroupRepository for PgTx {
    async fn insert_group(&mut self, group: &Group) -> StoreResult<()> {
        self.insert_named(
            Named::Groups,
            group.id.as_uuid(),
            group.org,
            group.name.key(),
            group,
        )
        .await
    }

    async fn get_group(&mut self, id: GroupId) -> StoreResult<Option<Group>> {
        self.get_named(Named::Groups, id.as_uuid()).await
    }

    async fn list_groups(&mut self, org: OrgId) -> StoreResult<Vec<Group>> {
        self.list_named(Named::Groups, org).await
    }

    async fn update_group(&mut self, group: &Group) -> StoreResult<()> {
        self.update_named(
            Named::Groups,
            group.id.as_uuid(),
            group.org,
            group.name.key(),
            group,
        )
        .await
    }

    async fn delete_group(&mut self, id: GroupId) -> StoreResult<()> {
        self.delete_named(Named::Groups, id.as_uuid()).await
    }

    async fn insert_group_member(&mut self, group: GroupId, user: UserId) -> StoreResult<()> {
        // No group: no row inserted. Not a member of the group's
        // organization: the foreign key to memberships fails. Both NotFound.
        self.savepoint().await?;
        let done = sqlx::query(
            "INSERT INTO group_members (group_id, org_id, user_id)
             SELECT id, org_id, $1 FROM groups WHERE id = $2",
        )
        .bind(user.as_uuid())
        .bind(group.as_uuid())
        .execute(self.conn())
        .await
        .map_err(db_ref)
        .and_then(|done| require_row(done.rows_affected()));
        self.settle(done).await
    }

    async fn delete_group_member(&mut self, group: GroupId, user: UserId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group.as_uuid())
            .bind(user.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn list_group_members(&mut self, group: GroupId) -> StoreResult<Vec<UserId>> {
        let rows: Vec<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM group_members WHERE group_id = $1 ORDER BY user_id",
        )
        .bind(group.as_uuid())
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(UserId::from_uuid).collect())
    }

    async fn list_groups_of_user(&mut self, org: OrgId, user: UserId) -> StoreResult<Vec<GroupId>> {
        let rows: Vec<Uuid> = sqlx::query_scalar(
            "SELECT group_id FROM group_members WHERE org_id = $1 AND user_id = $2
             ORDER BY group_id",
        )
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(GroupId::from_uuid).collect())
    }
}

fn team_member_of(row: &sqlx::postgres::PgRow) -> StoreResult<TeamMember> {
    Ok(TeamMember {
        team: TeamId::from_uuid(get(row, "team_id")?),
        user: UserId::from_uuid(get(row, "user_id")?),
        role: parse_variant::<TeamRole>(&get::<String>(row, "role")?, "team_members.role")?,
    })
}

impl TeamRepository for PgTx {
    async fn insert_team(&mut self, team: &Team) -> StoreResult<()> {
        self.insert_named(
            Named::Teams,
            team.id.as_uuid(),
            team.org,
            team.name.key(),
            team,
        )
        .await
    }

    async fn get_team(&mut self, id: TeamId) -> StoreResult<Option<Team>> {
        self.get_named(Named::Teams, id.as_uuid()).await
    }

    async fn list_teams(&mut self, org: OrgId) -> StoreResult<Vec<Team>> {
        self.list_named(Named::Teams, org).await
    }

    async fn update_team(&mut self, team: &Team) -> StoreResult<()> {
        self.update_named(
            Named::Teams,
            team.id.as_uuid(),
            team.org,
            team.name.key(),
            team,
        )
        .await
    }

    async fn delete_team(&mut self, id: TeamId) -> StoreResult<()> {
        self.delete_named(Named::Teams, id.as_uuid()).await
    }

    async fn insert_team_member(&mut self, member: &TeamMember) -> StoreResult<()> {
        self.savepoint().await?;
        let done = match variant(&member.role) {
            Ok(role) => sqlx::query(
                "INSERT INTO team_members (team_id, org_id, user_id, role)
                 SELECT id, org_id, $1, $2 FROM teams WHERE id = $3",
            )
            .bind(member.user.as_uuid())
            .bind(role)
            .bind(member.team.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db_ref)
            .and_then(|done| require_row(done.rows_affected())),
            Err(e) => Err(e),
        };
        self.settle(done).await
    }

    async fn update_team_member_role(
        &mut self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
    ) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE team_members SET role = $1 WHERE team_id = $2 AND user_id = $3")
                .bind(variant(&role)?)
                .bind(team.as_uuid())
                .bind(user.as_uuid())
                .execute(self.conn())
                .await
                .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn delete_team_member(&mut self, team: TeamId, user: UserId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team.as_uuid())
            .bind(user.as_uuid())
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn list_team_members(&mut self, team: TeamId) -> StoreResult<Vec<TeamMember>> {
        let rows = sqlx::query(
            "SELECT team_id, user_id, role FROM team_members WHERE team_id = $1 ORDER BY user_id",
        )
        .bind(team.as_uuid())
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(team_member_of).collect()
    }

    async fn list_teams_of_user(
        &mut self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Vec<TeamMember>> {
        let rows = sqlx::query(
            "SELECT team_id, user_id, role FROM team_members
             WHERE org_id = $1 AND user_id = $2 ORDER BY team_id",
        )
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(team_member_of).collect()
    }
}
