//! The read behind a full build of an organization's index: four
//! statements, whatever the organization's size, each decoded row by row
//! as it arrives.

use iamkit::{AccessModel, AccessModelRepository};
use iamkit_identity::{GroupId, OrgId, RoleId, TeamId, UserId, WorkspaceId};
use iamkit_rbac::{Collective, CollectiveMember, CustomRole, Grant, Grantee, Scope};
use sqlx::types::Json;
use uuid::Uuid;

use crate::PgTx;
use crate::codec::{Result, corrupt, db};

/// The members of `$1` whose membership and account are both ACTIVE, as
/// one array. The accounts that are not ACTIVE come from their partial
/// index (`users_not_active`), so no member's account row is read.
pub(crate) const ACTIVE_MEMBERS: &str = "SELECT COALESCE(array_agg(m.user_id), '{}')
     FROM memberships m
     WHERE m.org_id = $1 AND m.status = 'ACTIVE'
       AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id AND u.status <> 'ACTIVE')";

type GrantRow = (String, Uuid, Option<Uuid>, Uuid);

fn grant_of(org: OrgId, (kind, id, workspace, role): GrantRow) -> Result<Grant> {
    let grantee = match kind.as_str() {
        "user" => Grantee::User(UserId::from_uuid(id)),
        "group" => Grantee::Group(GroupId::from_uuid(id)),
        "team" => Grantee::Team(TeamId::from_uuid(id)),
        _ => return Err(corrupt("grants.grantee_kind")),
    };
    let scope = match workspace {
        None => Scope::Organization(org),
        Some(ws) => Scope::Workspace(org, WorkspaceId::from_uuid(ws)),
    };
    Ok(Grant {
        grantee,
        scope,
        role: RoleId::from_uuid(role),
    })
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
        let grants: Vec<GrantRow> = sqlx::query_as(
            "SELECT grantee_kind, grantee_id, workspace_id, role_id FROM grants WHERE org_id = $1",
        )
        .bind(id)
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        // `true` for a group, `false` for a team.
        let collective_members: Vec<(bool, Uuid, Uuid)> = sqlx::query_as(
            "SELECT true, group_id, user_id FROM group_members WHERE org_id = $1
             UNION ALL
             SELECT false, team_id, user_id FROM team_members WHERE org_id = $1",
        )
        .bind(id)
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        let active_members: Vec<Uuid> = sqlx::query_scalar(ACTIVE_MEMBERS)
            .bind(id)
            .fetch_one(self.conn())
            .await
            .map_err(db)?;
        Ok(AccessModel {
            custom_roles: custom_roles.into_iter().map(|Json(role)| role).collect(),
            grants: grants
                .into_iter()
                .map(|row| grant_of(org, row))
                .collect::<Result<_>>()?,
            collective_members: collective_members
                .into_iter()
                .map(|(group, collective, user)| CollectiveMember {
                    collective: if group {
                        Collective::Group(GroupId::from_uuid(collective))
                    } else {
                        Collective::Team(TeamId::from_uuid(collective))
                    },
                    org,
                    user: UserId::from_uuid(user),
                })
                .collect(),
            active_members: active_members.into_iter().map(UserId::from_uuid).collect(),
        })
    }
}
