//! Storage ports of the identity domain.
//!
//! Implemented by an adapter's transaction type; see the crate docs for the
//! conventions. Constraint names in `UniqueViolation` errors are part of the
//! contract and identical across adapters.

use std::future::Future;

use iamkit_store_api::{Page, StoreError};

use crate::directory::{DirectoryEntry, DirectoryQuery};
use crate::email::Email;
use crate::ids::{DepartmentId, GroupId, OrgId, TeamId, UserId, WorkspaceId};
use crate::names::Slug;
use crate::organization::{Department, Membership, Organization};
use crate::user::User;
use crate::username::Username;
use crate::workspace::{Group, Team, TeamMember, TeamRole, Workspace};

/// Result of a repository call.
pub type StoreResult<T> = Result<T, StoreError>;

/// User accounts.
pub trait UserRepository: Send {
    /// Stores a new account.
    ///
    /// MUST fail with `UniqueViolation { constraint: "users_username" }` when
    /// another account has the same username, and `"users_email"` when
    /// another has the same email (both case-insensitive, as the types
    /// compare), and `"users_pkey"` for a reused id. A failed insert MUST
    /// leave nothing behind.
    fn insert_user(&mut self, user: &User) -> impl Future<Output = StoreResult<()>> + Send;

    /// The account with this id. MUST return `None` when there is none.
    fn get_user(&mut self, id: UserId) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// The account with this username (case-insensitive).
    fn find_user_by_username(
        &mut self,
        username: &Username,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// The account with this email (case-insensitive).
    fn find_user_by_email(
        &mut self,
        email: &Email,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    /// Replaces the stored account with `user` (same id).
    ///
    /// MUST fail with `NotFound` when the id is unknown and with the same
    /// unique violations as [`insert_user`](Self::insert_user) when the new
    /// username or email belongs to another account; a failed update MUST
    /// change nothing.
    fn update_user(&mut self, user: &User) -> impl Future<Output = StoreResult<()>> + Send;

    /// Deletes the account and, with it, its organization memberships and
    /// its group and team memberships; its username and email become free.
    /// MUST fail with `NotFound` when the id is unknown.
    fn delete_user(&mut self, id: UserId) -> impl Future<Output = StoreResult<()>> + Send;

    /// One page of the organization's members that match `query`, sorted by
    /// [`sort_key`](crate::directory::sort_key) then user id, starting after
    /// the query's cursor. MUST return each matching member exactly once
    /// across pages, MUST set `next` only when more matching members follow,
    /// and MUST NOT return members of other organizations.
    fn list_directory(
        &mut self,
        org: OrgId,
        query: &DirectoryQuery,
    ) -> impl Future<Output = StoreResult<Page<DirectoryEntry>>> + Send;
}

/// Organizations, their departments and their memberships.
pub trait OrganizationRepository: Send {
    /// Stores a new organization. MUST fail with
    /// `UniqueViolation { constraint: "organizations_slug" }` for a taken slug.
    fn insert_organization(
        &mut self,
        org: &Organization,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The organization with this id, or `None`.
    fn get_organization(
        &mut self,
        id: OrgId,
    ) -> impl Future<Output = StoreResult<Option<Organization>>> + Send;

    /// The organization with this slug, or `None`.
    fn find_organization_by_slug(
        &mut self,
        slug: &Slug,
    ) -> impl Future<Output = StoreResult<Option<Organization>>> + Send;

    /// Replaces the stored organization. MUST fail with `NotFound` for an
    /// unknown id and `"organizations_slug"` for a slug taken by another.
    fn update_organization(
        &mut self,
        org: &Organization,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Adds a member. MUST fail with `NotFound` when the organization or the
    /// user does not exist and with `"memberships_pkey"` when the user is
    /// already a member.
    fn insert_membership(
        &mut self,
        membership: &Membership,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The user's membership of the organization, or `None`.
    fn get_membership(
        &mut self,
        org: OrgId,
        user: UserId,
    ) -> impl Future<Output = StoreResult<Option<Membership>>> + Send;

    /// Replaces a membership (status, department). MUST fail with `NotFound`
    /// when there is no such membership.
    fn update_membership(
        &mut self,
        membership: &Membership,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Removes a membership and the user's memberships of the
    /// organization's groups and teams. MUST fail with `NotFound` when there
    /// is no such membership.
    fn delete_membership(
        &mut self,
        org: OrgId,
        user: UserId,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Every membership of the user, ordered by organization id.
    fn list_memberships_of_user(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = StoreResult<Vec<Membership>>> + Send;

    /// Stores a department. MUST fail with `NotFound` for an unknown
    /// organization and `"departments_name"` when the organization already
    /// has a department of that name (case-insensitive).
    fn insert_department(
        &mut self,
        department: &Department,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The organization's departments, ordered by name key.
    fn list_departments(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = StoreResult<Vec<Department>>> + Send;

    /// The department with this id, or `None`.
    fn get_department(
        &mut self,
        id: DepartmentId,
    ) -> impl Future<Output = StoreResult<Option<Department>>> + Send;

    /// Replaces a department (rename). A department never moves: MUST fail
    /// with `NotFound` when no department has this id in `department.org`,
    /// and with `"departments_name"` when another department of the
    /// organization has the new name (case-insensitive); a failed update
    /// MUST change nothing.
    fn update_department(
        &mut self,
        department: &Department,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The members filed under the department, ordered by user id; empty
    /// for an unknown id.
    fn list_department_members(
        &mut self,
        id: DepartmentId,
    ) -> impl Future<Output = StoreResult<Vec<UserId>>> + Send;

    /// Deletes a department; members filed under it keep their membership
    /// with no department. MUST fail with `NotFound` for an unknown id.
    fn delete_department(
        &mut self,
        id: DepartmentId,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Workspaces.
pub trait WorkspaceRepository: Send {
    /// Stores a workspace. MUST fail with `NotFound` for an unknown
    /// organization and `"workspaces_name"` when the organization already has
    /// a workspace of that name (case-insensitive).
    fn insert_workspace(
        &mut self,
        workspace: &Workspace,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The workspace with this id, or `None`.
    fn get_workspace(
        &mut self,
        id: WorkspaceId,
    ) -> impl Future<Output = StoreResult<Option<Workspace>>> + Send;

    /// The organization's workspaces, ordered by name key.
    fn list_workspaces(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = StoreResult<Vec<Workspace>>> + Send;

    /// Replaces a workspace (rename). MUST fail with `NotFound` for an
    /// unknown id and `"workspaces_name"` for a name taken in the org.
    fn update_workspace(
        &mut self,
        workspace: &Workspace,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Deletes a workspace. MUST fail with `NotFound` for an unknown id.
    fn delete_workspace(&mut self, id: WorkspaceId)
    -> impl Future<Output = StoreResult<()>> + Send;
}

/// Groups and their members.
pub trait GroupRepository: Send {
    /// Stores a group. MUST fail with `NotFound` for an unknown organization
    /// and `"groups_name"` for a name taken among the org's groups.
    fn insert_group(&mut self, group: &Group) -> impl Future<Output = StoreResult<()>> + Send;

    /// The group with this id, or `None`.
    fn get_group(&mut self, id: GroupId)
    -> impl Future<Output = StoreResult<Option<Group>>> + Send;

    /// The organization's groups, ordered by name key.
    fn list_groups(&mut self, org: OrgId) -> impl Future<Output = StoreResult<Vec<Group>>> + Send;

    /// Replaces a group (rename). `NotFound` / `"groups_name"` as for insert.
    fn update_group(&mut self, group: &Group) -> impl Future<Output = StoreResult<()>> + Send;

    /// Deletes a group and its memberships. MUST fail with `NotFound` for an
    /// unknown id.
    fn delete_group(&mut self, id: GroupId) -> impl Future<Output = StoreResult<()>> + Send;

    /// Adds a member. MUST fail with `NotFound` when the group does not exist
    /// or the user is not a member of the group's organization, and
    /// `"group_members_pkey"` when already a member.
    fn insert_group_member(
        &mut self,
        group: GroupId,
        user: UserId,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Removes a member. MUST fail with `NotFound` when not a member.
    fn delete_group_member(
        &mut self,
        group: GroupId,
        user: UserId,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The group's members, ordered by user id.
    fn list_group_members(
        &mut self,
        group: GroupId,
    ) -> impl Future<Output = StoreResult<Vec<UserId>>> + Send;

    /// The groups of `org` that `user` belongs to, ordered by group id.
    fn list_groups_of_user(
        &mut self,
        org: OrgId,
        user: UserId,
    ) -> impl Future<Output = StoreResult<Vec<GroupId>>> + Send;
}

/// Teams and their members.
pub trait TeamRepository: Send {
    /// Stores a team. MUST fail with `NotFound` for an unknown organization
    /// and `"teams_name"` for a name taken among the org's teams.
    fn insert_team(&mut self, team: &Team) -> impl Future<Output = StoreResult<()>> + Send;

    /// The team with this id, or `None`.
    fn get_team(&mut self, id: TeamId) -> impl Future<Output = StoreResult<Option<Team>>> + Send;

    /// The organization's teams, ordered by name key.
    fn list_teams(&mut self, org: OrgId) -> impl Future<Output = StoreResult<Vec<Team>>> + Send;

    /// Replaces a team (rename). `NotFound` / `"teams_name"` as for insert.
    fn update_team(&mut self, team: &Team) -> impl Future<Output = StoreResult<()>> + Send;

    /// Deletes a team and its memberships. MUST fail with `NotFound` for an
    /// unknown id.
    fn delete_team(&mut self, id: TeamId) -> impl Future<Output = StoreResult<()>> + Send;

    /// Adds a member with a team role. MUST fail with `NotFound` when the
    /// team does not exist or the user is not a member of its organization,
    /// and `"team_members_pkey"` when already on the team.
    fn insert_team_member(
        &mut self,
        member: &TeamMember,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Changes a member's team role. MUST fail with `NotFound` when not a
    /// member.
    fn update_team_member_role(
        &mut self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Removes a member. MUST fail with `NotFound` when not a member.
    fn delete_team_member(
        &mut self,
        team: TeamId,
        user: UserId,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The team's members, ordered by user id.
    fn list_team_members(
        &mut self,
        team: TeamId,
    ) -> impl Future<Output = StoreResult<Vec<TeamMember>>> + Send;

    /// The user's places on teams of `org`, ordered by team id.
    fn list_teams_of_user(
        &mut self,
        org: OrgId,
        user: UserId,
    ) -> impl Future<Output = StoreResult<Vec<TeamMember>>> + Send;
}
