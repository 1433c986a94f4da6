//! Service accounts: non-human members for integrations, which never sign
//! in and act only through API keys an admin creates for them. Listing
//! them (`users.read`), creating them (`users.invite`, and the escalation
//! guard for their role) and creating their keys (`api_keys.manage` in
//! the key's workspace). Another organization's account or workspace is
//! 404 (SECURITY.md 25).
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
use iamkit::identity::{InvalidInput, OrgId, Rule, UserId, WorkspaceId};
use iamkit::{Iam, Placement, ServiceAccount, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api_keys::CreatedKey;
use super::{OrgPath, UserRef, no_store, parse_role};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::json::{ApiJson, ApiPath};

/// A service account.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceAccountView {
    /// The account's user id (its details: `GET /orgs/{org}/users/{user}`).
    #[schema(value_type = String, format = Uuid)]
    user: UserId,
    /// Who created it.
    #[schema(value_type = String, format = Uuid)]
    created_by: UserId,
    created_at: DateTime<Utc>,
}

impl From<&ServiceAccount> for ServiceAccountView {
    fn from(account: &ServiceAccount) -> Self {
        Self {
            user: account.user,
            created_by: account.created_by,
            created_at: account.created_at,
        }
    }
}

/// `GET /orgs/{org}/service-accounts`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceAccountList {
    /// By user id.
    service_accounts: Vec<ServiceAccountView>,
}

/// The organization's service accounts (`users.read`).
#[utoipa::path(get, path = "/orgs/{org}/service-accounts", tag = "service-accounts",
    operation_id = "list_service_accounts",
    params(OrgPath),
    responses(
        (status = 200, description = "The service accounts", body = ServiceAccountList),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`users.read` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn list<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
) -> Result<Json<ServiceAccountList>, ApiError> {
    let accounts = iam.list_service_accounts(&actor, org).await?;
    Ok(Json(ServiceAccountList {
        service_accounts: accounts.iter().map(ServiceAccountView::from).collect(),
    }))
}

/// `POST /orgs/{org}/service-accounts`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ServiceAccountBody {
    /// The account's name in the organization (its username is
    /// `sa.<organization slug>.<name>`, at most 64 characters in all).
    name: String,
    /// The name shown for it.
    display_name: String,
    /// Its organization role (a built-in role's name or a role id); none:
    /// no access until given.
    role: Option<String>,
}

/// Creates a service account (`users.invite`, and being allowed to grant
/// its role). It is ACTIVE but has no password: it acts only through keys.
#[utoipa::path(post, path = "/orgs/{org}/service-accounts", tag = "service-accounts",
    operation_id = "create_service_account",
    params(OrgPath),
    request_body = ServiceAccountBody,
    responses(
        (status = 201, description = "Created", body = UserRef),
        (status = 401, description = "Invalid credentials (or an API key)", body = ErrorBody),
        (status = 403, description = "`users.invite` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 409, description = "`username_taken`: the organization has an account of that name", body = ErrorBody),
        (status = 422, description = "`name`, `display_name` or `role` breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn create<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<ServiceAccountBody>,
) -> Result<Response, ApiError> {
    let placement = Placement {
        org_role: body.role.as_deref().map(parse_role).transpose()?,
        ..Placement::default()
    };
    let user = iam
        .create_service_account(&actor, org, &body.name, &body.display_name, &placement)
        .await
        .map_err(|e| match e {
            // The username is made from the name: name the body's field.
            iamkit::Error::InvalidInput(input) if input.field == "username" => {
                ApiError::invalid("name", input.rule)
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(UserRef { user })).into_response())
}

/// `/orgs/{org}/service-accounts/{account}/…`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AccountPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    org: OrgId,
    /// The service account's user id.
    #[param(value_type = String, format = Uuid)]
    account: UserId,
}

/// `POST /orgs/{org}/service-accounts/{account}/keys`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct AccountKeyBody {
    name: String,
    /// The workspace the key acts in (its id; required).
    #[schema(value_type = Option<String>, format = Uuid)]
    workspace: Option<String>,
    /// Permission names the key is limited to; absent: all of the
    /// account's (always intersected with its current roles).
    permissions: Option<Vec<String>>,
    /// When it stops working (RFC 3339), if ever.
    expires_at: Option<DateTime<Utc>>,
}

/// Creates an API key that acts as the service account in a workspace
/// (`api_keys.manage` there). What the key could do must be within the
/// admin's own permissions (403 `escalation` otherwise). The secret is in
/// this answer only, never cached.
#[utoipa::path(post, path = "/orgs/{org}/service-accounts/{account}/keys", tag = "service-accounts",
    operation_id = "create_service_account_key",
    params(AccountPath),
    request_body = AccountKeyBody,
    responses(
        (status = 201, description = "Created; the secret, once", body = CreatedKey),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`api_keys.manage` required, or escalation", body = ErrorBody),
        (status = 404, description = "No such service account or workspace of an organization of the actor", body = ErrorBody),
        (status = 422, description = "A field breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn create_key<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(AccountPath { org, account }): ApiPath<AccountPath>,
    ApiJson(body): ApiJson<AccountKeyBody>,
) -> Result<Response, ApiError> {
    let workspace: WorkspaceId = body
        .workspace
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| InvalidInput::new("workspace", Rule::Required))?
        .parse()
        .map_err(|_| InvalidInput::new("workspace", Rule::Malformed))?;
    let new = NewApiKey {
        name: body.name,
        workspace,
        restriction: body.permissions.map(|p| p.into_iter().collect()),
        expires_at: body.expires_at,
    };
    let created = iam
        .create_service_account_key(&actor, org, account, new)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, no_store())],
        Json(CreatedKey::from(&created)),
    )
        .into_response())
}
