//! Each organization's change log, and catch-up: a process whose cached
//! index of an organization is at version v, finding the organization at w,
//! applies what changed in v+1..w instead of compiling the index again.
//!
//! - Every bump records, in its transaction, an [`AuthzDelta`] derived from
//!   the audit event's target (the member, group or team, role, workspace
//!   or organization acted on; see [`delta_of`]), or named explicitly where
//!   no event says it ([`Iam::bump_orgs_of`]).
//! - Catch-up reads the deltas v+1..w in one query, re-reads exactly the
//!   entities they name in the reader's own transaction (so at version w),
//!   diffs them against the cached index
//!   ([`AccessIndex::changes_to`](iamkit_rbac::AccessIndex::changes_to))
//!   and applies the changes: in place when nothing else holds the cached
//!   index, else on a copy.
//! - It falls back to a full build when the log no longer reaches back to v
//!   (pruned, or versions bumped before the log existed), when a delta says
//!   [`AuthzDelta::Everything`], when more entities were touched than a
//!   rebuild would cost to read, or when the changes do not apply.
//! - The process that made a change brings its own cached index up to date
//!   right after the commit, the same way.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use iamkit_audit::Target;
use iamkit_identity::{OrgId, RoleId, UserId, UserStatus, WorkspaceId};
use iamkit_rbac::{Collective, Grantee, Observed, ObservedCollective, ObservedMember};

use crate::authorization::AuthzDelta;
use crate::cache::{Advance, Head, Work};
use crate::error::Result;
use crate::iam::{CachedIndex, Iam};
use crate::store::Store;
use crate::store::repositories::*;

/// The log is pruned at most this often (in versions of one organization).
const PRUNE_INTERVAL: u64 = 64;

/// Catch-up re-reads each touched entity with a few queries; a full build
/// reads every member. Past this many touched entities (plus one per 256
/// compiled members) rebuilding is the cheaper read.
const MAX_TOUCHED: usize = 8;

/// What an audited change touched, from the event's target: workflows
/// target what they change (a member for role, membership, status and
/// group or team placement changes; the group or team for its own roles
/// and its deletion; the role; the new workspace; the organization for
/// its settings). A target naming nothing an index is compiled from (an
/// API key, a session, an access request, a department) changes nothing
/// there: keys and sessions are read from the store on every call, and an
/// approved request is recorded apart, on its member.
pub(crate) fn delta_of(target: Target) -> AuthzDelta {
    match target {
        Target::User(user) => AuthzDelta::Member(user),
        Target::Group(group) => AuthzDelta::Collective(Collective::Group(group)),
        Target::Team(team) => AuthzDelta::Collective(Collective::Team(team)),
        Target::Role(role) => AuthzDelta::Role(role),
        Target::Workspace(_) => AuthzDelta::Workspaces,
        Target::Org(_) => AuthzDelta::Settings,
        Target::ApiKey(_)
        | Target::Session(_)
        | Target::AccessRequest(_)
        | Target::Department(_) => AuthzDelta::Unchanged,
        _ => AuthzDelta::Everything,
    }
}

/// How an [`Iam`]'s cached organization indexes came to be, since it was
/// built (see [`Iam::index_stats`]): a process that keeps rebuilding has a
/// change log too short for how long its indexes sit idle
/// ([`Config::authz_log_retention`](crate::Config)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IndexStats {
    /// Indexes compiled from every row of their organization.
    pub builds: u64,
    /// Indexes brought up to date from the change log instead.
    pub catch_ups: u64,
    /// Of those, how many were updated on a copy because the cached index
    /// was in use at that moment (the rest were updated in place).
    pub copied: u64,
}

/// The counters behind [`IndexStats`].
#[derive(Default)]
pub(crate) struct IndexCounters {
    builds: AtomicU64,
    catch_ups: AtomicU64,
    copied: AtomicU64,
}

impl IndexCounters {
    pub(crate) fn built(&self) {
        self.builds.fetch_add(1, Ordering::Relaxed);
    }

    fn caught_up(&self, copied: bool) {
        self.catch_ups.fetch_add(1, Ordering::Relaxed);
        if copied {
            self.copied.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn read(&self) -> IndexStats {
        IndexStats {
            builds: self.builds.load(Ordering::Relaxed),
            catch_ups: self.catch_ups.load(Ordering::Relaxed),
            copied: self.copied.load(Ordering::Relaxed),
        }
    }
}

/// The entities named by a run of deltas.
#[derive(Default)]
struct Touched {
    members: BTreeSet<UserId>,
    collectives: BTreeSet<Collective>,
    roles: BTreeSet<RoleId>,
    workspaces: bool,
    settings: bool,
}

impl Touched {
    /// The union of `deltas`; `None` when one says everything.
    fn of(deltas: &[(u64, AuthzDelta)]) -> Option<Self> {
        let mut touched = Self::default();
        for (_, delta) in deltas {
            match *delta {
                AuthzDelta::Member(user) => {
                    touched.members.insert(user);
                }
                AuthzDelta::Collective(c) => {
                    touched.collectives.insert(c);
                }
                AuthzDelta::Role(role) => {
                    touched.roles.insert(role);
                }
                AuthzDelta::Workspaces => touched.workspaces = true,
                AuthzDelta::Settings => touched.settings = true,
                AuthzDelta::Unchanged => {}
                AuthzDelta::Everything => return None,
            }
        }
        Some(touched)
    }

    fn entities(&self) -> usize {
        self.members.len() + self.collectives.len() + self.roles.len()
    }
}

/// A catch-up read from the store: the changes and the new head.
struct Plan {
    changes: Vec<iamkit_rbac::Change>,
    head: Head,
}

impl<S: Store> Iam<S> {
    /// How this instance's cached organization indexes came to be: full
    /// builds, and catch-ups from the change log.
    pub fn index_stats(&self) -> IndexStats {
        self.inner.index_stats.read()
    }

    /// Records `delta` as what the change that bumped `org` to `version`
    /// touched, in `tx`; every [`PRUNE_INTERVAL`]th version, deletes the
    /// entries older than [`Config::authz_log_retention`](crate::Config)
    /// versions.
    pub(crate) async fn log_change(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        version: u64,
        delta: AuthzDelta,
    ) -> Result<()> {
        tx.append_authz_delta(org, version, delta).await?;
        let retention = self.config().authz_log_retention;
        if version.is_multiple_of(PRUNE_INTERVAL.min(retention.max(1))) {
            let keep_from = (version + 1).saturating_sub(retention);
            tx.prune_authz_deltas(org, keep_from).await?;
        }
        Ok(())
    }

    /// `org`'s index at `version` (the stored one, read in `tx`) from the
    /// cached entry of an older version and the change log; `None` when
    /// the cache holds no older entry or the log cannot bring it there
    /// (the caller builds). Cached unless `tx` changed `org` itself.
    pub(crate) async fn catch_up(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        version: u64,
    ) -> Result<Option<CachedIndex>> {
        let base = self
            .inner
            .indexes
            .lock()
            .ok()
            .and_then(|cache| cache.base(org, version));
        let Some(base) = base else {
            return Ok(None);
        };
        let Some(plan) = self.plan_catch_up(tx, org, &base, version).await? else {
            return Ok(None);
        };
        let cacheable = !tx.has_bumped(org);
        Ok(self.apply_catch_up(org, base, plan, cacheable))
    }

    /// Reads the deltas from `base`'s version to `version` and what the
    /// store holds now of the entities they name; `None` when catching up
    /// is not possible or not worth it.
    async fn plan_catch_up(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        base: &CachedIndex,
        version: u64,
    ) -> Result<Option<Plan>> {
        let from = base.version;
        let span = version.saturating_sub(from);
        if span == 0 || span > self.config().authz_log_retention {
            return Ok(None);
        }
        let deltas = tx.list_authz_deltas(org, from, version).await?;
        // Every version in between, once: a pruned or never recorded one is
        // a change nobody can name.
        let complete = u64::try_from(deltas.len()).is_ok_and(|n| n == span)
            && deltas.iter().zip(from + 1..).all(|((v, _), e)| *v == e);
        if !complete {
            return Ok(None);
        }
        let Some(touched) = Touched::of(&deltas) else {
            return Ok(None);
        };
        let index = &base.index;
        if touched.entities() > MAX_TOUCHED + index.check_index().entries() / 256 {
            return Ok(None);
        }

        let mut observed = Observed::default();
        for user in &touched.members {
            observed
                .members
                .push(self.observe_member(tx, org, *user).await?);
        }
        for collective in &touched.collectives {
            observed
                .collectives
                .push(self.observe_collective(tx, org, *collective).await?);
        }
        for role in &touched.roles {
            let stored = tx.get_custom_role(*role).await?.filter(|r| r.org == org);
            observed.roles.push((*role, stored));
        }
        for user in index.standing_needed(&observed) {
            let active = self.is_active_member(tx, org, user).await?;
            observed.standing.insert(user, active);
        }
        let Some(changes) = index.changes_to(org, &observed) else {
            return Ok(None);
        };
        let require_two_factor = if touched.settings {
            tx.get_organization(org)
                .await?
                .is_some_and(|o| o.settings.require_two_factor)
        } else {
            base.require_two_factor
        };
        let workspaces = if touched.workspaces {
            let ids: HashSet<WorkspaceId> = tx
                .list_workspaces(org)
                .await?
                .into_iter()
                .map(|w| w.id)
                .collect();
            Arc::new(ids)
        } else {
            Arc::clone(&base.workspaces)
        };
        Ok(Some(Plan {
            changes,
            head: Head {
                version,
                require_two_factor,
                workspaces,
            },
        }))
    }

    /// A member's standing in `org` as the store holds it in `tx`.
    async fn observe_member(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        user: UserId,
    ) -> Result<ObservedMember> {
        let grants = tx
            .list_grants_of(Grantee::User(user))
            .await?
            .into_iter()
            .filter(|g| g.scope.org() == org)
            .collect();
        let mut collectives: Vec<Collective> = tx
            .list_groups_of_user(org, user)
            .await?
            .into_iter()
            .map(Collective::Group)
            .collect();
        collectives.extend(
            tx.list_teams_of_user(org, user)
                .await?
                .into_iter()
                .map(|m| Collective::Team(m.team)),
        );
        let active = self.is_active_member(tx, org, user).await?;
        Ok(ObservedMember {
            user,
            grants,
            collectives,
            active,
        })
    }

    /// A group or team of `org` as the store holds it in `tx`; one of
    /// another organization looks absent.
    async fn observe_collective(
        &self,
        tx: &mut Work<S>,
        org: OrgId,
        collective: Collective,
    ) -> Result<ObservedCollective> {
        let (exists, members) = match collective {
            Collective::Group(g) => {
                if tx.get_group(g).await?.is_some_and(|g| g.org == org) {
                    (true, tx.list_group_members(g).await?)
                } else {
                    (false, Vec::new())
                }
            }
            Collective::Team(t) => {
                if tx.get_team(t).await?.is_some_and(|t| t.org == org) {
                    let members = tx.list_team_members(t).await?;
                    (true, members.into_iter().map(|m| m.user).collect())
                } else {
                    (false, Vec::new())
                }
            }
        };
        let grants = if exists {
            tx.list_grants_of(Grantee::from(collective))
                .await?
                .into_iter()
                .filter(|g| g.scope.org() == org)
                .collect()
        } else {
            Vec::new()
        };
        Ok(ObservedCollective {
            collective,
            exists,
            members,
            grants,
        })
    }

    /// Whether `user`'s membership of `org` and account are both active
    /// (what [`list_active_members`](crate::AuthzVersionRepository::list_active_members)
    /// lists, for one user).
    async fn is_active_member(&self, tx: &mut Work<S>, org: OrgId, user: UserId) -> Result<bool> {
        let member = tx
            .get_membership(org, user)
            .await?
            .is_some_and(|m| m.status == UserStatus::Active);
        Ok(member && tx.get_user(user).await?.is_some_and(|u| u.is_active()))
    }

    /// Applies `plan` to `base`: in place in the cache when `cacheable`
    /// and nothing else holds the cached index, else on a copy (cached when
    /// `cacheable`). `None` when the changes do not apply: the caller builds.
    fn apply_catch_up(
        &self,
        org: OrgId,
        base: CachedIndex,
        plan: Plan,
        cacheable: bool,
    ) -> Option<CachedIndex> {
        let Plan { changes, head } = plan;
        let mut changes = Some(changes);
        let mut base = base;
        if cacheable && let Ok(mut cache) = self.inner.indexes.lock() {
            let update = |index: &mut iamkit_rbac::AccessIndex| {
                changes
                    .take()
                    .is_some_and(|changes| index.apply_all(changes).is_ok())
            };
            match cache.advance(org, base, &head, update) {
                Advance::Done(entry) => {
                    self.inner.index_stats.caught_up(false);
                    return Some(entry);
                }
                Advance::Found(entry) => return Some(entry),
                Advance::Failed => return None,
                Advance::Shared(back) => base = back,
            }
        }
        let mut index = (*base.index).clone();
        drop(base);
        index.apply_all(changes?).ok()?;
        self.inner.index_stats.caught_up(true);
        let entry = CachedIndex {
            version: head.version,
            index: Arc::new(index),
            require_two_factor: head.require_two_factor,
            workspaces: head.workspaces,
        };
        if cacheable && let Ok(mut cache) = self.inner.indexes.lock() {
            cache.offer(org, entry.clone());
        }
        Some(entry)
    }

    /// After a commit that bumped `orgs`: brings this process's cached
    /// index of each up to date from the change log, so its next check
    /// finds it current. Organizations it holds no index of are left to
    /// whoever checks first. Best effort: the change has committed, so a
    /// failure here only leaves the work to the next check.
    pub(crate) async fn refresh_indexes(&self, orgs: &[OrgId]) {
        let held: Vec<OrgId> = match self.inner.indexes.lock() {
            Ok(cache) => orgs.iter().copied().filter(|o| cache.holds(*o)).collect(),
            Err(_) => return,
        };
        if held.is_empty() {
            return;
        }
        let Ok(mut tx) = self.begin_read().await else {
            return;
        };
        for org in held {
            if self.read_index(&mut tx, org).await.is_err() {
                break;
            }
        }
        let _ = tx.rollback().await;
    }
}
