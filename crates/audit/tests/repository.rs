//! `verify_org` and `export_org_jsonl` over a repository, across scan
//! batches, against a deliberately simple Vec-backed repository whose
//! storage a test can tamper with.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions may panic on bad fixtures"
)]

use chrono::{Duration, TimeZone, Utc};
use iamkit_audit::{
    Action, Actor, AuditEvent, AuditRepository, BreakKind, ChainBreak, ChainHead, EventQuery,
    NewEvent, SCAN_BATCH, Target, export_org_jsonl, read_jsonl, seal, verify_org,
};
use iamkit_identity::{OrgId, UserId};
use iamkit_store_api::{Page, StoreError};
use rand::SeedableRng;
use rand::rngs::StdRng;

struct VecRepo {
    head: ChainHead,
    events: Vec<AuditEvent>,
    fail_scans: bool,
}

impl AuditRepository for VecRepo {
    async fn append_event(&mut self, event: NewEvent) -> Result<AuditEvent, StoreError> {
        let sealed = seal(&self.head, event).map_err(|_| StoreError::conflict())?;
        self.head = sealed.head();
        self.events.push(sealed.clone());
        Ok(sealed)
    }

    async fn audit_head(&mut self, _org: OrgId) -> Result<ChainHead, StoreError> {
        Ok(self.head)
    }

    async fn query_events(
        &mut self,
        _org: OrgId,
        query: &EventQuery,
    ) -> Result<Page<AuditEvent>, StoreError> {
        Ok(query.collect_page(self.events.iter().rev()))
    }

    async fn scan_events(
        &mut self,
        _org: OrgId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        if self.fail_scans {
            return Err(StoreError::unavailable());
        }
        Ok(self
            .events
            .iter()
            .filter(|e| e.seq > after_seq)
            .take(limit)
            .cloned()
            .collect())
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// A repository holding 2.5 scan batches of events.
fn filled() -> (OrgId, VecRepo) {
    let mut rng = StdRng::seed_from_u64(3);
    let now = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    let org = OrgId::generate(now, &mut rng);
    let user = UserId::generate(now, &mut rng);
    let mut repo = VecRepo {
        head: ChainHead::genesis(org),
        events: Vec::new(),
        fail_scans: false,
    };
    block_on(async {
        for i in 0..(SCAN_BATCH * 5 / 2) {
            let at = now + Duration::seconds(i64::try_from(i).unwrap());
            let event = NewEvent::new(
                org,
                Actor::System,
                Action::AccountLocked,
                Target::User(user),
                at,
                &mut rng,
            );
            repo.append_event(event).await.unwrap();
        }
    });
    (org, repo)
}

#[test]
fn verify_org_walks_every_batch_and_uses_the_stored_head() {
    let (org, mut repo) = filled();
    let verified = block_on(verify_org(&mut repo, org)).unwrap().unwrap();
    assert_eq!(verified.head, repo.head);

    // Tampering in the last batch is found at its sequence number.
    let mut tampered = VecRepo {
        events: repo.events.clone(),
        ..repo
    };
    tampered.events[2300].action = Action::Deleted;
    assert_eq!(
        block_on(verify_org(&mut tampered, org)).unwrap(),
        Err(ChainBreak {
            seq: 2301,
            kind: BreakKind::Modified
        })
    );

    // Dropping the newest event leaves a self-consistent chain; the stored
    // head still names it.
    tampered.events = repo.events.clone();
    tampered.events.pop();
    assert_eq!(
        block_on(verify_org(&mut tampered, org)).unwrap(),
        Err(ChainBreak {
            seq: 2500,
            kind: BreakKind::Missing
        })
    );
}

#[test]
fn export_streams_the_whole_chain_and_reads_back() {
    let (org, mut repo) = filled();
    let mut out = Vec::new();
    assert_eq!(
        block_on(export_org_jsonl(&mut repo, org, &mut out)).unwrap(),
        2500
    );
    let back: Vec<AuditEvent> = read_jsonl(&out[..]).collect::<Result<_, _>>().unwrap();
    assert_eq!(back, repo.events);

    repo.fail_scans = true;
    let err = block_on(export_org_jsonl(&mut repo, org, Vec::new())).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Other);
    assert!(
        block_on(verify_org(&mut repo, org)).is_err(),
        "store errors are not verdicts"
    );
}

/// A repository that stores events by position (key = position + 1, as a
/// key-value adapter keyed by sequence number would) and returns them
/// exactly as stored, so a tampered `seq` field is what the scan sees.
/// It gives up after `max_scans` scans, so a scan loop fails the test
/// instead of hanging it.
struct KeyedRepo {
    inner: VecRepo,
    scans: usize,
    max_scans: usize,
}

impl AuditRepository for KeyedRepo {
    async fn append_event(&mut self, event: NewEvent) -> Result<AuditEvent, StoreError> {
        self.inner.append_event(event).await
    }

    async fn audit_head(&mut self, org: OrgId) -> Result<ChainHead, StoreError> {
        self.inner.audit_head(org).await
    }

    async fn query_events(
        &mut self,
        org: OrgId,
        query: &EventQuery,
    ) -> Result<Page<AuditEvent>, StoreError> {
        self.inner.query_events(org, query).await
    }

    async fn scan_events(
        &mut self,
        _org: OrgId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.scans += 1;
        if self.scans > self.max_scans {
            return Err(StoreError::unavailable());
        }
        let from = usize::try_from(after_seq).unwrap();
        Ok(self
            .inner
            .events
            .iter()
            .skip(from)
            .take(limit)
            .cloned()
            .collect())
    }
}

/// A `seq` field tampered to point backwards, on the last event of a scan
/// batch, must not send `verify_org` (or an export) round in circles: the
/// walk reports the break instead of reading the same batch forever.
#[test]
fn a_tampered_seq_cannot_make_the_walk_loop() {
    let (org, repo) = filled();
    let mut events = repo.events.clone();
    events[SCAN_BATCH - 1].seq = 0;
    let mut keyed = KeyedRepo {
        inner: VecRepo {
            events,
            head: repo.head,
            fail_scans: false,
        },
        scans: 0,
        max_scans: 10,
    };
    assert_eq!(
        block_on(verify_org(&mut keyed, org)).expect("no store error"),
        Err(ChainBreak {
            seq: SCAN_BATCH as u64,
            kind: BreakKind::Inserted
        })
    );
    keyed.scans = 0;
    let err = block_on(export_org_jsonl(&mut keyed, org, Vec::new())).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}
