//! Departments: the sub-organizations an organization files its members
//! under. Creating, renaming and deleting them (`departments.manage`;
//! deletion is refused while members are filed under one) and listing
//! them (`users.read`, as the directory). Another organization's
//! department is 404 (SECURITY.md 25).
#![expect(
    unused_qualifications,
    reason = "utoipa's path macro names the `params(...)` types by their full path"
)]

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use iamkit::identity::{Department, DepartmentId, OrgId};
use iamkit::{Iam, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::OrgPath;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::json::{ApiJson, ApiPath};

/// A department.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DepartmentView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    id: DepartmentId,
    /// Its name, unique in the organization (case-insensitively).
    name: String,
}

impl From<&Department> for DepartmentView {
    fn from(department: &Department) -> Self {
        Self {
            id: department.id,
            name: department.name.as_str().to_owned(),
        }
    }
}

/// `GET /orgs/{org}/departments`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DepartmentList {
    /// By name, case-insensitively.
    departments: Vec<DepartmentView>,
}

/// `POST /orgs/{org}/departments` and `PATCH …/{department}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct DepartmentBody {
    /// Unique among the organization's departments (case-insensitively).
    name: String,
}

/// `/orgs/{org}/departments/{department}`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct DepartmentPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    org: OrgId,
    /// The department's id.
    #[param(value_type = String, format = Uuid)]
    department: DepartmentId,
}

/// The organization's departments, by name (`users.read`).
#[utoipa::path(get, path = "/orgs/{org}/departments", tag = "departments",
    operation_id = "list_departments",
    params(OrgPath),
    responses(
        (status = 200, description = "The departments, by name", body = DepartmentList),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.read` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn list<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
) -> Result<Json<DepartmentList>, ApiError> {
    let departments = iam.list_departments(&actor, org).await?;
    Ok(Json(DepartmentList {
        departments: departments.iter().map(DepartmentView::from).collect(),
    }))
}

/// Creates a department (`departments.manage`).
#[utoipa::path(post, path = "/orgs/{org}/departments", tag = "departments",
    operation_id = "create_department",
    params(OrgPath),
    request_body = DepartmentBody,
    responses(
        (status = 201, description = "Created", body = DepartmentView),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`departments.manage` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "The name breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn create<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<DepartmentBody>,
) -> Result<Response, ApiError> {
    let department = iam.create_department(&actor, org, &body.name).await?;
    Ok((StatusCode::CREATED, Json(DepartmentView::from(&department))).into_response())
}

/// Renames a department (`departments.manage`); renaming it to the name
/// it has changes nothing.
#[utoipa::path(patch, path = "/orgs/{org}/departments/{department}", tag = "departments",
    operation_id = "rename_department",
    params(DepartmentPath),
    request_body = DepartmentBody,
    responses(
        (status = 200, description = "Renamed", body = DepartmentView),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`departments.manage` required", body = ErrorBody),
        (status = 404, description = "No such department of an organization of the actor", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "The name breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn rename<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(DepartmentPath { org, department }): ApiPath<DepartmentPath>,
    ApiJson(body): ApiJson<DepartmentBody>,
) -> Result<Json<DepartmentView>, ApiError> {
    let department = iam
        .rename_department(&actor, org, department, &body.name)
        .await?;
    Ok(Json(DepartmentView::from(&department)))
}

/// Deletes a department (`departments.manage`); refused while members are
/// filed under it (move them first).
#[utoipa::path(delete, path = "/orgs/{org}/departments/{department}", tag = "departments",
    operation_id = "delete_department",
    params(DepartmentPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`departments.manage` required", body = ErrorBody),
        (status = 404, description = "No such department of an organization of the actor", body = ErrorBody),
        (status = 409, description = "`department_in_use`: members are filed under it (`records` counts them)", body = ErrorBody),
    ))]
pub(crate) async fn delete<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(DepartmentPath { org, department }): ApiPath<DepartmentPath>,
) -> Result<StatusCode, ApiError> {
    iam.delete_department(&actor, org, department).await?;
    Ok(StatusCode::NO_CONTENT)
}
