//! Identity repositories: users (JSON document plus the columns their
//! unique indexes and the directory need), organizations, memberships,
//! departments, workspaces, groups and teams.

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

use crate::SqliteTx;
use crate::codec::{
    db, db_ref, from_json, parse_ts, parse_uid, parse_variant, to_json, ts, uid, variant,
};

fn org_id(org: OrgId) -> String {
    uid(org.as_uuid())
}

fn user_id(user: UserId) -> String {
    uid(user.as_uuid())
}

/// Fails with `NotFound` when a statement changed no row.
fn require_row(affected: u64) -> StoreResult<()> {
    if affected == 0 {
        Err(StoreError::not_found())
    } else {
        Ok(())
    }
}

type MembershipRow = (String, String, String, Option<String>, String, String);

const MEMBERSHIP_COLUMNS: &str =
    "m.org_id, m.user_id, m.status, m.department_id, m.created_at, m.updated_at";

fn membership_of(row: MembershipRow) -> StoreResult<Membership> {
    let (org, user, status, department, created_at, updated_at) = row;
    Ok(Membership {
        org: OrgId::from_uuid(parse_uid(&org, "memberships.org_id")?),
        user: UserId::from_uuid(parse_uid(&user, "memberships.user_id")?),
        status: parse_variant(&status, "memberships.status")?,
        department: department
            .map(|d| parse_uid(&d, "memberships.department_id").map(DepartmentId::from_uuid))
            .transpose()?,
        created_at: parse_ts(&created_at, "memberships.created_at")?,
        updated_at: parse_ts(&updated_at, "memberships.updated_at")?,
    })
}

impl SqliteTx {
    async fn user_where(
        &mut self,
        column: &'static str,
        value: String,
    ) -> StoreResult<Option<User>> {
        let sql = format!("SELECT data FROM users WHERE {column} = ?");
        let data: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        data.map(|d| from_json(&d)).transpose()
    }

    async fn org_exists(&mut self, org: OrgId) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM organizations WHERE id = ?")
            .bind(org_id(org))
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        Ok(found.is_some())
    }

    /// Inserts an org-scoped named item (department, workspace, group,
    /// team) into `table`.
    async fn insert_named<T: Serialize>(
        &mut self,
        table: &'static str,
        id: String,
        org: OrgId,
        name_key: String,
        item: &T,
    ) -> StoreResult<()> {
        if !self.org_exists(org).await? {
            return Err(StoreError::not_found());
        }
        let sql = format!("INSERT INTO {table} (id, org_id, name_key, data) VALUES (?, ?, ?, ?)");
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(org_id(org))
            .bind(name_key)
            .bind(to_json(item)?)
            .execute(self.conn())
            .await
            .map_err(db_ref)?;
        Ok(())
    }

    async fn get_named<T: DeserializeOwned>(
        &mut self,
        table: &'static str,
        id: String,
    ) -> StoreResult<Option<T>> {
        let sql = format!("SELECT data FROM {table} WHERE id = ?");
        let data: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        data.map(|d| from_json(&d)).transpose()
    }

    /// An organization's items of `table`, by name key then id.
    async fn list_named<T: DeserializeOwned>(
        &mut self,
        table: &'static str,
        org: OrgId,
    ) -> StoreResult<Vec<T>> {
        let sql = format!("SELECT data FROM {table} WHERE org_id = ? ORDER BY name_key, id");
        let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(org_id(org))
            .fetch_all(self.conn())
            .await
            .map_err(db)?;
        rows.iter().map(|d| from_json(d)).collect()
    }

    async fn update_named<T: Serialize>(
        &mut self,
        table: &'static str,
        id: String,
        org: OrgId,
        name_key: String,
        item: &T,
    ) -> StoreResult<()> {
        let sql = format!("UPDATE {table} SET org_id = ?, name_key = ?, data = ? WHERE id = ?");
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(org_id(org))
            .bind(name_key)
            .bind(to_json(item)?)
            .bind(id)
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn delete_named(&mut self, table: &'static str, id: String) -> StoreResult<()> {
        let sql = format!("DELETE FROM {table} WHERE id = ?");
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }
}

impl UserRepository for SqliteTx {
    async fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, username, email_normalized, sort_key, search_text, data)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(user_id(user.id))
        .bind(user.username.as_str())
        .bind(user.email.normalized())
        .bind(sort_key(user))
        .bind(search_text(user))
        .bind(to_json(user)?)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_user(&mut self, id: UserId) -> StoreResult<Option<User>> {
        self.user_where("id", user_id(id)).await
    }

    async fn find_user_by_username(&mut self, username: &Username) -> StoreResult<Option<User>> {
        self.user_where("username", username.as_str().to_owned())
            .await
    }

    async fn find_user_by_email(&mut self, email: &Email) -> StoreResult<Option<User>> {
        self.user_where("email_normalized", email.normalized().to_owned())
            .await
    }

    async fn update_user(&mut self, user: &User) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE users SET username = ?, email_normalized = ?, sort_key = ?, search_text = ?,
             data = ? WHERE id = ?",
        )
        .bind(user.username.as_str())
        .bind(user.email.normalized())
        .bind(sort_key(user))
        .bind(search_text(user))
        .bind(to_json(user)?)
        .bind(user_id(user.id))
        .execute(self.conn())
        .await
        .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn delete_user(&mut self, id: UserId) -> StoreResult<()> {
        // Memberships, and through them group and team memberships,
        // cascade.
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(user_id(id))
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
        // computes (`sort_key`, `search_text`), so they match the reference
        // exactly; `paginate` then only cuts the page and the next cursor.
        let mut sql = format!(
            "SELECT u.data, {MEMBERSHIP_COLUMNS} FROM memberships m
             JOIN users u ON u.id = m.user_id WHERE m.org_id = ?"
        );
        if query.group().is_some() {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM group_members g WHERE g.group_id = ? AND g.user_id = m.user_id)",
            );
        }
        if query.team().is_some() {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM team_members t WHERE t.team_id = ? AND t.user_id = m.user_id)",
            );
        }
        if query.department().is_some() {
            sql.push_str(" AND m.department_id = ?");
        }
        if query.status().is_some() {
            sql.push_str(" AND m.status = ?");
        }
        if query.text().is_some() {
            sql.push_str(" AND instr(u.search_text, ?) > 0");
        }
        if query.start_after().is_some() {
            sql.push_str(" AND (u.sort_key, u.id) > (?, ?)");
        }
        sql.push_str(" ORDER BY u.sort_key, u.id LIMIT ?");
        let mut q = sqlx::query_as::<
            _,
            (
                String,
                String,
                String,
                String,
                Option<String>,
                String,
                String,
            ),
        >(AssertSqlSafe(sql))
        .bind(org_id(org));
        if let Some(group) = query.group() {
            q = q.bind(uid(group.as_uuid()));
        }
        if let Some(team) = query.team() {
            q = q.bind(uid(team.as_uuid()));
        }
        if let Some(department) = query.department() {
            q = q.bind(uid(department.as_uuid()));
        }
        if let Some(status) = query.status() {
            q = q.bind(variant(&status)?);
        }
        if let Some(text) = query.text() {
            q = q.bind(text.to_owned());
        }
        if let Some(after) = query.start_after() {
            q = q.bind(after.sort_key.clone()).bind(user_id(after.user));
        }
        let limit = i64::try_from(query.limit().saturating_add(1)).unwrap_or(i64::MAX);
        let rows = q.bind(limit).fetch_all(self.conn()).await.map_err(db)?;
        let mut matching = Vec::with_capacity(rows.len());
        for (data, o, u, status, department, created_at, updated_at) in rows {
            let entry = DirectoryEntry {
                user: from_json(&data)?,
                membership: membership_of((o, u, status, department, created_at, updated_at))?,
            };
            if query.matches(&entry) {
                matching.push(entry);
            }
        }
        Ok(query.paginate(matching))
    }
}

impl OrganizationRepository for SqliteTx {
    async fn insert_organization(&mut self, org: &Organization) -> StoreResult<()> {
        sqlx::query("INSERT INTO organizations (id, slug, data) VALUES (?, ?, ?)")
            .bind(org_id(org.id))
            .bind(org.slug.as_str())
            .bind(to_json(org)?)
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn get_organization(&mut self, id: OrgId) -> StoreResult<Option<Organization>> {
        self.get_named("organizations", org_id(id)).await
    }

    async fn find_organization_by_slug(
        &mut self,
        slug: &Slug,
    ) -> StoreResult<Option<Organization>> {
        let data: Option<String> =
            sqlx::query_scalar("SELECT data FROM organizations WHERE slug = ?")
                .bind(slug.as_str())
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        data.map(|d| from_json(&d)).transpose()
    }

    async fn update_organization(&mut self, org: &Organization) -> StoreResult<()> {
        let done = sqlx::query("UPDATE organizations SET slug = ?, data = ? WHERE id = ?")
            .bind(org.slug.as_str())
            .bind(to_json(org)?)
            .bind(org_id(org.id))
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn insert_membership(&mut self, membership: &Membership) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, status, department_id, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(org_id(membership.org))
        .bind(user_id(membership.user))
        .bind(variant(&membership.status)?)
        .bind(membership.department.map(|d| uid(d.as_uuid())))
        .bind(ts(membership.created_at))
        .bind(ts(membership.updated_at))
        .execute(self.conn())
        .await
        .map_err(db_ref)?;
        Ok(())
    }

    async fn get_membership(
        &mut self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Option<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships m WHERE m.org_id = ? AND m.user_id = ?"
        );
        let row: Option<MembershipRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(org_id(org))
            .bind(user_id(user))
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        row.map(membership_of).transpose()
    }

    async fn update_membership(&mut self, membership: &Membership) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE memberships SET status = ?, department_id = ?, created_at = ?, updated_at = ?
             WHERE org_id = ? AND user_id = ?",
        )
        .bind(variant(&membership.status)?)
        .bind(membership.department.map(|d| uid(d.as_uuid())))
        .bind(ts(membership.created_at))
        .bind(ts(membership.updated_at))
        .bind(org_id(membership.org))
        .bind(user_id(membership.user))
        .execute(self.conn())
        .await
        .map_err(db_ref)?;
        require_row(done.rows_affected())
    }

    async fn delete_membership(&mut self, org: OrgId, user: UserId) -> StoreResult<()> {
        // The user's group and team memberships in `org` cascade.
        let done = sqlx::query("DELETE FROM memberships WHERE org_id = ? AND user_id = ?")
            .bind(org_id(org))
            .bind(user_id(user))
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn list_memberships_of_user(&mut self, user: UserId) -> StoreResult<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships m WHERE m.user_id = ? ORDER BY m.org_id"
        );
        let rows: Vec<MembershipRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(user_id(user))
            .fetch_all(self.conn())
            .await
            .map_err(db)?;
        rows.into_iter().map(membership_of).collect()
    }

    async fn insert_department(&mut self, department: &Department) -> StoreResult<()> {
        let id = uid(department.id.as_uuid());
        self.insert_named(
            "departments",
            id,
            department.org,
            department.name.key(),
            department,
        )
        .await
    }

    async fn list_departments(&mut self, org: OrgId) -> StoreResult<Vec<Department>> {
        self.list_named("departments", org).await
    }

    async fn get_department(&mut self, id: DepartmentId) -> StoreResult<Option<Department>> {
        self.get_named("departments", uid(id.as_uuid())).await
    }

    async fn update_department(&mut self, department: &Department) -> StoreResult<()> {
        // Matched on the organization too: a department never moves.
        let done = sqlx::query(
            "UPDATE departments SET name_key = ?, data = ? WHERE id = ? AND org_id = ?",
        )
        .bind(department.name.key())
        .bind(to_json(department)?)
        .bind(uid(department.id.as_uuid()))
        .bind(org_id(department.org))
        .execute(self.conn())
        .await
        .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn list_department_members(&mut self, id: DepartmentId) -> StoreResult<Vec<UserId>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM memberships WHERE department_id = ? ORDER BY user_id",
        )
        .bind(uid(id.as_uuid()))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter()
            .map(|u| parse_uid(u, "memberships.user_id").map(UserId::from_uuid))
            .collect()
    }

    async fn delete_department(&mut self, id: DepartmentId) -> StoreResult<()> {
        // Memberships filed under it fall back to no department (SET NULL).
        self.delete_named("departments", uid(id.as_uuid())).await
    }
}

impl WorkspaceRepository for SqliteTx {
    async fn insert_workspace(&mut self, workspace: &Workspace) -> StoreResult<()> {
        let id = uid(workspace.id.as_uuid());
        self.insert_named(
            "workspaces",
            id,
            workspace.org,
            workspace.name.key(),
            workspace,
        )
        .await
    }

    async fn get_workspace(&mut self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        self.get_named("workspaces", uid(id.as_uuid())).await
    }

    async fn list_workspaces(&mut self, org: OrgId) -> StoreResult<Vec<Workspace>> {
        self.list_named("workspaces", org).await
    }

    async fn update_workspace(&mut self, workspace: &Workspace) -> StoreResult<()> {
        let id = uid(workspace.id.as_uuid());
        self.update_named(
            "workspaces",
            id,
            workspace.org,
            workspace.name.key(),
            workspace,
        )
        .await
    }

    async fn delete_workspace(&mut self, id: WorkspaceId) -> StoreResult<()> {
        self.delete_named("workspaces", uid(id.as_uuid())).await
    }
}

impl GroupRepository for SqliteTx {
    async fn insert_group(&mut self, group: &Group) -> StoreResult<()> {
        let id = uid(group.id.as_uuid());
        self.insert_named("groups", id, group.org, group.name.key(), group)
            .await
    }

    async fn get_group(&mut self, id: GroupId) -> StoreResult<Option<Group>> {
        self.get_named("groups", uid(id.as_uuid())).await
    }

    async fn list_groups(&mut self, org: OrgId) -> StoreResult<Vec<Group>> {
        self.list_named("groups", org).await
    }

    async fn update_group(&mut self, group: &Group) -> StoreResult<()> {
        let id = uid(group.id.as_uuid());
        self.update_named("groups", id, group.org, group.name.key(), group)
            .await
    }

    async fn delete_group(&mut self, id: GroupId) -> StoreResult<()> {
        self.delete_named("groups", uid(id.as_uuid())).await
    }

    async fn insert_group_member(&mut self, group: GroupId, user: UserId) -> StoreResult<()> {
        // No group: no row inserted. Not a member of the group's
        // organization: the foreign key to memberships fails. Both NotFound.
        let done = sqlx::query(
            "INSERT INTO group_members (group_id, org_id, user_id)
             SELECT id, org_id, ? FROM groups WHERE id = ?",
        )
        .bind(user_id(user))
        .bind(uid(group.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db_ref)?;
        require_row(done.rows_affected())
    }

    async fn delete_group_member(&mut self, group: GroupId, user: UserId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = ? AND user_id = ?")
            .bind(uid(group.as_uuid()))
            .bind(user_id(user))
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn list_group_members(&mut self, group: GroupId) -> StoreResult<Vec<UserId>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id",
        )
        .bind(uid(group.as_uuid()))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter()
            .map(|u| parse_uid(u, "group_members.user_id").map(UserId::from_uuid))
            .collect()
    }

    async fn list_groups_of_user(&mut self, org: OrgId, user: UserId) -> StoreResult<Vec<GroupId>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT group_id FROM group_members WHERE org_id = ? AND user_id = ? ORDER BY group_id",
        )
        .bind(org_id(org))
        .bind(user_id(user))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter()
            .map(|g| parse_uid(g, "group_members.group_id").map(GroupId::from_uuid))
            .collect()
    }
}

fn team_member_of((team, user, role): (String, String, String)) -> StoreResult<TeamMember> {
    Ok(TeamMember {
        team: TeamId::from_uuid(parse_uid(&team, "team_members.team_id")?),
        user: UserId::from_uuid(parse_uid(&user, "team_members.user_id")?),
        role: parse_variant::<TeamRole>(&role, "team_members.role")?,
    })
}

impl TeamRepository for SqliteTx {
    async fn insert_team(&mut self, team: &Team) -> StoreResult<()> {
        let id = uid(team.id.as_uuid());
        self.insert_named("teams", id, team.org, team.name.key(), team)
            .await
    }

    async fn get_team(&mut self, id: TeamId) -> StoreResult<Option<Team>> {
        self.get_named("teams", uid(id.as_uuid())).await
    }

    async fn list_teams(&mut self, org: OrgId) -> StoreResult<Vec<Team>> {
        self.list_named("teams", org).await
    }

    async fn update_team(&mut self, team: &Team) -> StoreResult<()> {
        let id = uid(team.id.as_uuid());
        self.update_named("teams", id, team.org, team.name.key(), team)
            .await
    }

    async fn delete_team(&mut self, id: TeamId) -> StoreResult<()> {
        self.delete_named("teams", uid(id.as_uuid())).await
    }

    async fn insert_team_member(&mut self, member: &TeamMember) -> StoreResult<()> {
        let done = sqlx::query(
            "INSERT INTO team_members (team_id, org_id, user_id, role)
             SELECT id, org_id, ?, ? FROM teams WHERE id = ?",
        )
        .bind(user_id(member.user))
        .bind(variant(&member.role)?)
        .bind(uid(member.team.as_uuid()))
        .execute(self.conn())
        .await
        .map_err(db_ref)?;
        require_row(done.rows_affected())
    }

    async fn update_team_member_role(
        &mut self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
    ) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE team_members SET role = ? WHERE team_id = ? AND user_id = ?")
                .bind(variant(&role)?)
                .bind(uid(team.as_uuid()))
                .bind(user_id(user))
                .execute(self.conn())
                .await
                .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn delete_team_member(&mut self, team: TeamId, user: UserId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM team_members WHERE team_id = ? AND user_id = ?")
            .bind(uid(team.as_uuid()))
            .bind(user_id(user))
            .execute(self.conn())
            .await
            .map_err(db)?;
        require_row(done.rows_affected())
    }

    async fn list_team_members(&mut self, team: TeamId) -> StoreResult<Vec<TeamMember>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT team_id, user_id, role FROM team_members WHERE team_id = ? ORDER BY user_id",
        )
        .bind(uid(team.as_uuid()))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.into_iter().map(team_member_of).collect()
    }

    async fn list_teams_of_user(
        &mut self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Vec<TeamMember>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT team_id, user_id, role FROM team_members
             WHERE org_id = ? AND user_id = ? ORDER BY team_id",
        )
        .bind(org_id(org))
        .bind(user_id(user))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.into_iter().map(team_member_of).collect()
    }
}
