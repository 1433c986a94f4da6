//! Stored data that no longer decodes (a row edited by hand, a damaged
//! file) reads as [`ErrorKind::Corrupt`], which no caller retries, never
//! as the retryable [`ErrorKind::Conflict`]. The SQL adapters run it with
//! closures that damage one row the way a hand edit would.

use iamkit::{Store, Transaction};
use iamkit_audit::{Action, Actor, AuditRepository, EventQuery, NewEvent, Target};
use iamkit_identity::{OrgId, OrganizationRepository, UserId, UserRepository};
use iamkit_store_api::ErrorKind;

use crate::fixtures::Fixture;

/// Stores a user and an audit event, lets `corrupt_user` and
/// `corrupt_event` damage their rows, then reads both back: each read
/// fails with [`ErrorKind::Corrupt`], and an undamaged neighbour still
/// reads.
///
/// # Panics
/// When a read succeeds or fails with another kind.
pub async fn corrupted_rows_read_as_corrupt<S, U, E>(store: &S, corrupt_user: U, corrupt_event: E)
where
    S: Store,
    U: AsyncFnOnce(UserId),
    E: AsyncFnOnce(OrgId),
{
    let mut f = Fixture::new(61);
    let org = f.org("acme");
    let damaged = f.user("damaged");
    let intact = f.user("intact");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_organization(&org).await.expect("org");
    tx.insert_user(&damaged).await.expect("user");
    tx.insert_user(&intact).await.expect("user");
    let now = f.now();
    let event = NewEvent::new(
        org.id,
        Actor::System,
        Action::UserCreated,
        Target::User(damaged.id),
        now,
        f.rng(),
    );
    tx.append_event(event).await.expect("append");
    tx.commit().await.expect("commit");

    corrupt_user(damaged.id).await;
    corrupt_event(org.id).await;

    let mut tx = store.begin().await.expect("begin");
    let user = tx.get_user(damaged.id).await;
    assert_eq!(
        user.as_ref().map_err(|e| e.kind().clone()).err(),
        Some(ErrorKind::Corrupt),
        "a user row that does not decode: {user:?}"
    );
    assert!(tx.get_user(intact.id).await.expect("intact").is_some());
    let events = tx.query_events(org.id, &EventQuery::default()).await;
    assert_eq!(
        events.as_ref().map_err(|e| e.kind().clone()).err(),
        Some(ErrorKind::Corrupt),
        "an event row that does not decode: {events:?}"
    );
    tx.rollback().await.expect("rollback");
}
