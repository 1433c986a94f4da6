//! Identity repositories over copy-on-write maps.

use iamkit_identity::{
    Department, DepartmentId, DirectoryEntry, DirectoryQuery, Email, Group, GroupId,
    GroupRepository, Membership, Name, OrgId, Organization, OrganizationRepository, Slug,
    StoreResult, Team, TeamId, TeamMember, TeamRepository, TeamRole, User, UserId, UserRepository,
    Username, Workspace, WorkspaceId, WorkspaceRepository,
};
use iamkit_rbac::{Collective, CollectiveMember};
use iamkit_store_api::{Page, StoreError};
use imbl::{HashMap, OrdMap, OrdSet};
use uuid::Uuid;

use crate::MemoryTx;

/// Identity data plus the indexes that enforce its uniqueness rules.
#[derive(Clone, Default)]
pub(crate) struct IdentityState {
    users: HashMap<UserId, User>,
    usernames: HashMap<Username, UserId>,
    emails: HashMap<String, UserId>,
    orgs: HashMap<OrgId, Organization>,
    slugs: HashMap<Slug, OrgId>,
    memberships: OrdMap<(OrgId, UserId), Membership>,
    departments: HashMap<DepartmentId, Department>,
    workspaces: HashMap<WorkspaceId, Workspace>,
    groups: HashMap<GroupId, Group>,
    group_members: OrdSet<(GroupId, UserId)>,
    teams: HashMap<TeamId, Team>,
    team_members: OrdMap<(TeamId, UserId), TeamRole>,
}

const MIN_USER: UserId = UserId::from_uuid(Uuid::nil());
const MAX_USER: UserId = UserId::from_uuid(Uuid::max());

impl IdentityState {
    fn is_member(&self, org: OrgId, user: UserId) -> bool {
        self.memberships.contains_key(&(org, user))
    }

    fn require_org(&self, org: OrgId) -> StoreResult<()> {
        if self.orgs.contains_key(&org) {
            Ok(())
        } else {
            Err(StoreError::not_found())
        }
    }

    /// Checks the username and email of `user` against every *other* account.
    fn check_user_unique(&self, user: &User) -> StoreResult<()> {
        let taken_by_other = |owner: Option<&UserId>| owner.is_some_and(|id| *id != user.id);
        if taken_by_other(self.usernames.get(&user.username)) {
            return Err(StoreError::unique_violation("users_username"));
        }
        if taken_by_other(self.emails.get(user.email.normalized())) {
            return Err(StoreError::unique_violation("users_email"));
        }
        Ok(())
    }

    fn members_of_org(&self, org: OrgId) -> impl Iterator<Item = &Membership> {
        self.memberships
            .range((org, MIN_USER)..=(org, MAX_USER))
            .map(|(_, m)| m)
    }

    /// The organizations `user` is a member of, in any status.
    pub(crate) fn orgs_of_member(&self, user: UserId) -> impl Iterator<Item = OrgId> + '_ {
        self.memberships
            .keys()
            .filter(move |(_, u)| *u == user)
            .map(|(o, _)| *o)
    }

    /// The members of `org` active both in it and as accounts.
    pub(crate) fn active_members_of(&self, org: OrgId) -> impl Iterator<Item = UserId> + '_ {
        self.members_of_org(org)
            .filter(|m| m.status == iamkit_identity::UserStatus::Active)
            .filter(|m| self.users.get(&m.user).is_some_and(User::is_active))
            .map(|m| m.user)
    }

    /// One entry per member of each group and team of `org`.
    pub(crate) fn collective_members_of(
        &self,
        org: OrgId,
    ) -> impl Iterator<Item = CollectiveMember> + '_ {
        let in_groups = self
            .group_members
            .iter()
            .filter(move |(g, _)| self.groups.get(g).is_some_and(|g| g.org == org))
            .map(move |(g, user)| CollectiveMember {
                collective: Collective::Group(*g),
                org,
                user: *user,
            });
        let in_teams = self
            .team_members
            .keys()
            .filter(move |(t, _)| self.teams.get(t).is_some_and(|t| t.org == org))
            .map(move |(t, user)| CollectiveMember {
                collective: Collective::Team(*t),
                org,
                user: *user,
            });
        in_groups.chain(in_teams)
    }

    fn remove_org_relations_of(&mut self, org: OrgId, user: UserId) {
        let groups = &self.groups;
        remove_from_set(&mut self.group_members, |(g, u)| {
            *u == user && groups.get(g).is_some_and(|g| g.org == org)
        });
        let teams = &self.teams;
        remove_from_map(&mut self.team_members, |(t, u)| {
            *u == user && teams.get(t).is_some_and(|t| t.org == org)
        });
    }
}

/// Removes the entries whose key matches `doomed`.
fn remove_from_map<K: Ord + Clone, V: Clone>(map: &mut OrdMap<K, V>, doomed: impl Fn(&K) -> bool) {
    let keys: Vec<K> = map.keys().filter(|k| doomed(k)).cloned().collect();
    for key in keys {
        map.remove(&key);
    }
}

/// Removes the elements that match `doomed`.
fn remove_from_set<A: Ord + Clone>(set: &mut OrdSet<A>, doomed: impl Fn(&A) -> bool) {
    let elements: Vec<A> = set.iter().filter(|a| doomed(a)).cloned().collect();
    for element in elements {
        set.remove(&element);
    }
}

/// Whether another item of `org` (not `except`) already has `name`'s key.
fn name_taken<'a, Id: PartialEq + 'a>(
    items: impl Iterator<Item = (&'a Id, OrgId, &'a Name)>,
    org: OrgId,
    name: &Name,
    except: &Id,
) -> bool {
    let key = name.key();
    items
        .filter(|(id, o, _)| *o == org && *id != except)
        .any(|(_, _, n)| n.key() == key)
}

impl UserRepository for MemoryTx {
    async fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        let s = &mut self.state.identity;
        if s.users.contains_key(&user.id) {
            return Err(StoreError::unique_violation("users_pkey"));
        }
        s.check_user_unique(user)?;
        s.usernames.insert(user.username.clone(), user.id);
        s.emails.insert(user.email.normalized().to_owned(), user.id);
        s.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn get_user(&mut self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.state.identity.users.get(&id).cloned())
    }

    async fn find_user_by_username(&mut self, username: &Username) -> StoreResult<Option<User>> {
        let s = &self.state.identity;
        Ok(s.usernames
            .get(username)
            .and_then(|id| s.users.get(id))
            .cloned())
    }

    async fn find_user_by_email(&mut self, email: &Email) -> StoreResult<Option<User>> {
        let s = &self.state.identity;
        Ok(s.emails
            .get(email.normalized())
            .and_then(|id| s.users.get(id))
            .cloned())
    }

    async fn update_user(&mut self, user: &User) -> StoreResult<()> {
        let s = &mut self.state.identity;
        let old = s
            .users
            .get(&user.id)
            .cloned()
            .ok_or_else(StoreError::not_found)?;
        s.check_user_unique(user)?;
        s.usernames.remove(&old.username);
        s.emails.remove(old.email.normalized());
        s.usernames.insert(user.username.clone(), user.id);
        s.emails.insert(user.email.normalized().to_owned(), user.id);
        s.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn delete_user(&mut self, id: UserId) -> StoreResult<()> {
        let s = &mut self.state.identity;
        let old = s.users.remove(&id).ok_or_else(StoreError::not_found)?;
        s.usernames.remove(&old.username);
        s.emails.remove(old.email.normalized());
        remove_from_map(&mut s.memberships, |(_, u)| *u == id);
        remove_from_set(&mut s.group_members, |(_, u)| *u == id);
        remove_from_map(&mut s.team_members, |(_, u)| *u == id);
        Ok(())
    }

    async fn list_directory(
        &mut self,
        org: OrgId,
        query: &DirectoryQuery,
    ) -> StoreResult<Page<DirectoryEntry>> {
        let s = &self.state.identity;
        let matching = s
            .members_of_org(org)
            .filter(|m| {
                query
                    .group()
                    .is_none_or(|g| s.group_members.contains(&(g, m.user)))
            })
            .filter(|m| {
                query
                    .team()
                    .is_none_or(|t| s.team_members.contains_key(&(t, m.user)))
            })
            .filter_map(|m| {
                let user = s.users.get(&m.user)?.clone();
                Some(DirectoryEntry {
                    user,
                    membership: m.clone(),
                })
            })
            .filter(|entry| query.matches(entry))
            .collect();
        Ok(query.paginate(matching))
    }
}

impl OrganizationRepository for MemoryTx {
    async fn insert_organization(&mut self, org: &Organization) -> StoreResult<()> {
        let s = &mut self.state.identity;
        if s.orgs.contains_key(&org.id) {
            return Err(StoreError::unique_violation("organizations_pkey"));
        }
        if s.slugs.contains_key(&org.slug) {
            return Err(StoreError::unique_violation("organizations_slug"));
        }
        s.slugs.insert(org.slug.clone(), org.id);
        s.orgs.insert(org.id, org.clone());
        Ok(())
    }

    async fn get_organization(&mut self, id: OrgId) -> StoreResult<Option<Organization>> {
        Ok(self.state.identity.orgs.get(&id).cloned())
    }

    async fn find_organization_by_slug(
        &mut self,
        slug: &Slug,
    ) -> StoreResult<Option<Organization>> {
        let s = &self.state.identity;
        Ok(s.slugs.get(slug).and_then(|id| s.orgs.get(id)).cloned())
    }

    async fn update_organization(&mut self, org: &Organization) -> StoreResult<()> {
        let s = &mut self.state.identity;
        let old = s
            .orgs
            .get(&org.id)
            .cloned()
            .ok_or_else(StoreError::not_found)?;
        if s.slugs.get(&org.slug).is_some_and(|id| *id != org.id) {
            return Err(StoreError::unique_violation("organizations_slug"));
        }
        s.slugs.remove(&old.slug);
        s.slugs.insert(org.slug.clone(), org.id);
        s.orgs.insert(org.id, org.clone());
        Ok(())
    }

    async fn insert_membership(&mut self, membership: &Membership) -> StoreResult<()> {
        let s = &mut self.state.identity;
        s.require_org(membership.org)?;
        if !s.users.contains_key(&membership.user) {
            return Err(StoreError::not_found());
        }
        if s.is_member(membership.org, membership.user) {
            return Err(StoreError::unique_violation("memberships_pkey"));
        }
        s.memberships
            .insert((membership.org, membership.user), membership.clone());
        Ok(())
    }

    async fn get_membership(
        &mut self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Option<Membership>> {
        Ok(self.state.identity.memberships.get(&(org, user)).cloned())
    }

    async fn update_membership(&mut self, membership: &Membership) -> StoreResult<()> {
        let s = &mut self.state.identity;
        let key = (membership.org, membership.user);
        if !s.memberships.contains_key(&key) {
            return Err(StoreError::not_found());
        }
        s.memberships.insert(key, membership.clone());
        Ok(())
    }

    async fn delete_membership(&mut self, org: OrgId, user: UserId) -> StoreResult<()> {
        let s = &mut self.state.identity;
        s.memberships
            .remove(&(org, user))
            .ok_or_else(StoreError::not_found)?;
        s.remove_org_relations_of(org, user);
        Ok(())
    }

    async fn list_memberships_of_user(&mut self, user: UserId) -> StoreResult<Vec<Membership>> {
        Ok(self
            .state
            .identity
            .memberships
            .values()
            .filter(|m| m.user == user)
            .cloned()
            .collect())
    }

    async fn insert_department(&mut self, department: &Department) -> StoreResult<()> {
        let s = &mut self.state.identity;
        s.require_org(department.org)?;
        if s.departments.contains_key(&department.id) {
            return Err(StoreError::unique_violation("departments_pkey"));
        }
        let items = s.departments.values().map(|d| (&d.id, d.org, &d.name));
        if name_taken(items, department.org, &department.name, &department.id) {
            return Err(StoreError::unique_violation("departments_name"));
        }
        s.departments.insert(department.id, department.clone());
        Ok(())
    }

    async fn list_departments(&mut self, org: OrgId) -> StoreResult<Vec<Department>> {
        let mut list: Vec<Department> = self
            .state
            .identity
            .departments
            .values()
            .filter(|d| d.org == org)
            .cloned()
            .collect();
        list.sort_by_cached_key(|d| (d.name.key(), d.id));
        Ok(list)
    }

    async fn get_department(&mut self, id: DepartmentId) -> StoreResult<Option<Department>> {
        Ok(self.state.identity.departments.get(&id).cloned())
    }

    async fn update_department(&mut self, department: &Department) -> StoreResult<()> {
        let s = &mut self.state.identity;
        // Members are filed under a department of their own organization:
        // a department never moves to another.
        if s.departments
            .get(&department.id)
            .is_none_or(|old| old.org != department.org)
        {
            return Err(StoreError::not_found());
        }
        let items = s.departments.values().map(|d| (&d.id, d.org, &d.name));
        if name_taken(items, department.org, &department.name, &department.id) {
            return Err(StoreError::unique_violation("departments_name"));
        }
        s.departments.insert(department.id, department.clone());
        Ok(())
    }

    async fn list_department_members(&mut self, id: DepartmentId) -> StoreResult<Vec<UserId>> {
        let s = &self.state.identity;
        let Some(dept) = s.departments.get(&id) else {
            return Ok(Vec::new());
        };
        let mut users: Vec<UserId> = s
            .members_of_org(dept.org)
            .filter(|m| m.department == Some(id))
            .map(|m| m.user)
            .collect();
        users.sort();
        Ok(users)
    }

    async fn delete_department(&mut self, id: DepartmentId) -> StoreResult<()> {
        let s = &mut self.state.identity;
        let dept = s
            .departments
            .remove(&id)
            .ok_or_else(StoreError::not_found)?;
        let filed: Vec<(OrgId, UserId)> = s
            .members_of_org(dept.org)
            .filter(|m| m.department == Some(id))
            .map(|m| (m.org, m.user))
            .collect();
        for key in filed {
            if let Some(m) = s.memberships.get_mut(&key) {
                m.department = None;
            }
        }
        Ok(())
    }
}

impl WorkspaceRepository for MemoryTx {
    async fn insert_workspace(&mut self, workspace: &Workspace) -> StoreResult<()> {
        let s = &mut self.state.identity;
        s.require_org(workspace.org)?;
        if s.workspaces.contains_key(&workspace.id) {
            return Err(StoreError::unique_violation("workspaces_pkey"));
        }
        let items = s.workspaces.values().map(|w| (&w.id, w.org, &w.name));
        if name_taken(items, workspace.org, &workspace.name, &workspace.id) {
            return Err(StoreError::unique_violation("workspaces_name"));
        }
        s.workspaces.insert(workspace.id, workspace.clone());
        Ok(())
    }

    async fn get_workspace(&mut self, id: WorkspaceId) -> StoreResult<Option<Workspace>> {
        Ok(self.state.identity.workspaces.get(&id).cloned())
    }

    async fn list_workspaces(&mut self, org: OrgId) -> StoreResult<Vec<Workspace>> {
        let mut list: Vec<Workspace> = self
            .state
            .identity
            .workspaces
            .values()
            .filter(|w| w.org == org)
            .cloned()
            .collect();
        list.sort_by_cached_key(|w| (w.name.key(), w.id));
        Ok(list)
    }

    async fn update_workspace(&mut self, workspace: &Workspace) -> StoreResult<()> {
        let s = &mut self.state.identity;
        if !s.workspaces.contains_key(&workspace.id) {
            return Err(StoreError::not_found());
        }
        let items = s.workspaces.values().map(|w| (&w.id, w.org, &w.name));
        if name_taken(items, workspace.org, &workspace.name, &workspace.id) {
            return Err(StoreError::unique_violation("workspaces_name"));
        }
        s.workspaces.insert(workspace.id, workspace.clone());
        Ok(())
    }

    async fn delete_workspace(&mut self, id: WorkspaceId) -> StoreResult<()> {
        self.state
            .identity
            .workspaces
            .remove(&id)
            .map(drop)
            .ok_or_else(StoreError::not_found)
    }
}

impl GroupRepository for MemoryTx {
    async fn insert_group(&mut self, group: &Group) -> StoreResult<()> {
        let s = &mut self.state.identity;
        s.require_org(group.org)?;
        if s.groups.contains_key(&group.id) {
            return Err(StoreError::unique_violation("groups_pkey"));
        }
        let items = s.groups.values().map(|g| (&g.id, g.org, &g.name));
        if name_taken(items, group.org, &group.name, &group.id) {
            return Err(StoreError::unique_violation("groups_name"));
        }
        s.groups.insert(group.id, group.clone());
        Ok(())
    }

    async fn get_group(&mut self, id: GroupId) -> StoreResult<Option<Group>> {
        Ok(self.state.identity.groups.get(&id).cloned())
    }

    async fn list_groups(&mut self, org: OrgId) -> StoreResult<Vec<Group>> {
        let mut list: Vec<Group> = self
            .state
            .identity
            .groups
            .values()
            .filter(|g| g.org == org)
            .cloned()
            .collect();
        list.sort_by_cached_key(|g| (g.name.key(), g.id));
        Ok(list)
    }

    async fn update_group(&mut self, group: &Group) -> StoreResult<()> {
        let s = &mut self.state.identity;
        if !s.groups.contains_key(&group.id) {
            return Err(StoreError::not_found());
        }
        let items = s.groups.values().map(|g| (&g.id, g.org, &g.name));
        if name_taken(items, group.org, &group.name, &group.id) {
            return Err(StoreError::unique_violation("groups_name"));
        }
        s.groups.insert(group.id, group.clone());
        Ok(())
    }

    async fn delete_group(&mut self, id: GroupId) -> StoreResult<()> {
        let s = &mut self.state.identity;
        s.groups.remove(&id).ok_or_else(StoreError::not_found)?;
        remove_from_set(&mut s.group_members, |(g, _)| *g == id);
        Ok(())
    }

    async fn insert_group_member(&mut self, group: GroupId, user: UserId) -> StoreResult<()> {
        let s = &mut self.state.identity;
        let org = s
            .groups
            .get(&group)
            .map(|g| g.org)
            .ok_or_else(StoreError::not_found)?;
        if !s.is_member(org, user) {
            return Err(StoreError::not_found());
        }
        if s.group_members.insert((group, user)).is_some() {
            return Err(StoreError::unique_violation("group_members_pkey"));
        }
        Ok(())
    }

    async fn delete_group_member(&mut self, group: GroupId, user: UserId) -> StoreResult<()> {
        self.state
            .identity
            .group_members
            .remove(&(group, user))
            .map(drop)
            .ok_or_else(StoreError::not_found)
    }

    async fn list_group_members(&mut self, group: GroupId) -> StoreResult<Vec<UserId>> {
        Ok(self
            .state
            .identity
            .group_members
            .range((group, MIN_USER)..=(group, MAX_USER))
            .map(|(_, u)| *u)
            .collect())
    }

    async fn list_groups_of_user(&mut self, org: OrgId, user: UserId) -> StoreResult<Vec<GroupId>> {
        let s = &self.state.identity;
        Ok(s.group_members
            .iter()
            .filter(|(g, u)| *u == user && s.groups.get(g).is_some_and(|g| g.org == org))
            .map(|(g, _)| *g)
            .collect())
    }
}

impl TeamRepository for MemoryTx {
    async fn insert_team(&mut self, team: &Team) -> StoreResult<()> {
        let s = &mut self.state.identity;
        s.require_org(team.org)?;
        if s.teams.contains_key(&team.id) {
            return Err(StoreError::unique_violation("teams_pkey"));
        }
        let items = s.teams.values().map(|t| (&t.id, t.org, &t.name));
        if name_taken(items, team.org, &team.name, &team.id) {
            return Err(StoreError::unique_violation("teams_name"));
        }
        s.teams.insert(team.id, team.clone());
        Ok(())
    }

    async fn get_team(&mut self, id: TeamId) -> StoreResult<Option<Team>> {
        Ok(self.state.identity.teams.get(&id).cloned())
    }

    async fn list_teams(&mut self, org: OrgId) -> StoreResult<Vec<Team>> {
        let mut list: Vec<Team> = self
            .state
            .identity
            .teams
            .values()
            .filter(|t| t.org == org)
            .cloned()
            .collect();
        list.sort_by_cached_key(|t| (t.name.key(), t.id));
        Ok(list)
    }

    async fn update_team(&mut self, team: &Team) -> StoreResult<()> {
        let s = &mut self.state.identity;
        if !s.teams.contains_key(&team.id) {
            return Err(StoreError::not_found());
        }
        let items = s.teams.values().map(|t| (&t.id, t.org, &t.name));
        if name_taken(items, team.org, &team.name, &team.id) {
            return Err(StoreError::unique_violation("teams_name"));
        }
        s.teams.insert(team.id, team.clone());
        Ok(())
    }

    async fn delete_team(&mut self, id: TeamId) -> StoreResult<()> {
        let s = &mut self.state.identity;
        s.teams.remove(&id).ok_or_else(StoreError::not_found)?;
        remove_from_map(&mut s.team_members, |(t, _)| *t == id);
        Ok(())
    }

    async fn insert_team_member(&mut self, member: &TeamMember) -> StoreResult<()> {
        let s = &mut self.state.identity;
        let org = s
            .teams
            .get(&member.team)
            .map(|t| t.org)
            .ok_or_else(StoreError::not_found)?;
        if !s.is_member(org, member.user) {
            return Err(StoreError::not_found());
        }
        let key = (member.team, member.user);
        if s.team_members.contains_key(&key) {
            return Err(StoreError::unique_violation("team_members_pkey"));
        }
        s.team_members.insert(key, member.role);
        Ok(())
    }

    async fn update_team_member_role(
        &mut self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
    ) -> StoreResult<()> {
        let slot = self
            .state
            .identity
            .team_members
            .get_mut(&(team, user))
            .ok_or_else(StoreError::not_found)?;
        *slot = role;
        Ok(())
    }

    async fn delete_team_member(&mut self, team: TeamId, user: UserId) -> StoreResult<()> {
        self.state
            .identity
            .team_members
            .remove(&(team, user))
            .map(drop)
            .ok_or_else(StoreError::not_found)
    }

    async fn list_team_members(&mut self, team: TeamId) -> StoreResult<Vec<TeamMember>> {
        Ok(self
            .state
            .identity
            .team_members
            .range((team, MIN_USER)..=(team, MAX_USER))
            .map(|((team, user), role)| TeamMember {
                team: *team,
                user: *user,
                role: *role,
            })
            .collect())
    }

    async fn list_teams_of_user(
        &mut self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Vec<TeamMember>> {
        let s = &self.state.identity;
        Ok(s.team_members
            .iter()
            .filter(|((t, u), _)| *u == user && s.teams.get(t).is_some_and(|t| t.org == org))
            .map(|((team, user), role)| TeamMember {
                team: *team,
                user: *user,
                role: *role,
            })
            .collect())
    }
}
