//! An organization's settings (`org.settings`): two-factor enforcement,
//! the default time zone, the auto-join rules; and joining an
//! organization by one's verified email domain. Another organization is
//! 404 (SECURITY.md 25).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use iamkit::identity::RoleId;
use iamkit::{Iam, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{OrgPath, RoleView, parse_role};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::json::{ApiJson, ApiPath};

/// `PUT /orgs/{org}/settings/two-factor-required`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct TwoFactorRequiredBody {
    /// Whether every member must use a second factor.
    required: bool,
}

/// Turns two-factor enforcement on or off (`org.settings`): under it a
/// member without a confirmed second factor can do nothing but enrol.
/// Applied from the next authorization check.
#[utoipa::path(put, path = "/orgs/{org}/settings/two-factor-required", tag = "settings",
    operation_id = "set_two_factor_required",
    params(OrgPath),
    request_body = TwoFactorRequiredBody,
    responses(
        (status = 204, description = "Set"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`org.settings` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 422, description = "`required` is not a boolean", body = ErrorBody),
    ))]
pub(crate) async fn two_factor_required<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<TwoFactorRequiredBody>,
) -> Result<StatusCode, ApiError> {
    iam.set_two_factor_required(&actor, org, body.required)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /orgs/{org}/settings/default-time-zone`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct TimeZoneBody {
    /// An IANA time zone (`Europe/Lisbon`); `null`: UTC.
    time_zone: Option<String>,
}

/// Sets the time zone of the members who chose none (`org.settings`).
#[utoipa::path(put, path = "/orgs/{org}/settings/default-time-zone", tag = "settings",
    operation_id = "set_default_time_zone",
    params(OrgPath),
    request_body = TimeZoneBody,
    responses(
        (status = 204, description = "Set"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`org.settings` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 422, description = "`time_zone` is no IANA time zone", body = ErrorBody),
    ))]
pub(crate) async fn default_time_zone<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<TimeZoneBody>,
) -> Result<StatusCode, ApiError> {
    iam.set_default_time_zone(&actor, org, body.time_zone.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One auto-join rule (`Serialize` for the schema's default).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct AutoJoinRule {
    /// An email domain (`example.com`).
    domain: String,
    /// The organization role those who join get: a built-in role's name
    /// or a role id.
    role: String,
}

/// `PUT /orgs/{org}/settings/auto-join`: the whole list.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct AutoJoinBody {
    /// The rules; empty: nobody joins on their own.
    rules: Vec<AutoJoinRule>,
}

/// Replaces the auto-join rules (`org.settings`, and being allowed to
/// grant each default role): a user whose verified email is at a listed
/// domain may join with that domain's role.
#[utoipa::path(put, path = "/orgs/{org}/settings/auto-join", tag = "settings",
    operation_id = "set_auto_join",
    params(OrgPath),
    request_body = AutoJoinBody,
    responses(
        (status = 204, description = "Replaced"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`org.settings` required, or escalation (a role the actor may not grant)", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 422, description = "A `domain` or `role` breaks a rule", body = ErrorBody),
    ))]
pub(crate) async fn auto_join<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    ApiJson(body): ApiJson<AutoJoinBody>,
) -> Result<StatusCode, ApiError> {
    let rules = body
        .rules
        .iter()
        .map(|rule| Ok((rule.domain.as_str(), parse_role(&rule.role)?)))
        .collect::<Result<Vec<(&str, RoleId)>, ApiError>>()?;
    iam.set_auto_join(&actor, org, &rules).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /orgs/{org}/join`: the role received.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Joined {
    /// The organization role the domain's rule gives.
    role: RoleView,
}

/// Joins an organization on one's own (a signed-in user, no permission):
/// one's email must be verified and at a domain the organization lists.
/// Anything else is 404: an organization is not revealed to outsiders.
#[utoipa::path(post, path = "/orgs/{org}/join", tag = "settings",
    operation_id = "join_by_domain",
    params(OrgPath),
    responses(
        (status = 201, description = "Joined, with the domain's role", body = Joined),
        (status = 401, description = "Invalid credentials (or an API key)", body = ErrorBody),
        (status = 404, description = "No organization one's verified email domain may join", body = ErrorBody),
        (status = 409, description = "`already_member`", body = ErrorBody),
    ))]
pub(crate) async fn join<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
) -> Result<Response, ApiError> {
    let role = iam.join_by_domain(&actor, org).await?;
    Ok((
        StatusCode::CREATED,
        Json(Joined {
            role: RoleView::from(role),
        }),
    )
        .into_response())
}
