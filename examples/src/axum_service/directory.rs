//! The admin side of users: directory, invitation, detail, role,
//! deactivation, activity. Every call names its organization in the path;
//! iamkit checks the actor's permission there and answers 404 for another
//! tenant's organization or user (SECURITY.md 25).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use iamkit::audit::Outcome;
use iamkit::identity::{
    DirectoryQuery, InvalidInput, OrgId, RoleId, Rule, User, UserId, UserStatus,
};
use iamkit::rbac::{BuiltinRole, Scope, Source};
use iamkit::store_api::Cursor;
use iamkit::{ActivityLine, NewAccount, Placement, Store};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::Authenticated;
use super::errors::ApiError;
use super::json::{ApiJson, ApiPath};

/// A role by built-in name (`owner`, `admin`, `approver`, `requester`,
/// `auditor`, `read_only`; case, `-` and spaces ignored) or by id (custom
/// roles).
pub(super) fn parse_role(raw: &str) -> Result<RoleId, ApiError> {
    let normal = |s: &str| s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let wanted = normal(raw);
    BuiltinRole::ALL
        .into_iter()
        .find(|r| normal(r.name()) == wanted)
        .map(BuiltinRole::id)
        .or_else(|| raw.trim().parse().ok())
        .ok_or_else(|| ApiError::invalid("role", "is not a built-in role name or a role id"))
}

/// A role as JSON: its id and, for a built-in one, its name.
pub(super) fn role_json(role: RoleId) -> Value {
    json!({
        "id": role,
        "name": BuiltinRole::from_id(role).map_or("custom", BuiltinRole::name),
    })
}

/// An account as the admin console shows it, with `status` the membership's
/// status in the organization listed.
fn user_json(user: &User, status: UserStatus) -> Value {
    let profile = &user.profile;
    json!({
        "id": user.id,
        "username": user.username.as_str(),
        "email": user.email.as_str(),
        "email_verified": user.email_verified,
        "first_name": profile.first_name.as_str(),
        "last_name": profile.last_name.as_str(),
        "display_name": profile.display_name.as_ref().map(|n| n.as_str()),
        "language": profile.language.code(),
        "status": status.label(),
        "account_status": user.status.label(),
        "last_sign_in_at": user.last_sign_in_at,
    })
}

fn scope_json(scope: Scope) -> Value {
    match scope {
        Scope::Organization(_) => json!("organization"),
        Scope::Workspace(_, workspace) => json!({ "workspace": workspace }),
    }
}

fn source_json(source: Source) -> Value {
    match source {
        Source::Direct => json!("direct"),
        Source::Group(group) => json!({ "group": group }),
        Source::Team(team) => json!({ "team": team }),
    }
}

fn activity_json(line: &ActivityLine) -> Value {
    let event = &line.event;
    json!({
        "seq": event.seq,
        "at": event.at,
        "action": event.action.kind().as_str(),
        "actor": line.actor,
        "target": line.target,
        "outcome": match event.outcome {
            Outcome::Success => "success",
            Outcome::Denied { .. } => "denied",
        },
    })
}

/// `GET /orgs/{org}/users` query.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DirectoryParams {
    /// Free text (names, username, email).
    q: Option<String>,
    /// `INVITED`, `ACTIVE` or `DEACTIVATED`.
    status: Option<String>,
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

/// `GET /orgs/{org}/users?q=&status=&limit=&after=`: one page of the
/// directory (`users.read`).
pub(super) async fn list<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(org): ApiPath<OrgId>,
    params: Result<Query<DirectoryParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(params) = params.map_err(|_| ApiError::invalid("query", "is malformed"))?;
    let page = app.iam.directory(&actor, org, &params.query()?).await?;
    Ok(Json(json!({
        "users": page
            .items
            .iter()
            .map(|e| user_json(&e.user, e.membership.status))
            .collect::<Vec<_>>(),
        "next": page.next.as_ref().map(Cursor::as_str),
    })))
}

/// `POST /orgs/{org}/invitations`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct InviteBody {
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    /// `en`, `es` or `pt`.
    language: Option<String>,
    /// The organization role to start with (none: no access until given).
    role: Option<String>,
}

/// Invites a person (`users.invite`, plus `roles.assign` for a role): the
/// account appears INVITED and the invitation waits in the outbox for the
/// mailer.
pub(super) async fn invite<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(org): ApiPath<OrgId>,
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
    let invited = app.iam.invite(&actor, org, &account, &placement).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "user": invited.user,
        })),
    )
        .into_response())
}

/// `GET /orgs/{org}/users/{user}`: the detail page (`users.read`): roles
/// with where they come from, groups, 2FA, live sessions, API keys. No
/// secrets: iamkit holds only hashes of them.
pub(super) async fn detail<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiPath((org, user)): ApiPath<(OrgId, UserId)>,
) -> Result<Json<Value>, ApiError> {
    let detail = app.iam.user_detail(&actor, org, user).await?;
    Ok(Json(json!({
        "user": user_json(&detail.user, detail.membership.status),
        "org_role": detail.org_role.map(role_json),
        "roles": detail
            .roles
            .iter()
            .map(|r| json!({
                "role": { "id": r.role, "name": r.role_name },
                "scope": scope_json(r.scope),
                "source": source_json(r.source),
            }))
            .collect::<Vec<_>>(),
        "groups": detail.groups,
        "two_factor_enabled": detail.two_factor_enabled,
        "sessions": detail
            .sessions
            .iter()
            .map(|s| json!({
                "id": s.id,
                "created_at": s.created_at,
                "last_seen_at": s.last_seen_at,
                "ip": s.client.ip,
            }))
            .collect::<Vec<_>>(),
        "api_keys": detail.api_keys.iter().map(super::api_keys::key_json).collect::<Vec<_>>(),
    })))
}

/// `PUT /orgs/{org}/users/{user}/role`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RoleBody {
    /// The new organization role; `null` removes it.
    role: Option<String>,
}

/// Changes a member's organization role (`roles.assign`, holding both
/// roles, Owner to touch Owner, never the last Owner): effective on the
/// very next request, API keys of the member included (SECURITY.md 23).
pub(super) async fn change_role<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiPath((org, user)): ApiPath<(OrgId, UserId)>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<Value>, ApiError> {
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let previous = app.iam.change_org_role(&actor, org, user, role).await?;
    Ok(Json(json!({
        "previous": previous.map(role_json),
        "role": role.map(role_json),
    })))
}

/// `POST /orgs/{org}/users/{user}/deactivate` (`users.deactivate`): the
/// member's sessions, API keys and pending links end in the same
/// transaction (SECURITY.md 20).
pub(super) async fn deactivate<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiPath((org, user)): ApiPath<(OrgId, UserId)>,
) -> Result<StatusCode, ApiError> {
    app.iam.deactivate(&actor, org, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /orgs/{org}/users/{user}/activity`: the newest audit events that
/// involve the user, names resolved (`users.read` and `audit.read`).
pub(super) async fn activity<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiPath((org, user)): ApiPath<(OrgId, UserId)>,
) -> Result<Json<Value>, ApiError> {
    // iamkit leaves the activity out without `audit.read`; here it is all
    // the endpoint shows, so say why rather than answer an empty list.
    if !app
        .iam
        .is_allowed(&actor, "audit.read", Scope::Organization(org))
        .await
    {
        // Not a member at all: the same 404 as iamkit's tenant check.
        app.iam.user_detail(&actor, org, user).await?;
        return Err(ApiError::forbidden("audit.read"));
    }
    let detail = app.iam.user_detail(&actor, org, user).await?;
    Ok(Json(json!({
        "activity": detail.recent_activity.iter().map(activity_json).collect::<Vec<_>>(),
    })))
}

#[cfg(test)]
mod tests {
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
