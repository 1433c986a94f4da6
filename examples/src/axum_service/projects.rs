//! The app's own resource, guarded by the app's own permissions: a list of
//! project names per workspace, in memory. Each handler takes
//! [`RequirePermission`], which asks
//! [`Iam::is_allowed`](iamkit::Iam::is_allowed) before the handler runs —
//! with a session or an API key alike; for a key, the answer is its
//! restriction intersected with its creator's *current* roles
//! (SECURITY.md 23).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use iamkit::Store;
use iamkit::identity::{OrgId, UserId, WorkspaceId};
use iamkit::rbac::Scope;
use iamkit_axum::{ApiError, ApiJson, Permission, RequirePermission, ScopeFromPath};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;

/// Longest project name, in characters.
const MAX_NAME: usize = 100;

#[derive(Debug, Clone)]
struct Project {
    name: String,
    created_by: Option<UserId>,
}

/// Projects per workspace. Keyed by organization *and* workspace, as the
/// permission was checked: a workspace id from another organization in the
/// path reaches an empty, separate list, never that organization's data.
#[derive(Debug, Clone, Default)]
pub(super) struct Projects(Arc<Mutex<ProjectsByWorkspace>>);

type ProjectsByWorkspace = HashMap<(OrgId, WorkspaceId), Vec<Project>>;

/// `projects.read` in the workspace of the path.
pub(super) struct ReadProjects;

impl Permission for ReadProjects {
    const NAME: &'static str = "projects.read";
    const SCOPE: ScopeFromPath = ScopeFromPath::WORKSPACE;
}

/// `projects.write` in the workspace of the path.
pub(super) struct WriteProjects;

impl Permission for WriteProjects {
    const NAME: &'static str = "projects.write";
    const SCOPE: ScopeFromPath = ScopeFromPath::WORKSPACE;
}

/// The organization and workspace a permission was granted at.
fn workspace_of(scope: Scope) -> Result<(OrgId, WorkspaceId), ApiError> {
    match scope {
        Scope::Workspace(org, workspace) => Ok((org, workspace)),
        Scope::Organization(_) => Err(ApiError::internal()),
    }
}

/// `GET /orgs/{org}/workspaces/{ws}/projects` (`projects.read`, checked by
/// the extractor before this runs).
pub(super) async fn list<S: Store>(
    State(app): State<AppState<S>>,
    access: RequirePermission<ReadProjects>,
) -> Result<Json<Value>, ApiError> {
    let key = workspace_of(access.scope)?;
    let projects = app
        .projects
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let list = projects
        .get(&key)
        .map(|ps| {
            ps.iter()
                .map(|p| json!({ "name": p.name, "created_by": p.created_by }))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    Ok(Json(json!({ "projects": list })))
}

/// `POST /orgs/{org}/workspaces/{ws}/projects`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ProjectBody {
    name: String,
}

/// Adds a project (`projects.write`, checked by the extractor).
pub(super) async fn create<S: Store>(
    State(app): State<AppState<S>>,
    access: RequirePermission<WriteProjects>,
    ApiJson(body): ApiJson<ProjectBody>,
) -> Result<Response, ApiError> {
    let key = workspace_of(access.scope)?;
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(ApiError::invalid(
            "name",
            format_args!("must be at most {MAX_NAME} characters long"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    let project = Project {
        name: name.to_owned(),
        created_by: access.actor.user(),
    };
    app.projects
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default()
        .push(project.clone());
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": project.name, "created_by": project.created_by })),
    )
        .into_response())
}
