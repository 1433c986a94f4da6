//! The audit chain on PostgreSQL beyond the conformance kit: queries read
//! events in batches (a sparse filter over more events than one batch
//! still returns every match exactly once, newest first), and at READ
//! COMMITTED a transaction's head and scans still form one consistent cut
//! while other transactions append.

mod support;

use chrono::Duration;
use iamkit::audit::{
    Action, ActionKind, Actor, AuditRepository, EventFilter, EventQuery, NewEvent, PageLimit,
    Target, verify_org,
};
use iamkit::identity::{OrgId, UserId};
use iamkit::{Store, Transaction};
use iamkit_testkit::fixtures::Fixture;

fn event(f: &mut Fixture, org: OrgId, i: i64, action: Action) -> NewEvent {
    let user = UserId::from_uuid(uuid::Uuid::from_u128(2));
    let now = f.now() + Duration::seconds(i);
    NewEvent::new(org, Actor::System, action, Target::User(user), now, f.rng())
}

#[tokio::test]
async fn sparse_filter_pages_across_batches() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let store = support::fresh(url).await;
    let mut f = Fixture::default();
    let org = OrgId::from_uuid(uuid::Uuid::from_u128(1));
    let mut tx = store.begin().await.unwrap();
    let mut expected = Vec::new();
    for i in 0..700_i64 {
        let action = if i % 97 == 0 {
            Action::Deactivated
        } else {
            Action::PasswordChanged
        };
        let sealed = tx
            .append_event(event(&mut f, org, i, action))
            .await
            .unwrap();
        if i % 97 == 0 {
            expected.push(sealed.seq);
        }
    }
    tx.commit().await.unwrap();
    expected.reverse();

    let filter = EventFilter {
        kinds: vec![ActionKind::Deactivated],
        ..EventFilter::default()
    };
    let mut query = EventQuery::new(filter, PageLimit::new(2).unwrap());
    let mut seen = Vec::new();
    let mut tx = store.begin().await.unwrap();
    loop {
        let page = tx.query_events(org, &query).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|e| e.seq));
        match page.next {
            Some(cursor) => query = query.after(&cursor).unwrap(),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn head_and_scans_form_one_cut_while_others_append() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let store = support::fresh(url).await;
    let mut f = Fixture::default();
    let org = OrgId::from_uuid(uuid::Uuid::from_u128(1));
    let append = |n: i64, f: &mut Fixture| {
        (0..n)
            .map(|i| event(f, org, i, Action::PasswordChanged))
            .collect::<Vec<_>>()
    };
    let mut tx = store.begin().await.unwrap();
    for e in append(3, &mut f) {
        tx.append_event(e).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut reader = store.begin().await.unwrap();
    let head = reader.audit_head(org).await.unwrap();
    assert_eq!(head.seq, 3);

    // Another transaction appends and commits between the reader's head
    // and its scan.
    let mut writer = store.begin().await.unwrap();
    for e in append(2, &mut f) {
        writer.append_event(e).await.unwrap();
    }
    writer.commit().await.unwrap();

    let scanned = reader.scan_events(org, 0, usize::MAX).await.unwrap();
    assert_eq!(
        scanned.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3],
        "the scan ends at the head this transaction read"
    );
    // The reader's own append moves its cut along.
    let own = reader
        .append_event(event(&mut f, org, 9, Action::PasswordChanged))
        .await
        .unwrap();
    assert_eq!(own.seq, 6);
    assert_eq!(
        reader.scan_events(org, 3, usize::MAX).await.unwrap().len(),
        3
    );
    let verified = verify_org(&mut reader, org).await.unwrap().unwrap();
    assert_eq!(verified.head.seq, 6);
    reader.rollback().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let verified = verify_org(&mut tx, org).await.unwrap().unwrap();
    assert_eq!(verified.head.seq, 5);
}
