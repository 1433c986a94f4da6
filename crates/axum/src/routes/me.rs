//! What a signed-in user does for themself: who am I, where am I signed
//! in (and signing out elsewhere), TOTP enrolment and removal, recovery
//! codes, the password, re-authentication. And the health check.
#![expect(
    unused_qualifications,
    reason = "utoipa's path macro names the `params(...)` types by their full path"
)]

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iamkit::credentials::Password;
use iamkit::identity::{ApiKeyId, OrgId, SessionId, UserId};
use iamkit::{Iam, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::no_store;
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::json::{ApiJson, ApiPath};

/// The health check's answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// Health check: 200 while the service runs (it does not touch the store).
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "Running", body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// An organization the actor acts in.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrganizationView {
    #[schema(value_type = String, format = Uuid)]
    id: OrgId,
    name: String,
    slug: String,
}

/// `GET /me`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MeView {
    /// The user (for an API key, its creator).
    #[schema(value_type = Option<String>, format = Uuid)]
    user: Option<UserId>,
    /// `session` or `api_key`.
    via: &'static str,
    /// The key, when the request came with one.
    #[schema(value_type = Option<String>, format = Uuid)]
    api_key: Option<ApiKeyId>,
    /// Where the actor acts (for a key, its organization).
    organizations: Vec<OrganizationView>,
}

/// Who am I: the actor and the organizations it acts in.
#[utoipa::path(get, path = "/me", tag = "me",
    responses(
        (status = 200, description = "The actor", body = MeView),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
    ))]
pub(crate) async fn me<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
) -> Result<Json<MeView>, ApiError> {
    let organizations = iam.organizations_of(&actor).await?;
    Ok(Json(MeView {
        user: actor.user(),
        via: if actor.api_key().is_some() {
            "api_key"
        } else {
            "session"
        },
        api_key: actor.api_key(),
        organizations: organizations
            .iter()
            .map(|o| OrganizationView {
                id: o.id,
                name: o.name.as_str().to_owned(),
                slug: o.slug.as_str().to_owned(),
            })
            .collect(),
    }))
}

/// One of the user's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionView {
    #[schema(value_type = String, format = Uuid)]
    id: SessionId,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    /// The client address recorded at sign-in.
    ip: Option<String>,
    user_agent: Option<String>,
    /// Whether it is the session of this request.
    current: bool,
}

/// `GET /me/sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionsView {
    sessions: Vec<SessionView>,
}

/// Where I am signed in: the user's live sessions.
#[utoipa::path(get, path = "/me/sessions", tag = "me",
    responses(
        (status = 200, description = "The live sessions", body = SessionsView),
        (status = 401, description = "Invalid credentials (or an API key)", body = ErrorBody),
    ))]
pub(crate) async fn sessions<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
) -> Result<Json<SessionsView>, ApiError> {
    let sessions = iam.list_my_sessions(&actor).await?;
    Ok(Json(SessionsView {
        sessions: sessions
            .into_iter()
            .map(|s| SessionView {
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                ip: s.client.ip,
                user_agent: s.client.user_agent,
                current: s.current,
            })
            .collect(),
    }))
}

/// `/me/sessions/{session}`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct SessionPath {
    /// The session's id.
    #[param(value_type = String, format = Uuid)]
    session: SessionId,
}

/// Ends one of my sessions (another device, or this one).
#[utoipa::path(delete, path = "/me/sessions/{session}", tag = "me",
    params(SessionPath),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 404, description = "No such session of mine", body = ErrorBody),
    ))]
pub(crate) async fn revoke_session<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(SessionPath { session }): ApiPath<SessionPath>,
) -> Result<StatusCode, ApiError> {
    iam.revoke_my_session(&actor, session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /me/totp`: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TotpSetupView {
    /// The key as base32 text, for typing into an authenticator app.
    secret: String,
    /// The `otpauth://` URI the QR code holds.
    otpauth_uri: String,
    /// The QR code as an SVG document.
    qr_svg: String,
}

/// Starts TOTP enrolment.
///
/// A fresh key as base32 text, `otpauth://` URI and SVG QR code, shown
/// once and never cached. 2FA is not on until confirmed; starting again
/// replaces a pending enrolment. 409 when 2FA is already on; 403
/// `reauthentication_required` on a session older than the
/// re-authentication window (SECURITY.md 39).
#[utoipa::path(post, path = "/me/totp", tag = "me",
    responses(
        (status = 201, description = "The key, once", body = TotpSetupView),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "Re-authentication required", body = ErrorBody),
        (status = 409, description = "2FA is already on", body = ErrorBody),
    ))]
pub(crate) async fn begin_totp<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
) -> Result<Response, ApiError> {
    let setup = iam.begin_totp_enrolment(&actor).await?;
    let qr_svg = setup.qr_svg().map_err(|e| {
        tracing::error!(error = %e, "QR code");
        ApiError::internal()
    })?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, no_store())],
        Json(TotpSetupView {
            secret: setup.secret_base32().expose().to_owned(),
            otpauth_uri: setup.uri.expose().to_owned(),
            qr_svg,
        }),
    )
        .into_response())
}

/// `POST /me/totp/confirm`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ConfirmBody {
    /// The authenticator app's current code.
    code: String,
}

/// The recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecoveryCodesView {
    recovery_codes: Vec<String>,
}

/// Confirms TOTP enrolment with a first code.
///
/// 2FA is on and the recovery codes come back, once. A wrong code is 401
/// and counts towards the account's lockout.
#[utoipa::path(post, path = "/me/totp/confirm", tag = "me",
    request_body = ConfirmBody,
    responses(
        (status = 200, description = "2FA is on; the recovery codes, once", body = RecoveryCodesView),
        (status = 401, description = "Invalid credentials or code", body = ErrorBody),
    ))]
pub(crate) async fn confirm_totp<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Result<Response, ApiError> {
    let codes = iam.confirm_totp_enrolment(&actor, &body.code).await?;
    Ok((
        [(header::CACHE_CONTROL, no_store())],
        Json(RecoveryCodesView {
            recovery_codes: codes.iter().map(|c| c.expose().to_owned()).collect(),
        }),
    )
        .into_response())
}

/// `POST /me/reauthenticate`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ReauthenticateBody {
    /// The current password.
    password: String,
}

/// Proves the password again, for the changes that need a recent
/// authentication (SECURITY.md 39). A wrong password is 401 and counts
/// towards the lockout.
#[utoipa::path(post, path = "/me/reauthenticate", tag = "me",
    request_body = ReauthenticateBody,
    responses(
        (status = 204, description = "Re-authenticated"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
    ))]
pub(crate) async fn reauthenticate<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<ReauthenticateBody>,
) -> Result<StatusCode, ApiError> {
    iam.reauthenticate(&actor, &Password::new(body.password))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /me/password`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ChangePasswordBody {
    /// The current password.
    current_password: String,
    /// The new one; it must pass the password policy.
    new_password: String,
}

/// Changes my password: the current one must be right (a wrong one is 401
/// and counts towards the lockout) and the new one pass the policy. Every
/// other session of mine ends; this one stays.
#[utoipa::path(post, path = "/me/password", tag = "me",
    request_body = ChangePasswordBody,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Invalid credentials, or a wrong current password", body = ErrorBody),
        (status = 422, description = "`new_password` breaks the policy", body = ErrorBody),
    ))]
pub(crate) async fn change_password<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<StatusCode, ApiError> {
    iam.change_password(
        &actor,
        &Password::new(body.current_password),
        Password::new(body.new_password),
    )
    .await
    .map_err(|e| match e {
        // The body has two passwords: the policy concerns the new one.
        iamkit::Error::InvalidPassword { rule } => ApiError::invalid("new_password", rule),
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /me/totp`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct DisableTotpBody {
    /// The current password.
    password: String,
}

/// Turns my two-factor authentication off: the current password is
/// required in the body (a wrong one is 401 and counts towards the
/// lockout); the TOTP key and the recovery codes go, and I am notified.
#[utoipa::path(delete, path = "/me/totp", tag = "me",
    request_body = DisableTotpBody,
    responses(
        (status = 204, description = "2FA is off"),
        (status = 401, description = "Invalid credentials, or a wrong password", body = ErrorBody),
        (status = 404, description = "2FA is not on", body = ErrorBody),
    ))]
pub(crate) async fn disable_totp<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<DisableTotpBody>,
) -> Result<StatusCode, ApiError> {
    iam.disable_two_factor(&actor, &Password::new(body.password))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces my recovery codes with a fresh set, shown once (the old ones
/// stop working at once). Needs 2FA on (404 otherwise) and a recent
/// authentication: 403 `reauthentication_required` on an older session
/// (`POST /me/reauthenticate` first, SECURITY.md 39).
#[utoipa::path(post, path = "/me/recovery-codes", tag = "me",
    responses(
        (status = 201, description = "The new recovery codes, once", body = RecoveryCodesView),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "Re-authentication required", body = ErrorBody),
        (status = 404, description = "2FA is not on", body = ErrorBody),
    ))]
pub(crate) async fn regenerate_recovery_codes<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
) -> Result<Response, ApiError> {
    let codes = iam.regenerate_recovery_codes(&actor).await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, no_store())],
        Json(RecoveryCodesView {
            recovery_codes: codes.iter().map(|c| c.expose().to_owned()).collect(),
        }),
    )
        .into_response())
}

/// `DELETE /me/sessions` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SignOutParams {
    /// Keep this session (the default), or end it too (`false`).
    #[serde(default = "keep")]
    keep_current: bool,
}

/// Keeps the current session unless asked otherwise.
fn keep() -> bool {
    true
}

/// How many sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SignedOut {
    revoked: u64,
}

/// Signs me out everywhere else, or everywhere (`keep_current=false`).
#[utoipa::path(delete, path = "/me/sessions", tag = "me",
    operation_id = "revoke_my_sessions",
    params(SignOutParams),
    responses(
        (status = 200, description = "Sessions ended", body = SignedOut),
        (status = 401, description = "Invalid credentials (or an API key)", body = ErrorBody),
        (status = 422, description = "`keep_current` is not a boolean", body = ErrorBody),
    ))]
pub(crate) async fn revoke_sessions<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    params: Result<Query<SignOutParams>, QueryRejection>,
) -> Result<Json<SignedOut>, ApiError> {
    let Query(params) =
        params.map_err(|_| ApiError::invalid("keep_current", "is not true or false"))?;
    let revoked = iam.revoke_my_sessions(&actor, params.keep_current).await?;
    Ok(Json(SignedOut { revoked }))
}
