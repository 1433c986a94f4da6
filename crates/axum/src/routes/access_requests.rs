//! Access requests: a member asks for a role change or an offboarding;
//! another member approves (the change is applied under the approver's
//! authority and guards) or rejects.
#![expect(
    unused_qualifications,
    reason = "utoipa's path macro names the `params(...)` types by their full path"
)]

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iamkit::identity::{AccessRequestId, OrgId, UserId, WorkspaceId};
use iamkit::rbac::Scope;
use iamkit::{AccessRequest, Iam, RequestStatus, RequestedChange, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Created, OrgPath, RoleView, parse_role};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::json::{ApiJson, ApiPath};

/// `POST /orgs/{org}/access-requests`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct RequestBody {
    /// `role` (give `user` `role`, at `workspace` or the organization) or
    /// `offboarding` (deactivate `user`).
    kind: String,
    /// Who the change concerns (required; absent, the request is refused
    /// naming `user`).
    #[schema(value_type = Option<String>, format = Uuid)]
    user: Option<UserId>,
    /// For `role`: the role (`null` removes it).
    role: Option<String>,
    /// For `role`: a workspace; absent: the organization.
    #[schema(value_type = Option<String>, format = Uuid)]
    workspace: Option<WorkspaceId>,
}

/// Asks for a change (`requests.create`).
#[utoipa::path(post, path = "/orgs/{org}/access-requests", tag = "access-requests", operation_id = "request_access",
    params(OrgPath),
    request_body = RequestBody,
    responses(
        (status = 201, description = "Requested", body = Created),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`requests.create` required", body = ErrorBody),
        (status = 404, description = "No such organization or member", body = ErrorBody),
        (status = 422, description = "A field breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn create<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<RequestBody>,
) -> Result<Response, ApiError> {
    let user = body
        .user
        .ok_or_else(|| ApiError::invalid("user", "must not be empty"))?;
    let change = match body.kind.as_str() {
        "role" => RequestedChange::Role {
            user,
            scope: match body.workspace {
                Some(workspace) => Scope::Workspace(org, workspace),
                None => Scope::Organization(org),
            },
            role: body.role.as_deref().map(parse_role).transpose()?,
        },
        "offboarding" => RequestedChange::Offboarding { user },
        _ => return Err(ApiError::invalid("kind", "is not `role` or `offboarding`")),
    };
    let id = iam.request_access(&actor, org, change).await?;
    Ok((StatusCode::CREATED, Json(Created::of(id))).into_response())
}

/// A request as listed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RequestView {
    #[schema(value_type = String, format = Uuid)]
    id: AccessRequestId,
    #[schema(value_type = String, format = Uuid)]
    requester: UserId,
    /// `role` or `offboarding`.
    kind: &'static str,
    #[schema(value_type = String, format = Uuid)]
    user: UserId,
    /// For `role`: the role asked for.
    role: Option<RoleView>,
    /// For `role` at a workspace: which.
    #[schema(value_type = Option<String>, format = Uuid)]
    workspace: Option<WorkspaceId>,
    /// `pending`, `approved` or `rejected`.
    status: &'static str,
    created_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = Uuid)]
    decided_by: Option<UserId>,
    decided_at: Option<DateTime<Utc>>,
}

impl From<&AccessRequest> for RequestView {
    fn from(request: &AccessRequest) -> Self {
        let (kind, role, workspace) = match request.change {
            RequestedChange::Role { scope, role, .. } => (
                "role",
                role.map(RoleView::from),
                match scope {
                    Scope::Workspace(_, workspace) => Some(workspace),
                    Scope::Organization(_) => None,
                },
            ),
            RequestedChange::Offboarding { .. } => ("offboarding", None, None),
            // `RequestedChange` is non-exhaustive.
            _ => ("other", None, None),
        };
        Self {
            id: request.id,
            requester: request.requester,
            kind,
            user: request.change.user(),
            role,
            workspace,
            status: match request.status {
                RequestStatus::Pending => "pending",
                RequestStatus::Approved => "approved",
                RequestStatus::Rejected => "rejected",
            },
            created_at: request.created_at,
            decided_by: request.decided.map(|(by, _)| by),
            decided_at: request.decided.map(|(_, at)| at),
        }
    }
}

/// `GET /orgs/{org}/access-requests`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RequestList {
    access_requests: Vec<RequestView>,
}

/// Lists the organization's requests (`requests.approve`, or one's own).
#[utoipa::path(get, path = "/orgs/{org}/access-requests", tag = "access-requests", operation_id = "list_access_requests",
    params(OrgPath),
    responses(
        (status = 200, description = "The requests", body = RequestList),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "A permission is missing", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn list<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
) -> Result<Json<RequestList>, ApiError> {
    let requests = iam.list_access_requests(&actor, org).await?;
    Ok(Json(RequestList {
        access_requests: requests.iter().map(RequestView::from).collect(),
    }))
}

/// `/orgs/{org}/access-requests/{request}/…`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct RequestPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    org: OrgId,
    /// The request's id.
    #[param(value_type = String, format = Uuid)]
    request: AccessRequestId,
}

/// Approves a request (`requests.approve`, not one's own): the change is
/// applied now, under the approver's authority and guards.
#[utoipa::path(post, path = "/orgs/{org}/access-requests/{request}/approve", tag = "access-requests", operation_id = "approve_access_request",
    params(RequestPath),
    responses(
        (status = 204, description = "Approved and applied"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`requests.approve` required, own request, or escalation", body = ErrorBody),
        (status = 404, description = "No such request of an organization of the actor", body = ErrorBody),
        (status = 409, description = "Already decided, or the last Owner", body = ErrorBody),
    ))]
pub(crate) async fn approve<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(RequestPath { org, request }): ApiPath<RequestPath>,
) -> Result<StatusCode, ApiError> {
    iam.approve_access_request(&actor, org, request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rejects a request (`requests.approve`): nothing changes.
#[utoipa::path(post, path = "/orgs/{org}/access-requests/{request}/reject", tag = "access-requests", operation_id = "reject_access_request",
    params(RequestPath),
    responses(
        (status = 204, description = "Rejected"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`requests.approve` required", body = ErrorBody),
        (status = 404, description = "No such request of an organization of the actor", body = ErrorBody),
        (status = 409, description = "Already decided", body = ErrorBody),
    ))]
pub(crate) async fn reject<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(RequestPath { org, request }): ApiPath<RequestPath>,
) -> Result<StatusCode, ApiError> {
    iam.reject_access_request(&actor, org, request).await?;
    Ok(StatusCode::NO_CONTENT)
}
