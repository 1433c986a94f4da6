//! The JSON API's handlers, one module per route group, and the views
//! they answer with. Every handler is documented with `#[utoipa::path]`;
//! [`crate::IamRouter`] mounts a group's routes at the paths its
//! documentation names, so the two cannot drift apart.

pub(crate) mod access_requests;
pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod custom_roles;
pub(crate) mod departments;
pub(crate) mod directory;
pub(crate) mod groups;
pub(crate) mod me;
pub(crate) mod service_accounts;
pub(crate) mod settings;
pub(crate) mod sign_in;

use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use iamkit::credentials::ApiKey;
use iamkit::identity::{ApiKeyId, OrgId, RoleId, User, UserId, UserStatus, WorkspaceId};
use iamkit::rbac::BuiltinRole;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// Secrets in a response must not be kept by any cache.
pub(crate) fn no_store() -> HeaderValue {
    HeaderValue::from_static("no-store")
}

/// `/orgs/{org}/…`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct OrgPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    pub(crate) org: OrgId,
}

/// `/orgs/{org}/users/{user}/…`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct OrgUserPath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    pub(crate) org: OrgId,
    /// The user's id.
    #[param(value_type = String, format = Uuid)]
    pub(crate) user: UserId,
}

/// `/orgs/{org}/workspaces/{ws}/…`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct OrgWorkspacePath {
    /// The organization's id.
    #[param(value_type = String, format = Uuid)]
    pub(crate) org: OrgId,
    /// The workspace's id.
    #[param(value_type = String, format = Uuid)]
    pub(crate) ws: WorkspaceId,
}

/// A role by built-in name (`owner`, `admin`, `approver`, `requester`,
/// `auditor`, `read_only`; case, `-` and spaces ignored) or by id (custom
/// roles).
pub(crate) fn parse_role(raw: &str) -> Result<RoleId, ApiError> {
    let normal = |s: &str| s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let wanted = normal(raw);
    BuiltinRole::ALL
        .into_iter()
        .find(|r| normal(r.name()) == wanted)
        .map(BuiltinRole::id)
        .or_else(|| raw.trim().parse().ok())
        .ok_or_else(|| ApiError::invalid("role", "is not a built-in role name or a role id"))
}

/// A role: its id and, for a built-in one, its name (`custom` otherwise).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct RoleView {
    /// The role's id.
    #[schema(value_type = String, format = Uuid)]
    pub(crate) id: RoleId,
    /// `Owner`, `Admin`, `Approver`, `Requester`, `Auditor`, `Read-only`
    /// or `custom`.
    pub(crate) name: String,
}

impl From<RoleId> for RoleView {
    fn from(role: RoleId) -> Self {
        Self {
            id: role,
            name: BuiltinRole::from_id(role)
                .map_or("custom", BuiltinRole::name)
                .to_owned(),
        }
    }
}

/// An account as the admin console shows it; `status` is the membership's
/// status in the organization listed, `account_status` the account's.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct UserView {
    #[schema(value_type = String, format = Uuid)]
    id: UserId,
    username: String,
    email: String,
    email_verified: bool,
    first_name: String,
    last_name: String,
    display_name: Option<String>,
    /// `en`, `es` or `pt`.
    language: String,
    /// `INVITED`, `ACTIVE` or `DEACTIVATED`.
    status: String,
    /// `INVITED`, `ACTIVE` or `DEACTIVATED`.
    account_status: String,
    last_sign_in_at: Option<DateTime<Utc>>,
}

impl UserView {
    pub(crate) fn new(user: &User, status: UserStatus) -> Self {
        let profile = &user.profile;
        Self {
            id: user.id,
            username: user.username.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
            email_verified: user.email_verified,
            first_name: profile.first_name.as_str().to_owned(),
            last_name: profile.last_name.as_str().to_owned(),
            display_name: profile.display_name.as_ref().map(|n| n.as_str().to_owned()),
            language: profile.language.code().to_owned(),
            status: status.label().to_owned(),
            account_status: user.status.label().to_owned(),
            last_sign_in_at: user.last_sign_in_at,
        }
    }
}

/// An API key, without its secret (iamkit keeps only its hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct KeyView {
    #[schema(value_type = String, format = Uuid)]
    id: ApiKeyId,
    name: String,
    #[schema(value_type = String, format = Uuid)]
    workspace: WorkspaceId,
    /// The permissions it is limited to; `null`: all of its creator's.
    permissions: Option<Vec<String>>,
    #[schema(value_type = String, format = Uuid)]
    created_by: UserId,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for KeyView {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name.clone(),
            workspace: key.workspace,
            permissions: key
                .restriction
                .as_ref()
                .map(|set| set.iter().cloned().collect()),
            created_by: key.created_by,
            created_at: key.created_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// The id of what was created.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Created {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub(crate) id: String,
}

impl Created {
    pub(crate) fn of(id: impl ToString) -> Self {
        Self { id: id.to_string() }
    }
}

/// A user id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct UserRef {
    /// The user's id.
    #[schema(value_type = String, format = Uuid)]
    pub(crate) user: UserId,
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn roles_parse_by_name_or_id() {
        assert_eq!(parse_role("admin").ok(), Some(BuiltinRole::Admin.id()));
        assert_eq!(
            parse_role("Read-only").ok(),
            Some(BuiltinRole::ReadOnly.id())
        );
        assert_eq!(
            parse_role("read_only").ok(),
            Some(BuiltinRole::ReadOnly.id())
        );
        let id = BuiltinRole::Auditor.id().to_string();
        assert_eq!(parse_role(&id).ok(), Some(BuiltinRole::Auditor.id()));
        let err = parse_role("superuser").err().map(|e| e.status());
        assert_eq!(err, Some(StatusCode::UNPROCESSABLE_ENTITY));
    }
}
