//! TOTP enrolment for the signed-in user (SECURITY.md 14, 15).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iamkit::Store;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::Authenticated;
use super::errors::ApiError;
use super::json::ApiJson;

/// Secrets in a response must not be kept by any cache.
pub(super) fn no_store() -> HeaderValue {
    HeaderValue::from_static("no-store")
}

/// `POST /me/totp`: a fresh key as base32 text, `otpauth://` URI and SVG QR
/// code, shown once. 2FA is not on until confirmed; starting again replaces
/// a pending enrolment. 409 when 2FA is already on.
pub(super) async fn begin<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
) -> Result<Response, ApiError> {
    let setup = app.iam.begin_totp_enrolment(&actor).await?;
    let qr_svg = setup.qr_svg().map_err(|e| {
        eprintln!("QR code: {e}");
        ApiError::internal()
    })?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, no_store())],
        Json(json!({
            "secret": setup.secret_base32().expose(),
            "otpauth_uri": setup.uri.expose(),
            "qr_svg": qr_svg,
        })),
    )
        .into_response())
}

/// `POST /me/totp/confirm`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ConfirmBody {
    code: String,
}

/// Confirms the enrolment with a first code: 2FA is on and the recovery
/// codes come back, once. A wrong code is 401 and counts towards the
/// account's lockout.
pub(super) async fn confirm<S: Store>(
    State(app): State<AppState<S>>,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Result<Response, ApiError> {
    let codes = app.iam.confirm_totp_enrolment(&actor, &body.code).await?;
    Ok((
        [(header::CACHE_CONTROL, no_store())],
        Json(json!({
            "recovery_codes": codes.iter().map(|c| c.expose()).collect::<Vec<_>>(),
        })),
    )
        .into_response())
}
