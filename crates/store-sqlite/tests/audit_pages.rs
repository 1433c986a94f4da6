//! Audit queries read events in batches; a sparse filter over more events
//! than one batch still returns every match exactly once, newest first.

use chrono::Duration;
use iamkit::{Store, Transaction};
use iamkit_audit::{
    Action, ActionKind, Actor, AuditRepository, EventFilter, EventQuery, NewEvent, PageLimit,
    Target,
};
use iamkit_identity::{OrgId, UserId};
use iamkit_store_sqlite::SqliteStore;
use iamkit_testkit::fixtures::Fixture;

#[tokio::test]
async fn sparse_filter_pages_across_batches() {
    let store = SqliteStore::temporary().await.unwrap();
    store.migrate().await.unwrap();
    let mut f = Fixture::default();
    let org = OrgId::from_uuid(uuid::Uuid::from_u128(1));
    let user = UserId::from_uuid(uuid::Uuid::from_u128(2));
    let mut tx = store.begin().await.unwrap();
    let mut expected = Vec::new();
    for i in 0..700_i64 {
        let action = if i % 97 == 0 {
            Action::Deactivated
        } else {
            Action::PasswordChanged
        };
        let now = f.now() + Duration::seconds(i);
        let event = NewEvent::new(org, Actor::System, action, Target::User(user), now, f.rng());
        let sealed = tx.append_event(event).await.unwrap();
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
