//! The per-process cache of each organization's compiled authorization
//! model, and the workflow transaction that keeps it coherent.
//!
//! Every audited change bumps its organization's version in the workflow's
//! transaction. The cache must never serve, to an actor stamped with an
//! older version, an index that the committed change made stale
//! (SECURITY.md 20). So:
//! - a bump is remembered by the [`Work`] it happened in, and only after
//!   that transaction commits is a floor set: the organization's older
//!   entry is served no more, and no index of an older version is cached
//!   again, even by a reader that read the old version just before the
//!   commit;
//! - an entry is never replaced by one of a lower version;
//! - an index read inside a transaction that bumped its organization (the
//!   writer's own, uncommitted state) is never cached.
//!
//! An entry below the floor is kept, unserved, as the base that the next
//! reader brings up to date from the organization's change log (see
//! [`crate::change_log`]): it is exact for its own version.

use std::collections::{HashMap, HashSet};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use iamkit_identity::{OrgId, WorkspaceId};
use iamkit_rbac::AccessIndex;
use iamkit_store_api::StoreError;

use crate::iam::CachedIndex;
use crate::store::{Store, Transaction};
use crate::trace::Trace;

/// Each organization's cached index and the lowest version that may be
/// cached for it.
#[derive(Default)]
pub(crate) struct IndexCache {
    slots: HashMap<OrgId, Slot>,
}

#[derive(Default)]
struct Slot {
    /// Versions below this one are known stale: a change that bumped the
    /// organization to it has committed.
    floor: u64,
    /// The newest index known, served only while not below the floor.
    entry: Option<CachedIndex>,
}

/// What a cached entry becomes at a later version besides its index.
pub(crate) struct Head {
    pub(crate) version: u64,
    pub(crate) require_two_factor: bool,
    pub(crate) workspaces: Arc<HashSet<WorkspaceId>>,
}

/// What [`IndexCache::advance`] did.
pub(crate) enum Advance {
    /// The entry was brought to the new version in place.
    Done(CachedIndex),
    /// Someone already brought it there.
    Found(CachedIndex),
    /// The entry is shared (or gone, or moved past the target): update a
    /// copy of the base given back instead.
    Shared(CachedIndex),
    /// The update failed half-way: the entry was dropped.
    Failed,
}

impl IndexCache {
    /// The cached index of `org` built at exactly `version`, unless that
    /// version is known stale.
    pub(crate) fn get(&self, org: OrgId, version: u64) -> Option<CachedIndex> {
        self.slots
            .get(&org)
            .filter(|slot| version >= slot.floor)
            .and_then(|slot| slot.entry.as_ref())
            .filter(|entry| entry.version == version)
            .cloned()
    }

    /// The entry of `org` to bring up to `version` from the change log:
    /// the one held, when it is older (stale or not: it is exact for its
    /// own version).
    pub(crate) fn base(&self, org: OrgId, version: u64) -> Option<CachedIndex> {
        self.slots
            .get(&org)
            .and_then(|slot| slot.entry.as_ref())
            .filter(|entry| entry.version < version)
            .cloned()
    }

    /// Whether an entry of `org` is held (served or not).
    pub(crate) fn holds(&self, org: OrgId) -> bool {
        self.slots
            .get(&org)
            .is_some_and(|slot| slot.entry.is_some())
    }

    /// Brings `base`, the entry of `org` that [`base`](Self::base) gave,
    /// to `head` in place with `update`, when the cache and the caller are
    /// the only holders of its index: nobody else can be reading it, so it
    /// need not be copied (a copy of a large organization's index costs far
    /// more than a few changes). Takes `base` to drop the caller's hold;
    /// gives it back when it cannot be updated in place.
    pub(crate) fn advance(
        &mut self,
        org: OrgId,
        base: CachedIndex,
        head: &Head,
        update: impl FnOnce(&mut AccessIndex) -> bool,
    ) -> Advance {
        let Some(slot) = self.slots.get_mut(&org) else {
            return Advance::Shared(base);
        };
        let Some(entry) = slot.entry.as_mut() else {
            return Advance::Shared(base);
        };
        if entry.version == head.version {
            return Advance::Found(entry.clone());
        }
        if entry.version != base.version
            || !Arc::ptr_eq(&entry.index, &base.index)
            || Arc::strong_count(&entry.index) != 2
        {
            return Advance::Shared(base);
        }
        // The cache's lock is held: nobody takes a new hold meanwhile, so
        // once the caller's is dropped the cache's is the only one.
        drop(base);
        let Some(index) = Arc::get_mut(&mut entry.index) else {
            return Advance::Shared(entry.clone());
        };
        if !update(index) {
            slot.entry = None;
            return Advance::Failed;
        }
        entry.version = head.version;
        entry.require_two_factor = head.require_two_factor;
        entry.workspaces = Arc::clone(&head.workspaces);
        Advance::Done(entry.clone())
    }

    /// Caches `entry` unless it is known stale (below the floor) or the
    /// cache already holds the same or a newer version.
    pub(crate) fn offer(&mut self, org: OrgId, entry: CachedIndex) {
        let slot = self.slots.entry(org).or_default();
        if entry.version < slot.floor {
            return;
        }
        if slot
            .entry
            .as_ref()
            .is_some_and(|held| held.version >= entry.version)
        {
            return;
        }
        slot.entry = Some(entry);
    }

    /// A change that bumped `org` to `version` has committed: older
    /// entries are stale from now on (kept, unserved, as a base).
    pub(crate) fn committed(&mut self, org: OrgId, version: u64) {
        let slot = self.slots.entry(org).or_default();
        slot.floor = slot.floor.max(version);
    }
}

/// A workflow's store transaction, with the organizations whose version it
/// bumped (and to which version). Derefs to the store's transaction.
pub(crate) struct Work<S: Store> {
    tx: S::Tx,
    bumped: Vec<(OrgId, u64)>,
    cache: Arc<Mutex<IndexCache>>,
    /// The workflow's span (see [`crate::trace`]).
    pub(crate) trace: Trace,
    /// Begun with [`Store::begin_read`](crate::Store::begin_read): it
    /// takes no lock.
    pub(crate) read_only: bool,
}

impl<S: Store> Work<S> {
    pub(crate) fn new(tx: S::Tx, cache: Arc<Mutex<IndexCache>>) -> Self {
        Self {
            tx,
            bumped: Vec::new(),
            cache,
            trace: Trace::none(),
            read_only: false,
        }
    }

    /// Remembers that this transaction bumped `org` to `version`.
    pub(crate) fn bumped(&mut self, org: OrgId, version: u64) {
        self.bumped.push((org, version));
    }

    /// The organizations this transaction bumped, each once.
    pub(crate) fn bumped_orgs(&self) -> Vec<OrgId> {
        let mut orgs: Vec<OrgId> = self.bumped.iter().map(|(org, _)| *org).collect();
        orgs.sort_unstable();
        orgs.dedup();
        orgs
    }

    /// Whether this transaction bumped `org`: what it reads of `org` is
    /// uncommitted and must not be cached.
    pub(crate) fn has_bumped(&self, org: OrgId) -> bool {
        self.bumped.iter().any(|(o, _)| *o == org)
    }

    /// Commits, then marks the bumped organizations' older cache entries
    /// stale.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        let Self {
            tx,
            bumped,
            cache,
            mut trace,
            ..
        } = self;
        tx.commit().await?;
        // `allowed` unless `finish` recorded otherwise.
        trace.allowed();
        if !bumped.is_empty()
            && let Ok(mut cache) = cache.lock()
        {
            for (org, version) in bumped {
                cache.committed(org, version);
            }
        }
        Ok(())
    }

    /// Rolls back: nothing changed, the cache stays as it is.
    pub(crate) async fn rollback(mut self) -> Result<(), StoreError> {
        self.trace.rolled_back();
        self.tx.rollback().await
    }
}

impl<S: Store> Deref for Work<S> {
    type Target = S::Tx;

    fn deref(&self) -> &S::Tx {
        &self.tx
    }
}

impl<S: Store> DerefMut for Work<S> {
    fn deref_mut(&mut self) -> &mut S::Tx {
        &mut self.tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamkit_rbac::{AccessIndex, Catalogue};
    use rand::SeedableRng;

    fn entry(version: u64) -> CachedIndex {
        CachedIndex {
            version,
            index: Arc::new(AccessIndex::new(Catalogue::new())),
            require_two_factor: false,
            workspaces: Arc::default(),
        }
    }

    fn org() -> OrgId {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        OrgId::generate(chrono::DateTime::UNIX_EPOCH, &mut rng)
    }

    #[test]
    fn a_read_of_the_old_version_is_not_cached_after_the_change_commits() {
        // The interleaving of issue 16, item 6: a reader reads version 4
        // while a writer's bump to 5 is uncommitted; the writer commits;
        // then the reader offers its index of version 4.
        let org = org();
        let mut cache = IndexCache::default();
        cache.offer(org, entry(4));
        cache.committed(org, 5);
        assert!(cache.get(org, 4).is_none(), "the old entry is not served");
        cache.offer(org, entry(4));
        assert!(cache.get(org, 4).is_none(), "and not cached again");
        cache.offer(org, entry(5));
        assert!(cache.get(org, 5).is_some());
    }

    #[test]
    fn an_entry_is_never_replaced_by_a_lower_version() {
        let org = org();
        let mut cache = IndexCache::default();
        cache.offer(org, entry(7));
        cache.offer(org, entry(6));
        assert!(cache.get(org, 7).is_some());
        assert!(cache.get(org, 6).is_none());
    }

    #[test]
    fn a_rolled_back_bump_leaves_the_cache_usable() {
        // Only commits raise the floor: a bump that rolled back never
        // reaches `committed`, so version 4 stays cacheable.
        let org = org();
        let mut cache = IndexCache::default();
        cache.offer(org, entry(4));
        assert!(cache.get(org, 4).is_some());
    }

    fn head(version: u64) -> Head {
        Head {
            version,
            require_two_factor: true,
            workspaces: Arc::default(),
        }
    }

    #[test]
    fn a_stale_entry_is_a_base_but_never_served() {
        let org = org();
        let mut cache = IndexCache::default();
        cache.offer(org, entry(4));
        cache.committed(org, 6);
        assert!(cache.get(org, 4).is_none());
        assert_eq!(cache.base(org, 6).map(|e| e.version), Some(4));
        assert!(
            cache.base(org, 4).is_none(),
            "not a base for its own version"
        );
        assert!(cache.base(org, 3).is_none(), "nor for an older one");
    }

    #[test]
    fn an_unshared_entry_advances_in_place() {
        let org = org();
        let mut cache = IndexCache::default();
        cache.offer(org, entry(4));
        let base = cache.base(org, 6).unwrap();
        let before = Arc::as_ptr(&base.index);
        let mut updated = false;
        let advanced = cache.advance(org, base, &head(6), |_| {
            updated = true;
            true
        });
        let Advance::Done(entry) = advanced else {
            panic!("expected an update in place");
        };
        assert!(updated);
        assert_eq!(
            Arc::as_ptr(&entry.index),
            before,
            "the same index, not a copy"
        );
        assert_eq!(entry.version, 6);
        assert!(entry.require_two_factor);
        assert!(cache.get(org, 6).is_some());
    }

    #[test]
    fn an_entry_in_use_is_not_updated_in_place() {
        let org = org();
        let mut cache = IndexCache::default();
        cache.offer(org, entry(4));
        let reader = cache.get(org, 4).unwrap();
        let base = cache.base(org, 6).unwrap();
        let advanced = cache.advance(org, base, &head(6), |_| unreachable!());
        assert!(matches!(advanced, Advance::Shared(back) if back.version == 4));
        assert_eq!(reader.version, 4, "the reader's index is untouched");
        assert!(cache.get(org, 4).is_some());
    }

    #[test]
    fn an_entry_someone_advanced_is_found_and_a_failed_update_is_dropped() {
        let org = org();
        let mut cache = IndexCache::default();
        cache.offer(org, entry(4));
        let base = cache.base(org, 6).unwrap();
        cache.offer(org, entry(6));
        assert!(matches!(
            cache.advance(org, base, &head(6), |_| unreachable!()),
            Advance::Found(found) if found.version == 6
        ));
        let base = cache.base(org, 8).unwrap();
        assert!(matches!(
            cache.advance(org, base, &head(8), |_| false),
            Advance::Failed
        ));
        assert!(cache.base(org, 9).is_none(), "a half-updated index is gone");
        assert!(cache.get(org, 6).is_none());
    }
}
