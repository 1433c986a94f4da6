//! The organization's audit trail, as an Auditor reads it: one page of
//! events at a time, filtered, with names resolved (`audit.read`); the raw
//! events as JSON Lines (`audit.export`, itself audited); and the
//! verification of the hash chain with the head to keep elsewhere
//! (`audit.read`). Another tenant's organization is 404 (SECURITY.md 25).
#![expect(
    unused_qualifications,
    reason = "utoipa's path macro names the `params(...)` types by their full path"
)]

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use iamkit::audit::{
    ActionKind, Actor as EventActor, ChainHead, EventFilter, Outcome, PageLimit, Target,
};
use iamkit::identity::{InvalidInput, Rule, UserId};
use iamkit::store_api::Cursor;
use iamkit::{ActivityLine, Iam, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::{OrgPath, no_store};
use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiPath;

/// The content type of the export: one JSON object per line.
const NDJSON: &str = "application/x-ndjson";

/// `GET /orgs/{org}/audit` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogParams {
    /// Only events by this actor: a user's id (also `user:<id>`),
    /// `api_key:<id>`, or `system`.
    actor: Option<String>,
    /// Only events on this target: `<type>:<id>`, the type one of `user`,
    /// `org`, `workspace`, `group`, `team`, `department`, `role`,
    /// `api_key`, `session`, `access_request` (a bare id is a user).
    target: Option<String>,
    /// Only events that involve this user (as actor or target): their id.
    user: Option<String>,
    /// Only events of these kinds, comma-separated (`signed_in,invited`).
    action: Option<String>,
    /// Only events at or after this time (RFC 3339).
    from: Option<String>,
    /// Only events before this time (RFC 3339).
    until: Option<String>,
    /// The previous page's `next`.
    cursor: Option<String>,
    /// Page size, 1–1000 (50 by default).
    limit: Option<String>,
}

impl LogParams {
    fn filter(&self) -> Result<EventFilter, ApiError> {
        Ok(EventFilter {
            actor: self.actor.as_deref().map(parse_actor).transpose()?,
            target: self.target.as_deref().map(parse_target).transpose()?,
            involving: self
                .user
                .as_deref()
                .map(|user| parse_id::<UserId>("user", user))
                .transpose()?,
            kinds: self
                .action
                .as_deref()
                .map(parse_kinds)
                .transpose()?
                .unwrap_or_default(),
            from: self
                .from
                .as_deref()
                .map(|at| parse_time("from", at))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|at| parse_time("until", at))
                .transpose()?,
        })
    }

    fn limit(&self) -> Result<usize, ApiError> {
        match &self.limit {
            None => Ok(PageLimit::DEFAULT.get()),
            Some(limit) => limit.trim().parse().map_err(|_| {
                InvalidInput::new(
                    "limit",
                    Rule::OutOfRange {
                        min: 1,
                        max: PageLimit::MAX,
                    },
                )
                .into()
            }),
        }
    }
}

/// An id of type `T`, or 422 naming `field`.
fn parse_id<T: std::str::FromStr>(field: &'static str, raw: &str) -> Result<T, ApiError> {
    raw.trim()
        .parse()
        .map_err(|_| InvalidInput::new(field, Rule::Malformed).into())
}

/// `system`, `api_key:<id>`, `user:<id>` or a user's id.
fn parse_actor(raw: &str) -> Result<EventActor, ApiError> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("system") {
        return Ok(EventActor::System);
    }
    let (kind, id) = raw.split_once(':').unwrap_or(("user", raw));
    match kind.trim().to_ascii_lowercase().as_str() {
        "user" => Ok(EventActor::User(parse_id("actor", id)?)),
        "api_key" => Ok(EventActor::ApiKey(parse_id("actor", id)?)),
        _ => Err(InvalidInput::new("actor", Rule::Unsupported).into()),
    }
}

/// `<type>:<id>`, or a user's id.
fn parse_target(raw: &str) -> Result<Target, ApiError> {
    let (kind, id) = raw.trim().split_once(':').unwrap_or(("user", raw.trim()));
    // Target's own serde form, so that every kind it has is accepted.
    let form = json!({ "type": kind.trim().to_ascii_lowercase(), "id": id.trim() });
    serde_json::from_value(form).map_err(|_| InvalidInput::new("target", Rule::Malformed).into())
}

/// Comma-separated action kinds.
fn parse_kinds(raw: &str) -> Result<Vec<ActionKind>, ApiError> {
    raw.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            ActionKind::ALL
                .iter()
                .copied()
                .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
                .ok_or_else(|| InvalidInput::new("action", Rule::Unsupported).into())
        })
        .collect()
}

/// An RFC 3339 time, or 422 naming `field`. A `+` of the offset that came
/// unencoded in the query reads as a space: it is taken back.
fn parse_time(field: &'static str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let raw = raw.trim();
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_rfc3339(&raw.replace(' ', "+")))
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| InvalidInput::new(field, Rule::Malformed).into())
}

/// Who did it, or what it was done to, by kind and id.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventRef {
    /// `user`, `api_key` or `system` (actors); `user`, `org`,
    /// `workspace`, `group`, `team`, `department`, `role`, `api_key`,
    /// `session` or `access_request` (targets).
    #[serde(rename = "type")]
    kind: String,
    /// Its id (none for `system`).
    #[schema(format = Uuid)]
    id: Option<String>,
}

impl EventRef {
    fn of(value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or_default();
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        Self {
            kind: text("type").unwrap_or_default(),
            id: text("id"),
        }
    }
}

/// One event of the organization's trail, names as they are now.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditEventView {
    /// Its place in the organization's chain.
    seq: u64,
    at: DateTime<Utc>,
    /// What happened (`invited`, `signed_in`, `department_created`, ...).
    action: String,
    /// Who did it, named ("Deleted user" for one that is gone).
    actor: String,
    actor_ref: EventRef,
    /// To whom or what, named.
    target: String,
    target_ref: EventRef,
    /// `success` or `denied`.
    outcome: &'static str,
    /// Why it was denied (`missing_permission`, `other_organization`, ...).
    denial: Option<String>,
}

impl From<&ActivityLine> for AuditEventView {
    fn from(line: &ActivityLine) -> Self {
        let event = &line.event;
        let (outcome, denial) = match &event.outcome {
            Outcome::Success => ("success", None),
            Outcome::Denied { reason } => (
                "denied",
                serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned)),
            ),
        };
        Self {
            seq: event.seq,
            at: event.at,
            action: event.action.kind().as_str().to_owned(),
            actor: line.actor.clone(),
            actor_ref: EventRef::of(event.actor),
            target: line.target.clone(),
            target_ref: EventRef::of(event.target),
            outcome,
            denial,
        }
    }
}

/// One page of the trail.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPage {
    /// Newest first.
    events: Vec<AuditEventView>,
    /// The cursor of the next page (`cursor`), if there is one.
    next: Option<String>,
}

/// The organization's audit trail: one page, newest first, filtered, with
/// names resolved (`audit.read`).
#[utoipa::path(get, path = "/orgs/{org}/audit", tag = "audit", operation_id = "audit_log",
    params(OrgPath, LogParams),
    responses(
        (status = 200, description = "A page of events, newest first", body = AuditPage),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`audit.read` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 422, description = "A query parameter breaks a rule (`field` names it)", body = ErrorBody),
    ))]
pub(crate) async fn log<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    params: Result<Query<LogParams>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(params) = params.map_err(|_| ApiError::invalid("query", "is malformed"))?;
    let filter = params.filter()?;
    let limit = params.limit()?;
    let cursor = params.cursor.as_deref().map(Cursor::new);
    let page = iam
        .audit_log(&actor, org, &filter, cursor.as_ref(), limit)
        .await?;
    Ok(Json(AuditPage {
        events: page.items.iter().map(AuditEventView::from).collect(),
        next: page.next.as_ref().map(|c| c.as_str().to_owned()),
    }))
}

/// `GET /orgs/{org}/audit/export` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportParams {
    /// Only events at or after this time (RFC 3339).
    from: Option<String>,
    /// Only events before this time (RFC 3339).
    until: Option<String>,
}

/// The organization's raw events as JSON Lines, oldest first, each with
/// its hash (`audit.export`; the export itself is audited).
#[utoipa::path(get, path = "/orgs/{org}/audit/export", tag = "audit", operation_id = "export_audit",
    params(OrgPath, ExportParams),
    responses(
        (status = 200, description = "One event per line (JSON Lines)", content_type = "application/x-ndjson", body = String),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`audit.export` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
        (status = 422, description = "`from` or `until` is not RFC 3339, or `until` is before `from`", body = ErrorBody),
    ))]
pub(crate) async fn export<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|_| ApiError::invalid("query", "is malformed"))?;
    let from = params
        .from
        .as_deref()
        .map(|at| parse_time("from", at))
        .transpose()?;
    let until = params
        .until
        .as_deref()
        .map(|at| parse_time("until", at))
        .transpose()?;
    let mut lines = Vec::new();
    iam.export_audit(&actor, org, from, until, &mut lines)
        .await?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"audit-{org}.jsonl\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(NDJSON)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, no_store()),
        ],
        lines,
    )
        .into_response())
}

/// A chain head: the newest event's sequence number and hash.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HeadView {
    /// 0 while the organization has no events.
    seq: u64,
    /// SHA-256, hex (64 zeros while there are no events).
    hash: String,
}

impl From<ChainHead> for HeadView {
    fn from(head: ChainHead) -> Self {
        Self {
            seq: head.seq,
            hash: head.hash.to_string(),
        }
    }
}

/// Where the chain departs from a genuine one.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BreakView {
    /// The sequence number expected there.
    seq: u64,
    /// `modified`, `missing`, `reordered` or `inserted`.
    kind: String,
}

/// What the verification found.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VerificationView {
    /// Whether the whole chain verified against `head`.
    ok: bool,
    /// The head the store records: publish it outside the database and
    /// compare later (whoever can write the database can rewrite the
    /// chain and its head together).
    head: HeadView,
    /// The head the walk reached, when it verified.
    verified: Option<HeadView>,
    /// The first break, when it did not.
    broken: Option<BreakView>,
}

/// Verifies the organization's whole hash chain against the head the store
/// records, and answers both (`audit.read`).
#[utoipa::path(get, path = "/orgs/{org}/audit/verify", tag = "audit", operation_id = "verify_audit",
    params(OrgPath),
    responses(
        (status = 200, description = "The verification and the head", body = VerificationView),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 403, description = "`audit.read` required", body = ErrorBody),
        (status = 404, description = "No such organization of the actor", body = ErrorBody),
    ))]
pub(crate) async fn verify<S: Store>(
    State(iam): State<Iam<S>>,
    Authenticated(actor): Authenticated,
    ApiPath(OrgPath { org }): ApiPath<OrgPath>,
) -> Result<Json<VerificationView>, ApiError> {
    let verification = iam.verify_audit(&actor, org).await?;
    let (verified, broken) = match verification.result {
        Ok(verified) => (Some(HeadView::from(verified.head)), None),
        Err(chain_break) => (
            None,
            Some(BreakView {
                seq: chain_break.seq,
                kind: serde_json::to_value(chain_break.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            }),
        ),
    };
    Ok(Json(VerificationView {
        ok: broken.is_none(),
        head: HeadView::from(verification.head),
        verified,
        broken,
    }))
}
