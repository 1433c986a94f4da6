//! The storage port of the audit domain.

use std::future::Future;

use iamkit_identity::OrgId;
use iamkit_store_api::{Page, StoreError};

use crate::chain::{ChainBreak, ChainHead, ChainVerifier, Verified};
use crate::event::{AuditEvent, NewEvent};
use crate::export::write_jsonl;
use crate::query::EventQuery;

/// Stores each organization's append-only event chain.
///
/// Implemented on an adapter's transaction type, so an event commits or
/// rolls back with the change it records.
pub trait AuditRepository: Send {
    /// Appends `event` to its organization's chain and returns it sealed.
    ///
    /// The adapter MUST seal it with [`seal`](crate::seal) against the
    /// organization's current head and store the event and the new head in
    /// this transaction. Sequence numbers MUST be assigned atomically: under
    /// concurrent appends to one organization, committed events MUST carry
    /// `1, 2, 3, ...` with no gap and no duplicate, and their chain MUST
    /// verify. A rolled-back transaction MUST leave neither the event nor a
    /// gap. Chains of different organizations MUST be independent.
    fn append_event(
        &mut self,
        event: NewEvent,
    ) -> impl Future<Output = Result<AuditEvent, StoreError>> + Send;

    /// The head of `org`'s chain: the sequence number and hash of its newest
    /// event, [`ChainHead::genesis`] when it has none.
    ///
    /// It MUST be stored apart from the events (so deleting the newest
    /// event does not move it) and MUST equal the head of the newest
    /// appended event visible to this transaction.
    fn audit_head(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<ChainHead, StoreError>> + Send;

    /// One page of `org`'s events matching `query.filter`, newest first
    /// (descending sequence number), below `query.before_seq` when set.
    ///
    /// It MUST return at most `query.limit` events, MUST NOT return events
    /// of another organization, and MUST set `next` exactly when more
    /// matching events follow, to
    /// [`cursor_before`](crate::cursor_before)`(last.seq)`: following the
    /// cursors MUST return every matching event exactly once.
    /// [`EventQuery::collect_page`] implements these rules over an iterator.
    fn query_events(
        &mut self,
        org: OrgId,
        query: &EventQuery,
    ) -> impl Future<Output = Result<Page<AuditEvent>, StoreError>> + Send;

    /// Up to `limit` of `org`'s events with a sequence number greater than
    /// `after_seq`, in ascending order, exactly as stored: what
    /// [`verify_org`] and exports walk.
    ///
    /// It MUST return the stored events unmodified and in ascending order
    /// of sequence number, and MUST NOT return events of another
    /// organization.
    fn scan_events(
        &mut self,
        org: OrgId,
        after_seq: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, StoreError>> + Send;
}

/// How many events [`verify_org`] reads per round trip.
pub const SCAN_BATCH: usize = 1000;

/// Verifies `org`'s whole chain against the head the store recorded:
/// `Ok(Ok(_))` when intact, `Ok(Err(break))` naming the first break, `Err`
/// when the store failed.
///
/// Call it on a transaction, so the head and the events are read from one
/// snapshot: an event appended between the two reads would otherwise look
/// like one inserted beyond the head.
pub async fn verify_org<R>(
    repo: &mut R,
    org: OrgId,
) -> Result<Result<Verified, ChainBreak>, StoreError>
where
    R: AuditRepository + ?Sized,
{
    let anchor = repo.audit_head(org).await?;
    let mut verifier = ChainVerifier::new(org, Some(anchor));
    let mut after = 0;
    loop {
        let batch = repo.scan_events(org, after, SCAN_BATCH).await?;
        let Some(last) = batch.last() else { break };
        let progressed = last.seq > after;
        after = last.seq;
        for event in &batch {
            verifier.push(event);
        }
        // A tampered `seq` can point the next scan backwards, into the
        // same batch forever; the verifier has already seen the break.
        if batch.len() < SCAN_BATCH || !progressed {
            break;
        }
    }
    Ok(verifier.finish())
}

/// Streams `org`'s whole chain to `out` as JSON Lines, oldest first, one
/// [`SCAN_BATCH`] in memory at a time. Returns how many events were
/// written. A store failure surfaces as an [`std::io::Error`] of kind
/// `Other` whose source is the [`StoreError`]; a scan that does not move
/// forward (a corrupt stored sequence number) as `InvalidData`.
pub async fn export_org_jsonl<R, W>(repo: &mut R, org: OrgId, mut out: W) -> std::io::Result<u64>
where
    R: AuditRepository + ?Sized,
    W: std::io::Write,
{
    let mut written = 0u64;
    let mut after = 0;
    loop {
        let batch = repo
            .scan_events(org, after, SCAN_BATCH)
            .await
            .map_err(std::io::Error::other)?;
        let Some(last) = batch.last() else { break };
        if last.seq <= after {
            // A tampered `seq` would send the scan backwards, repeating
            // events forever: an export must be the chain, once.
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "audit scan went backwards: a stored sequence number is corrupt",
            ));
        }
        after = last.seq;
        written = written.saturating_add(write_jsonl(&mut out, &batch)?);
        if batch.len() < SCAN_BATCH {
            break;
        }
    }
    out.flush()?;
    Ok(written)
}
