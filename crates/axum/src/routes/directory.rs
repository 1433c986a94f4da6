//! The admin side of users: directory, invitation, detail, role,
//! deactivation and reactivation, deletion, sessions, activity (the
//! user's audit trail). Every call names its organization in the path;
//! iamkit checks the actor's permission there and answers 404 for another
//! tenant's organization or user (SECURITY.md 25).
#![expect(
    unused_qualifications,
    reason = "utoipa's path macro names the `params(...)` types by their full path"
)]

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iamkit::audit::Outcome;
use iamkit::identity::{
    DepartmentId, DirectoryQuery, GroupId, InvalidInput, OrgId, Rule, UserId, UserStatus,
    WorkspaceId,
};
use iamkit::rbac::{Effect, Scope, Source};
use iamkit::store_api::Cursor;
use iamkit::{ActivityLine, Iam, NewAccount, Placement, ProfileUpdate, Store};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{KeyView, OrgPath, OrgUserPath, RoleView, UserRef, UserView, parse_role};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::json::{ApiJson, ApiPath};

/// `GET /orgs/{org}/users` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub(crate) struct DirectoryParams {
    /// Free text (names, username, email).
    q: Option<String>,
    /// `INVITED`, `ACTIVE` or `DEACTIVATED`.
    status: Option<String>,
    /// Only members filed under this department (its id; another
    /// organization's is 404).
    department: Option<String>,
    /// Page size, 1–500.
    limit: Option<String>,
    /// The previous page's `next`.
    after: Option<String>,
}

impl DirectoryParams {
    fn query(&self) -> Result<DirectoryQuery, ApiError> {
        let mut query = DirectoryQuery::new();
        if let Some(text) = &self.q {
            query = query.with_text(text)?;
        }
        if let Some(status) = &self.status {
            let status = UserStatus::ALL
                .into_iter()
                .find(|s| s.label().eq_ignore_ascii_case(status.trim()))
                .ok_or(InvalidInput::new("status", Rule::Unsupported))?;
            query = query.with_status(status);
        }
        if let Some(department) = &self.department {
            let department: DepartmentId = department
                .trim()
                .parse()
                .map_err(|_| InvalidInput::new("department", Rule::Malformed))?;
            query = query.with_department(department);
        }
        if let Some(limit) = &self.limit {
            let limit = limit.trim().parse().map_err(|_| {
                InvalidInput::new(
                    "limit",
                    Rule::OutOfRange {
                        min: 1,
                        max: DirectoryQuery::MAX_LIMIT,
                    },
                )
            })?;
            query = query.with_limit(limit)?;
        }
        if let Some(after) = &self.after {
            query = query.after(&Cursor::new(after.as_str()))?;
        }
        Ok(query)
    }
}

/// One page of the directory.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DirectoryPage {
    users: Vec<UserView>,
    /// The cursor of the next page (`after`), if there is one.
    next: Option<String>,
}

/// The directory: one page of the organization's members, searched and
/// filtered (`users.read`).
#[utoipa::path(get, path = "/orgs/{org}/users", tag = "directory", operation_id = "list_users",
    params(OrgPath, DirectoryParams),
    responses(
        (status = 200, description = "A page of members", body = DirectoryPage),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.read` required", body = ErrorBody),
        (status = 404, description = "No such organization (or department) of the actor", body = ErrorBody),
        (status = 422, description = "A query parameter breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn list<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    params: Result<Query<DirectoryParams>, QueryRejection>,
) -> Result<Json<DirectoryPage>, ApiError> {
    let Query(params) = params.map_err(|_| ApiError::invalid("query", "is malformed"))?;
    let page = iam.directory(&actor, org, &params.query()?).await?;
    Ok(Json(DirectoryPage {
        users: page
            .items
            .iter()
            .map(|e| UserView::new(&e.user, e.membership.status))
            .collect(),
        next: page.next.as_ref().map(|c| c.as_str().to_owned()),
    }))
}

/// `POST /orgs/{org}/invitations`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct InviteBody {
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    /// `en`, `es` or `pt`.
    language: Option<String>,
    /// The organization role to start with (none: no access until given).
    role: Option<String>,
}

/// Invites a person (`users.invite`, plus `roles.assign` for a role).
///
/// The account appears INVITED and the invitation waits in the outbox for
/// the app's mailer. An address that already has an account answers the
/// same (SECURITY.md 34).
#[utoipa::path(post, path = "/orgs/{org}/invitations", tag = "directory",
    params(OrgPath),
    request_body = InviteBody,
    responses(
        (status = 201, description = "Invited", body = UserRef),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "A permission is missing, or escalation", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 409, description = "Username or email taken", body = ErrorBody),
        (status = 422, description = "A field breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn invite<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<Response, ApiError> {
    let placement = Placement {
        org_role: body.role.as_deref().map(parse_role).transpose()?,
        ..Placement::default()
    };
    let account = NewAccount {
        username: body.username,
        email: body.email,
        first_name: body.first_name,
        last_name: body.last_name,
        language: body.language,
    };
    let invited = iam.invite(&actor, org, &account, &placement).await?;
    Ok((StatusCode::CREATED, Json(UserRef { user: invited.user })).into_response())
}

/// Where a role is held.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScopeView {
    /// `organization` or `workspace`.
    kind: &'static str,
    /// The workspace, for `workspace`.
    #[schema(value_type = Option<String>, format = Uuid)]
    workspace: Option<String>,
}

impl From<Scope> for ScopeView {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Organization(_) => Self {
                kind: "organization",
                workspace: None,
            },
            Scope::Workspace(_, workspace) => Self {
                kind: "workspace",
                workspace: Some(workspace.to_string()),
            },
        }
    }
}

/// Where a role comes from.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceView {
    /// `direct`, `group` or `team`.
    kind: &'static str,
    /// The group or team.
    #[schema(value_type = Option<String>, format = Uuid)]
    id: Option<String>,
}

impl From<Source> for SourceView {
    fn from(source: Source) -> Self {
        match source {
            Source::Direct => Self {
                kind: "direct",
                id: None,
            },
            Source::Group(group) => Self {
                kind: "group",
                id: Some(group.to_string()),
            },
            Source::Team(team) => Self {
                kind: "team",
                id: Some(team.to_string()),
            },
        }
    }
}

/// One role the user holds, with where from.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleHeld {
    role: RoleView,
    scope: ScopeView,
    source: SourceView,
}

/// A live session of the user, as an admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserSessionView {
    #[schema(value_type = String, format = Uuid)]
    id: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ip: Option<String>,
}

/// The user detail page.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserDetailView {
    user: UserView,
    /// The direct organization role.
    org_role: Option<RoleView>,
    /// Every role held, direct and inherited, with where from.
    roles: Vec<RoleHeld>,
    #[schema(value_type = Vec<String>)]
    groups: Vec<GroupId>,
    two_factor_enabled: bool,
    sessions: Vec<UserSessionView>,
    api_keys: Vec<KeyView>,
}

/// The user detail page (`users.read`): roles with where they come from,
/// groups, 2FA, live sessions, API keys. No secrets: iamkit holds only
/// hashes of them.
#[utoipa::path(get, path = "/orgs/{org}/users/{user}", tag = "directory", operation_id = "user_detail",
    params(OrgUserPath),
    responses(
        (status = 200, description = "The user", body = UserDetailView),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.read` required", body = ErrorBody),
        (status = 404, description = "No such member of an organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn detail<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
) -> Result<Json<UserDetailView>, ApiError> {
    let detail = iam.user_detail(&actor, org, user).await?;
    Ok(Json(UserDetailView {
        user: UserView::new(&detail.user, detail.membership.status),
        org_role: detail.org_role.map(RoleView::from),
        roles: detail
            .roles
            .iter()
            .map(|r| RoleHeld {
                role: RoleView {
                    id: r.role,
                    name: r.role_name.clone(),
                },
                scope: r.scope.into(),
                source: r.source.into(),
            })
            .collect(),
        groups: detail.groups.clone(),
        two_factor_enabled: detail.two_factor_enabled,
        sessions: detail
            .sessions
            .iter()
            .map(|s| UserSessionView {
                id: s.id.to_string(),
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                ip: s.client.ip.clone(),
            })
            .collect(),
        api_keys: detail.api_keys.iter().map(KeyView::from).collect(),
    }))
}

/// `PUT /orgs/{org}/users/{user}/role`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct RoleBody {
    /// The new organization role; `null` removes it.
    role: Option<String>,
}

/// A role change: the role before and after.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleChange {
    previous: Option<RoleView>,
    role: Option<RoleView>,
}

/// Changes a member's organization role (`roles.assign`, holding both
/// roles, Owner to touch Owner, never the last Owner).
///
/// Effective on the very next request, API keys of the member included
/// (SECURITY.md 23).
#[utoipa::path(put, path = "/orgs/{org}/users/{user}/role", tag = "roles",
    params(OrgUserPath),
    request_body = RoleBody,
    responses(
        (status = 200, description = "Changed", body = RoleChange),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`roles.assign` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such member of an organization of the actor", body = ErrorBody),
        (status = 409, description = "The last Owner", body = ErrorBody),
        (status = 422, description = "Not a role", body = ErrorBody),
    ))]
pub(crate) async fn change_role<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<RoleChange>, ApiError> {
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let previous = iam.change_org_role(&actor, org, user, role).await?;
    Ok(Json(RoleChange {
        previous: previous.map(RoleView::from),
        role: role.map(RoleView::from),
    }))
}

/// Deactivates a member (`users.deactivate`).
///
/// The member's sessions, API keys and pending links end in the same
/// transaction (SECURITY.md 20); the last Owner cannot be deactivated.
#[utoipa::path(post, path = "/orgs/{org}/users/{user}/deactivate", tag = "directory",
    params(OrgUserPath),
    responses(
        (status = 204, description = "Deactivated"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.deactivate` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such member of an organization of the actor", body = ErrorBody),
        (status = 409, description = "Already deactivated, or the last Owner", body = ErrorBody),
    ))]
pub(crate) async fn deactivate<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
) -> Result<StatusCode, ApiError> {
    iam.deactivate(&actor, org, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reactivates a deactivated member (`users.deactivate`): ACTIVE again
/// with the roles they had; revoked sessions and keys stay revoked.
#[utoipa::path(post, path = "/orgs/{org}/users/{user}/reactivate", tag = "directory",
    params(OrgUserPath),
    responses(
        (status = 204, description = "Reactivated"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.deactivate` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such member of an organization of the actor", body = ErrorBody),
        (status = 409, description = "Not deactivated", body = ErrorBody),
    ))]
pub(crate) async fn reactivate<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
) -> Result<StatusCode, ApiError> {
    iam.reactivate(&actor, org, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a user (`users.delete`, the managing organization only): the
/// account is gone and its audit trail anonymized (SECURITY.md 31); 409
/// `linked_data` while the app still links records to it.
#[utoipa::path(delete, path = "/orgs/{org}/users/{user}", tag = "directory", operation_id = "delete_user",
    params(OrgUserPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.delete` required, escalation, or not managed here", body = ErrorBody),
        (status = 404, description = "No such member of an organization of the actor", body = ErrorBody),
        (status = 409, description = "Linked data, or the last Owner", body = ErrorBody),
    ))]
pub(crate) async fn delete<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
) -> Result<StatusCode, ApiError> {
    iam.delete_user(&actor, org, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RevokedSessions {
    revoked: u64,
}

/// Signs a user out everywhere (`sessions.revoke`; the account's managing
/// organization only).
#[utoipa::path(post, path = "/orgs/{org}/users/{user}/sessions/revoke", tag = "directory",
    params(OrgUserPath),
    responses(
        (status = 200, description = "Sessions ended", body = RevokedSessions),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`sessions.revoke` required, or not managed here", body = ErrorBody),
        (status = 404, description = "No such member of an organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn revoke_sessions<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
) -> Result<Json<RevokedSessions>, ApiError> {
    let revoked = iam.revoke_sessions_of_user(&actor, org, user).await?;
    Ok(Json(RevokedSessions { revoked }))
}

/// One event of the audit trail, names resolved.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActivityView {
    /// Its place in the organization's chain.
    seq: u64,
    at: DateTime<Utc>,
    /// What happened (`invited`, `signed_in`, `deactivated`, ...).
    action: String,
    /// Who did it.
    actor: String,
    /// To whom or what.
    target: String,
    /// `success` or `denied`.
    outcome: &'static str,
}

impl From<&ActivityLine> for ActivityView {
    fn from(line: &ActivityLine) -> Self {
        let event = &line.event;
        Self {
            seq: event.seq,
            at: event.at,
            action: event.action.kind().as_str().to_owned(),
            actor: line.actor.clone(),
            target: line.target.clone(),
            outcome: match event.outcome {
                Outcome::Success => "success",
                Outcome::Denied { .. } => "denied",
            },
        }
    }
}

/// `GET /orgs/{org}/users/{user}/activity`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActivityPage {
    activity: Vec<ActivityView>,
}

/// The user's audit trail: the newest events that involve them, names
/// resolved (`users.read` and `audit.read`).
#[utoipa::path(get, path = "/orgs/{org}/users/{user}/activity", tag = "audit",
    params(OrgUserPath),
    responses(
        (status = 200, description = "The newest events, newest first", body = ActivityPage),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`audit.read` required", body = ErrorBody),
        (status = 404, description = "No such member of an organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn activity<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
) -> Result<Json<ActivityPage>, ApiError> {
    // iamkit leaves the activity out without `audit.read`; here it is all
    // the endpoint shows, so say why rather than answer an empty list.
    let detail = iam.user_detail(&actor, org, user).await?;
    if !iam
        .is_allowed(&actor, "audit.read", Scope::Organization(org))
        .await
    {
        return Err(ApiError::forbidden("audit.read"));
    }
    Ok(Json(ActivityPage {
        activity: detail
            .recent_activity
            .iter()
            .map(ActivityView::from)
            .collect(),
    }))
}

/// Sends a pending invitation again with a new link; the old link stops
/// working (`users.invite`).
#[utoipa::path(post, path = "/orgs/{org}/users/{user}/invitation/resend", tag = "directory",
    params(OrgUserPath),
    responses(
        (status = 204, description = "Sent again (to the outbox)"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.invite` required", body = ErrorBody),
        (status = 404, description = "No such member of an organization of the actor", body = ErrorBody),
        (status = 409, description = "`illegal_transition`: the invitation is no longer pending", body = ErrorBody),
    ))]
pub(crate) async fn resend_invitation<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
) -> Result<StatusCode, ApiError> {
    iam.resend_invitation(&actor, org, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Withdraws a pending invitation (`users.invite`): the link stops
/// working, the membership and its grants go, and an account that never
/// became active anywhere is removed.
#[utoipa::path(delete, path = "/orgs/{org}/users/{user}/invitation", tag = "directory",
    params(OrgUserPath),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.invite` required", body = ErrorBody),
        (status = 404, description = "No such member of an organization of the actor", body = ErrorBody),
        (status = 409, description = "`illegal_transition`: the invitation is no longer pending", body = ErrorBody),
    ))]
pub(crate) async fn revoke_invitation<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
) -> Result<StatusCode, ApiError> {
    iam.revoke_invitation(&actor, org, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a member a password reset link (`users.update`): single use,
/// any earlier unused reset link dies; an ACTIVE account only (404
/// otherwise), delivered only to a verified address.
#[utoipa::path(post, path = "/orgs/{org}/users/{user}/password-reset", tag = "directory",
    params(OrgUserPath),
    responses(
        (status = 204, description = "Sent (to the outbox)"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.update` required, or not managed here", body = ErrorBody),
        (status = 404, description = "No such active member of an organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn send_password_reset<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
) -> Result<StatusCode, ApiError> {
    iam.send_password_reset(&actor, org, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `/orgs/{org}/workspaces/{ws}/users/{user}/…`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct WorkspaceUserPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    org: OrgId,
    /// The workspace's id.
    #[param(value_type = String, format = Uuid)]
    ws: WorkspaceId,
    /// The user's id.
    #[param(value_type = String, format = Uuid)]
    user: UserId,
}

/// Adds a member to a workspace with a role, or changes their role there;
/// `null` removes them from the workspace (`roles.assign` at the
/// workspace, holding both roles).
#[utoipa::path(put, path = "/orgs/{org}/workspaces/{ws}/users/{user}/role", tag = "roles",
    params(WorkspaceUserPath),
    request_body = RoleBody,
    responses(
        (status = 200, description = "Changed", body = RoleChange),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`roles.assign` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such member or workspace of an organization of the actor", body = ErrorBody),
        (status = 422, description = "Not a role, or not one assignable in a workspace", body = ErrorBody),
    ))]
pub(crate) async fn set_workspace_role<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(WorkspaceUserPath { org, ws, user }): ApiPath<WorkspaceUserPath>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<RoleChange>, ApiError> {
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let previous = iam.set_workspace_role(&actor, org, ws, user, role).await?;
    Ok(Json(RoleChange {
        previous: previous.map(RoleView::from),
        role: role.map(RoleView::from),
    }))
}

/// `GET /orgs/{org}/users/{user}/explain` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExplainParams {
    /// The permission asked about (`users.read`, ...).
    permission: String,
    /// The workspace (its id) to ask about; the organization when left
    /// out.
    workspace: Option<String>,
}

/// Whether the user holds the permission, and every grant that says so.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExplanationView {
    /// Whether the user holds it.
    allowed: bool,
    /// Every grant that justifies it (empty when not allowed).
    reasons: Vec<RoleHeld>,
}

/// Explains whether a member holds a permission in the organization or in
/// one of its workspaces: every grant that justifies it, with its role,
/// where it comes from (direct, group, team) and where it is granted
/// (`roles.read`).
#[utoipa::path(get, path = "/orgs/{org}/users/{user}/explain", tag = "roles",
    operation_id = "explain_permission",
    params(OrgUserPath, ExplainParams),
    responses(
        (status = 200, description = "The decision and its reasons", body = ExplanationView),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`roles.read` required", body = ErrorBody),
        (status = 404, description = "No such member of an organization of the actor", body = ErrorBody),
        (status = 422, description = "`permission` is no permission of the catalogue, or `workspace` no id", body = ErrorBody),
    ))]
pub(crate) async fn explain<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
    params: Result<Query<ExplainParams>, QueryRejection>,
) -> Result<Json<ExplanationView>, ApiError> {
    let Query(params) = params.map_err(|_| ApiError::invalid("query", "is malformed"))?;
    let scope = match params.workspace.as_deref().map(str::trim) {
        None | Some("") => Scope::Organization(org),
        Some(raw) => {
            let ws: WorkspaceId = raw
                .parse()
                .map_err(|_| InvalidInput::new("workspace", Rule::Malformed))?;
            Scope::Workspace(org, ws)
        }
    };
    let decision = iam
        .explain(&actor, user, params.permission.trim(), scope)
        .await
        .map_err(|e| match e {
            // One permission is asked about here, not a list.
            iamkit::Error::InvalidPermission { reason } => ApiError::invalid("permission", reason),
            other => other.into(),
        })?;
    Ok(Json(ExplanationView {
        allowed: decision.effect == Effect::Allow,
        reasons: decision
            .reasons
            .iter()
            .map(|r| RoleHeld {
                role: RoleView {
                    id: r.role,
                    name: r.role_name.clone(),
                },
                scope: r.scope.into(),
                source: r.source.into(),
            })
            .collect(),
    }))
}

/// `PATCH /orgs/{org}/users/{user}/profile`: a field left out stays as it
/// is.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ProfileBody {
    first_name: Option<String>,
    last_name: Option<String>,
    /// `""` clears it.
    display_name: Option<String>,
    /// `en`, `es` or `pt`.
    language: Option<String>,
    /// An IANA time zone; `""` clears it (the organization's applies).
    time_zone: Option<String>,
    /// `light`, `dark` or `system`.
    theme: Option<String>,
    /// One of the organization's departments (its id); `null` files the
    /// member under none.
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Uuid)]
    department: Option<Option<String>>,
}

/// A member that is present, even as `null`: `Some(None)`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Updates a member's profile, and their department in the organization
/// (`users.update`; one's own with `users.read`). Only the account's
/// managing organization changes another person's names, language, time
/// zone or theme (`not_managed` otherwise); the audit trail names the
/// fields changed, never their values.
#[utoipa::path(patch, path = "/orgs/{org}/users/{user}/profile", tag = "directory",
    operation_id = "update_profile",
    params(OrgUserPath),
    request_body = ProfileBody,
    responses(
        (status = 204, description = "Updated"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.update` required (`users.read` for one's own), or not managed here", body = ErrorBody),
        (status = 404, description = "No such member (or department) of an organization of the actor", body = ErrorBody),
        (status = 422, description = "A field breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn update_profile<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgUserPath { org, user }): ApiPath<OrgUserPath>,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<StatusCode, ApiError> {
    let department = body
        .department
        .map(|department| {
            department
                .map(|raw| {
                    raw.trim()
                        .parse::<DepartmentId>()
                        .map_err(|_| InvalidInput::new("department", Rule::Malformed))
                })
                .transpose()
        })
        .transpose()?;
    let update = ProfileUpdate {
        first_name: body.first_name,
        last_name: body.last_name,
        display_name: body.display_name,
        language: body.language,
        time_zone: body.time_zone,
        theme: body.theme,
        department,
    };
    iam.update_profile(&actor, org, user, &update).await?;
    Ok(StatusCode::NO_CONTENT)
}
