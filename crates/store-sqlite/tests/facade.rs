//! The `Iam` facade over SQLite with two instances over one database file,
//! each with its own pool as two processes would have: a change made
//! through one is enforced by the other at its next request (sessions and
//! API keys), and of two Owners demoting each other at once exactly one
//! succeeds; a sealing key rotated across a restart of the app. The cases
//! are `iamkit_testkit::instances`' and `iamkit_testkit::sealing`'.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use iamkit_store_sqlite::SqliteStore;
use iamkit_testkit::instances;

/// A database file removed (with its WAL files) when dropped.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.0.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Two stores, each with its own pool, over one fresh database file.
#[expect(
    clippy::expect_used,
    reason = "test set-up: a store that cannot open fails the test"
)]
async fn two_stores() -> (TempPath, SqliteStore, SqliteStore) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = TempPath(std::env::temp_dir().join(format!(
        "iamkit-two-instances-{}-{}.sqlite3",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )));
    let one = SqliteStore::open(&path.0).await.expect("open");
    one.migrate().await.expect("migrate");
    let two = SqliteStore::open(&path.0).await.expect("open again");
    two.migrate().await.expect("migrate again");
    (path, one, two)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_through_one_instance_holds_at_the_next_request_through_the_other() {
    let (_path, one, two) = two_stores().await;
    instances::demotion_is_enforced_at_the_next_request(one, two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_through_one_instance_shrinks_an_api_key_at_its_next_use_through_the_other() {
    let (_path, one, two) = two_stores().await;
    instances::api_key_shrinks_at_its_next_use(one, two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_demotions_of_two_owners_leave_one() {
    let (_path, one, two) = two_stores().await;
    instances::concurrent_demotions_of_two_owners_leave_one(one, two).await;
}

/// Sealing-key rotation across a restart: TOTP enrolled and links queued
/// under key A through one pool; the app restarts on another pool with
/// {B, A}, everyone still signs in, `reseal` runs to completion, and {B}
/// alone then works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_sealing_key_keeps_two_factor_and_links_working_across_a_restart() {
    let (_path, before, after) = two_stores().await;
    iamkit_testkit::sealing::rotation_across_a_restart(before, after).await;
}
