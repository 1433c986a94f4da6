//! Queries, name rendering and export.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions may panic on bad fixtures"
)]

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use iamkit_audit::{
    Action, ActionKind, Actor, AuditEvent, ChainHead, EventFilter, EventQuery, EventView, NewEvent,
    PageLimit, Target, read_jsonl, seal, verify, write_jsonl,
};
use iamkit_identity::{ApiKeyId, OrgId, UserId};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).unwrap()
}

struct World {
    org: OrgId,
    alice: UserId,
    bob: UserId,
    key: ApiKeyId,
    events: Vec<AuditEvent>,
}

/// 30 events: alice acts on bob, bob on himself, a key on alice, the
/// system on bob, in turn, one minute apart.
fn world() -> World {
    let mut rng = StdRng::seed_from_u64(11);
    let org = OrgId::generate(t0(), &mut rng);
    let alice = UserId::generate(t0(), &mut rng);
    let bob = UserId::generate(t0(), &mut rng);
    let key = ApiKeyId::generate(t0(), &mut rng);
    let mut head = ChainHead::genesis(org);
    let mut events = Vec::new();
    for i in 0..30 {
        let (actor, target, action) = match i % 4 {
            0 => (Actor::User(alice), Target::User(bob), Action::Deactivated),
            1 => (Actor::User(bob), Target::User(bob), Action::PasswordChanged),
            2 => (Actor::ApiKey(key), Target::User(alice), Action::Reactivated),
            _ => (Actor::System, Target::User(bob), Action::AccountLocked),
        };
        let now = t0() + Duration::minutes(i);
        let event = seal(
            &head,
            NewEvent::new(org, actor, action, target, now, &mut rng),
        )
        .unwrap();
        head = event.head();
        events.push(event);
    }
    World {
        org,
        alice,
        bob,
        key,
        events,
    }
}

/// Follows cursors to the end, like a UI scrolling the audit page.
fn all_pages(events: &[AuditEvent], filter: EventFilter, size: usize) -> Vec<AuditEvent> {
    let mut query = EventQuery::new(filter, PageLimit::new(size).unwrap());
    let mut out = Vec::new();
    loop {
        let page = query.collect_page(events.iter().rev().cloned());
        assert!(page.items.len() <= size);
        out.extend(page.items);
        match page.next {
            Some(cursor) => query = query.after(&cursor).unwrap(),
            None => return out,
        }
    }
}

#[test]
fn pages_return_each_match_once_newest_first() {
    let w = world();
    for size in [1, 4, 7, 30, 1000] {
        let got = all_pages(&w.events, EventFilter::default(), size);
        let seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=30).rev().collect::<Vec<_>>(), "page size {size}");
    }
}

#[test]
fn filters_combine() {
    let w = world();
    let activity = all_pages(&w.events, EventFilter::activity_of(w.alice), 4);
    // Alice acted in events 1, 5, 9, ... and was targeted in 3, 7, 11, ...
    assert_eq!(activity.len(), 15);
    assert!(activity.iter().all(|e| e.involves(w.alice)));
    assert!(activity.windows(2).all(|p| p[0].seq > p[1].seq));

    let by_key = EventFilter {
        actor: Some(Actor::ApiKey(w.key)),
        ..EventFilter::default()
    };
    assert_eq!(all_pages(&w.events, by_key, 3).len(), 7);

    let locks_on_bob = EventFilter {
        target: Some(Target::User(w.bob)),
        kinds: vec![ActionKind::AccountLocked, ActionKind::Deactivated],
        ..EventFilter::default()
    };
    assert_eq!(all_pages(&w.events, locks_on_bob, 5).len(), 15);

    let window = EventFilter {
        from: Some(t0() + Duration::minutes(10)),
        until: Some(t0() + Duration::minutes(20)),
        ..EventFilter::default()
    };
    let seqs: Vec<u64> = all_pages(&w.events, window, 3)
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        seqs,
        (11..=20).rev().collect::<Vec<_>>(),
        "from inclusive, until exclusive"
    );
}

#[test]
fn deleted_users_read_as_deleted_user() {
    let w = world();
    let mut names = HashMap::new();
    names.insert(Target::User(w.bob), "Bob".to_owned());
    names.insert(Target::ApiKey(w.key), "CI key".to_owned());
    // Alice was deleted: nothing resolves her name any more.
    let first = EventView::new(&w.events[0], &names);
    assert_eq!(
        (first.actor.as_str(), first.target.as_str()),
        ("Deleted user", "Bob")
    );
    let third = EventView::new(&w.events[2], &names);
    assert_eq!(
        (third.actor.as_str(), third.target.as_str()),
        ("CI key", "Deleted user")
    );
    let fourth = EventView::new(&w.events[3], &names);
    assert_eq!(fourth.actor, "System");
    let mentioned: HashSet<Target> = w.events.iter().flat_map(|e| e.mentions()).collect();
    assert_eq!(
        mentioned,
        HashSet::from([
            Target::User(w.alice),
            Target::User(w.bob),
            Target::ApiKey(w.key)
        ])
    );
}

#[test]
fn an_export_reads_back_and_verifies() {
    let w = world();
    let mut out = Vec::new();
    assert_eq!(write_jsonl(&mut out, &w.events).unwrap(), 30);
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(text.lines().count(), 30);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["action"]["kind"], "deactivated");
    assert_eq!(first["actor"]["type"], "user");
    assert_eq!(first["seq"], 1);
    let back: Vec<AuditEvent> = read_jsonl(&out[..]).collect::<Result<_, _>>().unwrap();
    assert_eq!(back, w.events);
    let head = w.events.last().unwrap().head();
    assert!(verify(w.org, &back, Some(&head)).is_ok());

    let mut bad = out.clone();
    bad.extend_from_slice(b"{\"not\":\"an event\"}\n");
    let results: Vec<_> = read_jsonl(&bad[..]).collect();
    assert!(results.last().unwrap().is_err());
}
