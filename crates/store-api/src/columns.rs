//! The column lists of the SQL adapters' tables (SQLite and PostgreSQL
//! share the schema's names), so that no query says `SELECT *`.
//!
//! A `*` is expanded when a statement is prepared. A connection that
//! prepared it before a migration added a column (its pooled neighbour
//! ran the migration, or another process upgraded the database in a
//! rolling deploy) then gets rows of a different shape than it planned
//! for: SQLite re-prepares behind the driver's cached column list (a
//! panic inside sqlx), PostgreSQL answers "cached plan must not change
//! result type". Named columns keep the shape of a statement fixed.

/// The columns of `table` (optionally qualified by an alias: `sessions as
/// s`), as a string literal for `concat!`.
///
/// ```
/// let sql = concat!("SELECT ", iamkit_store_api::columns!(outbox), " FROM outbox");
/// assert!(sql.starts_with("SELECT id, org_id, recipient,"));
/// ```
#[macro_export]
macro_rules! columns {
    (tokens) => {
        "id, kind, by_admin, subject, secret_hash, created_at, expires_at, consumed_at, \
         revoked_at, org_id"
    };
    (sessions) => {
        "id, user_id, org_id, secret_hash, state, created_at, last_seen_at, client_ip, \
         user_agent, revoked_at, authenticated_at"
    };
    (sessions as s) => {
        "s.id, s.user_id, s.org_id, s.secret_hash, s.state, s.created_at, s.last_seen_at, \
         s.client_ip, s.user_agent, s.revoked_at, s.authenticated_at"
    };
    (api_keys) => {
        "id, name, workspace_id, restriction, created_by, created_at, expires_at, \
         last_used_at, revoked_at, secret_hash"
    };
    (api_keys as k) => {
        "k.id, k.name, k.workspace_id, k.restriction, k.created_by, k.created_at, \
         k.expires_at, k.last_used_at, k.revoked_at, k.secret_hash"
    };
    (totp_enrollments) => {
        "user_id, sealed_secret, algorithm, digits, period_secs, created_at, confirmed_at, \
         last_step"
    };
    (outbox) => {
        "id, org_id, recipient, to_email, language, kind, sealed_link, created_at, delivered_at"
    };
    (access_requests) => {
        "id, org_id, requester, change_kind, subject, scope, role_id, status, created_at, \
         decided_by, decided_at"
    };
    (service_accounts) => {
        "user_id, org_id, created_by, created_at"
    };
}
