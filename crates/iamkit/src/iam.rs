//! The [`Iam`] service: construction, and the plumbing every workflow
//! shares — one transaction per call, authorization first, audit events
//! and outbox messages committed with the change, denials audited apart.

use std::collections::{HashMap, HashSet};
use std::panic::Location;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use iamkit_audit::{Action, DenialReason, NewEvent, PermissionName, Target};
use iamkit_credentials::{
    PasswordHasher, PresentedSecret, SecretSealer, TokenKind, XChaChaSealer, issue_token,
};
use iamkit_identity::{Membership, OrgId, RoleId, User, UserId, UserStatus, WorkspaceId};
use iamkit_rbac::{
    Access, AccessIndex, BuiltinRole, Catalogue, Change, Collective, Grant, Grantee, Permission,
    Scope,
};
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

use crate::actor::{Actor, ActorKind};
use crate::authorization::AuthzDelta;
use crate::cache::{IndexCache, Work};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::deletion::LinkedData;
use crate::error::{Error, Result};
use crate::hashing::HashPool;
use crate::outbox::{MessageId, MessageKind, OutboxRecord};
use crate::store::Store;
use crate::store::repositories::*;
use crate::trace::Trace;

/// The user-management service: every method is one workflow an
/// administrator (or the app on a user's behalf) performs.
///
/// Each method takes the acting [`Actor`], checks its permission in the
/// target's organization and workspace (deny by default; an actor of
/// another organization gets [`Error::NotFound`]), and runs in one store
/// transaction with its audit event(s) and outbox messages. A denied
/// attempt rolls back and is then audited in a transaction of its own.
///
/// Authorization uses an in-process cache of each organization's compiled
/// [`AccessIndex`], tagged with the organization's authorization version
/// (see [`AuthzVersionRepository`](crate::AuthzVersionRepository)). Every
/// audited change bumps the version in its own transaction (and an
/// account-wide status change bumps every organization of the account), and
/// every check reads the version in its transaction, rebuilding the index
/// when it moved. So a role removal or a deactivation is seen by the very
/// next call (SECURITY.md 20), by every `Iam` over the same store. Sessions,
/// API keys and the actor's membership are re-read from the store on every
/// call as well.
///
/// Cloning is cheap (shared state).
pub struct Iam<S: Store> {
    pub(crate) inner: Arc<Inner<S>>,
}

impl<S: Store> Clone for Iam<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: Store> std::fmt::Debug for Iam<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam").finish_non_exhaustive()
    }
}

pub(crate) struct Inner<S> {
    pub(crate) store: S,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sealer: XChaChaSealer,
    pub(crate) config: Config,
    /// argon2, on its own threads.
    pub(crate) hashing: HashPool,
    pub(crate) catalogue: Catalogue,
    pub(crate) linked_data: Option<Arc<dyn LinkedData>>,
    /// Each organization's compiled index and the version it was built at.
    pub(crate) indexes: Arc<Mutex<IndexCache>>,
    /// Self-service reset requests not yet looked up (see
    /// [`Iam::request_password_reset`]), oldest first, each address once.
    pub(crate) reset_requests: Mutex<std::collections::VecDeque<iamkit_identity::Email>>,
    /// When each actor's last refusal in a foreign organization was
    /// recorded (see [`Iam::finish`]).
    pub(crate) foreign_denials: Mutex<HashMap<iamkit_audit::Actor, DateTime<Utc>>>,
    /// Where the next [`Iam::reseal`] continues.
    pub(crate) reseal_cursor: Mutex<crate::sealing::ResealCursor>,
    /// How the cached indexes came to be (see [`Iam::index_stats`]).
    pub(crate) index_stats: crate::change_log::IndexCounters,
}

/// At most one recorded refusal in a foreign organization per actor per
/// this interval.
const FOREIGN_DENIAL_INTERVAL: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// How many actors the foreign-refusal limiter remembers; past it, expired
/// entries are dropped, and while it stays full nothing more is recorded.
const FOREIGN_DENIAL_ACTORS: usize = 10_000;

/// An organization's compiled authorization model, as cached.
#[derive(Clone)]
pub(crate) struct CachedIndex {
    /// The organization's authorization version it was built at.
    pub(crate) version: u64,
    pub(crate) index: Arc<AccessIndex>,
    /// The organization's 2FA enforcement at that version (changing it is
    /// an audited change, so it bumps the version).
    pub(crate) require_two_factor: bool,
    /// The organization's workspaces at that version (creating one is
    /// audited, so it bumps the version): a check naming another
    /// organization's workspace is denied (SECURITY.md 36).
    pub(crate) workspaces: Arc<HashSet<WorkspaceId>>,
}

impl CachedIndex {
    /// Whether `scope` lies inside its organization: the organization
    /// itself, or one of its workspaces (SECURITY.md 36).
    pub(crate) fn contains(&self, scope: Scope) -> bool {
        match scope {
            Scope::Organization(_) => true,
            Scope::Workspace(_, workspace) => self.workspaces.contains(&workspace),
        }
    }
}

/// Builds an [`Iam`]: `Iam::builder(store, sealer)`, then optional clock,
/// config and app permissions, then [`build`](IamBuilder::build).
pub struct IamBuilder<S> {
    store: S,
    sealer: XChaChaSealer,
    clock: Arc<dyn Clock>,
    config: Config,
    permissions: Vec<(String, Vec<BuiltinRole>)>,
    linked_data: Option<Arc<dyn LinkedData>>,
}

impl<S> std::fmt::Debug for IamBuilder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamBuilder").finish_non_exhaustive()
    }
}

impl<S: Store> Iam<S> {
    /// Starts building a service over `store`. `sealer` holds the app's
    /// key ring that seals TOTP secrets and the link secrets of the outbox:
    /// it seals with its current key and opens with any of its keys (see
    /// [`Iam::reseal`] for rotating the key).
    pub fn builder(store: S, sealer: XChaChaSealer) -> IamBuilder<S> {
        IamBuilder {
            store,
            sealer,
            clock: Arc::new(SystemClock),
            config: Config::default(),
            permissions: Vec::new(),
            linked_data: None,
        }
    }
}

impl<S: Store> IamBuilder<S> {
    /// The clock (default [`SystemClock`]); tests pass a
    /// [`ManualClock`](crate::ManualClock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration (default [`Config::default`]).
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Registers an app permission (`workflows.run`) held by the named
    /// built-in roles. Checked by [`build`](Self::build).
    #[must_use]
    pub fn permission(mut self, name: &str, held_by: &[BuiltinRole]) -> Self {
        self.permissions.push((name.to_owned(), held_by.to_vec()));
        self
    }

    /// The app's hook that refuses deleting users who still have linked
    /// records (see [`Iam::delete_user`]).
    #[must_use]
    pub fn linked_data(mut self, hook: Arc<dyn LinkedData>) -> Self {
        self.linked_data = Some(hook);
        self
    }

    /// The service. Fails on invalid argon2 parameters or token lifetimes,
    /// and on a malformed or duplicate permission name.
    pub fn build(self) -> Result<Iam<S>> {
        self.config
            .tokens
            .validate()
            .map_err(Error::from_credentials)?;
        let hasher = PasswordHasher::new(self.config.argon2).map_err(Error::from_credentials)?;
        let hashing = HashPool::new(hasher, self.config.hashing)?;
        let mut catalogue = Catalogue::new();
        for (name, held_by) in self.permissions {
            let permission =
                Permission::parse(&name).map_err(|reason| Error::InvalidPermission { reason })?;
            catalogue
                .register(permission, &held_by)
                .map_err(|reason| Error::InvalidPermission { reason })?;
        }
        Ok(Iam {
            inner: Arc::new(Inner {
                store: self.store,
                clock: self.clock,
                sealer: self.sealer,
                config: self.config,
                hashing,
                catalogue,
                linked_data: self.linked_data,
                indexes: Arc::default(),
                reset_requests: Mutex::new(std::collections::VecDeque::new()),
                foreign_denials: Mutex::new(HashMap::new()),
                reseal_cursor: Mutex::new(crate::sealing::ResealCursor::START),
                index_stats: crate::change_log::IndexCounters::default(),
            }),
        })
    }
}

/// Why a workflow stopped: a plain error (rolled back, not audited), or a
/// denial (rolled back, then audited in its own transaction).
pub(crate) enum Failure {
    Error(Error),
    Denied(Box<Denial>),
}

pub(crate) struct Denial {
    pub(crate) org: OrgId,
    pub(crate) target: Target,
    pub(crate) permission: &'static str,
    pub(crate) reason: DenialReason,
    pub(crate) error: Error,
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Error(e.into())
    }
}

pub(crate) type Flow<T> = std::result::Result<T, Failure>;

/// What an authorized actor holds at the scope it acts in.
pub(crate) struct Authorized {
    /// The organization's index, shared with the cache and concurrent
    /// readers until the workflow changes it (see [`Authorized::apply`]).
    index: Arc<AccessIndex>,
    /// A change validated against `index` but not applied to it yet.
    pending: Option<Change>,
    /// What the actor holds at the scope it was authorized at.
    pub(crate) access: Access,
    /// Who acts, to ask what they hold at another scope of the organization.
    pub(crate) holder: Holder,
}

/// The actor behind an [`Authorized`].
#[derive(Clone, Copy)]
pub(crate) enum Holder {
    User(UserId),
    /// An API key holds its (narrowed) access at its own workspace only.
    Key(Scope),
}

impl Authorized {
    pub(crate) fn new(index: Arc<AccessIndex>, access: Access, holder: Holder) -> Self {
        Self {
            index,
            pending: None,
            access,
            holder,
        }
    }

    /// Checks `change` against the organization's model (unknown roles,
    /// the last-Owner rule) before the store is written.
    ///
    /// The index is shared, and copying a large organization's index costs
    /// milliseconds, so a workflow's first change is only validated
    /// ([`AccessIndex::validate`], which decides exactly like applying).
    /// Most workflows make one change; the cached index catches up from
    /// the change log after the commit. A later change, or a later read of
    /// the index, first applies the pending one to a private copy, so each
    /// guard sees the workflow's earlier changes.
    pub(crate) fn apply(&mut self, change: Change) -> std::result::Result<(), iamkit_rbac::Error> {
        if self.pending.is_none() && Arc::strong_count(&self.index) > 1 {
            self.index.validate(&change)?;
            self.pending = Some(change);
            return Ok(());
        }
        self.settle()?;
        Arc::make_mut(&mut self.index).apply(change)
    }

    /// Applies the pending change, if any, to a private copy.
    fn settle(&mut self) -> std::result::Result<(), iamkit_rbac::Error> {
        if let Some(change) = self.pending.take() {
            Arc::make_mut(&mut self.index).apply(change)?;
        }
        Ok(())
    }

    /// The index with the workflow's changes so far.
    pub(crate) fn index(&mut self) -> Result<Arc<AccessIndex>> {
        self.settle().map_err(Error::from_rbac)?;
        Ok(Arc::clone(&self.index))
    }

    /// The permission catalogue (no change alters it).
    pub(crate) fn catalogue(&self) -> &Catalogue {
        self.index.catalogue()
    }

    /// What the actor holds at `scope` (SECURITY.md 37: grants are checked
    /// at the scope granted, not where the actor was authorized).
    fn access_at(&self, scope: Scope) -> Access {
        match self.holder {
            Holder::User(user) => self.index.access(user, scope),
            Holder::Key(at) if at == scope => self.access.clone(),
            Holder::Key(_) => Access::default(),
        }
    }

    /// SECURITY.md 26: the actor must hold, at `scope`, every permission of
    /// a role to grant or revoke it there; only an Owner grants Owner.
    /// Checks the role given (if any) and the role it replaces.
    pub(crate) fn ensure_can_set(
        &mut self,
        grantee: Grantee,
        scope: Scope,
        role: Option<RoleId>,
    ) -> std::result::Result<(), iamkit_rbac::Error> {
        self.settle()?;
        self.index
            .ensure_can_set(&self.access_at(scope), grantee, scope, role)
    }

    /// Adding to or removing from a group or team grants or revokes its
    /// roles, each at the scope it is granted (SECURITY.md 26, 37).
    pub(crate) fn ensure_can_change_membership(
        &mut self,
        collective: Collective,
    ) -> std::result::Result<(), iamkit_rbac::Error> {
        self.settle()?;
        self.index
            .ensure_can_change_membership_as(|scope| self.access_at(scope), collective)
    }

    /// SECURITY.md 37: acting on `user` as a person in `org` (deactivating,
    /// suspending, reactivating, deleting, removing, offboarding) needs
    /// every role they hold there, direct or inherited, at its scope; only
    /// an Owner acts on an effective Owner.
    pub(crate) fn ensure_can_act_on(
        &mut self,
        user: UserId,
        org: OrgId,
    ) -> std::result::Result<(), iamkit_rbac::Error> {
        self.settle()?;
        self.index
            .ensure_can_act_on(|scope| self.access_at(scope), user, org)
    }
}

/// The OS CSPRNG (SECURITY.md 1); the only randomness iamkit uses.
pub(crate) fn os_rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

impl<S: Store> Iam<S> {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The permission catalogue (iamkit's and the app's).
    pub fn catalogue(&self) -> &Catalogue {
        &self.inner.catalogue
    }

    /// A workflow's transaction, and its span (see [`crate::trace`]),
    /// which names where the workflow began it.
    #[track_caller]
    pub(crate) fn begin(&self) -> impl Future<Output = Result<Work<S>>> + Send + '_ {
        let trace = Trace::begin(Location::caller(), false);
        async move {
            let tx = self.inner.store.begin().await?;
            let mut work = Work::new(tx, Arc::clone(&self.inner.indexes));
            work.trace = trace;
            Ok(work)
        }
    }

    /// A transaction only read through (see [`Store::begin_read`]).
    #[track_caller]
    pub(crate) fn begin_read(&self) -> impl Future<Output = Result<Work<S>>> + Send + '_ {
        let trace = Trace::begin(Location::caller(), true);
        async move {
            let tx = self.inner.store.begin_read().await?;
            let mut work = Work::new(tx, Arc::clone(&self.inner.indexes));
            work.trace = trace;
            work.read_only = true;
            Ok(work)
        }
    }

    /// Commits on success; rolls back on failure and, for a denial, audits
    /// it in a transaction of its own.
    pub(crate) async fn finish<T>(
        &self,
        mut tx: Work<S>,
        actor: &Actor,
        outcome: Flow<T>,
    ) -> Result<T> {
        match outcome {
            Ok(value) => {
                tx.trace.actor(actor);
                let bumped = tx.bumped_orgs();
                tx.commit().await?;
                self.refresh_indexes(&bumped).await;
                Ok(value)
            }
            Err(Failure::Error(e)) => {
                tx.trace.actor(actor);
                tx.trace.error(&e);
                tx.rollback().await?;
                Err(e)
            }
            Err(Failure::Denied(denial)) => {
                tx.trace.actor(actor);
                tx.trace
                    .denied(denial.org, denial.permission, &denial.reason);
                tx.rollback().await?;
                let Denial {
                    org,
                    target,
                    permission,
                    reason,
                    error,
                } = *denial;
                let permission = PermissionName::new(permission).map_err(|_| Error::Internal)?;
                // SECURITY.md 35: an actor who is no member of `org` writes
                // nothing into `org`'s chain, or any tenant could flood any
                // other's trail. The refusal is recorded on the actor's own
                // side, at most once a minute per actor.
                let foreign = reason == DenialReason::OtherOrganization;
                if foreign && !self.note_foreign_denial(actor) {
                    return Err(error);
                }
                // Bookkeeping of the workflow whose span recorded the
                // denial: no span of its own.
                let tx = self.inner.store.begin().await?;
                let mut tx = Work::new(tx, Arc::clone(&self.inner.indexes));
                let (chains, target) = if foreign {
                    (self.orgs_of_actor(&mut tx, actor).await?, Target::Org(org))
                } else {
                    (vec![org], target)
                };
                for chain in chains {
                    let event = NewEvent::new(
                        chain,
                        actor.audit(),
                        Action::AuthorizationDenied {
                            permission: permission.clone(),
                        },
                        target,
                        self.now(),
                        &mut os_rng(),
                    )
                    .denied(reason.clone());
                    tx.append_event(event).await?;
                }
                tx.commit().await?;
                Err(error)
            }
        }
    }

    /// Whether a refusal of `actor` in an organization it does not belong
    /// to is to be recorded now: once per actor per
    /// [`FOREIGN_DENIAL_INTERVAL`], per process.
    fn note_foreign_denial(&self, actor: &Actor) -> bool {
        let now = self.now();
        let Ok(mut seen) = self.inner.foreign_denials.lock() else {
            return false;
        };
        let key = actor.audit();
        if seen
            .get(&key)
            .is_some_and(|last| now < *last + FOREIGN_DENIAL_INTERVAL)
        {
            return false;
        }
        if seen.len() >= FOREIGN_DENIAL_ACTORS {
            seen.retain(|_, last| now < *last + FOREIGN_DENIAL_INTERVAL);
        }
        if seen.len() >= FOREIGN_DENIAL_ACTORS {
            return false;
        }
        seen.insert(key, now);
        true
    }

    /// The organizations an actor acts for: a user's memberships, a key's
    /// organization.
    async fn orgs_of_actor(&self, tx: &mut Work<S>, actor: &Actor) -> Result<Vec<OrgId>> {
        Ok(match &actor.kind {
            ActorKind::User { user, .. } => tx
                .list_memberships_of_user(*user)
                .await?
                .into_iter()
                .map(|m| m.org)
                .collect(),
            ActorKind::ApiKey { org, .. } => vec![*org],
            ActorKind::System => Vec::new(),
        })
    }

    /// Appends a successful event to `org`'s chain in `tx`.
    pub(crate) async fn audit(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        actor: &Actor,
        action: Action,
        target: Target,
    ) -> Result<()> {
        // Every change a workflow audits may alter the organization's
        // authorization; sign-in events and credential upkeep never do.
        let changes_authorization = !matches!(
            action,
            Action::SignedIn { .. }
                | Action::SignInFailed { .. }
                | Action::AccountLocked
                | Action::PasswordRehashed
                | Action::EmailVerificationResent
                | Action::PasswordVerified
                | Action::Reauthenticated
                | Action::AuditExported { .. }
        );
        tx.trace.audited(org, actor, &action);
        let event = NewEvent::new(
            org,
            actor.audit(),
            action,
            target,
            self.now(),
            &mut os_rng(),
        );
        tx.append_event(event).await?;
        if changes_authorization {
            self.bump_authz(tx, org, crate::change_log::delta_of(target))
                .await?;
        }
        Ok(())
    }

    /// Appends an event to the [`SYSTEM_CHAIN`](iamkit_audit::SYSTEM_CHAIN)
    /// in `tx`: what concerns no organization (a sign-in with an unknown
    /// name, a change to an account in no organization). Nobody's
    /// authorization depends on it, so no version is bumped.
    pub(crate) async fn audit_system(
        &self,
        tx: &mut Work<S>,
        actor: &Actor,
        action: Action,
        target: Target,
    ) -> Result<()> {
        tx.trace.audited(iamkit_audit::SYSTEM_CHAIN, actor, &action);
        let event = NewEvent::new(
            iamkit_audit::SYSTEM_CHAIN,
            actor.audit(),
            action,
            target,
            self.now(),
            &mut os_rng(),
        );
        tx.append_event(event).await?;
        Ok(())
    }

    /// Bumps the authorization version of every organization `user` is a
    /// member of: an account-wide status change alters their standing in
    /// each.
    pub(crate) async fn bump_orgs_of(&self, tx: &mut Work<S>, user: UserId) -> Result<()> {
        for membership in tx.list_memberships_of_user(user).await? {
            self.bump_authz(tx, membership.org, AuthzDelta::Member(user))
                .await?;
        }
        Ok(())
    }

    /// The organization's authorization model as of `tx`, for a workflow
    /// that may change it: the version is read with
    /// [`lock_authz_version`](crate::AuthzVersionRepository::lock_authz_version),
    /// so every such workflow of one organization runs after the previous
    /// one committed, and its guards (last Owner, escalation) see the
    /// outcome of the one before. A read-only transaction
    /// ([`Store::begin_read`]) changes nothing, so it reads the version
    /// without the lock (it could not take it: the lock may write).
    pub(crate) async fn load_index(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
    ) -> Result<Arc<AccessIndex>> {
        let version = if tx.read_only {
            tx.get_authz_version(org).await?
        } else {
            tx.lock_authz_version(org).await?
        };
        Ok(self.index_at(tx, org, version).await?.index)
    }

    /// The organization's authorization model as of `tx`, for a read-only
    /// check: the version is read without a lock.
    pub(crate) async fn read_index(&self, tx: &mut Work<S>, org: OrgId) -> Result<CachedIndex> {
        let version = tx.get_authz_version(org).await?;
        self.index_at(tx, org, version).await
    }

    /// Bumps `org`'s authorization version in `tx` and records `delta`,
    /// what the change touched, in its change log. When `tx` commits, the
    /// cached index of `org` is served no more and no older one is cached
    /// again, so an actor stamped before the change misses the cache and
    /// has its check re-read from the store (see [`crate::cache`]).
    async fn bump_authz(&self, tx: &mut Work<S>, org: OrgId, delta: AuthzDelta) -> Result<()> {
        let version = tx.bump_authz_version(org).await?;
        self.log_change(tx, org, version, delta).await?;
        tx.bumped(org, version);
        Ok(())
    }

    /// The cached index of `org` when it was built at `version`.
    pub(crate) fn cached_index(&self, org: OrgId, version: u64) -> Option<CachedIndex> {
        self.inner
            .indexes
            .lock()
            .ok()
            .and_then(|cache| cache.get(org, version))
    }

    /// The index of `org` at `version` (the stored one, read in `tx`): the
    /// cached one when it has that version, else the cached one of an
    /// older version brought up to date from the change log, else rebuilt
    /// from `tx`; cached.
    async fn index_at(&self, tx: &mut Work<S>, org: OrgId, version: u64) -> Result<CachedIndex> {
        if let Some(entry) = self.cached_index(org, version) {
            return Ok(entry);
        }
        if let Some(entry) = self.catch_up(tx, org, version).await? {
            return Ok(entry);
        }
        let require_two_factor = tx
            .get_organization(org)
            .await?
            .is_some_and(|o| o.settings.require_two_factor);
        let workspaces = tx
            .list_workspaces(org)
            .await?
            .into_iter()
            .map(|w| w.id)
            .collect();
        let index = self.build_index(tx, org).await?;
        self.inner.index_stats.built();
        let entry = CachedIndex {
            version,
            index: Arc::new(index),
            require_two_factor,
            workspaces: Arc::new(workspaces),
        };
        // What a transaction read of an organization it changed is not
        // committed: it is not for others to see.
        if !tx.has_bumped(org)
            && let Ok(mut cache) = self.inner.indexes.lock()
        {
            cache.offer(org, entry.clone());
        }
        Ok(entry)
    }

    /// Compiles the organization's index from `tx`, in one read of its
    /// [`AccessModel`](crate::AccessModel).
    async fn build_index(&self, tx: &mut Work<S>, org: OrgId) -> Result<AccessIndex> {
        let model = tx.load_access_model(org).await?;
        // Only an active account with an active membership acts: invited
        // and deactivated members hold their grants but use none of them.
        let active: HashSet<UserId> = model.active_members.into_iter().collect();
        let direct = model.grants.iter().filter_map(|g| match g.grantee {
            Grantee::User(user) => Some(user),
            Grantee::Group(_) | Grantee::Team(_) => None,
        });
        let inactive: HashSet<UserId> = model
            .collective_members
            .iter()
            .map(|m| m.user)
            .chain(direct)
            .filter(|user| !active.contains(user))
            .collect();
        AccessIndex::build(
            self.inner.catalogue.clone(),
            model.custom_roles,
            model.grants,
            model.collective_members,
            inactive,
        )
        .map_err(Error::from_rbac)
    }

    /// Authorization first (SECURITY.md 24, 25): the actor must be a live
    /// session or key, a member of `org`, and hold `permission` at `scope`.
    pub(crate) async fn authorize(
        &self,
        tx: &mut Work<S>,
        actor: &Actor,
        permission: &'static str,
        scope: Scope,
        target: Target,
    ) -> Flow<Authorized> {
        let org = scope.org();
        tx.trace.org(org);
        tx.trace.actor(actor);
        tx.trace.permission(permission);
        let Some(organization) = tx.get_organization(org).await? else {
            return Err(Error::NotFound.into());
        };
        let denied = |reason: DenialReason, error: Error| {
            Failure::Denied(Box::new(Denial {
                org,
                target,
                permission,
                reason,
                error,
            }))
        };
        let forbidden = || Error::Forbidden {
            permission: permission.to_owned(),
        };
        let missing_reason = DenialReason::MissingPermission {
            permission: PermissionName::new(permission).map_err(|_| Error::Internal)?,
        };
        let missing = || missing_reason.clone();
        let now = self.now();
        match &actor.kind {
            ActorKind::System => Err(denied(missing(), forbidden())),
            ActorKind::User { user, session } => {
                let live = tx.get_session(*session).await?.is_some_and(|s| {
                    s.user == *user && s.authorizes(&self.inner.config.sessions, now)
                });
                if !live {
                    return Err(Error::InvalidCredentials.into());
                }
                if tx.get_membership(org, *user).await?.is_none() {
                    return Err(denied(DenialReason::OtherOrganization, Error::NotFound));
                }
                // SECURITY.md 19: under org-wide enforcement a member without
                // a confirmed second factor can do nothing but enrol (which
                // is self-service and needs no permission).
                if organization.settings.require_two_factor
                    && !crate::two_factor::has_two_factor(&mut **tx, *user).await?
                {
                    return Err(denied(DenialReason::SecondFactorRequired, forbidden()));
                }
                self.ensure_scope_in_org(tx, scope).await?;
                let index = self.load_index(tx, org).await?;
                if index.is_deactivated(*user) {
                    return Err(denied(DenialReason::ActorDeactivated, forbidden()));
                }
                if !index.check_name(*user, permission, scope) {
                    return Err(denied(missing(), forbidden()));
                }
                let access = index.access(*user, scope);
                Ok(Authorized::new(index, access, Holder::User(*user)))
            }
            ActorKind::ApiKey {
                key,
                creator,
                org: key_org,
                workspace,
                restriction,
            } => {
                let active = tx
                    .get_api_key(*key)
                    .await?
                    .is_some_and(|k| k.is_active(now));
                if !active {
                    return Err(Error::InvalidCredentials.into());
                }
                if *key_org != org {
                    return Err(denied(DenialReason::OtherOrganization, Error::NotFound));
                }
                if organization.settings.require_two_factor
                    && crate::two_factor::key_lacks_second_factor(&mut **tx, *creator).await?
                {
                    return Err(denied(DenialReason::SecondFactorRequired, forbidden()));
                }
                self.ensure_scope_in_org(tx, scope).await?;
                let index = self.load_index(tx, org).await?;
                if index.is_deactivated(*creator) {
                    return Err(denied(DenialReason::ActorDeactivated, forbidden()));
                }
                // A key acts only in its workspace, with its restriction
                // intersected with the creator's current permissions
                // (SECURITY.md 23).
                let permissions =
                    index.api_key_permissions(*creator, org, *workspace, restriction.as_ref());
                let allowed = scope == Scope::Workspace(org, *workspace)
                    && self
                        .inner
                        .catalogue
                        .id(permission)
                        .is_some_and(|p| permissions.contains(p));
                if !allowed {
                    return Err(denied(missing(), forbidden()));
                }
                Ok(Authorized::new(
                    index,
                    Access {
                        permissions,
                        is_owner: false,
                    },
                    Holder::Key(scope),
                ))
            }
        }
    }

    /// SECURITY.md 36: a workspace scope must name a workspace of its
    /// organization; another organization's workspace looks absent.
    async fn ensure_scope_in_org(&self, tx: &mut Work<S>, scope: Scope) -> Result<()> {
        if let Scope::Workspace(org, workspace) = scope
            && tx
                .get_workspace(workspace)
                .await?
                .is_none_or(|w| w.org != org)
        {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// The user and their membership of `org`; [`Error::NotFound`] when the
    /// user is not a member (another tenant's user looks like no user).
    pub(crate) async fn member(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        user: UserId,
    ) -> Result<(User, Membership)> {
        let membership = tx.get_membership(org, user).await?.ok_or(Error::NotFound)?;
        let account = tx.get_user(user).await?.ok_or(Error::NotFound)?;
        Ok((account, membership))
    }

    /// SECURITY.md 32: only the organization that manages an account acts
    /// on the account itself (its status, global profile, password, all
    /// its sessions, its deletion); any other acts on its membership only.
    pub(crate) fn ensure_manages(org: OrgId, account: &User) -> Result<()> {
        if account.managed_by == Some(org) {
            Ok(())
        } else {
            Err(Error::NotManaged)
        }
    }

    /// `user` becomes an active member of `org` by their own consent: an
    /// account managed by another organization (through creation, not a
    /// verified domain) manages itself from now on (SECURITY.md 32).
    pub(crate) async fn joined(&self, tx: &mut Work<S>, user: UserId, org: OrgId) -> Result<()> {
        let mut account = tx.get_user(user).await?.ok_or(Error::NotFound)?;
        if account.managed_by.is_some_and(|manager| manager != org) {
            account.managed_by = None;
            account.updated_at = self.now();
            tx.update_user(&account).await?;
        }
        Ok(())
    }

    /// Removes `account`'s membership of `org` (its group and team places
    /// go with it). An organization that leaves an account it manages
    /// manages it no more (SECURITY.md 32): the account is its holder's.
    pub(crate) async fn leave(
        &self,
        tx: &mut Work<S>,
        mut account: User,
        org: OrgId,
    ) -> Result<()> {
        tx.delete_membership(org, account.id).await?;
        if account.managed_by == Some(org) {
            account.managed_by = None;
            account.updated_at = self.now();
            tx.update_user(&account).await?;
        }
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) `grantee`'s role at `scope` in
    /// `tx`, after the guards: the actor (whose index is `authz`) must be
    /// allowed to grant both the new and the replaced role (SECURITY.md 26),
    /// and the index refuses an unknown or misplaced role and the loss of
    /// the last active Owner (SECURITY.md 27), all before anything is
    /// written. A refusal is a denial of `permission` on `target`. Returns
    /// the previous role and the audit action that describes the change.
    #[expect(
        clippy::too_many_arguments,
        reason = "the workflow's context (org, target, permission) names the denial"
    )]
    pub(crate) async fn set_grant_in(
        &self,
        tx: &mut Work<S>,
        authz: &mut Authorized,
        grantee: Grantee,
        scope: Scope,
        role: Option<RoleId>,
        target: Target,
        permission: &'static str,
    ) -> Flow<(Option<RoleId>, Option<Action>)> {
        let org = scope.org();
        authz
            .ensure_can_set(grantee, scope, role)
            .map_err(|e| rbac_denial(org, target, permission, e))?;
        let from = authz.index()?.grant_of(grantee, scope);
        if from == role {
            // A no-op: nothing changes and nothing is audited (the no-op
            // rule, crates/iamkit/README.md).
            return Ok((from, None));
        }
        let change = match role {
            Some(role) => Change::Assign(Grant {
                grantee,
                scope,
                role,
            }),
            None => Change::Revoke { grantee, scope },
        };
        authz
            .apply(change)
            .map_err(|e| rbac_denial(org, target, permission, e))?;
        match role {
            Some(role) => {
                tx.assign_grant(&Grant {
                    grantee,
                    scope,
                    role,
                })
                .await?;
            }
            None => {
                tx.revoke_grant(grantee, scope).await?;
            }
        }
        let action = match scope {
            Scope::Organization(_) => Action::OrgRoleChanged { from, to: role },
            Scope::Workspace(_, workspace) => Action::WorkspaceRoleChanged {
                workspace,
                from,
                to: role,
            },
        };
        Ok((from, Some(action)))
    }

    /// Queues a message for `user` unless they may not receive it: a
    /// deactivated account receives nothing, an unverified address only
    /// invitations and verifications.
    pub(crate) async fn queue_message(
        &self,
        tx: &mut Work<S>,
        org: Option<OrgId>,
        user: &User,
        kind: MessageKind,
        link: Option<&PresentedSecret>,
    ) -> Result<()> {
        if user.status == UserStatus::Deactivated
            || (!user.email_verified && !kind.allowed_unverified())
        {
            return Ok(());
        }
        let now = self.now();
        let mut rng = os_rng();
        let id = MessageId::generate(now, &mut rng);
        let sealed_link = match link {
            Some(secret) => Some(
                self.inner
                    .sealer
                    .seal(
                        secret.to_text().expose().as_bytes(),
                        id.as_uuid().as_bytes(),
                        &mut rng,
                    )
                    .map_err(|_| Error::Crypto)?,
            ),
            None => None,
        };
        let record = OutboxRecord {
            id,
            org,
            recipient: user.id,
            to: user.email.clone(),
            language: user.profile.language,
            kind,
            sealed_link,
            created_at: now,
            delivered_at: None,
        };
        tx.insert_outbox_message(&record).await?;
        Ok(())
    }

    /// Issues a link token of `kind` for `user` (revoking earlier unused
    /// ones of that kind) and queues its message.
    pub(crate) async fn send_link(
        &self,
        tx: &mut Work<S>,
        org: Option<OrgId>,
        user: &User,
        kind: TokenKind,
        message: MessageKind,
    ) -> Result<()> {
        let mut issued = issue_token(
            kind,
            user.id,
            &self.inner.config.tokens,
            self.now(),
            &mut os_rng(),
        );
        // An invitation belongs to its organization: issuing one never
        // supersedes another organization's (SECURITY.md 35).
        if kind == TokenKind::Invite {
            issued.record.org = org;
        }
        tx.insert_token(issued.record).await?;
        self.queue_message(tx, org, user, message, Some(&issued.secret))
            .await
    }
}

/// Maps an rbac refusal found while guarding a change to a denial.
pub(crate) fn rbac_denial(
    org: OrgId,
    target: Target,
    permission: &'static str,
    e: iamkit_rbac::Error,
) -> Failure {
    let reason = match &e {
        iamkit_rbac::Error::Escalation { .. } | iamkit_rbac::Error::OwnerRequired => {
            DenialReason::Escalation
        }
        iamkit_rbac::Error::LastOwner { .. } => DenialReason::LastOwner,
        _ => return Failure::Error(Error::from_rbac(e)),
    };
    Failure::Denied(Box::new(Denial {
        org,
        target,
        permission,
        reason,
        error: Error::from_rbac(e),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamkit_identity::__private::Uuid;
    use iamkit_rbac::{BuiltinRole, Catalogue};

    fn org() -> OrgId {
        OrgId::from_uuid(Uuid::from_u128(1))
    }

    fn user(i: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(0x100 + i))
    }

    fn owner(i: u128) -> Grant {
        Grant {
            grantee: Grantee::User(user(i)),
            scope: Scope::Organization(org()),
            role: BuiltinRole::Owner.id(),
        }
    }

    fn revoke(i: u128) -> Change {
        Change::Revoke {
            grantee: Grantee::User(user(i)),
            scope: Scope::Organization(org()),
        }
    }

    /// The cache's index with `owners` Owners, and an actor (Owner 0)
    /// authorized on it.
    fn authorized(owners: u128) -> (Arc<AccessIndex>, Authorized) {
        let index = AccessIndex::build(Catalogue::new(), [], (0..owners).map(owner), [], []);
        let cached = Arc::new(index.expect("a valid index"));
        let access = cached.access(user(0), Scope::Organization(org()));
        let authz = Authorized::new(Arc::clone(&cached), access, Holder::User(user(0)));
        (cached, authz)
    }

    #[test]
    fn a_first_change_is_validated_on_the_shared_index_without_copying_it() {
        let (cached, mut authz) = authorized(2);
        authz.apply(revoke(1)).expect("another Owner is left");
        assert!(Arc::ptr_eq(&cached, &authz.index), "no copy was made");
        assert!(
            cached.check_index().is_owner(user(1), org()),
            "the cache is untouched"
        );
        // Reading the index afterwards sees the change, on a private copy.
        let index = authz.index().expect("the pending change applies");
        assert!(!index.check_index().is_owner(user(1), org()));
        assert!(!Arc::ptr_eq(&cached, &index));
        assert!(
            cached.check_index().is_owner(user(1), org()),
            "still untouched"
        );
    }

    #[test]
    fn a_second_change_is_checked_after_the_first() {
        // Each revocation alone leaves an Owner; both together leave none.
        let (cached, mut authz) = authorized(2);
        authz.apply(revoke(1)).expect("Owner 0 is left");
        assert_eq!(
            authz.apply(revoke(0)),
            Err(iamkit_rbac::Error::LastOwner { org: org() })
        );
        assert_eq!(cached.check_index().owner_count(org()), 2);
        // And the other way round: a new Owner first makes the old one's
        // demotion possible.
        let (_cached, mut authz) = authorized(1);
        assert_eq!(
            authz.index.validate(&revoke(0)),
            Err(iamkit_rbac::Error::LastOwner { org: org() })
        );
        authz
            .apply(Change::Assign(owner(1)))
            .expect("a second Owner");
        authz.apply(revoke(0)).expect("Owner 1 is left");
    }
}
