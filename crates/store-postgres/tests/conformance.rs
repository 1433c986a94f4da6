//! The whole conformance kit on PostgreSQL: every case gets a fresh schema
//! of its own (`PgStore::temporary`: created, migrated, and dropped with
//! `DROP SCHEMA ... CASCADE` when the case ends), so cases run in parallel
//! and reruns never collide.
//!
//! Without `IAMKIT_POSTGRES_URL` every case prints a notice and returns
//! early; with it set and the server unreachable, every case fails.

mod support;

iamkit_testkit::conformance_tests!({
    // The factory expression is evaluated inside each generated `#[test]`:
    // without a server, the test returns here, before the case.
    let Some(url) = crate::support::url_or_notice() else {
        return;
    };
    move || crate::support::fresh(url)
});
