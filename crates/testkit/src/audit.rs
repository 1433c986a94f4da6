//! Conformance cases of the audit repository.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use iamkit::{Store, Transaction};
use iamkit_audit::{
    Action, ActionKind, Actor, AuditEvent, AuditRepository, ChainHead, EventFilter, EventQuery,
    EventView, NewEvent, PageLimit, Target, verify, verify_org,
};
use iamkit_identity::{ApiKeyId, OrgId, UserId, UserRepository};

use crate::fixtures::Fixture;

/// Ids of the actors and targets the cases use.
struct Cast {
    org: OrgId,
    alice: UserId,
    bob: UserId,
    key: ApiKeyId,
}

fn cast(f: &mut Fixture) -> Cast {
    let now = f.now();
    Cast {
        org: OrgId::generate(now, f.rng()),
        alice: UserId::generate(now, f.rng()),
        bob: UserId::generate(now, f.rng()),
        key: ApiKeyId::generate(now, f.rng()),
    }
}

/// The `i`-th event of a fixed rotation: alice acts on bob, bob on
/// himself, a key on alice, the system on bob; one minute apart.
fn rotation_event(f: &mut Fixture, c: &Cast, org: OrgId, i: i64) -> NewEvent {
    let (actor, target, action) = match i % 4 {
        0 => (
            Actor::User(c.alice),
            Target::User(c.bob),
            Action::Deactivated,
        ),
        1 => (
            Actor::User(c.bob),
            Target::User(c.bob),
            Action::PasswordChanged,
        ),
        2 => (
            Actor::ApiKey(c.key),
            Target::User(c.alice),
            Action::Reactivated,
        ),
        _ => (Actor::System, Target::User(c.bob), Action::AccountLocked),
    };
    let now = f.now() + Duration::minutes(i);
    NewEvent::new(org, actor, action, target, now, f.rng())
}

async fn append_committed<S: Store>(store: &S, events: Vec<NewEvent>) -> Vec<AuditEvent> {
    let mut tx = store.begin().await.expect("begin");
    let mut sealed = Vec::new();
    for event in events {
        sealed.push(tx.append_event(event).await.expect("append"));
    }
    tx.commit().await.expect("commit");
    sealed
}

async fn scan_all<S: Store>(store: &S, org: OrgId) -> Vec<AuditEvent> {
    let mut tx = store.begin().await.expect("begin");
    tx.scan_events(org, 0, usize::MAX).await.expect("scan")
}

/// Appends get `1, 2, 3, ...`, read back unmodified, advance the head, and
/// the stored chain verifies against it.
pub async fn append_assigns_sequences_and_the_chain_verifies<S: Store>(store: S) {
    let mut f = Fixture::default();
    let c = cast(&mut f);
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.audit_head(c.org).await.expect("head"),
        ChainHead::genesis(c.org),
        "an organization without events has the genesis head"
    );
    let first = tx
        .append_event(rotation_event(&mut f, &c, c.org, 0))
        .await
        .expect("append");
    assert_eq!(
        tx.audit_head(c.org).await.expect("head"),
        first.head(),
        "a transaction sees its own append"
    );
    tx.commit().await.expect("commit");
    let events: Vec<_> = (1..10)
        .map(|i| rotation_event(&mut f, &c, c.org, i))
        .collect();
    let mut sealed = vec![first];
    sealed.extend(append_committed(&store, events).await);
    let seqs: Vec<u64> = sealed.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());

    let stored = scan_all(&store, c.org).await;
    assert_eq!(stored, sealed, "scan returns the events as appended");
    let mut tx = store.begin().await.expect("begin");
    let head = tx.audit_head(c.org).await.expect("head");
    assert_eq!(head, sealed[9].head());
    let verified = verify_org(&mut tx, c.org).await.expect("store");
    assert_eq!(verified.expect("intact chain").head, head);
}

/// 32 concurrent transactions, each appending one event to the same
/// organization: sequences are exactly `1..=32` and the chain verifies.
pub async fn concurrent_appends_are_gapless<S: Store>(store: S) {
    let mut f = Fixture::default();
    let c = Arc::new(cast(&mut f));
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for i in 0..32i64 {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        let c = Arc::clone(&c);
        tasks.push(tokio::spawn(async move {
            let mut f = Fixture::new(1000 + i.unsigned_abs());
            let event = rotation_event(&mut f, &c, c.org, i);
            barrier.wait().await;
            let mut tx = store.begin().await.expect("begin");
            let sealed = tx.append_event(event).await.expect("append");
            tx.commit().await.expect("commit");
            sealed.seq
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.expect("task"));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=32).collect::<Vec<_>>(), "no gap, no duplicate");
    let mut tx = store.begin().await.expect("begin");
    let verified = verify_org(&mut tx, c.org).await.expect("store");
    assert_eq!(verified.expect("intact chain").head.seq, 32);
}

/// A rolled-back or dropped transaction leaves no event and no gap.
pub async fn rolled_back_append_leaves_no_event<S: Store>(store: S) {
    let mut f = Fixture::default();
    let c = cast(&mut f);
    let mut tx = store.begin().await.expect("begin");
    tx.append_event(rotation_event(&mut f, &c, c.org, 0))
        .await
        .expect("append");
    tx.rollback().await.expect("rollback");
    {
        let mut tx = store.begin().await.expect("begin");
        tx.append_event(rotation_event(&mut f, &c, c.org, 1))
            .await
            .expect("append");
    }
    assert!(scan_all(&store, c.org).await.is_empty());
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.audit_head(c.org).await.expect("head"),
        ChainHead::genesis(c.org)
    );
    drop(tx);
    let sealed = append_committed(&store, vec![rotation_event(&mut f, &c, c.org, 2)]).await;
    assert_eq!(
        sealed[0].seq, 1,
        "the next committed event starts the chain"
    );
}

/// Follows cursors to the end.
async fn all_pages<S: Store>(
    store: &S,
    org: OrgId,
    filter: EventFilter,
    size: usize,
) -> Vec<AuditEvent> {
    let mut query = EventQuery::new(filter, PageLimit::new(size).expect("valid limit"));
    let mut out = Vec::new();
    let mut tx = store.begin().await.expect("begin");
    loop {
        let page = tx.query_events(org, &query).await.expect("query");
        assert!(page.items.len() <= size, "a page holds at most its limit");
        assert!(
            !page.items.is_empty() || out.is_empty(),
            "a cursor is only handed out when more matching events follow"
        );
        let had_next = page.next.is_some();
        assert!(
            !had_next || page.items.len() == size,
            "only a full page has a next cursor"
        );
        out.extend(page.items);
        match page.next {
            Some(cursor) => query = query.after(&cursor).expect("our own cursor"),
            None => return out,
        }
    }
}

fn assert_newest_first_once(got: &[AuditEvent], expected: &[AuditEvent], what: &str) {
    let got_seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
    let mut want: Vec<u64> = expected.iter().map(|e| e.seq).collect();
    want.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(got_seqs, want, "{what}: every match once, newest first");
}

/// Filters by actor, target, kind, time and user activity, paginated at
/// several sizes, return every matching event exactly once, newest first.
pub async fn queries_filter_and_paginate<S: Store>(store: S) {
    let mut f = Fixture::default();
    let c = cast(&mut f);
    let events: Vec<_> = (0..30)
        .map(|i| rotation_event(&mut f, &c, c.org, i))
        .collect();
    let all = append_committed(&store, events).await;
    let start = f.now();
    let filters = [
        ("everything", EventFilter::default()),
        ("alice's activity", EventFilter::activity_of(c.alice)),
        ("bob's activity", EventFilter::activity_of(c.bob)),
        (
            "by the key",
            EventFilter {
                actor: Some(Actor::ApiKey(c.key)),
                ..EventFilter::default()
            },
        ),
        (
            "on alice",
            EventFilter {
                target: Some(Target::User(c.alice)),
                ..EventFilter::default()
            },
        ),
        (
            "locks and deactivations",
            EventFilter {
                kinds: vec![ActionKind::AccountLocked, ActionKind::Deactivated],
                ..EventFilter::default()
            },
        ),
        (
            "minutes 10 to 20 by the system",
            EventFilter {
                actor: Some(Actor::System),
                from: Some(start + Duration::minutes(10)),
                until: Some(start + Duration::minutes(20)),
                ..EventFilter::default()
            },
        ),
    ];
    for (what, filter) in filters {
        let expected: Vec<AuditEvent> = all.iter().filter(|e| filter.matches(e)).cloned().collect();
        assert!(!expected.is_empty(), "{what}: the case matches something");
        for size in [1, 4, 7, 100] {
            let got = all_pages(&store, c.org, filter.clone(), size).await;
            assert_newest_first_once(&got, &expected, what);
            assert_eq!(got, expected.iter().rev().cloned().collect::<Vec<_>>());
        }
    }
    let activity = all_pages(&store, c.org, EventFilter::activity_of(c.alice), 50).await;
    assert_eq!(activity.len(), 15, "alice acted 8 times and was a target 7");
}

/// Chains, heads, scans and queries of two organizations never mix.
pub async fn organizations_are_isolated<S: Store>(store: S) {
    let mut f = Fixture::default();
    let c = cast(&mut f);
    let other = OrgId::generate(f.now(), f.rng());
    let mut batch = Vec::new();
    for i in 0..6 {
        batch.push(rotation_event(&mut f, &c, c.org, i));
        batch.push(rotation_event(&mut f, &c, other, i));
    }
    let sealed = append_committed(&store, batch).await;
    for org in [c.org, other] {
        let seqs: Vec<u64> = sealed
            .iter()
            .filter(|e| e.org == org)
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, (1..=6).collect::<Vec<_>>(), "each org counts from 1");
        let scanned = scan_all(&store, org).await;
        assert!(scanned.iter().all(|e| e.org == org));
        assert_eq!(scanned.len(), 6);
        let queried = all_pages(&store, org, EventFilter::default(), 4).await;
        assert!(queried.iter().all(|e| e.org == org));
        assert_eq!(queried.len(), 6);
        let mut tx = store.begin().await.expect("begin");
        let head = tx.audit_head(org).await.expect("head");
        assert_eq!(head.seq, 6);
        assert!(verify_org(&mut tx, org).await.expect("store").is_ok());
    }
    let ids: HashSet<_> = sealed.iter().map(|e| e.hash).collect();
    assert_eq!(ids.len(), 12, "the chains are distinct");
    let nobody = OrgId::generate(f.now(), f.rng());
    assert!(scan_all(&store, nobody).await.is_empty());
    assert!(
        all_pages(&store, nobody, EventFilter::default(), 5)
            .await
            .is_empty()
    );
}

/// `scan_events` pages through a chain in ascending order, honouring
/// `after_seq` and `limit`, and its pages verify as one stream.
pub async fn scan_pages_ascending<S: Store>(store: S) {
    let mut f = Fixture::default();
    let c = cast(&mut f);
    let events: Vec<_> = (0..25)
        .map(|i| rotation_event(&mut f, &c, c.org, i))
        .collect();
    let all = append_committed(&store, events).await;
    let mut tx = store.begin().await.expect("begin");
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let batch = tx.scan_events(c.org, after, 7).await.expect("scan");
        assert!(batch.len() <= 7);
        let Some(last) = batch.last() else { break };
        after = last.seq;
        seen.extend(batch);
    }
    assert_eq!(seen, all);
    assert!(
        tx.scan_events(c.org, 25, 10)
            .await
            .expect("scan")
            .is_empty()
    );
    assert!(
        tx.scan_events(c.org, u64::MAX, 10)
            .await
            .expect("scan")
            .is_empty()
    );
    let head = tx.audit_head(c.org).await.expect("head");
    assert!(verify(c.org, &seen, Some(&head)).is_ok());
}

/// Deleting a user rewrites no event: the chain still verifies, the
/// user's activity is still listed, and their name now resolves to
/// "Deleted user" (SECURITY.md 31).
pub async fn deleted_users_keep_a_verifying_trail<S: Store>(store: S) {
    let mut f = Fixture::default();
    let c = cast(&mut f);
    let alice = f.user("alice");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_user(&alice).await.expect("insert");
    let now = f.now();
    let event = NewEvent::new(
        c.org,
        Actor::User(alice.id),
        Action::PasswordChanged,
        Target::User(alice.id),
        now,
        f.rng(),
    );
    let sealed = tx.append_event(event).await.expect("append");
    tx.delete_user(alice.id).await.expect("delete");
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert!(verify_org(&mut tx, c.org).await.expect("store").is_ok());
    // What a facade's name resolver finds: nothing for alice any more.
    let mut names = std::collections::HashMap::new();
    for object in sealed.mentions() {
        if let Target::User(id) = object
            && let Some(user) = tx.get_user(id).await.expect("get")
        {
            names.insert(object, user.username.to_string());
        }
    }
    drop(tx);
    let activity = all_pages(&store, c.org, EventFilter::activity_of(alice.id), 10).await;
    assert_eq!(activity, vec![sealed]);
    let view = EventView::new(&activity[0], &names);
    assert_eq!(
        (view.actor.as_str(), view.target.as_str()),
        ("Deleted user", "Deleted user")
    );
}
