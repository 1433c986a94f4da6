//! The read behind a full build of an organization's index: four
//! statements, whatever the organization's size.
//!
//! sqlx hands SQLite's rows over from its worker thread one at a time, which
//! costs more than SQLite takes to find them; so the many-row lists come
//! grouped, each group's ids joined by `group_concat` into one text (ids
//! are hyphenated UUIDs, which hold no comma).

use iamkit::{AccessModel, AccessModelRepository};
use iamkit_identity::{GroupId, OrgId, RoleId, TeamId, UserId, WorkspaceId};
use iamkit_rbac::{Collective, CollectiveMember, Grant, Grantee, Scope};
use uuid::Uuid;

use crate::SqliteTx;
use crate::codec::{Result, corrupt, db, from_json, parse_uid, uid};

/// The ids of a `group_concat` of ids (none for NULL: an empty group).
fn ids(joined: Option<&str>, column: &'static str) -> impl Iterator<Item = Result<Uuid>> {
    joined
        .unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .map(move |id| parse_uid(id, column))
}

impl SqliteTx {
    /// The members of `org` whose membership and account are both ACTIVE.
    /// The accounts that are not ACTIVE come from their partial index
    /// (`users_not_active`), so no member's document is parsed.
    pub(crate) async fn active_members(&mut self, org: OrgId) -> Result<Vec<UserId>> {
        let joined: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(m.user_id) FROM memberships m
             WHERE m.org_id = ?1 AND m.status = 'ACTIVE'
               AND m.user_id NOT IN (SELECT u.id FROM users u WHERE u.status <> 'ACTIVE')",
        )
        .bind(uid(org.as_uuid()))
        .fetch_one(self.conn())
        .await
        .map_err(db)?;
        ids(joined.as_deref(), "memberships.user_id")
            .map(|id| id.map(UserId::from_uuid))
            .collect()
    }
}

impl AccessModelRepository for SqliteTx {
    async fn load_access_model(&mut self, org: OrgId) -> Result<AccessModel> {
        let id = uid(org.as_uuid());
        let custom_roles: Vec<String> =
            sqlx::query_scalar("SELECT data FROM custom_roles WHERE org_id = ?")
                .bind(&id)
                .fetch_all(self.conn())
                .await
                .map_err(db)?;
        // One row per (kind, workspace, role): the grantees holding it.
        let grant_groups: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT grantee_kind, workspace_id, role_id, group_concat(grantee_id) FROM grants
             WHERE org_id = ? GROUP BY grantee_kind, workspace_id, role_id",
        )
        .bind(&id)
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        // One row per group or team: its members.
        let collectives: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT 'group', group_id, group_concat(user_id) FROM group_members
             WHERE org_id = ?1 GROUP BY group_id
             UNION ALL
             SELECT 'team', team_id, group_concat(user_id) FROM team_members
             WHERE org_id = ?1 GROUP BY team_id",
        )
        .bind(&id)
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        let active_members = self.active_members(org).await?;

        let mut grants = Vec::new();
        for (kind, workspace, role, grantees) in &grant_groups {
            let scope = if workspace.is_empty() {
                Scope::Organization(org)
            } else {
                Scope::Workspace(
                    org,
                    WorkspaceId::from_uuid(parse_uid(workspace, "grants.workspace_id")?),
                )
            };
            let role = RoleId::from_uuid(parse_uid(role, "grants.role_id")?);
            let grantee: fn(Uuid) -> Grantee = match kind.as_str() {
                "user" => |id| Grantee::User(UserId::from_uuid(id)),
                "group" => |id| Grantee::Group(GroupId::from_uuid(id)),
                "team" => |id| Grantee::Team(TeamId::from_uuid(id)),
                _ => return Err(corrupt("grants.grantee_kind")),
            };
            for id in ids(grantees.as_deref(), "grants.grantee_id") {
                grants.push(Grant {
                    grantee: grantee(id?),
                    scope,
                    role,
                });
            }
        }
        let mut collective_members = Vec::new();
        for (kind, collective, users) in &collectives {
            let (collective, column) = match kind.as_str() {
                "group" => (
                    Collective::Group(GroupId::from_uuid(parse_uid(
                        collective,
                        "group_members.group_id",
                    )?)),
                    "group_members.user_id",
                ),
                "team" => (
                    Collective::Team(TeamId::from_uuid(parse_uid(
                        collective,
                        "team_members.team_id",
                    )?)),
                    "team_members.user_id",
                ),
                _ => return Err(corrupt("collective kind")),
            };
            for user in ids(users.as_deref(), column) {
                collective_members.push(CollectiveMember {
                    collective,
                    org,
                    user: UserId::from_uuid(user?),
                });
            }
        }
        Ok(AccessModel {
            custom_roles: custom_roles
                .iter()
                .map(|data| from_json(data))
                .collect::<Result<_>>()?,
            grants,
            collective_members,
            active_members,
        })
    }
}
