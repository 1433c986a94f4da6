//! The read behind a full build of an organization's index: four
//! statements, whatever the organization's size.

use iamkit::{AccessModel, AccessModelRepository};
use iamkit_identity::{GroupId, OrgId, TeamId, UserId};
use iamkit_rbac::{Collective, CollectiveMember};

use crate::SqliteTx;
use crate::codec::{Result, corrupt, db, from_json, parse_uid, uid};
use crate::rbac::{GrantRow, grant_of};

/// The members of `?1` whose membership and account are both ACTIVE. The
/// accounts that are not ACTIVE come from their partial index
/// (`users_not_active`), so no member's document is parsed.
pub(crate) const ACTIVE_MEMBERS: &str = "SELECT m.user_id FROM memberships m
     WHERE m.org_id = ?1 AND m.status = 'ACTIVE'
       AND m.user_id NOT IN (SELECT u.id FROM users u WHERE u.status <> 'ACTIVE')";

impl AccessModelRepository for SqliteTx {
    async fn load_access_model(&mut self, org: OrgId) -> Result<AccessModel> {
        let id = uid(org.as_uuid());
        let custom_roles: Vec<String> =
            sqlx::query_scalar("SELECT data FROM custom_roles WHERE org_id = ?")
                .bind(&id)
                .fetch_all(self.conn())
                .await
                .map_err(db)?;
        let grants: Vec<GrantRow> = sqlx::query_as(
            "SELECT grantee_kind, grantee_id, org_id, workspace_id, role_id FROM grants
             WHERE org_id = ?",
        )
        .bind(&id)
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        let collective_members: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT 'group', group_id, user_id FROM group_members WHERE org_id = ?1
             UNION ALL
             SELECT 'team', team_id, user_id FROM team_members WHERE org_id = ?1",
        )
        .bind(&id)
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        let active_members: Vec<String> = sqlx::query_scalar(ACTIVE_MEMBERS)
            .bind(&id)
            .fetch_all(self.conn())
            .await
            .map_err(db)?;
        Ok(AccessModel {
            custom_roles: custom_roles
                .iter()
                .map(|data| from_json(data))
                .collect::<Result<_>>()?,
            grants: grants.into_iter().map(grant_of).collect::<Result<_>>()?,
            collective_members: collective_members
                .iter()
                .map(|(kind, collective, user)| {
                    let (collective, table) = match kind.as_str() {
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
                    Ok(CollectiveMember {
                        collective,
                        org,
                        user: UserId::from_uuid(parse_uid(user, table)?),
                    })
                })
                .collect::<Result<_>>()?,
            active_members: active_members
                .iter()
                .map(|user| Ok(UserId::from_uuid(parse_uid(user, "memberships.user_id")?)))
                .collect::<Result<_>>()?,
        })
    }
}
