//! Signing in and out, links that set a password, and "who am I".

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iamkit::Store;
use iamkit::credentials::Password;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::{
    Authenticated, ClientAddr, clear_session_cookie, client_metadata, session_cookie,
    session_set_cookie,
};
use super::errors::ApiError;
use super::json::ApiJson;
use super::two_factor::no_store;

/// `POST /sessions`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SignInBody {
    /// Email or username.
    identifier: String,
    password: String,
}

/// Password sign-in. On success the session token goes into the cookie
/// only (never the body, so no script reads it). With 2FA on, the session
/// authorizes nothing until `POST /sessions/totp` (SECURITY.md 17).
/// Unknown user, wrong password, locked, invited or deactivated account:
/// the same 401 (SECURITY.md 10, 29).
pub(super) async fn sign_in<S: Store>(
    State(app): State<AppState<S>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignInBody>,
) -> Result<Response, ApiError> {
    let signed = app
        .iam
        .log_in(
            &body.identifier,
            &Password::new(body.password),
            client_metadata(&headers, addr),
        )
        .await?;
    let cookie = session_set_cookie(signed.token.expose())?;
    Ok((
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, no_store()),
        ],
        Json(json!({
            "user": signed.user,
            "second_factor_required": signed.second_factor_required,
            "enrolment_required": signed.enrolment_required,
        })),
    )
        .into_response())
}

/// `POST /sessions/totp`: exactly one of the two.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SecondFactorBody {
    /// The authenticator app's code.
    code: Option<String>,
    /// A recovery code, used up.
    recovery_code: Option<String>,
}

/// Completes a sign-in waiting for its second factor, identified by the
/// session cookie that `POST /sessions` set. The pending session ends and
/// the cookie is replaced by a new session's (SECURITY.md 40). Wrong,
/// replayed or missing codes: 401, throttled per account (SECURITY.md 12,
/// 14, 38).
pub(super) async fn complete_second_factor<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SecondFactorBody>,
) -> Result<Response, ApiError> {
    let token = session_cookie(&headers).ok_or_else(ApiError::unauthenticated)?;
    let done = match (body.code, body.recovery_code) {
        (Some(code), None) => app.iam.complete_sign_in_with_totp(&token, &code).await?,
        (None, Some(code)) => {
            app.iam
                .complete_sign_in_with_recovery_code(&token, &code)
                .await?
        }
        _ => {
            return Err(ApiError::invalid(
                "code",
                "give exactly one of `code` and `recovery_code`",
            ));
        }
    };
    let cookie = session_set_cookie(done.token.expose())?;
    Ok((
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, no_store()),
        ],
        Json(json!({ "user": done.actor.user() })),
    )
        .into_response())
}

/// A link secret and the password it sets.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LinkBody {
    token: String,
    password: String,
}

/// `POST /invitations/accept`: the invitee sets their password with the
/// link's secret and becomes ACTIVE. Any link problem is 401; a password
/// the policy refuses is 422 and leaves the link usable.
pub(super) async fn accept_invitation<S: Store>(
    State(app): State<AppState<S>>,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = app
        .iam
        .accept_invitation(&body.token, Password::new(body.password))
        .await?;
    Ok(Json(json!({ "user": user })))
}

/// `POST /password-resets`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ResetRequestBody {
    email: String,
}

/// "Forgot password": always 202, whether or not the address has an
/// account (SECURITY.md 28); the link, if any, goes through the outbox.
pub(super) async fn request_password_reset<S: Store>(
    State(app): State<AppState<S>>,
    ApiJson(body): ApiJson<ResetRequestBody>,
) -> Result<StatusCode, ApiError> {
    app.iam.request_password_reset(&body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /password-resets/complete`: sets a new password with a reset link
/// (also the first Owner's bootstrap link). Does not sign in; every session
/// of the user ends (SECURITY.md 18, 21).
pub(super) async fn complete_password_reset<S: Store>(
    State(app): State<AppState<S>>,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = app
        .iam
        .reset_password(&body.token, Password::new(body.password))
        .await?;
    Ok(Json(json!({ "user": user })))
}

/// `GET /me`: the actor and the organizations it acts in.
pub(super) async fn me<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    let organizations = app.iam.organizations_of(&actor).await?;
    Ok(Json(json!({
        "user": actor.user(),
        "via": if actor.api_key().is_some() { "api_key" } else { "session" },
        "api_key": actor.api_key(),
        "organizations": organizations
            .iter()
            .map(|o| json!({ "id": o.id, "name": o.name.as_str(), "slug": o.slug.as_str() }))
            .collect::<Vec<_>>(),
    })))
}

/// `DELETE /sessions/current`: ends the request's session and clears the
/// cookie. An API key has no session to end (revoke the key instead).
pub(super) async fn sign_out<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
) -> Result<Response, ApiError> {
    let Some(session) = actor.session() else {
        return Err(ApiError::invalid(
            "session",
            "an API key has no session; revoke the key instead",
        ));
    };
    app.iam.revoke_my_session(&actor, session).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_session_cookie())],
    )
        .into_response())
}
