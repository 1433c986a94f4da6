//! The audit repository: one chain per organization, its head stored apart
//! from the events and locked by every append.

use iamkit_audit::{AuditEvent, AuditRepository, ChainHead, EventQuery, NewEvent, seal};
use iamkit_identity::OrgId;
use iamkit_store_api::{ErrorKind, Page, StoreError};
use sqlx::types::Json;

use crate::PgTx;
use crate::codec::{Result, db, int, limit};

/// Events read per round trip while filling a page.
const QUERY_BATCH: usize = 256;

impl AuditRepository for PgTx {
    async fn append_event(&mut self, event: NewEvent) -> Result<AuditEvent> {
        let org = event.org;
        // The organization's head row, created at genesis if missing and
        // locked until the transaction ends (the no-op DO UPDATE takes the
        // row lock, waiting for a concurrent append to commit and then
        // returning the head it wrote). The sequence is assigned under the
        // lock: concurrent appends are gapless, and a rollback releases the
        // lock having written nothing.
        let Json(head): Json<ChainHead> = sqlx::query_scalar(
            "INSERT INTO audit_heads (org_id, seq, data) VALUES ($1, 0, $2)
             ON CONFLICT (org_id) DO UPDATE SET seq = audit_heads.seq
             RETURNING data",
        )
        .bind(org.as_uuid())
        .bind(Json(ChainHead::genesis(org)))
        .fetch_one(self.conn())
        .await
        .map_err(db)?;
        let sealed =
            seal(&head, event).map_err(|e| StoreError::with_source(ErrorKind::Conflict, e))?;
        let new_head = sealed.head();
        sqlx::query("INSERT INTO audit_events (org_id, seq, data) VALUES ($1, $2, $3)")
            .bind(org.as_uuid())
            .bind(int(sealed.seq)?)
            .bind(Json(&sealed))
            .execute(self.conn())
            .await
            .map_err(db)?;
        sqlx::query("UPDATE audit_heads SET seq = $2, data = $3 WHERE org_id = $1")
            .bind(org.as_uuid())
            .bind(int(new_head.seq)?)
            .bind(Json(&new_head))
            .execute(self.conn())
            .await
            .map_err(db)?;
        if self.audit_cut(org).is_some() {
            self.set_audit_cut(org, new_head.seq);
        }
        Ok(sealed)
    }

    async fn audit_head(&mut self, org: OrgId) -> Result<ChainHead> {
        let data: Option<Json<ChainHead>> =
            sqlx::query_scalar("SELECT data FROM audit_heads WHERE org_id = $1")
                .bind(org.as_uuid())
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        let head = data.map_or_else(|| ChainHead::genesis(org), |Json(head)| head);
        // Later scans of this chain in this transaction end at this head
        // (see `PgTx`): the head row and the events are updated in one
        // transaction, so every event up to it is committed and visible.
        self.set_audit_cut(org, head.seq);
        Ok(head)
    }

    async fn query_events(&mut self, org: OrgId, query: &EventQuery) -> Result<Page<AuditEvent>> {
        // The filter is the domain's (`EventFilter::matches`, on the decoded
        // event): events stream newest first below the cursor in batches,
        // until one more match than the page holds shows that `next` is due.
        let page = query.limit.get();
        let mut below = query
            .before_seq
            .map_or(i64::MAX, |s| i64::try_from(s).unwrap_or(i64::MAX));
        let mut matching = Vec::new();
        loop {
            let rows: Vec<(i64, Json<AuditEvent>)> = sqlx::query_as(
                "SELECT seq, data FROM audit_events WHERE org_id = $1 AND seq < $2
                 ORDER BY seq DESC LIMIT $3",
            )
            .bind(org.as_uuid())
            .bind(below)
            .bind(limit(QUERY_BATCH))
            .fetch_all(self.conn())
            .await
            .map_err(db)?;
            let exhausted = rows.len() < QUERY_BATCH;
            for (seq, Json(event)) in rows {
                below = seq;
                if query.filter.matches(&event) {
                    matching.push(event);
                }
            }
            if exhausted || matching.len() > page {
                break;
            }
        }
        Ok(query.collect_page(matching))
    }

    async fn scan_events(
        &mut self,
        org: OrgId,
        after_seq: u64,
        max: usize,
    ) -> Result<Vec<AuditEvent>> {
        let Ok(after) = i64::try_from(after_seq) else {
            return Ok(Vec::new());
        };
        let cut = self.audit_cut(org).map_or(Ok(i64::MAX), int)?;
        let rows: Vec<Json<AuditEvent>> = sqlx::query_scalar(
            "SELECT data FROM audit_events WHERE org_id = $1 AND seq > $2 AND seq <= $3
             ORDER BY seq LIMIT $4",
        )
        .bind(org.as_uuid())
        .bind(after)
        .bind(cut)
        .bind(limit(max))
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(|Json(event)| event).collect())
    }
}
