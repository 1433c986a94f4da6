//! The audit trail view of issue 21, item 1: `audit_log`, `export_audit`
//! and `verify_audit`, authorized (`audit.read`, `audit.export`), exact to
//! the tenant, and refusing bad input without changing anything.

mod common;

use common::*;
use iamkit::Error;
use iamkit::audit::{Action, ActionKind, EventFilter, read_jsonl, verify};
use iamkit::identity::{InvalidInput, Rule};
use iamkit::rbac::BuiltinRole;
use iamkit_store_api::Cursor;

#[tokio::test]
async fn an_auditor_pages_through_the_trail_with_names_resolved() {
    let w = world().await;
    let (_, auditor) = member(&w, "aud", BuiltinRole::Auditor).await;
    let (bea, _) = member(&w, "bea", BuiltinRole::ReadOnly).await;
    w.iam
        .change_org_role(&w.owner, w.org, bea, Some(BuiltinRole::Admin.id()))
        .await
        .unwrap();
    w.iam.delete_user(&w.owner, w.org, bea).await.unwrap();

    // Bea's events, two per page: every one exactly once, newest first.
    let filter = EventFilter::activity_of(bea);
    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = w
            .iam
            .audit_log(&auditor, w.org, &filter, cursor.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let seqs: Vec<u64> = seen.iter().map(|l| l.event.seq).collect();
    assert!(
        seqs.windows(2).all(|p| p[0] > p[1]),
        "newest first, no repeats"
    );
    assert!(seen.iter().all(|l| l.event.involves(bea)));
    let kinds: Vec<ActionKind> = seen.iter().map(|l| l.event.action.kind()).collect();
    assert!(kinds.contains(&ActionKind::OrgRoleChanged));
    // The deletion, then what it ended with it (her session).
    assert_eq!(
        kinds[..2],
        [ActionKind::CredentialsRevoked, ActionKind::Deleted]
    );
    assert!(
        seen.iter().all(|l| l.target == "Deleted user"),
        "bea is gone: her name is not kept in the trail"
    );

    // By action kind.
    let deletions = EventFilter {
        kinds: vec![ActionKind::Deleted],
        ..EventFilter::default()
    };
    let page = w
        .iam
        .audit_log(&auditor, w.org, &deletions, None, 50)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].actor, "Ada owner");
}

#[tokio::test]
async fn the_trail_needs_audit_read_and_stays_in_its_organization() {
    let w = world().await;
    let (_, reader) = member(&w, "rea", BuiltinRole::ReadOnly).await;
    let err = w
        .iam
        .audit_log(&reader, w.org, &EventFilter::default(), None, 50)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    assert!(matches!(
        w.iam.verify_audit(&reader, w.org).await.unwrap_err(),
        Error::Forbidden { .. }
    ));

    // An Owner of another organization reads nothing of acme's, and
    // writes nothing into acme's chain.
    let (globex, _) = bootstrap(&w.iam, "globex", "gus").await;
    let gus = sign_in(&w.iam, "gus").await;
    let before = audit_len(&w.store, w.org).await;
    for result in [
        w.iam
            .audit_log(&gus, w.org, &EventFilter::default(), None, 50)
            .await
            .map(|_| ()),
        w.iam.verify_audit(&gus, w.org).await.map(|_| ()),
        w.iam
            .export_audit(&gus, w.org, None, None, Vec::new())
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(result, Err(Error::NotFound)), "{result:?}");
    }
    assert_eq!(audit_len(&w.store, w.org).await, before);
    // Gus's own trail holds only globex's events.
    let own = w
        .iam
        .audit_log(&gus, globex, &EventFilter::default(), None, 1000)
        .await
        .unwrap();
    assert!(!own.items.is_empty());
    assert!(own.items.iter().all(|l| l.event.org == globex));
}

#[tokio::test]
async fn bad_paging_input_names_the_field_and_changes_nothing() {
    let w = world().await;
    let before = audit_len(&w.store, w.org).await;
    let field = |err: Error| match err {
        Error::InvalidInput(InvalidInput { field, rule }) => (field, rule),
        other => panic!("expected invalid input, got {other:?}"),
    };
    let all = EventFilter::default();
    let (name, _) = field(
        w.iam
            .audit_log(&w.owner, w.org, &all, None, 0)
            .await
            .unwrap_err(),
    );
    assert_eq!(name, "limit");
    let forged = Cursor::new("seq.zero".to_owned());
    let (name, rule) = field(
        w.iam
            .audit_log(&w.owner, w.org, &all, Some(&forged), 10)
            .await
            .unwrap_err(),
    );
    assert_eq!((name, rule), ("cursor", Rule::Malformed));
    let now = w.clock_now();
    let backwards = EventFilter {
        from: Some(now),
        until: Some(now - chrono::Duration::hours(1)),
        ..EventFilter::default()
    };
    let (name, rule) = field(
        w.iam
            .audit_log(&w.owner, w.org, &backwards, None, 10)
            .await
            .unwrap_err(),
    );
    assert_eq!((name, rule), ("until", Rule::BeforeStart { start: "from" }));
    let (name, _) = field(
        w.iam
            .export_audit(
                &w.owner,
                w.org,
                Some(now),
                Some(now - chrono::Duration::hours(1)),
                Vec::new(),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(name, "until");
    assert_eq!(audit_len(&w.store, w.org).await, before);
}

#[tokio::test]
async fn an_export_is_audited_first_and_verifies_offline() {
    let w = world().await;
    let (_, auditor) = member(&w, "aud", BuiltinRole::Auditor).await;
    let (_, reader) = member(&w, "rea", BuiltinRole::ReadOnly).await;
    let mut out = Vec::new();
    let written = w
        .iam
        .export_audit(&auditor, w.org, None, None, &mut out)
        .await
        .unwrap();
    let events: Vec<_> = read_jsonl(&out[..]).map(Result::unwrap).collect();
    assert_eq!(events.len() as u64, written);
    assert_eq!(
        events.last().map(|e| &e.action),
        Some(&Action::AuditExported {
            from: None,
            until: None
        }),
        "the export is on record before its first line"
    );
    assert!(verify(w.org, &events, None).is_ok(), "re-verifies offline");

    // A range: only the events inside it.
    let from = events[2].at;
    let mut out = Vec::new();
    w.iam
        .export_audit(&auditor, w.org, Some(from), None, &mut out)
        .await
        .unwrap();
    let ranged: Vec<_> = read_jsonl(&out[..]).map(Result::unwrap).collect();
    assert!(!ranged.is_empty());
    assert!(ranged.iter().all(|e| e.at >= from));

    // Exporting takes `audit.export`.
    let err = w
        .iam
        .export_audit(&reader, w.org, None, None, Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { permission } if permission == "audit.export"));
}

#[tokio::test]
async fn verification_returns_the_head_to_keep_elsewhere() {
    let w = world().await;
    let (_, auditor) = member(&w, "aud", BuiltinRole::Auditor).await;
    let verification = w.iam.verify_audit(&auditor, w.org).await.unwrap();
    let verified = verification.result.expect("an untouched chain verifies");
    assert_eq!(verified.head, verification.head);
    assert_eq!(verification.head.seq, audit_len(&w.store, w.org).await);
}
