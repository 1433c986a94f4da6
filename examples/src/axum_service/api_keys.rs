//! Workspaces and their API keys.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iamkit::Store;
use iamkit::credentials::{ApiKey, NewApiKey};
use iamkit::identity::{ApiKeyId, OrgId, WorkspaceId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::Authenticated;
use super::errors::ApiError;
use super::json::{ApiJson, ApiPath};
use super::two_factor::no_store;

/// A key as JSON, without its secret (iamkit keeps only its hash).
pub(super) fn key_json(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "name": key.name,
        "workspace": key.workspace,
        "permissions": key.restriction,
        "created_by": key.created_by,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    })
}

/// `POST /orgs/{org}/workspaces`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct WorkspaceBody {
    name: String,
}

/// Creates a workspace (`workspaces.manage`).
pub(super) async fn create_workspace<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(org): ApiPath<OrgId>,
    ApiJson(body): ApiJson<WorkspaceBody>,
) -> Result<Response, ApiError> {
    let workspace = app.iam.create_workspace(&actor, org, &body.name).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": workspace }))).into_response())
}

/// `POST /orgs/{org}/workspaces/{ws}/api-keys`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NewKeyBody {
    name: String,
    /// Permission names the key is limited to; absent: all of the
    /// creator's (always intersected with the creator's current ones).
    permissions: Option<Vec<String>>,
    /// When it stops working (RFC 3339), if ever.
    expires_at: Option<DateTime<Utc>>,
}

/// Creates a key for the signed-in user in the workspace
/// (`api_keys.create`; a restriction beyond what the user holds is 403
/// `escalation`). The creator is the authenticated user, never a body
/// field (SECURITY.md 23). The secret is in this answer only.
pub(super) async fn create<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiPath((org, workspace)): ApiPath<(OrgId, WorkspaceId)>,
    ApiJson(body): ApiJson<NewKeyBody>,
) -> Result<Response, ApiError> {
    let new = NewApiKey {
        name: body.name,
        workspace,
        restriction: body.permissions.map(|p| p.into_iter().collect()),
        expires_at: body.expires_at,
    };
    let created = app.iam.create_api_key(&actor, org, new).await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, no_store())],
        Json(json!({
            "key": key_json(&created.key),
            "secret": created.secret.expose(),
        })),
    )
        .into_response())
}

/// `GET /orgs/{org}/workspaces/{ws}/api-keys`: every key of the workspace
/// with `api_keys.manage`, else the actor's own (`api_keys.create`).
pub(super) async fn list<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiPath((org, workspace)): ApiPath<(OrgId, WorkspaceId)>,
) -> Result<Json<Value>, ApiError> {
    let keys = app.iam.list_api_keys(&actor, org, workspace).await?;
    Ok(Json(json!({
        "api_keys": keys.iter().map(key_json).collect::<Vec<_>>(),
    })))
}

/// `DELETE /orgs/{org}/api-keys/{key}`: one's own key with
/// `api_keys.create`, anyone's with `api_keys.manage`; it stops working at
/// once.
pub(super) async fn revoke<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiPath((org, key)): ApiPath<(OrgId, ApiKeyId)>,
) -> Result<StatusCode, ApiError> {
    app.iam.revoke_api_key(&actor, org, key).await?;
    Ok(StatusCode::NO_CONTENT)
}
