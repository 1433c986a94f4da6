//! Workspaces and their API keys.
#![expect(
    unused_qualifications,
    reason = "utoipa's path macro names the `params(...)` types by their full path"
)]

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iamkit::credentials::NewApiKey;
use iamkit::identity::{ApiKeyId, OrgId};
use iamkit::{CreatedApiKey, Iam, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Created, KeyView, OrgPath, OrgWorkspacePath, no_store};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::json::{ApiJson, ApiPath};

/// `POST /orgs/{org}/workspaces`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct WorkspaceBody {
    name: String,
}

/// Creates a workspace (`workspaces.manage`).
#[utoipa::path(post, path = "/orgs/{org}/workspaces", tag = "api-keys",
    params(OrgPath),
    request_body = WorkspaceBody,
    responses(
        (status = 201, description = "Created", body = Created),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`workspaces.manage` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "The name breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn create_workspace<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<WorkspaceBody>,
) -> Result<Response, ApiError> {
    let workspace = iam.create_workspace(&actor, org, &body.name).await?;
    Ok((StatusCode::CREATED, Json(Created::of(workspace))).into_response())
}

/// `POST /orgs/{org}/workspaces/{ws}/api-keys`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct NewKeyBody {
    name: String,
    /// Permission names the key is limited to; absent: all of the
    /// creator's (always intersected with the creator's current ones).
    permissions: Option<Vec<String>>,
    /// When it stops working (RFC 3339), if ever.
    expires_at: Option<DateTime<Utc>>,
}

/// A new key: its secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedKey {
    key: KeyView,
    /// `iamk_key_…`, for `Authorization: Bearer`. Not stored: shown once.
    secret: String,
}

impl From<&CreatedApiKey> for CreatedKey {
    fn from(created: &CreatedApiKey) -> Self {
        Self {
            key: KeyView::from(&created.key),
            secret: created.secret.expose().to_owned(),
        }
    }
}

/// Creates an API key for the signed-in user in the workspace
/// (`api_keys.create`).
///
/// A restriction beyond what the user holds is 403 `escalation`. The
/// creator is the authenticated user, never a body field (SECURITY.md
/// 23). The secret is in this answer only, never cached.
#[utoipa::path(post, path = "/orgs/{org}/workspaces/{ws}/api-keys", tag = "api-keys", operation_id = "create_api_key",
    params(OrgWorkspacePath),
    request_body = NewKeyBody,
    responses(
        (status = 201, description = "Created; the secret, once", body = CreatedKey),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`api_keys.create` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such workspace of an organization of the actor", body = ErrorBody),
        (status = 422, description = "A field breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn create<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgWorkspacePath { org, ws }): ApiPath<OrgWorkspacePath>,
    ApiJson(body): ApiJson<NewKeyBody>,
) -> Result<Response, ApiError> {
    let new = NewApiKey {
        name: body.name,
        workspace: ws,
        restriction: body.permissions.map(|p| p.into_iter().collect()),
        expires_at: body.expires_at,
    };
    let created = iam.create_api_key(&actor, org, new).await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, no_store())],
        Json(CreatedKey::from(&created)),
    )
        .into_response())
}

/// `GET /orgs/{org}/workspaces/{ws}/api-keys`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyList {
    api_keys: Vec<KeyView>,
}

/// Lists a workspace's keys, without secrets: every key with
/// `api_keys.manage`, else the actor's own (`api_keys.create`).
#[utoipa::path(get, path = "/orgs/{org}/workspaces/{ws}/api-keys", tag = "api-keys", operation_id = "list_api_keys",
    params(OrgWorkspacePath),
    responses(
        (status = 200, description = "The keys", body = KeyList),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`api_keys.create` required", body = ErrorBody),
        (status = 404, description = "No such workspace of an organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn list<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgWorkspacePath { org, ws }): ApiPath<OrgWorkspacePath>,
) -> Result<Json<KeyList>, ApiError> {
    let keys = iam.list_api_keys(&actor, org, ws).await?;
    Ok(Json(KeyList {
        api_keys: keys.iter().map(KeyView::from).collect(),
    }))
}

/// `/orgs/{org}/api-keys/{key}`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct KeyPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    org: OrgId,
    /// The key's id.
    #[param(value_type = String, format = Uuid)]
    key: ApiKeyId,
}

/// Revokes a key: one's own with `api_keys.create`, anyone's with
/// `api_keys.manage`; it stops working at once.
#[utoipa::path(delete, path = "/orgs/{org}/api-keys/{key}", tag = "api-keys", operation_id = "revoke_api_key",
    params(KeyPath),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`api_keys.manage` required", body = ErrorBody),
        (status = 404, description = "No such key of an organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn revoke<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(KeyPath { org, key }): ApiPath<KeyPath>,
) -> Result<StatusCode, ApiError> {
    iam.revoke_api_key(&actor, org, key).await?;
    Ok(StatusCode::NO_CONTENT)
}
