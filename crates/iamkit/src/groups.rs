//! Groups and teams: sets of members that receive roles as one. Adding or
//! removing a member grants or revokes the collective's roles, so every
//! membership change passes the escalation guard (SECURITY.md 26) and the
//! last-Owner rule (SECURITY.md 27).

use iamkit_audit::{Action, MembershipChange, SettingName, Target};
use iamkit_identity::{
    Group, GroupId, Name, OrgId, RoleId, Team, TeamId, TeamMember, TeamRole, UserId,
};
use iamkit_rbac::{Change, Collective, CollectiveMember, Grantee, Scope};

use crate::actor::Actor;
use crate::cache::Work;
use crate::error::{Conflict, Error, Result};
use crate::iam::{Flow, Iam, os_rng, rbac_denial};
use crate::store::Store;
use crate::store::repositories::*;

const GROUPS: &str = "groups.manage";
const TEAMS: &str = "teams.manage";

fn permission_for(collective: Collective) -> &'static str {
    match collective {
        Collective::Group(_) => GROUPS,
        Collective::Team(_) => TEAMS,
    }
}

fn target_of(collective: Collective) -> Target {
    match collective {
        Collective::Group(g) => Target::Group(g),
        Collective::Team(t) => Target::Team(t),
    }
}

fn setting(name: &str) -> Result<SettingName> {
    SettingName::new(name).map_err(|_| Error::Internal)
}

impl<S: Store> Iam<S> {
    /// The team role `user` holds in `team`, if a member.
    async fn team_role_of(
        &self,
        tx: &mut Work<S>,
        team: TeamId,
        user: UserId,
    ) -> Result<Option<TeamRole>> {
        Ok(tx
            .list_team_members(team)
            .await?
            .into_iter()
            .find(|m| m.user == user)
            .map(|m| m.role))
    }

    /// Whether `collective` exists in `org`; another org's looks absent.
    async fn collective_in(&self, tx: &mut Work<S>, org: OrgId, c: Collective) -> Result<Name> {
        let found = match c {
            Collective::Group(g) => tx.get_group(g).await?.map(|g| (g.org, g.name)),
            Collective::Team(t) => tx.get_team(t).await?.map(|t| (t.org, t.name)),
        };
        match found {
            Some((o, name)) if o == org => Ok(name),
            _ => Err(Error::NotFound),
        }
    }

    /// Creates a group. Requires `groups.manage`; names are unique per org.
    pub async fn create_group(&self, actor: &Actor, org: OrgId, name: &str) -> Result<GroupId> {
        let id = GroupId::generate(self.now(), &mut os_rng());
        self.create_collective(actor, org, Collective::Group(id), name)
            .await?;
        Ok(id)
    }

    /// Creates a team. Requires `teams.manage`; names are unique per org.
    pub async fn create_team(&self, actor: &Actor, org: OrgId, name: &str) -> Result<TeamId> {
        let id = TeamId::generate(self.now(), &mut os_rng());
        self.create_collective(actor, org, Collective::Team(id), name)
            .await?;
        Ok(id)
    }

    /// Creates the group or team `collective` (its id freshly generated)
    /// named `name` in `org`: authorized, stored and audited in one
    /// transaction.
    async fn create_collective(
        &self,
        actor: &Actor,
        org: OrgId,
        collective: Collective,
        name: &str,
    ) -> Result<()> {
        let name = Name::parse(name).map_err(|e| e.for_field("name"))?;
        let now = self.now();
        let (permission, setting_name, target) = match collective {
            Collective::Group(id) => (GROUPS, "groups", Target::Group(id)),
            Collective::Team(id) => (TEAMS, "teams", Target::Team(id)),
        };
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            self.authorize(
                &mut tx,
                actor,
                permission,
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            let stored = match collective {
                Collective::Group(id) => {
                    let group = Group {
                        id,
                        org,
                        name,
                        created_at: now,
                    };
                    tx.insert_group(&group).await
                }
                Collective::Team(id) => {
                    let team = Team {
                        id,
                        org,
                        name,
                        created_at: now,
                    };
                    tx.insert_team(&team).await
                }
            };
            stored.map_err(Error::from_store)?;
            let action = Action::SettingsChanged {
                setting: setting(setting_name)?,
            };
            self.audit(&mut tx, org, actor, action, target).await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Renames a group or team. Requires `groups.manage` / `teams.manage`.
    pub async fn rename_collective(
        &self,
        actor: &Actor,
        org: OrgId,
        collective: Collective,
        name: &str,
    ) -> Result<()> {
        let name = Name::parse(name).map_err(|e| e.for_field("name"))?;
        let permission = permission_for(collective);
        let target = target_of(collective);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            self.authorize(&mut tx, actor, permission, Scope::Organization(org), target)
                .await?;
            self.collective_in(&mut tx, org, collective).await?;
            match collective {
                Collective::Group(g) => {
                    let mut group = tx.get_group(g).await?.ok_or(Error::NotFound)?;
                    group.name = name;
                    tx.update_group(&group).await.map_err(Error::from_store)?;
                }
                Collective::Team(t) => {
                    let mut team = tx.get_team(t).await?.ok_or(Error::NotFound)?;
                    team.name = name;
                    tx.update_team(&team).await.map_err(Error::from_store)?;
                }
            }
            let action = Action::SettingsChanged {
                setting: setting(if permission == GROUPS {
                    "groups"
                } else {
                    "teams"
                })?,
            };
            self.audit(&mut tx, org, actor, action, target).await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Deletes a group or team with its grants and memberships. Deleting
    /// revokes its roles from every member, so the actor must be allowed
    /// to revoke them, and it may not remove the last active Owner.
    pub async fn delete_collective(
        &self,
        actor: &Actor,
        org: OrgId,
        collective: Collective,
    ) -> Result<()> {
        let permission = permission_for(collective);
        let target = target_of(collective);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let mut authz = self
                .authorize(&mut tx, actor, permission, Scope::Organization(org), target)
                .await?;
            self.collective_in(&mut tx, org, collective).await?;
            authz
                .ensure_can_change_membership(collective)
                .map_err(|e| rbac_denial(org, target, permission, e))?;
            authz
                .apply(Change::DeleteCollective(collective))
                .map_err(|e| rbac_denial(org, target, permission, e))?;
            for grant in tx.list_grants_of(Grantee::from(collective)).await? {
                tx.revoke_grant(grant.grantee, grant.scope).await?;
            }
            match collective {
                Collective::Group(g) => tx.delete_group(g).await?,
                Collective::Team(t) => tx.delete_team(t).await?,
            }
            let action = Action::SettingsChanged {
                setting: setting(if permission == GROUPS {
                    "groups"
                } else {
                    "teams"
                })?,
            };
            self.audit(&mut tx, org, actor, action, target).await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Adds a member to a group, or to a team with a team role. Counts as
    /// granting every role the group or team holds (SECURITY.md 26).
    pub async fn add_member(
        &self,
        actor: &Actor,
        org: OrgId,
        collective: Collective,
        user: UserId,
        team_role: TeamRole,
    ) -> Result<()> {
        self.change_member(actor, org, collective, user, Some(team_role))
            .await
    }

    /// Removes a member from a group or team. Counts as revoking its roles;
    /// refused if it would remove the last active Owner.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        org: OrgId,
        collective: Collective,
        user: UserId,
    ) -> Result<()> {
        self.change_member(actor, org, collective, user, None).await
    }

    async fn change_member(
        &self,
        actor: &Actor,
        org: OrgId,
        collective: Collective,
        user: UserId,
        add: Option<TeamRole>,
    ) -> Result<()> {
        let permission = permission_for(collective);
        let target = Target::User(user);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let mut authz = self
                .authorize(&mut tx, actor, permission, Scope::Organization(org), target)
                .await?;
            self.collective_in(&mut tx, org, collective).await?;
            self.member(&mut tx, org, user).await?;
            authz
                .ensure_can_change_membership(collective)
                .map_err(|e| rbac_denial(org, target, permission, e))?;
            // The no-op rule (crates/iamkit/README.md): adding a member
            // (with the team role they hold) or removing a non-member
            // changes nothing and is not audited.
            let member_now = authz.index()?.collectives_of(user).contains(&collective);
            match (collective, add, member_now) {
                (_, None, false) | (Collective::Group(_), Some(_), true) => return Ok(()),
                (Collective::Team(team), Some(role), true) => {
                    return if self.team_role_of(&mut tx, team, user).await? == Some(role) {
                        Ok(())
                    } else {
                        Err(Error::Conflict(Conflict::AlreadyMember).into())
                    };
                }
                _ => {}
            }
            let member = CollectiveMember {
                collective,
                org,
                user,
            };
            let change = if add.is_some() {
                Change::AddMember(member)
            } else {
                Change::RemoveMember(member)
            };
            authz
                .apply(change)
                .map_err(|e| rbac_denial(org, target, permission, e))?;
            let change = match (collective, add) {
                (Collective::Group(g), Some(_)) => {
                    tx.insert_group_member(g, user)
                        .await
                        .map_err(Error::from_store)?;
                    MembershipChange::Added
                }
                (Collective::Group(g), None) => {
                    tx.delete_group_member(g, user)
                        .await
                        .map_err(|_| Error::NotFound)?;
                    MembershipChange::Removed
                }
                (Collective::Team(t), Some(role)) => {
                    tx.insert_team_member(&TeamMember {
                        team: t,
                        user,
                        role,
                    })
                    .await
                    .map_err(Error::from_store)?;
                    MembershipChange::Added
                }
                (Collective::Team(t), None) => {
                    tx.delete_team_member(t, user)
                        .await
                        .map_err(|_| Error::NotFound)?;
                    MembershipChange::Removed
                }
            };
            let action = match collective {
                Collective::Group(group) => Action::GroupMembershipChanged { group, change },
                Collective::Team(team) => Action::TeamMembershipChanged { team, change },
            };
            self.audit(&mut tx, org, actor, action, target).await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Changes a team member's team role (Member or Lead). Requires
    /// `teams.manage`.
    pub async fn set_team_role(
        &self,
        actor: &Actor,
        org: OrgId,
        team: TeamId,
        user: UserId,
        role: TeamRole,
    ) -> Result<()> {
        let target = Target::User(user);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            self.authorize(&mut tx, actor, TEAMS, Scope::Organization(org), target)
                .await?;
            self.collective_in(&mut tx, org, Collective::Team(team))
                .await?;
            if self.team_role_of(&mut tx, team, user).await? == Some(role) {
                return Ok(());
            }
            tx.update_team_member_role(team, user, role)
                .await
                .map_err(|_| Error::NotFound)?;
            let action = Action::TeamMembershipChanged {
                team,
                change: MembershipChange::TeamRoleChanged { role },
            };
            self.audit(&mut tx, org, actor, action, target).await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Grants (`Some`) or removes (`None`) a group's or team's role at
    /// `scope`: every member gains or loses it at once. Requires
    /// `roles.assign` and passes the escalation and last-Owner guards.
    pub async fn set_collective_role(
        &self,
        actor: &Actor,
        collective: Collective,
        scope: Scope,
        role: Option<RoleId>,
    ) -> Result<Option<RoleId>> {
        const ASSIGN: &str = "roles.assign";
        let org = scope.org();
        let target = target_of(collective);
        let mut tx = self.begin().await?;
        let outcome: Flow<Option<RoleId>> = async {
            let mut authz = self
                .authorize(&mut tx, actor, ASSIGN, scope, target)
                .await?;
            self.collective_in(&mut tx, org, collective).await?;
            let (from, action) = self
                .set_grant_in(
                    &mut tx,
                    &mut authz,
                    Grantee::from(collective),
                    scope,
                    role,
                    target,
                    ASSIGN,
                )
                .await?;
            if let Some(action) = action {
                self.audit(&mut tx, org, actor, action, target).await?;
            }
            Ok(from)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
