//! The storage seam: a [`Store`] hands out [`Transaction`]s, and a
//! transaction is every repository at once.

use std::future::Future;

use iamkit_audit::AuditRepository;
use iamkit_credentials::{
    ApiKeyRepository, RecoveryCodeRepository, SessionRepository, ThrottleRepository,
    TokenRepository, TotpRepository,
};
use iamkit_identity::{
    ApiKeyId, GroupRepository, OrganizationRepository, SessionId, TeamRepository, UserRepository,
    WorkspaceRepository,
};
use iamkit_rbac::{GrantRepository, RoleRepository};
use iamkit_store_api::StoreError;

use crate::access_model::AccessModelRepository;
use crate::access_requests::AccessRequestRepository;
use crate::authentication::{ApiKeyContext, AuthenticationRepository, SessionContext};
use crate::authorization::AuthzVersionRepository;
use crate::email_verification::PendingEmailRepository;
use crate::outbox::OutboxRepository;
use crate::passwords::PasswordRepository;
use crate::service_accounts::ServiceAccountRepository;

/// A storage backend: in memory, SQLite, PostgreSQL, or the app's own.
///
/// Cloning is cheap and clones share the same data (a pool handle).
pub trait Store: Clone + Send + Sync + 'static {
    /// A unit of work over every repository.
    type Tx: Transaction;

    /// Starts a transaction.
    ///
    /// The outcome of concurrent workflows MUST equal some serial order of
    /// them (or one of two conflicting ones fails with `Conflict`). The
    /// simplest way is serializable transactions (the memory and SQLite
    /// adapters run one writer at a time). A weaker isolation level is
    /// enough when the adapter keeps every guarantee the traits state in
    /// MUST words with locks: unique indexes, single-use steps as one
    /// conditional statement, atomic counters, a per-organization lock on
    /// audit appends, and
    /// [`lock_authz_version`](crate::AuthzVersionRepository::lock_authz_version)
    /// holding the organization's authorization version, which every
    /// workflow that may change authorization takes before reading roles and
    /// grants (the PostgreSQL adapter, at READ COMMITTED). The conformance
    /// kit's concurrency cases check these with real threads.
    fn begin(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;

    /// Starts a transaction the caller will only read through (request
    /// authentication, permission checks). It MUST see a consistent state
    /// (a snapshot, or serial with writers). Adapters may run it without
    /// taking write locks, so that readers do not queue behind writers;
    /// writing through it may then fail. The default is [`begin`](Self::begin).
    fn begin_read(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send {
        self.begin()
    }

    /// The session `id` and what authenticating it needs, read outside any
    /// transaction of the caller's: every request makes this read, so an
    /// adapter that can read it in one statement saves the transaction's
    /// own round trips (`BEGIN`, `ROLLBACK`).
    ///
    /// It MUST return what
    /// [`load_session_context`](crate::AuthenticationRepository::load_session_context)
    /// returns in a transaction from [`begin_read`](Self::begin_read) started
    /// now: one consistent state (the session, its user's standing and the
    /// authorization versions as of one instant, so a change committed with
    /// a version bump is seen whole or not at all) that includes every
    /// change committed before the call (SECURITY.md 20: the request after
    /// a deactivation or revocation is refused). The default is that read
    /// transaction, rolled back; an adapter whose context is one statement
    /// runs that statement alone (its snapshot is the statement's).
    fn session_context(
        &self,
        id: SessionId,
    ) -> impl Future<Output = Result<Option<SessionContext>, StoreError>> + Send {
        async move {
            let mut tx = self.begin_read().await?;
            let context = tx.load_session_context(id).await;
            tx.rollback().await?;
            context
        }
    }

    /// The API key `id` and what authenticating it needs, read outside any
    /// transaction of the caller's. The same contract as
    /// [`session_context`](Self::session_context), with
    /// [`load_api_key_context`](crate::AuthenticationRepository::load_api_key_context).
    fn api_key_context(
        &self,
        id: ApiKeyId,
    ) -> impl Future<Output = Result<Option<ApiKeyContext>, StoreError>> + Send {
        async move {
            let mut tx = self.begin_read().await?;
            let context = tx.load_api_key_context(id).await;
            tx.rollback().await?;
            context
        }
    }
}

/// One transaction: every repository trait, plus commit and rollback.
///
/// Nothing done through a transaction is visible to others before
/// [`commit`](Self::commit) succeeds. Dropping a transaction without
/// committing MUST roll it back.
pub trait Transaction:
    UserRepository
    + OrganizationRepository
    + WorkspaceRepository
    + GroupRepository
    + TeamRepository
    + AuditRepository
    + TokenRepository
    + SessionRepository
    + ApiKeyRepository
    + TotpRepository
    + RecoveryCodeRepository
    + ThrottleRepository
    + RoleRepository
    + GrantRepository
    + PasswordRepository
    + OutboxRepository
    + PendingEmailRepository
    + AccessRequestRepository
    + ServiceAccountRepository
    + AuthzVersionRepository
    + AuthenticationRepository
    + AccessModelRepository
    + Send
    + 'static
{
    /// Makes every change of this transaction durable and visible, atomically.
    fn commit(self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Discards every change of this transaction.
    fn rollback(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Every repository trait, for the workflows' method calls on a transaction.
pub(crate) mod repositories {
    pub(crate) use iamkit_audit::AuditRepository as _;
    pub(crate) use iamkit_credentials::{
        ApiKeyRepository as _, SessionRepository as _, ThrottleRepository as _,
        TokenRepository as _, TotpRepository as _,
    };
    pub(crate) use iamkit_identity::{
        GroupRepository as _, OrganizationRepository as _, TeamRepository as _,
        UserRepository as _, WorkspaceRepository as _,
    };
    pub(crate) use iamkit_rbac::{GrantRepository as _, RoleRepository as _};

    pub(crate) use crate::access_model::AccessModelRepository as _;
    pub(crate) use crate::authorization::AuthzVersionRepository as _;
    pub(crate) use crate::outbox::OutboxRepository as _;
    pub(crate) use crate::passwords::PasswordRepository as _;
    pub(crate) use crate::service_accounts::ServiceAccountRepository as _;
}
