//! The read behind a full build of an organization's index: four
//! statements, whatever the organization's size. The many-row lists come
//! grouped into arrays (the grantees of one role at one scope, the members
//! of one group), which decode far faster than a row each.

use iamkit::{AccessModel, AccessModelRepository};
use iamkit_identity::{GroupId, OrgId, RoleId, TeamId, UserId, WorkspaceId};
use iamkit_rbac::{Collective, CollectiveMember, CustomRole, Grant, Grantee, Scope};
use sqlx::types::Json;
use uuid::Uuid;

use crate::PgTx;
use crate::codec::{Result, corrupt, db};

/// The members of `$1` whose membership and account are both ACTIVE, as
/// one array. The accounts that are not ACTIVE come from their partial
/// index (`users_not_active`, few), hashed once, rather than from every
/// member's account row.
const ACTIVE_MEMBERS: &str = "SELECT COALESCE(array_agg(m.user_id), '{}') FROM memberships m
     WHERE m.org_id = $1 AND m.status = 'ACTIVE'
       AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id AND u.status <> 'ACTIVE')";

impl PgTx {
    /// The members of `org` whose membership and account are both ACTIVE.
    pub(crate) async fn active_members(&mut self, org: OrgId) -> Result<Vec<UserId>> {
        let members: Vec<Uuid> = sqlx::query_scalar(ACTIVE_MEMBERS)
            .bind(org.as_uuid())
            .fetch_one(self.conn())
            .await
            .map_err(db)?;
        Ok(members.into_iter().map(UserId::from_uuid).collect())
    }
}

impl AccessModelRepository for PgTx {
    async fn load_access_model(&mut self, org: OrgId) -> Result<AccessModel> {
        let id = org.as_uuid();
        let custom_roles: Vec<Json<CustomRole>> =
            sqlx::query_scalar("SELECT data FROM custom_roles WHERE org_id = $1")
                .bind(id)
                .fetch_all(self.conn())
                .await
                .map_err(db)?;
        // One row per (kind, workspace, role): the grantees holding it.
        let grant_groups: Vec<(String, Option<Uuid>, Uuid, Vec<Uuid>)> = sqlx::query_as(
            "SELECT grantee_kind, workspace_id, role_id, array_agg(grantee_id) FROM grants
             WHERE org_id = $1 GROUP BY grantee_kind, workspace_id, role_id",
        )
        .bind(id)
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        // One row per group (`true`) or team (`false`): its members.
        let collectives: Vec<(bool, Uuid, Vec<Uuid>)> = sqlx::query_as(
            "SELECT true, group_id, array_agg(user_id) FROM group_members
             WHERE org_id = $1 GROUP BY group_id
             UNION ALL
             SELECT false, team_id, array_agg(user_id) FROM team_members
             WHERE org_id = $1 GROUP BY team_id",
        )
        .bind(id)
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        let active_members = self.active_members(org).await?;

        let mut grants = Vec::new();
        for (kind, workspace, role, grantees) in grant_groups {
            let scope = match workspace {
                None => Scope::Organization(org),
                Some(ws) => Scope::Workspace(org, WorkspaceId::from_uuid(ws)),
            };
            let role = RoleId::from_uuid(role);
            let grantee: fn(Uuid) -> Grantee = match kind.as_str() {
                "user" => |id| Grantee::User(UserId::from_uuid(id)),
                "group" => |id| Grantee::Group(GroupId::from_uuid(id)),
                "team" => |id| Grantee::Team(TeamId::from_uuid(id)),
                _ => return Err(corrupt("grants.grantee_kind")),
            };
            grants.extend(grantees.into_iter().map(|id| Grant {
                grantee: grantee(id),
                scope,
                role,
            }));
        }
        let mut collective_members = Vec::new();
        for (group, collective, users) in collectives {
            let collective = if group {
                Collective::Group(GroupId::from_uuid(collective))
            } else {
                Collective::Team(TeamId::from_uuid(collective))
            };
            collective_members.extend(users.into_iter().map(|user| CollectiveMember {
                collective,
                org,
                user: UserId::from_uuid(user),
            }));
        }
        Ok(AccessModel {
            custom_roles: custom_roles.into_iter().map(|Json(role)| role).collect(),
            grants,
            collective_members,
            active_members,
        })
    }
}
