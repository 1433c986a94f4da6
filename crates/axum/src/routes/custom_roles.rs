//! Custom roles: an organization's own roles, made of permissions from the
//! catalogue. Listing them (`roles.read`), creating, replacing and
//! deleting them (`roles.manage`, and holding every permission the role
//! carries — before and after a change), and who holds one. Another
//! organization's role is 404 (SECURITY.md 25).
#![expect(
    unused_qualifications,
    reason = "utoipa's path macro names the `params(...)` types by their full path"
)]

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use iamkit::identity::{OrgId, RoleId, UserId};
use iamkit::rbac::{AssignableAt, BuiltinRole, CustomRole, RoleName};
use iamkit::{Iam, RoleSpec, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::OrgPath;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::json::{ApiJson, ApiPath};

/// Where a custom role may be granted.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct AssignableAtView {
    /// At organization scope.
    organization: bool,
    /// In workspaces.
    workspace: bool,
}

impl Default for AssignableAtView {
    /// Both scopes.
    fn default() -> Self {
        Self::from(AssignableAt::ANY)
    }
}

impl From<AssignableAt> for AssignableAtView {
    fn from(at: AssignableAt) -> Self {
        Self {
            organization: at.organization,
            workspace: at.workspace,
        }
    }
}

impl From<AssignableAtView> for AssignableAt {
    fn from(at: AssignableAtView) -> Self {
        Self {
            organization: at.organization,
            workspace: at.workspace,
        }
    }
}

/// A custom role.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CustomRoleView {
    /// Its id (grant it by this id).
    #[schema(value_type = String, format = Uuid)]
    id: RoleId,
    /// Its name, unique in the organization (case-insensitively).
    name: String,
    /// Its permissions, by name, sorted.
    permissions: Vec<String>,
    /// Where it may be granted.
    assignable_at: AssignableAtView,
}

impl From<&CustomRole> for CustomRoleView {
    fn from(role: &CustomRole) -> Self {
        Self {
            id: role.id,
            name: role.name.as_str().to_owned(),
            permissions: role.permissions.iter().map(ToString::to_string).collect(),
            assignable_at: role.assignable_at.into(),
        }
    }
}

/// `GET /orgs/{org}/roles`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CustomRoleList {
    /// By name.
    roles: Vec<CustomRoleView>,
}

/// `POST /orgs/{org}/roles` and `PATCH …/{role}`: the whole definition
/// (an update replaces name, permissions and scopes).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct RoleBody {
    /// 1–64 characters, not a built-in role's name, unique in the
    /// organization (case-insensitively).
    name: String,
    /// Permission names from the catalogue (`users.read`, ...).
    permissions: Vec<String>,
    /// Where it may be granted; both scopes when left out.
    assignable_at: AssignableAtView,
}

impl RoleBody {
    fn spec(&self) -> RoleSpec {
        RoleSpec {
            name: self.name.clone(),
            permissions: self.permissions.clone(),
            assignable_at: self.assignable_at.into(),
        }
    }

    /// The role as iamkit stored it (the name trimmed, the permissions
    /// sorted and deduplicated), once iamkit accepted it.
    fn view(&self, id: RoleId) -> CustomRoleView {
        let permissions: BTreeSet<String> = self.permissions.iter().cloned().collect();
        CustomRoleView {
            id,
            name: RoleName::parse(&self.name)
                .map_or_else(|_| self.name.trim().to_owned(), |n| n.as_str().to_owned()),
            permissions: permissions.into_iter().collect(),
            assignable_at: self.assignable_at,
        }
    }
}

/// `/orgs/{org}/roles/{role}`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct RolePath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    org: OrgId,
    /// The role's id.
    #[param(value_type = String, format = Uuid)]
    role: RoleId,
}

/// iamkit names a bad role definition `role`: name the field of the body
/// that broke the rule instead.
fn definition_error(e: iamkit::Error) -> ApiError {
    use iamkit::rbac::Error as R;
    match e {
        iamkit::Error::InvalidRole { reason } => {
            let field = match &reason {
                R::InvalidRoleName { .. } => "name",
                R::NotAssignableAnywhere => "assignable_at",
                R::InvalidPermission { .. }
                | R::UnknownPermission { .. }
                | R::NotGrantableInWorkspaces { .. } => "permissions",
                _ => "role",
            };
            ApiError::invalid(field, reason)
        }
        other => other.into(),
    }
}

/// The organization's custom roles, by name (`roles.read`).
#[utoipa::path(get, path = "/orgs/{org}/roles", tag = "roles",
    operation_id = "list_custom_roles",
    params(OrgPath),
    responses(
        (status = 200, description = "The custom roles, by name", body = CustomRoleList),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`roles.read` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn list<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
) -> Result<Json<CustomRoleList>, ApiError> {
    let roles = iam.list_custom_roles(&actor, org).await?;
    Ok(Json(CustomRoleList {
        roles: roles.iter().map(CustomRoleView::from).collect(),
    }))
}

/// Creates a custom role (`roles.manage`, and every permission it
/// carries: nobody defines a role beyond their own).
#[utoipa::path(post, path = "/orgs/{org}/roles", tag = "roles",
    operation_id = "create_custom_role",
    params(OrgPath),
    request_body = RoleBody,
    responses(
        (status = 201, description = "Created", body = CustomRoleView),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`roles.manage` required, or `escalation`: a permission the actor lacks", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "`name`, `permissions` or `assignable_at` breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn create<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Response, ApiError> {
    let id = iam
        .create_custom_role(&actor, org, &body.spec())
        .await
        .map_err(definition_error)?;
    Ok((StatusCode::CREATED, Json(body.view(id))).into_response())
}

/// Replaces a custom role's name, permissions and scopes
/// (`roles.manage`, and every permission it carried and will carry);
/// its holders gain or lose permissions at once.
#[utoipa::path(patch, path = "/orgs/{org}/roles/{role}", tag = "roles",
    operation_id = "update_custom_role",
    params(RolePath),
    request_body = RoleBody,
    responses(
        (status = 200, description = "Replaced", body = CustomRoleView),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`roles.manage` required, or `escalation`: a permission the actor lacks", body = ErrorBody),
        (status = 404, description = "No such custom role of an organization of the actor", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "`name`, `permissions` or `assignable_at` breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn update<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(RolePath { org, role }): ApiPath<RolePath>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<CustomRoleView>, ApiError> {
    iam.update_custom_role(&actor, org, role, &body.spec())
        .await
        .map_err(definition_error)?;
    Ok(Json(body.view(role)))
}

/// Deletes a custom role (`roles.manage`); refused while anyone holds it
/// (reassign first).
#[utoipa::path(delete, path = "/orgs/{org}/roles/{role}", tag = "roles",
    operation_id = "delete_custom_role",
    params(RolePath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`roles.manage` required", body = ErrorBody),
        (status = 404, description = "No such custom role of an organization of the actor", body = ErrorBody),
        (status = 409, description = "`role_in_use`: the role is still granted", body = ErrorBody),
    ))]
pub(crate) async fn delete<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(RolePath { org, role }): ApiPath<RolePath>,
) -> Result<StatusCode, ApiError> {
    iam.delete_custom_role(&actor, org, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /orgs/{org}/roles/{role}/members`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleMembers {
    /// The members holding the role directly or through a group or team,
    /// at organization or workspace scope.
    #[schema(value_type = Vec<String>)]
    users: Vec<UserId>,
}

/// Who holds a role, built-in or custom, directly or through a group or
/// team (`roles.read` and `users.read`: a custom role must be one of the
/// organization's, read with `roles.read`).
#[utoipa::path(get, path = "/orgs/{org}/roles/{role}/members", tag = "roles",
    operation_id = "members_with_role",
    params(RolePath),
    responses(
        (status = 200, description = "The members holding it", body = RoleMembers),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`roles.read` or `users.read` required", body = ErrorBody),
        (status = 404, description = "No such role of an organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn members<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(RolePath { org, role }): ApiPath<RolePath>,
) -> Result<Json<RoleMembers>, ApiError> {
    // iamkit answers any role id (another organization's has no holders
    // here); the API answers 404 for a role that is not the organization's.
    let custom = iam.list_custom_roles(&actor, org).await?;
    if BuiltinRole::from_id(role).is_none() && !custom.iter().any(|r| r.id == role) {
        return Err(ApiError::not_found());
    }
    let users = iam.members_with_role(&actor, org, role).await?;
    Ok(Json(RoleMembers { users }))
}
