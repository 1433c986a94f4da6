//! Groups and teams: creating and deleting them, their members, and the
//! role each carries (adding a member grants it: SECURITY.md 26).
#![expect(
    unused_qualifications,
    reason = "utoipa's path macro names the `params(...)` types by their full path"
)]

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use iamkit::identity::{GroupId, OrgId, TeamId, TeamRole, UserId, WorkspaceId};
use iamkit::rbac::{Collective, Scope};
use iamkit::{Iam, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Created, OrgPath, RoleView, parse_role};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::json::{ApiJson, ApiPath};

/// `POST /orgs/{org}/groups` and `/teams`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct NameBody {
    /// Unique among the organization's groups (or teams).
    name: String,
}

/// Creates a group (`groups.manage`).
#[utoipa::path(post, path = "/orgs/{org}/groups", tag = "groups",
    params(OrgPath),
    request_body = NameBody,
    responses(
        (status = 201, description = "Created", body = Created),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`groups.manage` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "The name breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn create_group<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<NameBody>,
) -> Result<Response, ApiError> {
    let group = iam.create_group(&actor, org, &body.name).await?;
    Ok((StatusCode::CREATED, Json(Created::of(group))).into_response())
}

/// Creates a team (`teams.manage`).
#[utoipa::path(post, path = "/orgs/{org}/teams", tag = "groups",
    params(OrgPath),
    request_body = NameBody,
    responses(
        (status = 201, description = "Created", body = Created),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`teams.manage` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "The name breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn create_team<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<NameBody>,
) -> Result<Response, ApiError> {
    let team = iam.create_team(&actor, org, &body.name).await?;
    Ok((StatusCode::CREATED, Json(Created::of(team))).into_response())
}

/// `/orgs/{org}/groups/{group}/…`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct GroupPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    org: OrgId,
    /// The group's id.
    #[param(value_type = String, format = Uuid)]
    group: GroupId,
}

/// `/orgs/{org}/teams/{team}/…`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TeamPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    org: OrgId,
    /// The team's id.
    #[param(value_type = String, format = Uuid)]
    team: TeamId,
}

/// `/orgs/{org}/groups/{group}/members/{user}`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct GroupMemberPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    org: OrgId,
    /// The group's id.
    #[param(value_type = String, format = Uuid)]
    group: GroupId,
    /// The member's id.
    #[param(value_type = String, format = Uuid)]
    user: UserId,
}

/// `/orgs/{org}/teams/{team}/members/{user}`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TeamMemberPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    org: OrgId,
    /// The team's id.
    #[param(value_type = String, format = Uuid)]
    team: TeamId,
    /// The member's id.
    #[param(value_type = String, format = Uuid)]
    user: UserId,
}

/// Deletes a group (`groups.manage`; its members lose the role it
/// carried).
#[utoipa::path(delete, path = "/orgs/{org}/groups/{group}", tag = "groups",
    params(GroupPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`groups.manage` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such group of an organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn delete_group<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(GroupPath { org, group }): ApiPath<GroupPath>,
) -> Result<StatusCode, ApiError> {
    iam.delete_collective(&actor, org, Collective::Group(group))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a team (`teams.manage`).
#[utoipa::path(delete, path = "/orgs/{org}/teams/{team}", tag = "groups",
    params(TeamPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`teams.manage` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such team of an organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn delete_team<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(TeamPath { org, team }): ApiPath<TeamPath>,
) -> Result<StatusCode, ApiError> {
    iam.delete_collective(&actor, org, Collective::Team(team))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a member to a group (`groups.manage`, holding the group's roles).
#[utoipa::path(put, path = "/orgs/{org}/groups/{group}/members/{user}", tag = "groups",
    params(GroupMemberPath),
    responses(
        (status = 204, description = "A member"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`groups.manage` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such group or member", body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
    ))]
pub(crate) async fn add_group_member<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(GroupMemberPath { org, group, user }): ApiPath<GroupMemberPath>,
) -> Result<StatusCode, ApiError> {
    iam.add_member(
        &actor,
        org,
        Collective::Group(group),
        user,
        TeamRole::Member,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member from a group (`groups.manage`).
#[utoipa::path(delete, path = "/orgs/{org}/groups/{group}/members/{user}", tag = "groups",
    params(GroupMemberPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`groups.manage` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such group or member", body = ErrorBody),
    ))]
pub(crate) async fn remove_group_member<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(GroupMemberPath { org, group, user }): ApiPath<GroupMemberPath>,
) -> Result<StatusCode, ApiError> {
    iam.remove_member(&actor, org, Collective::Group(group), user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /orgs/{org}/teams/{team}/members/{user}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct TeamMemberBody {
    /// `member` (the default) or `lead`.
    #[schema(value_type = Option<String>)]
    team_role: Option<TeamRole>,
}

/// Adds a member to a team, or changes their team role (`teams.manage`).
#[utoipa::path(put, path = "/orgs/{org}/teams/{team}/members/{user}", tag = "groups",
    params(TeamMemberPath),
    request_body = TeamMemberBody,
    responses(
        (status = 204, description = "A member with that team role"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`teams.manage` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such team or member", body = ErrorBody),
    ))]
pub(crate) async fn put_team_member<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(TeamMemberPath { org, team, user }): ApiPath<TeamMemberPath>,
    ApiJson(body): ApiJson<TeamMemberBody>,
) -> Result<StatusCode, ApiError> {
    let role = body.team_role.unwrap_or(TeamRole::Member);
    match iam
        .add_member(&actor, org, Collective::Team(team), user, role)
        .await
    {
        Err(iamkit::Error::Conflict(iamkit::Conflict::AlreadyMember)) => {
            iam.set_team_role(&actor, org, team, user, role).await?;
        }
        other => other?,
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a member from a team (`teams.manage`).
#[utoipa::path(delete, path = "/orgs/{org}/teams/{team}/members/{user}", tag = "groups",
    params(TeamMemberPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`teams.manage` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such team or member", body = ErrorBody),
    ))]
pub(crate) async fn remove_team_member<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(TeamMemberPath { org, team, user }): ApiPath<TeamMemberPath>,
) -> Result<StatusCode, ApiError> {
    iam.remove_member(&actor, org, Collective::Team(team), user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT …/role` of a group or team.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct CollectiveRoleBody {
    /// The role its members get (`null` removes it).
    role: Option<String>,
    /// Where: a workspace of the organization; absent: the organization.
    #[schema(value_type = Option<String>, format = Uuid)]
    workspace: Option<WorkspaceId>,
}

/// The role before the change.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PreviousRole {
    previous: Option<RoleView>,
}

async fn set_role<S: Store>(
    iam: &Iam<S>,
    actor: &iamkit::Actor,
    org: OrgId,
    collective: Collective,
    body: CollectiveRoleBody,
) -> Result<Json<PreviousRole>, ApiError> {
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let scope = match body.workspace {
        Some(workspace) => Scope::Workspace(org, workspace),
        None => Scope::Organization(org),
    };
    let previous = iam
        .set_collective_role(actor, collective, scope, role)
        .await?;
    Ok(Json(PreviousRole {
        previous: previous.map(RoleView::from),
    }))
}

/// Sets the role a group carries (`roles.assign`, holding it).
#[utoipa::path(put, path = "/orgs/{org}/groups/{group}/role", tag = "roles",
    params(GroupPath),
    request_body = CollectiveRoleBody,
    responses(
        (status = 200, description = "Set", body = PreviousRole),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`roles.assign` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such group of an organization of the actor", body = ErrorBody),
        (status = 422, description = "Not a role, or not assignable there", body = ErrorBody),
    ))]
pub(crate) async fn set_group_role<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(GroupPath { org, group }): ApiPath<GroupPath>,
    ApiJson(body): ApiJson<CollectiveRoleBody>,
) -> Result<Json<PreviousRole>, ApiError> {
    set_role(&iam, &actor, org, Collective::Group(group), body).await
}

/// Sets the role a team carries (`roles.assign`, holding it).
#[utoipa::path(put, path = "/orgs/{org}/teams/{team}/role", tag = "roles",
    params(TeamPath),
    request_body = CollectiveRoleBody,
    responses(
        (status = 200, description = "Set", body = PreviousRole),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`roles.assign` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such team of an organization of the actor", body = ErrorBody),
        (status = 422, description = "Not a role, or not assignable there", body = ErrorBody),
    ))]
pub(crate) async fn set_team_role<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(TeamPath { org, team }): ApiPath<TeamPath>,
    ApiJson(body): ApiJson<CollectiveRoleBody>,
) -> Result<Json<PreviousRole>, ApiError> {
    set_role(&iam, &actor, org, Collective::Team(team), body).await
}
