//! Two `Iam` instances over one PostgreSQL schema, each with a pool of its
//! own (stand-ins for two processes of one app): a change made through one
//! is enforced by the other at its very next request, for sessions and for
//! API keys. And the last-owner guard under concurrent demotions, on real
//! threads: of two Owners demoting each other, exactly one succeeds. And a
//! sealing key rotated across a restart of the app. The cases are
//! `iamkit_testkit::instances`' and `iamkit_testkit::sealing`'.

#[path = "support/second_pool.rs"]
mod second_pool;
mod support;

use iamkit_store_postgres::PgStore;
use iamkit_testkit::instances;

/// Two stores, each with its own pool, over one temporary schema.
async fn two_stores(url: &str) -> (PgStore, PgStore) {
    let one = support::fresh(url.to_owned()).await;
    let two = second_pool::over_same_schema(url, &one).await;
    (one, two)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_through_one_instance_holds_at_the_next_request_through_the_other() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let (one, two) = two_stores(&url).await;
    instances::demotion_is_enforced_at_the_next_request(one, two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_through_one_instance_shrinks_an_api_key_at_its_next_use_through_the_other() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let (one, two) = two_stores(&url).await;
    instances::api_key_shrinks_at_its_next_use(one, two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_demotions_of_two_owners_leave_one() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let (one, two) = two_stores(&url).await;
    instances::concurrent_demotions_of_two_owners_leave_one(one, two).await;
}

/// Sealing-key rotation across a restart: TOTP enrolled and links queued
/// under key A through one pool; the app restarts on another pool with
/// {B, A}, everyone still signs in, `reseal` runs to completion, and {B}
/// alone then works. (The first pool is the second store: dropping the
/// temporary store would drop the schema.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_sealing_key_keeps_two_factor_and_links_working_across_a_restart() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let (schema_owner, other_pool) = two_stores(&url).await;
    iamkit_testkit::sealing::rotation_across_a_restart(other_pool, schema_owner).await;
}
