//! Signing in (password, then second factor), signing out, and the links
//! that set a password (invitation, reset). The public ones are the
//! credential endpoints the per-client limiter guards.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iamkit::credentials::Password;
use iamkit::identity::UserId;
use iamkit::{Iam, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{UserRef, no_store};
use crate::auth::{Authenticated, ClientAddr, client_metadata};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::session_cookie::{clear_session_cookie, session_token, set_session_cookie};

/// `POST /sessions`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SignInBody {
    /// Email or username.
    identifier: String,
    password: String,
}

/// A sign-in's answer (the session token is in the cookie only).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SignedInView {
    #[schema(value_type = String, format = Uuid)]
    user: UserId,
    /// The session authorizes nothing until `POST /sessions/totp`.
    second_factor_required: bool,
    /// An organization of the account requires 2FA and it has none: it
    /// can do nothing but enrol (`POST /me/totp`).
    enrolment_required: bool,
}

/// Ends the session the request's cookie names, if any: signing in again
/// in the same browser replaces its session rather than leaving it alive
/// beside the new one. Best effort: a cookie that no longer authenticates
/// has nothing to end.
async fn end_previous_session<S: Store>(iam: &Iam<S>, headers: &HeaderMap) {
    let Some(token) = session_token(headers) else {
        return;
    };
    if let Ok(actor) = iam.authenticate_session(&token).await
        && let Some(session) = actor.session()
        && let Err(e) = iam.revoke_my_session(&actor, session).await
    {
        tracing::warn!(error = %e, "previous session not ended");
    }
}

/// Password sign-in.
///
/// On success the session token goes into the `__Host-` cookie only
/// (never the body, so no script reads it), and a session the browser
/// already had ends. With 2FA on, the session authorizes nothing until
/// `POST /sessions/totp` (SECURITY.md 17). Unknown user, wrong password,
/// locked, invited or deactivated account: the same 401 (SECURITY.md 10,
/// 29). Rate limited per client.
#[utoipa::path(post, path = "/sessions", tag = "sign-in",
    request_body = SignInBody,
    responses(
        (status = 200, description = "Signed in; `Set-Cookie` carries the session", body = SignedInView),
        (status = 401, description = "Invalid credentials (one body for every cause)", body = ErrorBody),
        (status = 429, description = "This client's budget is spent", body = ErrorBody),
        (status = 503, description = "Password hashing saturated; retry", body = ErrorBody),
    ))]
pub(crate) async fn sign_in<S: Store>(
    State(iam): State<Iam<S>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignInBody>,
) -> Result<Response, ApiError> {
    let signed = iam
        .log_in(
            &body.identifier,
            &Password::new(body.password),
            client_metadata(&headers, addr),
        )
        .await?;
    end_previous_session(&iam, &headers).await;
    let cookie = set_session_cookie(signed.token.expose())?;
    Ok((
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, no_store()),
        ],
        Json(SignedInView {
            user: signed.user,
            second_factor_required: signed.second_factor_required,
            enrolment_required: signed.enrolment_required,
        }),
    )
        .into_response())
}

/// `POST /sessions/totp`: exactly one of the two.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SecondFactorBody {
    /// The authenticator app's code.
    code: Option<String>,
    /// A recovery code, used up.
    recovery_code: Option<String>,
}

/// Completes a sign-in waiting for its second factor.
///
/// The pending session is the one the cookie of `POST /sessions` names;
/// it ends and the cookie is replaced by a new session's (SECURITY.md 40).
/// Wrong, replayed or missing codes: 401, throttled per account
/// (SECURITY.md 12, 14, 38). Rate limited per client.
#[utoipa::path(post, path = "/sessions/totp", tag = "sign-in",
    request_body = SecondFactorBody,
    responses(
        (status = 200, description = "Signed in; `Set-Cookie` carries the new session", body = UserRef),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 422, description = "Neither or both codes given", body = ErrorBody),
        (status = 429, description = "This client's budget is spent", body = ErrorBody),
    ))]
pub(crate) async fn complete_second_factor<S: Store>(
    State(iam): State<Iam<S>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SecondFactorBody>,
) -> Result<Response, ApiError> {
    let token = session_token(&headers).ok_or_else(ApiError::unauthenticated)?;
    let done = match (body.code, body.recovery_code) {
        (Some(code), None) => iam.complete_sign_in_with_totp(&token, &code).await?,
        (None, Some(code)) => {
            iam.complete_sign_in_with_recovery_code(&token, &code)
                .await?
        }
        _ => {
            return Err(ApiError::invalid(
                "code",
                "give exactly one of `code` and `recovery_code`",
            ));
        }
    };
    let cookie = set_session_cookie(done.token.expose())?;
    let user = done.actor.user().ok_or_else(ApiError::internal)?;
    Ok((
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, no_store()),
        ],
        Json(UserRef { user }),
    )
        .into_response())
}

/// Signs out: ends the request's session and clears the cookie.
///
/// An API key has no session to end (revoke the key instead).
#[utoipa::path(delete, path = "/sessions/current", tag = "sign-in",
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 422, description = "An API key has no session", body = ErrorBody),
    ))]
pub(crate) async fn sign_out<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
) -> Result<Response, ApiError> {
    let Some(session) = actor.session() else {
        return Err(ApiError::invalid(
            "session",
            "an API key has no session; revoke the key instead",
        ));
    };
    iam.revoke_my_session(&actor, session).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_session_cookie())],
    )
        .into_response())
}

/// A link secret and the password it sets.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct LinkBody {
    /// The link's secret (`iamk_inv_…`, `iamk_rst_…`).
    token: String,
    password: String,
}

/// Accepts an invitation.
///
/// The invitee sets their password with the link's secret and becomes
/// ACTIVE. Any link problem is 401; a password the policy refuses is 422
/// and leaves the link usable. Rate limited per client.
#[utoipa::path(post, path = "/invitations/accept", tag = "links",
    request_body = LinkBody,
    responses(
        (status = 200, description = "Accepted", body = UserRef),
        (status = 401, description = "Invalid, used or expired link", body = ErrorBody),
        (status = 422, description = "The password breaks the policy", body = ErrorBody),
        (status = 429, description = "This client's budget is spent", body = ErrorBody),
    ))]
pub(crate) async fn accept_invitation<S: Store>(
    State(iam): State<Iam<S>>,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<Json<UserRef>, ApiError> {
    let user = iam
        .accept_invitation(&body.token, Password::new(body.password))
        .await?;
    Ok(Json(UserRef { user }))
}

/// `POST /password-resets`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ResetRequestBody {
    email: String,
}

/// "Forgot password".
///
/// Always 202, whether or not the address has an account (SECURITY.md
/// 28); the link, if any, goes through the outbox. Rate limited per
/// client.
#[utoipa::path(post, path = "/password-resets", tag = "links",
    request_body = ResetRequestBody,
    responses(
        (status = 202, description = "Accepted, whatever the address"),
        (status = 429, description = "This client's budget is spent", body = ErrorBody),
    ))]
pub(crate) async fn request_password_reset<S: Store>(
    State(iam): State<Iam<S>>,
    ApiJson(body): ApiJson<ResetRequestBody>,
) -> Result<StatusCode, ApiError> {
    iam.request_password_reset(&body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with a reset link.
///
/// Also the first Owner's bootstrap link. Does not sign in; every session
/// of the user ends (SECURITY.md 18, 21). Rate limited per client.
#[utoipa::path(post, path = "/password-resets/complete", tag = "links",
    request_body = LinkBody,
    responses(
        (status = 200, description = "The password is set", body = UserRef),
        (status = 401, description = "Invalid, used or expired link", body = ErrorBody),
        (status = 422, description = "The password breaks the policy", body = ErrorBody),
        (status = 429, description = "This client's budget is spent", body = ErrorBody),
    ))]
pub(crate) async fn complete_password_reset<S: Store>(
    State(iam): State<Iam<S>>,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<Json<UserRef>, ApiError> {
    let user = iam
        .reset_password(&body.token, Password::new(body.password))
        .await?;
    Ok(Json(UserRef { user }))
}
