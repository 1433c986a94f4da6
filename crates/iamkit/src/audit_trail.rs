//! The audit trail as the consoles show it to Auditors: the organization's
//! events, filtered and paged with names resolved at read time; a JSON
//! Lines export; and the verification of the chain with its current head.

use chrono::{DateTime, Utc};
use iamkit_audit::{
    Action, AuditRepository, ChainBreak, ChainHead, EventFilter, EventQuery, PageLimit, SCAN_BATCH,
    Target, Verified, write_jsonl,
};
use iamkit_identity::{InvalidInput, OrgId, Rule};
use iamkit_rbac::Scope;
use iamkit_store_api::{Cursor, Page};

use crate::actor::Actor;
use crate::directory::ActivityLine;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam};
use crate::store::Store;

const READ: &str = "audit.read";
const EXPORT: &str = "audit.export";

/// What [`Iam::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// The head the store records for the organization's chain: publish
    /// it outside the database (a log shipper, a ticket, a notary) and
    /// compare later. Whoever can write the database can rewrite the
    /// tail of the chain *and* its head together, and the chain would
    /// still verify; only a head kept elsewhere shows that.
    pub head: ChainHead,
    /// The walk of the whole chain against that head: the head it
    /// reached, or the first break (which event, and how).
    pub result: std::result::Result<Verified, ChainBreak>,
}

impl<S: Store> Iam<S> {
    /// One page of the organization's audit trail, newest first, filtered
    /// by actor, target, involved user, action kinds and time range, with
    /// actors and targets named as they are now ("Deleted user" for one
    /// that is gone). `cursor` is the previous page's `next`. Requires
    /// `audit.read` in `org`; only `org`'s own chain is read.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        org: OrgId,
        filter: &EventFilter,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<ActivityLine>> {
        let query = page_query(filter, cursor, limit)?;
        let mut tx = self.begin_read().await?;
        let outcome: Flow<Page<ActivityLine>> = async {
            self.authorize(
                &mut tx,
                actor,
                READ,
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            let page = tx.query_events(org, &query).await?;
            let items = self.resolve_names(&mut tx, page.items).await?;
            Ok(Page {
                items,
                next: page.next,
            })
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Writes the organization's raw events at or after `from` and before
    /// `until` (either open) to `out` as JSON Lines, oldest first, reading
    /// one snapshot in batches. Returns how many events were written; a
    /// failure to write to `out` is [`Error::Internal`] (the lines before
    /// it were written).
    /// Requires `audit.export` in `org`. The export is audited
    /// ([`Action::AuditExported`]) before the first line is written, so an
    /// export cut short (a client that went away) is on record too.
    pub async fn export_audit<W: std::io::Write + Send>(
        &self,
        actor: &Actor,
        org: OrgId,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        out: W,
    ) -> Result<u64> {
        if let (Some(from), Some(until)) = (from, until)
            && from > until
        {
            return Err(InvalidInput::new("until", Rule::BeforeStart { start: "from" }).into());
        }
        let micros = |at: DateTime<Utc>| {
            DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
        };
        let (from, until) = (from.map(micros), until.map(micros));
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            self.authorize(
                &mut tx,
                actor,
                EXPORT,
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::AuditExported { from, until },
                Target::Org(org),
            )
            .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await?;
        let mut tx = self.begin_read().await?;
        let written = stream(&mut *tx, org, from, until, out).await;
        tx.rollback().await?;
        written
    }

    /// Verifies the organization's whole chain against the head the store
    /// records, in one snapshot, and returns both (see
    /// [`AuditVerification::head`] for why to keep heads elsewhere).
    /// Requires `audit.read` in `org`.
    pub async fn verify_audit(&self, actor: &Actor, org: OrgId) -> Result<AuditVerification> {
        let mut tx = self.begin_read().await?;
        let outcome: Flow<AuditVerification> = async {
            self.authorize(
                &mut tx,
                actor,
                READ,
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            let head = tx.audit_head(org).await?;
            let result = iamkit_audit::verify_org(&mut *tx, org).await?;
            Ok(AuditVerification { head, result })
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}

/// The query of one page; bad input names the field.
fn page_query(filter: &EventFilter, cursor: Option<&Cursor>, limit: usize) -> Result<EventQuery> {
    let limit = PageLimit::new(limit).map_err(|_| {
        InvalidInput::new(
            "limit",
            Rule::OutOfRange {
                min: 1,
                max: PageLimit::MAX,
            },
        )
    })?;
    if let (Some(from), Some(until)) = (filter.from, filter.until)
        && from > until
    {
        return Err(InvalidInput::new("until", Rule::BeforeStart { start: "from" }).into());
    }
    let query = EventQuery::new(filter.clone(), limit);
    match cursor {
        Some(cursor) => query
            .after(cursor)
            .map_err(|_| InvalidInput::new("cursor", Rule::Malformed).into()),
        None => Ok(query),
    }
}

/// Streams `org`'s events in `[from, until)` to `out`, oldest first.
async fn stream<R: AuditRepository + ?Sized, W: std::io::Write>(
    repo: &mut R,
    org: OrgId,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    mut out: W,
) -> Result<u64> {
    let mut written = 0u64;
    let mut after = 0;
    loop {
        let batch = repo.scan_events(org, after, SCAN_BATCH).await?;
        let Some(last) = batch.last() else { break };
        if last.seq <= after {
            // A corrupt sequence number would repeat events forever.
            return Err(Error::Internal);
        }
        after = last.seq;
        let in_range = batch
            .iter()
            .filter(|e| from.is_none_or(|from| e.at >= from) && until.is_none_or(|u| e.at < u));
        written += write_jsonl(&mut out, in_range).map_err(|_| Error::Internal)?;
        if batch.len() < SCAN_BATCH {
            break;
        }
    }
    Ok(written)
}
