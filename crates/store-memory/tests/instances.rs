//! Two `Iam` instances over one memory store (clones share the data): the
//! workflow-level cases of `iamkit_testkit::instances`.

use iamkit_store_memory::MemoryStore;
use iamkit_testkit::instances;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_through_one_instance_holds_at_the_next_request_through_the_other() {
    let store = MemoryStore::new();
    instances::demotion_is_enforced_at_the_next_request(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_through_one_instance_shrinks_an_api_key_at_its_next_use_through_the_other() {
    let store = MemoryStore::new();
    instances::api_key_shrinks_at_its_next_use(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_demotions_of_two_owners_leave_one() {
    let store = MemoryStore::new();
    instances::concurrent_demotions_of_two_owners_leave_one(store.clone(), store).await;
}
