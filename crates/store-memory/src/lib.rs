#![doc = include_str!("../README.md")]

use std::sync::Arc;

use iamkit::{Store, Transaction};
use iamkit_store_api::StoreError;
use tokio::sync::{Mutex, OwnedMutexGuard};

mod audit;
mod credentials;
mod facade;
mod identity;
mod rbac;

/// The whole state of a [`MemoryStore`]: one part per domain.
#[derive(Clone, Default)]
pub(crate) struct State {
    pub(crate) identity: identity::IdentityState,
    pub(crate) audit: audit::AuditState,
    pub(crate) credentials: credentials::CredentialsState,
    pub(crate) rbac: rbac::RbacState,
    pub(crate) facade: facade::FacadeState,
}

/// An in-memory store. Clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl Store for MemoryStore {
    type Tx = MemoryTx;

    async fn begin(&self) -> Result<MemoryTx, StoreError> {
        let guard = Arc::clone(&self.state).lock_owned().await;
        let state = guard.clone();
        Ok(MemoryTx { guard, state })
    }
}

/// A transaction on a [`MemoryStore`]: holds the store's lock and works on a
/// private snapshot, published by [`commit`](Transaction::commit).
pub struct MemoryTx {
    guard: OwnedMutexGuard<State>,
    pub(crate) state: State,
}

impl std::fmt::Debug for MemoryTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTx").finish_non_exhaustive()
    }
}

impl Transaction for MemoryTx {
    async fn commit(self) -> Result<(), StoreError> {
        let Self { mut guard, state } = self;
        *guard = state;
        Ok(())
    }

    async fn rollback(self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod conformance {
    iamkit_testkit::conformance_tests!(|| async { crate::MemoryStore::new() });
}
