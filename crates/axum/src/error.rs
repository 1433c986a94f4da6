//! [`iamkit::Error`] as HTTP: one deliberate status per variant, one JSON
//! shape for every error answer ([`ErrorBody`]).

use std::fmt::Display;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use iamkit::Conflict;
use iamkit::store_api::ErrorKind;
use serde::Serialize;
use utoipa::ToSchema;

/// The message of every 401: one text whatever failed (unknown user, wrong
/// password, locked account, expired session, revoked key — SECURITY.md 29).
pub const INVALID_CREDENTIALS: &str = "invalid credentials";

/// The body of every error answer. `error` is a stable code a client
/// switches on; `message` is for people; the other members appear only
/// where the code says so. Never carries a secret or the rejected input.
///
/// | `error` | status | members |
/// |---|---|---|
/// | `invalid_credentials` | 401 | — (one body for every authentication failure) |
/// | `forbidden` | 403 | `permission` |
/// | `escalation` | 403 | `missing` (permissions; empty: Owner required) |
/// | `not_managed`, `reauthentication_required`, `cross_origin` | 403 | — |
/// | `not_found` | 404 | — (also another organization's object) |
/// | `conflict` | 409 | `conflict` (`email_taken`, ...), `field` where one is concerned |
/// | `last_owner` | 409 | — |
/// | `illegal_transition` | 409 | `status` (the current one) |
/// | `linked_data` | 409 | `records` (how many) |
/// | `department_in_use` | 409 | `records` (how many members) |
/// | `invalid_input` | 422 | `field`, `rule` |
/// | `malformed_json` | 400 | — |
/// | `body_too_large` | 413 | — |
/// | `unsupported_media_type` | 415 | — |
/// | `rate_limited` | 429 | — (`Retry-After` header) |
/// | `unavailable` | 503 | — (`Retry-After` header) |
/// | `internal` | 500 | — (the cause is logged, never sent) |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The stable code (see the table above).
    pub error: String,
    /// A sentence for people.
    pub message: String,
    /// `invalid_input`: the field (or the JSON path) that broke a rule;
    /// `conflict`: the field whose value is taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `invalid_input`: the rule broken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// `forbidden`: the permission required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// `escalation`: the permissions the actor lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<String>>,
    /// `conflict`: which one (`username_taken`, `email_taken`,
    /// `name_taken`, `already_member`, `already_decided`, `role_in_use`,
    /// `two_factor_enabled`, `conflict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
    /// `illegal_transition`: the user's current status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `linked_data`: how many records link to the user;
    /// `department_in_use`: how many members are filed under the
    /// department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<usize>,
    /// `department_in_use`: the user ids of members filed under the
    /// department (the first few; `records` counts them all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
}

/// An error answer: a status, an [`ErrorBody`] and, for 429 and 503, a
/// `Retry-After`. Handlers return `Result<_, ApiError>`; `?` converts an
/// [`iamkit::Error`] (the orphan rule keeps `IntoResponse` off
/// `iamkit::Error` itself, so this is its HTTP form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    /// Boxed: handlers return `Result<_, ApiError>`, kept small.
    body: Box<ErrorBody>,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Display) -> Self {
        Self {
            status,
            body: Box::new(ErrorBody {
                error: code.to_owned(),
                message: message.to_string(),
                field: None,
                rule: None,
                permission: None,
                missing: None,
                conflict: None,
                status: None,
                records: None,
                members: None,
            }),
            retry_after_secs: None,
        }
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
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format_args!("`{permission}` required"),
        );
        error.body.permission = Some(permission.to_owned());
        error
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
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            format_args!("`{field}` {rule}"),
        );
        error.body.field = Some(field.to_owned());
        error.body.rule = Some(rule);
        error
    }

    /// 400: the body is not JSON at all.
    pub fn malformed_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is not valid JSON",
        )
    }

    /// 413: a body beyond the configured limit.
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
    pub fn body(&self) -> &ErrorBody {
        &self.body
    }

    /// The `Retry-After` it answers with, in seconds (429 and 503 only).
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
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
            E::Escalation { missing } => {
                let mut error = Self::new(
                    StatusCode::FORBIDDEN,
                    "escalation",
                    "you cannot grant or revoke permissions you do not hold",
                );
                error.body.missing = Some(missing.iter().map(ToString::to_string).collect());
                error
            }
            // Includes another tenant's objects (SECURITY.md 25).
            E::NotFound => Self::not_found(),
            E::Conflict(conflict) => {
                let (code, field) = conflict_code(conflict);
                let mut error = Self::new(StatusCode::CONFLICT, "conflict", conflict);
                error.body.conflict = Some(code.to_owned());
                error.body.field = field.map(str::to_owned);
                error
            }
            E::LastOwner => Self::new(StatusCode::CONFLICT, "last_owner", E::LastOwner),
            // The organization may act on the membership, not the account.
            E::NotManaged => Self::new(StatusCode::FORBIDDEN, "not_managed", E::NotManaged),
            E::IllegalTransition { from, change } => {
                let mut error = Self::new(
                    StatusCode::CONFLICT,
                    "illegal_transition",
                    E::IllegalTransition { from, change },
                );
                error.body.status = Some(from.label().to_owned());
                error
            }
            E::LinkedData { records } => {
                let mut error = Self::new(
                    StatusCode::CONFLICT,
                    "linked_data",
                    "linked records prevent deletion; deactivate the user instead",
                );
                error.body.records = Some(records.len());
                error
            }
            E::DepartmentInUse { members, count } => {
                let ids = members.iter().map(ToString::to_string).collect();
                let mut error = Self::new(
                    StatusCode::CONFLICT,
                    "department_in_use",
                    E::DepartmentInUse { members, count },
                );
                error.body.records = Some(count);
                error.body.members = Some(ids);
                error
            }
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
                tracing::warn!(error = %store, "store busy");
                Self::unavailable()
            }
            internal @ (E::Store(_) | E::Crypto | E::Internal) => {
                // No secret is ever in an iamkit error (SECURITY.md 30).
                tracing::error!(error = %internal, "internal error");
                Self::internal()
            }
            // `iamkit::Error` is non-exhaustive: a variant added later is a
            // 500 until this table names it.
            other => {
                tracing::error!(error = %other, "unmapped iamkit error");
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
        let mut response = (self.status, Json(*self.body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON an error answers with, as a client reads it.
    fn json(e: &ApiError) -> serde_json::Value {
        serde_json::to_value(e.body()).unwrap()
    }

    #[test]
    fn every_authentication_failure_answers_the_same() {
        let a = ApiError::from(iamkit::Error::InvalidCredentials);
        let b = ApiError::unauthenticated();
        assert_eq!(a, b);
        assert_eq!(a.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            json(&a),
            serde_json::json!({ "error": "invalid_credentials", "message": INVALID_CREDENTIALS })
        );
    }

    #[test]
    fn validation_names_field_and_rule() {
        let e = ApiError::from(iamkit::Error::InvalidInput(
            iamkit::identity::InvalidInput::new("email", iamkit::identity::Rule::MissingAtSign),
        ));
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json(&e)["field"], "email");
        assert!(json(&e)["rule"].is_string());
        assert_eq!(json(&e)["error"], "invalid_input");
    }

    #[test]
    fn guards_and_conflicts_are_409_and_refusals_403() {
        assert_eq!(
            ApiError::from(iamkit::Error::LastOwner).status(),
            StatusCode::CONFLICT
        );
        let taken = ApiError::from(iamkit::Error::Conflict(Conflict::EmailTaken));
        assert_eq!(taken.status(), StatusCode::CONFLICT);
        assert_eq!(json(&taken)["field"], "email");
        assert_eq!(json(&taken)["conflict"], "email_taken");
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
        assert_eq!(json(&stale)["error"], "reauthentication_required");
        let busy = ApiError::from(iamkit::Error::Busy);
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.retry_after_secs(), Some(1), "Retry-After is set");
        assert_eq!(
            ApiError::from(iamkit::Error::NotManaged).status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            ApiError::from(iamkit::Error::NotFound).status(),
            StatusCode::NOT_FOUND
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

    #[test]
    fn retry_after_goes_into_the_header_and_members_only_where_named() {
        let response = ApiError::rate_limited(7).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        let forbidden = json(&ApiError::forbidden("users.read"));
        assert_eq!(
            forbidden,
            serde_json::json!({
                "error": "forbidden",
                "message": "`users.read` required",
                "permission": "users.read",
            })
        );
        assert!(
            ApiError::not_found()
                .into_response()
                .headers()
                .get(header::RETRY_AFTER)
                .is_none()
        );
    }
}
