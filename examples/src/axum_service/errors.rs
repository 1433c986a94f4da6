//! [`iamkit::Error`] as HTTP: one deliberate status per variant.

use std::fmt::Display;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iamkit::Conflict;
use iamkit::store_api::ErrorKind;
use serde_json::{Value, json};

/// The message of every 401: one text whatever failed (unknown user, wrong
/// password, locked account, expired session, revoked key — SECURITY.md 29).
pub const INVALID_CREDENTIALS: &str = "invalid credentials";

/// An error answer: a status and a JSON body
/// `{"error": code, "message": text, ...}`, never carrying a secret or the
/// rejected input.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Display) -> Self {
        Self {
            status,
            body: json!({ "error": code, "message": message.to_string() }),
            retry_after_secs: None,
        }
    }

    fn with(mut self, key: &str, value: Value) -> Self {
        if let Value::Object(map) = &mut self.body {
            map.insert(key.to_owned(), value);
        }
        self
    }

    /// 401, the same body for every authentication failure.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            INVALID_CREDENTIALS,
        )
    }

    /// 403: the actor lacks `permission`.
    pub fn forbidden(permission: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format_args!("`{permission}` required"),
        )
        .with("permission", json!(permission))
    }

    /// 403: a state-changing request a page of another origin made the
    /// browser send (SECURITY.md 41).
    pub fn cross_origin() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "cross-origin requests may not change anything here",
        )
    }

    /// 404: no such object, or not one of the actor's organization.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }

    /// 422: `field` broke `rule`.
    pub fn invalid(field: &str, rule: impl Display) -> Self {
        let rule = rule.to_string();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            format_args!("`{field}` {rule}"),
        )
        .with("field", json!(field))
        .with("rule", json!(rule))
    }

    /// 400: the body is not JSON at all.
    pub fn malformed_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is not valid JSON",
        )
    }

    /// 413: a body beyond axum's limit (2 MB by default).
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the body is too large",
        )
    }

    /// 415: a body that is not `application/json`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as `Content-Type: application/json`",
        )
    }

    /// 429: the client sent too many requests; retry after the delay.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; retry later",
        );
        error.retry_after_secs = Some(retry_after_secs);
        error
    }

    /// 500; the cause is logged by whoever calls this, never sent.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    /// 503: the store is busy or unreachable; retrying may succeed.
    pub fn unavailable() -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "temporarily unavailable; retry",
        );
        error.retry_after_secs = Some(1);
        error
    }

    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body it answers with.
    pub fn body(&self) -> &Value {
        &self.body
    }
}

/// The `conflict` code of a [`Conflict`], and the field it concerns.
fn conflict_code(conflict: Conflict) -> (&'static str, Option<&'static str>) {
    match conflict {
        Conflict::UsernameTaken => ("username_taken", Some("username")),
        Conflict::EmailTaken => ("email_taken", Some("email")),
        Conflict::NameTaken => ("name_taken", Some("name")),
        Conflict::AlreadyMember => ("already_member", None),
        Conflict::AlreadyDecided => ("already_decided", None),
        Conflict::RoleInUse { .. } => ("role_in_use", None),
        Conflict::TwoFactorEnabled => ("two_factor_enabled", None),
        // `Conflict` is non-exhaustive: a kind added later is still a 409.
        _ => ("conflict", None),
    }
}

impl From<iamkit::Error> for ApiError {
    fn from(e: iamkit::Error) -> Self {
        use iamkit::Error as E;
        match e {
            // SECURITY.md 29: one answer for every authentication failure;
            // the reason is in the audit log.
            E::InvalidCredentials => Self::unauthenticated(),
            E::Forbidden { permission } => Self::forbidden(&permission),
            // The actor may act but not grant what it does not hold: a
            // refusal of this actor, not a conflict of state.
            E::Escalation { missing } => Self::new(
                StatusCode::FORBIDDEN,
                "escalation",
                "you cannot grant or revoke permissions you do not hold",
            )
            .with(
                "missing",
                json!(missing.iter().map(ToString::to_string).collect::<Vec<_>>()),
            ),
            // Includes another tenant's objects (SECURITY.md 25).
            E::NotFound => Self::not_found(),
            E::Conflict(conflict) => {
                let (code, field) = conflict_code(conflict);
                let error = Self::new(StatusCode::CONFLICT, "conflict", conflict)
                    .with("conflict", json!(code));
                match field {
                    Some(field) => error.with("field", json!(field)),
                    None => error,
                }
            }
            E::LastOwner => Self::new(StatusCode::CONFLICT, "last_owner", E::LastOwner),
            // The organization may act on the membership, not the account.
            E::NotManaged => Self::new(StatusCode::FORBIDDEN, "not_managed", E::NotManaged),
            E::IllegalTransition { from, change } => Self::new(
                StatusCode::CONFLICT,
                "illegal_transition",
                E::IllegalTransition { from, change },
            )
            .with("status", json!(from.label())),
            E::LinkedData { records } => Self::new(
                StatusCode::CONFLICT,
                "linked_data",
                "linked records prevent deletion; deactivate the user instead",
            )
            .with("records", json!(records.len())),
            E::InvalidInput(input) => Self::invalid(input.field, input.rule),
            E::InvalidPassword { rule } => Self::invalid("password", rule),
            E::InvalidField { field, rule } => Self::invalid(field, rule),
            E::InvalidRole { reason } => Self::invalid("role", reason),
            E::RoleNotAssignable => Self::invalid("role", "is not assignable here"),
            E::InvalidPermission { reason } => Self::invalid("permissions", reason),
            // The password-hashing pool is saturated: shed the load.
            E::Busy => Self::unavailable(),
            // The session is signed in but not recently enough for this
            // change: the client asks for the password again (403, not 401:
            // the session itself is fine).
            E::ReauthenticationRequired => Self::new(
                StatusCode::FORBIDDEN,
                "reauthentication_required",
                E::ReauthenticationRequired,
            ),
            E::Store(store)
                if matches!(store.kind(), ErrorKind::Unavailable | ErrorKind::Conflict) =>
            {
                eprintln!("store busy: {store}");
                Self::unavailable()
            }
            internal @ (E::Store(_) | E::Crypto | E::Internal) => {
                // No secret is ever in an iamkit error (SECURITY.md 30).
                eprintln!("internal error: {internal}");
                Self::internal()
            }
            // `iamkit::Error` is non-exhaustive: a variant added later is a
            // 500 until this table names it.
            other => {
                eprintln!("unmapped iamkit error: {other}");
                Self::internal()
            }
        }
    }
}

impl From<iamkit::identity::InvalidInput> for ApiError {
    fn from(input: iamkit::identity::InvalidInput) -> Self {
        Self::invalid(input.field, input.rule)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(secs) = self.retry_after_secs
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_authentication_failure_answers_the_same() {
        let a = ApiError::from(iamkit::Error::InvalidCredentials);
        let b = ApiError::unauthenticated();
        assert_eq!(a, b);
        assert_eq!(a.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn validation_names_field_and_rule() {
        let e = ApiError::from(iamkit::Error::InvalidInput(
            iamkit::identity::InvalidInput::new("email", iamkit::identity::Rule::MissingAtSign),
        ));
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.body().get("field"), Some(&json!("email")));
        assert!(e.body().get("rule").is_some());
    }

    #[test]
    fn guards_and_conflicts_are_409_and_refusals_403() {
        assert_eq!(
            ApiError::from(iamkit::Error::LastOwner).status(),
            StatusCode::CONFLICT
        );
        let taken = ApiError::from(iamkit::Error::Conflict(Conflict::EmailTaken));
        assert_eq!(taken.status(), StatusCode::CONFLICT);
        assert_eq!(taken.body().get("field"), Some(&json!("email")));
        assert_eq!(
            ApiError::from(iamkit::Error::Escalation {
                missing: Vec::new()
            })
            .status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            ApiError::from(iamkit::Error::RoleNotAssignable).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let stale = ApiError::from(iamkit::Error::ReauthenticationRequired);
        assert_eq!(stale.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            stale.body().get("error"),
            Some(&json!("reauthentication_required"))
        );
        let busy = ApiError::from(iamkit::Error::Busy);
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.retry_after_secs, Some(1), "Retry-After is set");
        assert_eq!(
            ApiError::from(iamkit::Error::NotManaged).status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            ApiError::from(iamkit::Error::Store(
                iamkit::store_api::StoreError::unavailable()
            ))
            .status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::from(iamkit::Error::Crypto).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
