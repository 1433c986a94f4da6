//! The audit repository: one append-only chain per organization.

use iamkit_audit::{AuditEvent, AuditRepository, ChainHead, EventQuery, NewEvent, seal};
use iamkit_identity::OrgId;
use iamkit_store_api::{ErrorKind, Page, StoreError};
use imbl::{HashMap, OrdMap};

use crate::MemoryTx;

/// One organization's chain. The head is kept beside the events, not
/// derived from them, so it can anchor verification.
#[derive(Clone)]
struct Chain {
    head: ChainHead,
    events: OrdMap<u64, AuditEvent>,
}

/// Every organization's chain.
#[derive(Clone, Default)]
pub(crate) struct AuditState {
    chains: HashMap<OrgId, Chain>,
}

impl AuditRepository for MemoryTx {
    async fn append_event(&mut self, event: NewEvent) -> Result<AuditEvent, StoreError> {
        let org = event.org;
        let chains = &mut self.state.audit.chains;
        let head = chains
            .get(&org)
            .map_or_else(|| ChainHead::genesis(org), |chain| chain.head);
        // The transaction holds the store's lock, so reading the head and
        // writing the next event cannot interleave with another append.
        let sealed =
            seal(&head, event).map_err(|e| StoreError::with_source(ErrorKind::Conflict, e))?;
        let chain = chains.entry(org).or_insert_with(|| Chain {
            head,
            events: OrdMap::new(),
        });
        chain.head = sealed.head();
        chain.events.insert(sealed.seq, sealed.clone());
        Ok(sealed)
    }

    async fn audit_head(&mut self, org: OrgId) -> Result<ChainHead, StoreError> {
        Ok(self
            .state
            .audit
            .chains
            .get(&org)
            .map_or_else(|| ChainHead::genesis(org), |chain| chain.head))
    }

    async fn query_events(
        &mut self,
        org: OrgId,
        query: &EventQuery,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let Some(chain) = self.state.audit.chains.get(&org) else {
            return Ok(Page::last(Vec::new()));
        };
        let below = query.before_seq.unwrap_or(u64::MAX);
        let newest_first = chain.events.range(..below).rev().map(|(_, e)| e);
        Ok(query.collect_page(newest_first))
    }

    async fn scan_events(
        &mut self,
        org: OrgId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let Some(chain) = self.state.audit.chains.get(&org) else {
            return Ok(Vec::new());
        };
        let Some(from) = after_seq.checked_add(1) else {
            return Ok(Vec::new());
        };
        Ok(chain
            .events
            .range(from..)
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }
}
