//! The authorization version: a per-organization counter in the store,
//! bumped in the same transaction as any change that can alter what
//! anyone in the organization may do. Every [`Iam`](crate::Iam) keeps an
//! in-process cache of each organization's compiled
//! [`AccessIndex`](iamkit_rbac::AccessIndex) tagged with the version it was
//! built at, and rebuilds it when the stored version differs — so a change
//! is visible to the very next check (SECURITY.md 20), and several `Iam`
//! instances over one database agree.

use std::future::Future;

use iamkit_identity::OrgId;
use iamkit_store_api::StoreError;

/// Per-organization authorization versions.
pub trait AuthzVersionRepository: Send {
    /// The organization's current version; MUST be 0 when never bumped.
    fn get_authz_version(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Increments the organization's version and returns the new value.
    /// MUST be atomic: N committed bumps raise it by exactly N, and a
    /// rolled-back bump leaves it unchanged.
    fn bump_authz_version(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
