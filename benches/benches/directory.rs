//! Directory listing on the memory store: one page of an organization's
//! members, unfiltered and with a free-text search, at 1k and 10k members.
//! The reference adapter filters and sorts the whole organization per
//! page, so this shows how far it scales before an app needs a SQL store.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use iamkit::identity::{DirectoryQuery, OrganizationRepository, UserRepository};
use iamkit::{Store, Transaction};
use iamkit_store_memory::MemoryStore;
use iamkit_testkit::fixtures::Fixture;

fn populate(
    runtime: &tokio::runtime::Runtime,
    members: usize,
) -> (MemoryStore, iamkit::identity::OrgId) {
    runtime.block_on(async {
        let store = MemoryStore::new();
        let mut f = Fixture::new(42);
        let org = f.org("bench");
        let mut tx = store.begin().await.unwrap();
        tx.insert_organization(&org).await.unwrap();
        for i in 0..members {
            let user = f.user_named(
                &format!("user{i:06}"),
                &format!("First{i}"),
                &format!("Last{}", i % 97),
            );
            tx.insert_user(&user).await.unwrap();
            tx.insert_membership(&f.membership(org.id, user.id))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        (store, org.id)
    })
}

fn directory(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("directory_page_of_50");
    for members in [1_000usize, 10_000] {
        let (store, org) = populate(&runtime, members);
        let queries = [
            ("all", DirectoryQuery::new()),
            ("text", DirectoryQuery::new().with_text("last42").unwrap()),
        ];
        for (name, query) in queries {
            group.bench_with_input(BenchmarkId::new(name, members), &query, |b, q| {
                b.iter(|| {
                    runtime.block_on(async {
                        let mut tx = store.begin().await.unwrap();
                        tx.list_directory(org, q).await.unwrap().items.len()
                    })
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, directory);
criterion_main!(benches);
