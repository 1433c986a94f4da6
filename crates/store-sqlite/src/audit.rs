//! The audit repository: one chain per organization, its head stored apart
//! from the events.

use iamkit_audit::{AuditEvent, AuditRepository, ChainHead, EventQuery, NewEvent, seal};
use iamkit_identity::OrgId;
use iamkit_store_api::{ErrorKind, Page, StoreError};

use crate::SqliteTx;
use crate::codec::{Result, db, from_json, int, to_json, uid};

/// Events read per round trip while filling a page.
const QUERY_BATCH: i64 = 256;
const QUERY_BATCH_LEN: usize = 256;

impl SqliteTx {
    async fn head(&mut self, org: OrgId) -> Result<ChainHead> {
        let data: Option<String> =
            sqlx::query_scalar("SELECT data FROM audit_heads WHERE org_id = ?")
                .bind(uid(org.as_uuid()))
                .fetch_optional(self.conn())
                .await
                .map_err(db)?;
        data.map_or_else(|| Ok(ChainHead::genesis(org)), |d| from_json(&d))
    }
}

impl AuditRepository for SqliteTx {
    async fn append_event(&mut self, event: NewEvent) -> Result<AuditEvent> {
        let org = event.org;
        // The transaction began with BEGIN IMMEDIATE and so holds the
        // database's write lock: reading the head and writing the next event
        // cannot interleave with another append (the sequence is assigned
        // inside the write transaction; a rollback leaves no gap).
        let head = self.head(org).await?;
        let sealed =
            seal(&head, event).map_err(|e| StoreError::with_source(ErrorKind::Conflict, e))?;
        let new_head = sealed.head();
        sqlx::query("INSERT INTO audit_events (org_id, seq, data) VALUES (?, ?, ?)")
            .bind(uid(org.as_uuid()))
            .bind(int(sealed.seq)?)
            .bind(to_json(&sealed)?)
            .execute(self.conn())
            .await
            .map_err(db)?;
        sqlx::query(
            "INSERT INTO audit_heads (org_id, seq, data) VALUES (?, ?, ?)
             ON CONFLICT (org_id) DO UPDATE SET seq = excluded.seq, data = excluded.data",
        )
        .bind(uid(org.as_uuid()))
        .bind(int(new_head.seq)?)
        .bind(to_json(&new_head)?)
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(sealed)
    }

    async fn audit_head(&mut self, org: OrgId) -> Result<ChainHead> {
        self.head(org).await
    }

    async fn query_events(&mut self, org: OrgId, query: &EventQuery) -> Result<Page<AuditEvent>> {
        // The filter is the domain's (`EventFilter::matches`, on the decoded
        // event): events stream newest first below the cursor in batches,
        // until one more match than the page holds shows that `next` is due.
        let limit = query.limit.get();
        let mut below = query
            .before_seq
            .map_or(i64::MAX, |s| i64::try_from(s).unwrap_or(i64::MAX));
        let mut matching = Vec::new();
        loop {
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT seq, data FROM audit_events WHERE org_id = ? AND seq < ?
                 ORDER BY seq DESC LIMIT ?",
            )
            .bind(uid(org.as_uuid()))
            .bind(below)
            .bind(QUERY_BATCH)
            .fetch_all(self.conn())
            .await
            .map_err(db)?;
            let exhausted = rows.len() < QUERY_BATCH_LEN;
            for (seq, data) in rows {
                below = seq;
                let event: AuditEvent = from_json(&data)?;
                if query.filter.matches(&event) {
                    matching.push(event);
                }
            }
            if exhausted || matching.len() > limit {
                break;
            }
        }
        Ok(query.collect_page(matching))
    }

    async fn scan_events(
        &mut self,
        org: OrgId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>> {
        let Ok(after) = i64::try_from(after_seq) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT data FROM audit_events WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(uid(org.as_uuid()))
        .bind(after)
        .bind(limit)
        .fetch_all(self.conn())
        .await
        .map_err(db)?;
        rows.iter().map(|d| from_json(d)).collect()
    }
}
