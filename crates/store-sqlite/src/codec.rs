//! Conversions between domain values and SQLite columns, and the mapping
//! of SQLite errors to portable [`StoreError`] kinds.

use chrono::{DateTime, SecondsFormat, Utc};
use iamkit_store_api::{ErrorKind, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Result of a repository method.
pub(crate) type Result<T> = std::result::Result<T, StoreError>;

/// A stored value that does not decode: the database was changed behind
/// the adapter's back.
#[derive(Debug, thiserror::Error)]
#[error("stored column `{column}` does not decode")]
pub(crate) struct Corrupt {
    column: &'static str,
}

pub(crate) fn corrupt(column: &'static str) -> StoreError {
    StoreError::corrupt(Corrupt { column })
}

/// An id as its hyphenated lower-case text: text order is byte order, so
/// `ORDER BY id` matches the ids' `Ord`.
pub(crate) fn uid(id: Uuid) -> String {
    id.hyphenated().to_string()
}

pub(crate) fn parse_uid(text: &str, column: &'static str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt(column))
}

/// A timestamp as RFC 3339 UTC with a fixed nanosecond width, so text
/// comparison is time comparison (`expires_at > ?`).
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(crate) fn parse_ts(text: &str, column: &'static str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| corrupt(column))
}

pub(crate) fn opt_ts(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(ts)
}

pub(crate) fn parse_opt_ts(
    text: Option<String>,
    column: &'static str,
) -> Result<Option<DateTime<Utc>>> {
    text.map(|t| parse_ts(&t, column)).transpose()
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::with_source(ErrorKind::Conflict, e))
}

pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(StoreError::corrupt)
}

/// The serde name of a unit enum variant (`UserStatus::Active` → `ACTIVE`),
/// the value its column's check constraint lists.
pub(crate) fn variant<T: Serialize>(value: &T) -> Result<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(corrupt("variant")),
    }
}

pub(crate) fn parse_variant<T: DeserializeOwned>(text: &str, column: &'static str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| corrupt(column))
}

/// A `u64` for an INTEGER column.
pub(crate) fn int(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| corrupt("integer"))
}

/// An INTEGER column as a `u64`.
pub(crate) fn uint(n: i64, column: &'static str) -> Result<u64> {
    u64::try_from(n).map_err(|_| corrupt(column))
}

/// The length of the prefix that names a sealed value's key, for `substr`
/// (8, so the cast is exact).
pub(crate) const HEADER_LEN: i64 = iamkit_credentials::SEALED_HEADER_LEN as i64;

/// A 32-byte digest column.
pub(crate) fn digest(
    bytes: &[u8],
    column: &'static str,
) -> Result<iamkit_credentials::SecretDigest> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| corrupt(column))?;
    Ok(iamkit_credentials::SecretDigest::from_bytes(bytes))
}

/// SQLite names a failed unique index by its columns
/// (`UNIQUE constraint failed: users.username`); the traits name it by the
/// portable constraint name. Keep in step with the migrations.
const CONSTRAINTS: &[(&str, &str)] = &[
    ("users.id", "users_pkey"),
    ("users.username", "users_username"),
    ("users.email_normalized", "users_email"),
    ("organizations.id", "organizations_pkey"),
    ("organizations.slug", "organizations_slug"),
    (
        "memberships.org_id, memberships.user_id",
        "memberships_pkey",
    ),
    ("departments.id", "departments_pkey"),
    (
        "departments.org_id, departments.name_key",
        "departments_name",
    ),
    ("workspaces.id", "workspaces_pkey"),
    ("workspaces.org_id, workspaces.name_key", "workspaces_name"),
    ("groups.id", "groups_pkey"),
    ("groups.org_id, groups.name_key", "groups_name"),
    (
        "group_members.group_id, group_members.user_id",
        "group_members_pkey",
    ),
    ("teams.id", "teams_pkey"),
    ("teams.org_id, teams.name_key", "teams_name"),
    (
        "team_members.team_id, team_members.user_id",
        "team_members_pkey",
    ),
    ("custom_roles.id", "custom_roles_id"),
    (
        "custom_roles.org_id, custom_roles.name_key",
        "custom_roles_org_name",
    ),
    ("tokens.id", "tokens_id"),
    ("sessions.id", "sessions_id"),
    ("api_keys.id", "api_keys_id"),
    ("outbox.id", "outbox_id"),
    ("access_requests.id", "access_requests_id"),
    ("service_accounts.user_id", "service_accounts_user"),
    ("audit_events.org_id, audit_events.seq", "audit_events_pkey"),
    (
        "authz_deltas.org_id, authz_deltas.version",
        "authz_deltas_pkey",
    ),
];

fn constraint_name(message: &str) -> String {
    let columns = message
        .split_once("constraint failed: ")
        .map_or(message, |(_, columns)| columns)
        .trim();
    CONSTRAINTS
        .iter()
        .find(|(cols, _)| *cols == columns)
        .map_or_else(
            || columns.replace(", ", "_").replace('.', "_"),
            |(_, name)| (*name).to_owned(),
        )
}

/// Maps a sqlx error to the portable kind: unique violations name their
/// constraint, lock contention is `Conflict`, I/O and pool trouble is
/// `Unavailable`.
pub(crate) fn db(error: sqlx::Error) -> StoreError {
    let kind = match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => ErrorKind::UniqueViolation {
            constraint: constraint_name(e.message()),
        },
        sqlx::Error::Database(e) => {
            let code = e.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
            // Primary result codes: SQLITE_IOERR 10, SQLITE_FULL 13,
            // SQLITE_CANTOPEN 14, SQLITE_NOTADB 26; SQLITE_CORRUPT 11 is
            // damaged data, which no retry mends.
            match code & 0xff {
                11 => ErrorKind::Corrupt,
                10 | 13 | 14 | 26 => ErrorKind::Unavailable,
                // SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_CONSTRAINT 19 and
                // the rest: the state or a concurrent writer is in the way.
                _ => ErrorKind::Conflict,
            }
        }
        sqlx::Error::RowNotFound => ErrorKind::NotFound,
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => ErrorKind::Corrupt,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Configuration(_) => ErrorKind::Unavailable,
        _ => ErrorKind::Conflict,
    };
    StoreError::with_source(kind, error)
}

/// Like [`db`], but a broken foreign key means the referenced record does
/// not exist: `NotFound`, as the traits document for inserts.
pub(crate) fn db_ref(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(e) = &error
        && e.is_foreign_key_violation()
    {
        return StoreError::with_source(ErrorKind::NotFound, error);
    }
    db(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_messages_map_to_portable_names() {
        assert_eq!(
            constraint_name("UNIQUE constraint failed: users.email_normalized"),
            "users_email"
        );
        assert_eq!(
            constraint_name("UNIQUE constraint failed: groups.org_id, groups.name_key"),
            "groups_name"
        );
        assert_eq!(
            constraint_name("UNIQUE constraint failed: other.a, other.b"),
            "other_a_other_b"
        );
    }

    #[test]
    fn timestamps_order_as_text() {
        let a = DateTime::from_timestamp(1_700_000_000, 5).unwrap();
        let b = DateTime::from_timestamp(1_700_000_000, 40).unwrap();
        assert!(ts(a) < ts(b));
        assert_eq!(parse_ts(&ts(b), "t").unwrap(), b);
    }
}
