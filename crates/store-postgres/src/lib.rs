#![doc = include_str!("../README.md")]

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use iamkit::identity::{ApiKeyId, OrgId, SessionId};
use iamkit::{ApiKeyContext, SessionContext, Store, Transaction};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, Postgres};

mod access_model;
mod audit;
mod authentication;
mod codec;
mod credentials;
mod facade;
mod identity;
mod migrations;
mod rbac;
mod temporary;

pub use migrations::MIGRATIONS;
/// The sqlx types of this crate's API, re-exported so that an app need not
/// depend on the same sqlx version itself.
pub use sqlx::postgres::{PgConnectOptions, PgPool};

use codec::{Result, db};
use temporary::TemporarySchema;

/// How long a pooled connection may be waited for, and how long one
/// statement may wait for a row lock, before giving up (`Unavailable` and
/// `Conflict` respectively).
const WAIT: Duration = Duration::from_secs(30);

/// Connections a pool made by [`PgStore::connect`] opens at most.
const MAX_CONNECTIONS: u32 = 10;

/// The savepoint that makes one repository call atomic within its
/// transaction (see [`PgTx`]).
const SAVEPOINT: &str = "SAVEPOINT iamkit_call";
const RELEASE: &str = "RELEASE SAVEPOINT iamkit_call";
const ROLLBACK_TO: &str = "ROLLBACK TO SAVEPOINT iamkit_call; RELEASE SAVEPOINT iamkit_call";

/// A PostgreSQL-backed store. Clones share one connection pool.
///
/// # Isolation
///
/// Transactions run at `READ COMMITTED` (stated explicitly at `BEGIN`,
/// whatever the server's default) plus explicit locking, not
/// `SERIALIZABLE`: under `SERIALIZABLE`, any two concurrent workflows of
/// one organization would fail one of them with a serialization error,
/// because both append to the organization's audit chain and so update its
/// head row. The facade's guarantees come instead from:
///
/// - unique indexes (usernames, emails, slugs, names within an
///   organization, ...), whose violations carry the portable constraint
///   names;
/// - single-use steps as one conditional statement (`UPDATE ... SET
///   consumed_at = $now WHERE id = $1 AND consumed_at IS NULL AND ...
///   RETURNING ...`): of concurrent callers PostgreSQL re-checks the
///   condition for each after the previous one committed, so exactly one
///   wins;
/// - failure counters as one atomic `INSERT ... ON CONFLICT DO UPDATE SET
///   failures = failures + 1`;
/// - the audit sequence assigned under the organization's head row lock,
///   so appends are gapless;
/// - [`lock_authz_version`](iamkit::AuthzVersionRepository::lock_authz_version),
///   which locks the organization's authorization-version row until the
///   transaction ends: every workflow that may change an organization's
///   authorization takes it first, so such workflows of one organization
///   run one at a time (the last-owner guard stays safe under concurrent
///   demotions);
/// - transaction-scoped advisory locks where a repository call reads
///   before it writes rows that may not exist yet (issuing a token revokes
///   the subject's earlier ones; replacing recovery codes).
///
/// Read-only transactions ([`Store::begin_read`]) run at `REPEATABLE READ,
/// READ ONLY` instead: one snapshot, no locks.
///
/// A deadlock, serialization failure or lock timeout fails with
/// `Conflict`; retrying the workflow is safe.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Drops the schema of a [`PgStore::temporary`] store when the last
    /// clone is dropped.
    temporary: Option<Arc<TemporarySchema>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects a pool (at most 10 connections) to the database at `url`
    /// (`postgres://user:password@host:port/database?...`). Statements wait
    /// at most 30 s for a row lock (`lock_timeout`), then fail with
    /// `Conflict`. Call [`migrate`](Self::migrate) before first use.
    ///
    /// # Errors
    /// `Unavailable` when the URL is malformed or the server cannot be
    /// reached within 30 s.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(db)?;
        Self::connect_with(options).await
    }

    /// Like [`connect`](Self::connect), with options built by the app (a
    /// `search_path`, an application name, TLS settings of its sqlx build).
    ///
    /// # Errors
    /// `Unavailable` when the server cannot be reached within 30 s.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        let options = options.options([("lock_timeout", format!("{}s", WAIT.as_secs()))]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(WAIT)
            .connect_with(options)
            .await
            .map_err(db)?;
        Ok(Self::from_pool(pool))
    }

    /// A store over the app's own pool, used as it is configured.
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            temporary: None,
        }
    }

    /// A store in a fresh schema of its own, created on the database at
    /// `url` and dropped (`DROP SCHEMA ... CASCADE`) when the last clone is
    /// dropped: for tests and demos, so that concurrent and repeated runs
    /// never see each other's data. Not migrated yet.
    ///
    /// The schema is named `iamkit_t_<pid>_<n>_<random>`; the pool's
    /// connections have it as their `search_path` and as their
    /// `application_name`. The drop runs on a thread of its own, with a
    /// fresh connection, and first ends the pool's connections still open.
    ///
    /// # Errors
    /// `Unavailable` when the URL is malformed or the server is unreachable.
    pub async fn temporary(url: &str) -> Result<Self> {
        let admin = PgConnectOptions::from_str(url).map_err(db)?;
        let schema = TemporarySchema::create(admin.clone()).await?;
        let options = admin
            .application_name(schema.name())
            .options([("search_path", schema.name())]);
        let guard = Arc::new(schema);
        let mut store = Self::connect_with(options).await?;
        store.temporary = Some(guard);
        Ok(store)
    }

    /// The schema of a [`temporary`](Self::temporary) store (to open a
    /// second pool on it), `None` for other stores.
    pub fn schema(&self) -> Option<&str> {
        self.temporary.as_deref().map(TemporarySchema::name)
    }

    /// Applies the embedded [`MIGRATIONS`] not yet applied, in order, each
    /// in its own transaction under a transaction-scoped advisory lock of
    /// the current schema, so concurrent migrators (several processes
    /// starting at once) apply each migration exactly once. Safe to call on
    /// every start: applied migrations are skipped.
    ///
    /// # Errors
    /// A [`StoreError`](iamkit_store_api::StoreError) when a migration
    /// fails; it is rolled back.
    pub async fn migrate(&self) -> Result<()> {
        migrations::apply(&self.pool).await
    }

    /// The underlying pool, for the app's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl Store for PgStore {
    type Tx = PgTx;

    async fn begin(&self) -> Result<PgTx> {
        let tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(db)?;
        Ok(PgTx {
            tx,
            audit_cuts: HashMap::new(),
        })
    }

    /// `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY`: every statement
    /// reads the one snapshot taken at the first, and no lock is taken, so
    /// request authentication and checks neither wait for writers nor make
    /// them wait (a read-only transaction never fails with a serialization
    /// error). Writing through it fails with `Conflict`.
    async fn begin_read(&self) -> Result<PgTx> {
        let tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(db)?;
        Ok(PgTx {
            tx,
            audit_cuts: HashMap::new(),
        })
    }

    /// The context's one statement, on a pooled connection with no
    /// transaction around it: one round trip. A statement reads one
    /// snapshot, taken when it starts, so it sees every change committed
    /// before and none of one committed while it runs.
    async fn session_context(&self, id: SessionId) -> Result<Option<SessionContext>> {
        authentication::session_context(&self.pool, id).await
    }

    /// Like [`session_context`](Self::session_context): one statement.
    async fn api_key_context(&self, id: ApiKeyId) -> Result<Option<ApiKeyContext>> {
        authentication::api_key_context(&self.pool, id).await
    }
}

/// A transaction on a [`PgStore`]: one pooled connection inside `BEGIN
/// ISOLATION LEVEL READ COMMITTED`. Dropping it uncommitted rolls it back.
///
/// A PostgreSQL transaction in which a statement failed accepts no further
/// statement. So that a repository call that fails on a constraint (a
/// taken username, an unknown organization) changes nothing and leaves the
/// transaction usable, as the traits require, each such call runs inside a
/// savepoint, rolled back to when it fails.
///
/// At `READ COMMITTED` each statement sees the data committed before it
/// started, not before the transaction did. So that an audit chain's head
/// and its events still come from one consistent cut (what
/// [`verify_org`](iamkit::audit::verify_org) relies on), the transaction
/// remembers the head that [`audit_head`](iamkit::audit::AuditRepository::audit_head)
/// last returned for an organization, and its later scans of that
/// organization stop there: events appended and committed by others in
/// between are not returned, as if the transaction read a snapshot.
pub struct PgTx {
    tx: sqlx::Transaction<'static, Postgres>,
    /// Per organization, the sequence number of the head this transaction
    /// last read or wrote: its scans of the chain end there.
    audit_cuts: HashMap<OrgId, u64>,
}

impl std::fmt::Debug for PgTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTx").finish_non_exhaustive()
    }
}

impl PgTx {
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Where this transaction's scans of `org`'s chain end, if it read or
    /// wrote the chain's head.
    pub(crate) fn audit_cut(&self, org: OrgId) -> Option<u64> {
        self.audit_cuts.get(&org).copied()
    }

    /// Records the head this transaction saw or wrote for `org`.
    pub(crate) fn set_audit_cut(&mut self, org: OrgId, seq: u64) {
        self.audit_cuts.insert(org, seq);
    }

    /// Starts a call that must change nothing when it fails; end it with
    /// [`settle`](Self::settle).
    pub(crate) async fn savepoint(&mut self) -> Result<()> {
        sqlx::raw_sql(SAVEPOINT)
            .execute(self.conn())
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Ends a call started with [`savepoint`](Self::savepoint): keeps its
    /// changes on success, undoes them (and clears the failed state) on
    /// failure, and returns `outcome`.
    pub(crate) async fn settle<T>(&mut self, outcome: Result<T>) -> Result<T> {
        match outcome {
            Ok(value) => {
                sqlx::raw_sql(RELEASE)
                    .execute(self.conn())
                    .await
                    .map_err(db)?;
                Ok(value)
            }
            Err(error) => {
                // When even this fails the connection is gone; the next
                // statement reports it. The call's own error says more.
                let _ = sqlx::raw_sql(ROLLBACK_TO).execute(self.conn()).await;
                Err(error)
            }
        }
    }

    /// Takes a transaction-scoped advisory lock on `(what, id)` in the
    /// current schema: for a call that reads before it writes rows that may
    /// not exist yet, where no row lock can be taken.
    pub(crate) async fn lock_key(&mut self, what: &'static str, id: uuid::Uuid) -> Result<()> {
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended(
                 'iamkit:' || coalesce(current_schema(), '') || ':' || $1 || ':' || $2::text, 0))",
        )
        .bind(what)
        .bind(id)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(())
    }
}

impl Transaction for PgTx {
    async fn commit(self) -> Result<()> {
        self.tx.commit().await.map_err(db)
    }

    async fn rollback(self) -> Result<()> {
        self.tx.rollback().await.map_err(db)
    }
}
