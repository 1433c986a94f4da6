//! Conversions between domain values and PostgreSQL columns, and the
//! mapping of PostgreSQL errors to portable [`StoreError`] kinds.
//!
//! Ids are native `uuid`, times `timestamptz`, counters `bigint`, digests
//! and sealed secrets `bytea`, documents `jsonb`: sqlx encodes all of them
//! directly, so this module only bridges the unsigned integers, the enum
//! names and the errors.

use iamkit_store_api::{ErrorKind, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::postgres::{PgDatabaseError, PgRow};

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

/// One column of a row, a decoding failure reported as [`corrupt`].
pub(crate) fn get<'r, T>(row: &'r PgRow, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(|_| corrupt(column))
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

/// A `u64` for a `bigint` column.
pub(crate) fn int(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| corrupt("bigint"))
}

/// A `bigint` column as a `u64`.
pub(crate) fn uint(n: i64, column: &'static str) -> Result<u64> {
    u64::try_from(n).map_err(|_| corrupt(column))
}

/// A count or limit for a `LIMIT` clause, saturating.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The length of the prefix that names a sealed value's key, for
/// `substring` (8, so the cast is exact).
pub(crate) const HEADER_LEN: i32 = iamkit_credentials::SEALED_HEADER_LEN as i32;

/// A 32-byte digest column.
pub(crate) fn digest(
    bytes: &[u8],
    column: &'static str,
) -> Result<iamkit_credentials::SecretDigest> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| corrupt(column))?;
    Ok(iamkit_credentials::SecretDigest::from_bytes(bytes))
}

/// The portable constraint names of the repository traits. The migrations
/// give every primary key, unique constraint and unique index exactly one
/// of these names, so PostgreSQL reports the portable name itself and the
/// mapping is a lookup. Keep in step with `migrations/`.
pub(crate) const CONSTRAINTS: &[&str] = &[
    "users_pkey",
    "users_username",
    "users_email",
    "organizations_pkey",
    "organizations_slug",
    "memberships_pkey",
    "departments_pkey",
    "departments_name",
    "workspaces_pkey",
    "workspaces_name",
    "groups_pkey",
    "groups_name",
    "group_members_pkey",
    "teams_pkey",
    "teams_name",
    "team_members_pkey",
    "custom_roles_id",
    "custom_roles_org_name",
    "grants_pkey",
    "audit_heads_pkey",
    "audit_events_pkey",
    "tokens_id",
    "sessions_id",
    "api_keys_id",
    "totp_enrollments_pkey",
    "recovery_codes_pkey",
    "throttle_pkey",
    "password_hashes_pkey",
    "outbox_id",
    "access_requests_id",
    "service_accounts_user",
    "authz_versions_pkey",
    "authz_deltas_pkey",
    "pending_emails_pkey",
];

/// The portable name of a violated unique constraint: PostgreSQL reports
/// the name the migrations gave it, which is the portable one. A name the
/// migrations do not know (an index the app added) passes through as is.
fn constraint_name(reported: Option<&str>) -> String {
    match reported {
        Some(name) => CONSTRAINTS
            .iter()
            .find(|known| **known == name)
            .map_or(name, |known| *known)
            .to_owned(),
        None => "unknown".to_owned(),
    }
}

/// The kind of a PostgreSQL error by its SQLSTATE.
fn kind_of_state(state: &str, constraint: Option<&str>) -> ErrorKind {
    match state {
        // unique_violation
        "23505" => ErrorKind::UniqueViolation {
            constraint: constraint_name(constraint),
        },
        // serialization_failure, deadlock_detected, lock_not_available
        // (lock_timeout, NOWAIT): concurrent work is in the way.
        "40001" | "40P01" | "55P03" => ErrorKind::Conflict,
        // query_canceled (statement_timeout), admin_shutdown,
        // crash_shutdown, cannot_connect_now, database_dropped: the server
        // gave up or is going away.
        "57014" | "57P01" | "57P02" | "57P03" | "57P04" => ErrorKind::Unavailable,
        // Class 08 connection exceptions, 53 insufficient resources (too
        // many connections, disk full, out of memory), 58 system errors
        // (I/O), 28 invalid authorization, 3D000 unknown database: the
        // backend cannot serve us.
        s if s.starts_with("08")
            || s.starts_with("53")
            || s.starts_with("58")
            || s.starts_with("28")
            || s == "3D000" =>
        {
            ErrorKind::Unavailable
        }
        // Foreign key (23503) and check (23514) violations, data
        // exceptions, an aborted transaction (25P02): the stored state or
        // the transaction's own state is in the way.
        _ => ErrorKind::Conflict,
    }
}

/// Maps a sqlx error to the portable kind: unique violations name their
/// constraint, serialization failures, deadlocks and lock timeouts are
/// `Conflict`, connection and pool trouble is `Unavailable`.
pub(crate) fn db(error: sqlx::Error) -> StoreError {
    let kind = match &error {
        sqlx::Error::Database(e) => match e.try_downcast_ref::<PgDatabaseError>() {
            Some(pg) => kind_of_state(pg.code(), pg.constraint()),
            None => kind_of_state(e.code().as_deref().unwrap_or(""), e.constraint()),
        },
        sqlx::Error::RowNotFound => ErrorKind::NotFound,
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => ErrorKind::Corrupt,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed
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
    fn states_map_to_portable_kinds() {
        assert_eq!(
            kind_of_state("23505", Some("users_email")),
            ErrorKind::UniqueViolation {
                constraint: "users_email".into()
            }
        );
        assert_eq!(
            kind_of_state("23505", Some("app_index")),
            ErrorKind::UniqueViolation {
                constraint: "app_index".into()
            }
        );
        for state in ["40001", "40P01", "55P03", "23503", "23514", "25P02"] {
            assert_eq!(kind_of_state(state, None), ErrorKind::Conflict, "{state}");
        }
        for state in [
            "08006", "08001", "53300", "57P01", "58030", "28P01", "3D000",
        ] {
            assert_eq!(
                kind_of_state(state, None),
                ErrorKind::Unavailable,
                "{state}"
            );
        }
    }

    #[test]
    fn constraint_names_are_unique() {
        let mut names = CONSTRAINTS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CONSTRAINTS.len());
    }
}
