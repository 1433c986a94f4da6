//! The authorization version: a per-organization counter in the store,
//! bumped in the same transaction as any change that can alter what
//! anyone in the organization may do. Every [`Iam`](crate::Iam) keeps an
//! in-process cache of each organization's compiled
//! [`AccessIndex`](iamkit_rbac::AccessIndex) tagged with the version it was
//! built at, and rebuilds it when the stored version differs — so a change
//! is visible to the very next check (SECURITY.md 20), and several `Iam`
//! instances over one database agree.

use std::future::Future;

use iamkit_identity::{OrgId, UserId};
use iamkit_store_api::StoreError;

/// Per-organization authorization versions.
pub trait AuthzVersionRepository: Send {
    /// The organization's current version; MUST be 0 when never bumped.
    fn get_authz_version(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Reads the organization's version like
    /// [`get_authz_version`](Self::get_authz_version) and holds it until
    /// the transaction ends: another transaction's `lock_authz_version` or
    /// [`bump_authz_version`](Self::bump_authz_version) of the same
    /// organization MUST wait for this one to end (or one of them fails
    /// with `Conflict`). Every workflow that may change an organization's
    /// authorization starts with it, so two such workflows in one
    /// organization (two demotions racing for the last Owner) run one
    /// after the other even where transactions are not serializable.
    ///
    /// The default reads without locking, which is right for adapters whose
    /// transactions already run one at a time (memory, SQLite).
    fn lock_authz_version(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.get_authz_version(org)
    }

    /// The version of every organization `user` is a member of (in any
    /// status), 0 where never bumped, in one read: authentication stamps
    /// the actor with them, so a later check whose cached index still has
    /// the stamped version need not read the store. MUST list each such
    /// organization exactly once, and no other.
    fn list_authz_versions_of_member(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<(OrgId, u64)>, StoreError>> + Send;

    /// The members of `org` whose membership and account are both ACTIVE,
    /// each once, in one read: compiling the organization's index needs
    /// the standing of every member, and one query per member would make
    /// each change cost a round trip per member.
    fn list_active_members(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<Vec<UserId>, StoreError>> + Send;

    /// Increments the organization's version and returns the new value.
    /// MUST be atomic: N committed bumps raise it by exactly N, and a
    /// rolled-back bump leaves it unchanged.
    fn bump_authz_version(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
