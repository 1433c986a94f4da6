//! Audit chain throughput, each figure beside bare SHA-256 over the same
//! canonical bytes measured in the same run, so the ratio shows what the
//! chain costs beyond the hash itself (target: verify ≥ 500k events/s and
//! ≤ 1.5× bare SHA-256).
//!
//! - `audit_verify`: `verify` of a 10k-event chain vs hashing
//!   `prev ‖ canonical(event)` for each event.
//! - `audit_append`: 1k appends to the memory store, one transaction each
//!   (as the facade does) and all in one transaction, vs hashing the same
//!   1k events.

use std::net::{IpAddr, Ipv4Addr};

use chrono::Duration;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use iamkit::audit::{
    Action, Actor, AuditEvent, AuditRepository, ChainHead, Context, NewEvent, RequestId, Target,
    UserAgent, canonical_bytes, seal, verify,
};
use iamkit::identity::{OrgId, RoleId, UserId, WorkspaceId};
use iamkit::{Store, Transaction};
use iamkit_store_memory::MemoryStore;
use iamkit_testkit::fixtures::Fixture;
use sha2::{Digest, Sha256};

/// Realistic events: role changes by an admin with a full request context.
fn new_events(f: &mut Fixture, org: OrgId, count: usize) -> Vec<NewEvent> {
    let now = f.now();
    let admin = UserId::generate(now, f.rng());
    let workspace = WorkspaceId::generate(now, f.rng());
    let role = RoleId::generate(now, f.rng());
    (0..count)
        .map(|i| {
            let user = UserId::generate(now, f.rng());
            let at = now + Duration::milliseconds(i64::try_from(i).unwrap());
            let action = Action::WorkspaceRoleChanged {
                workspace,
                from: None,
                to: Some(role),
            };
            NewEvent::new(
                org,
                Actor::User(admin),
                action,
                Target::User(user),
                at,
                f.rng(),
            )
            .with_context(Context {
                ip: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 23))),
                user_agent: Some(
                    UserAgent::new(
                        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                    )
                    .unwrap(),
                ),
                request_id: Some(RequestId::new(format!("req-{i:08}")).unwrap()),
            })
        })
        .collect()
}

fn sealed_chain(org: OrgId, events: Vec<NewEvent>) -> Vec<AuditEvent> {
    let mut head = ChainHead::genesis(org);
    events
        .into_iter()
        .map(|event| {
            let sealed = seal(&head, event).unwrap();
            head = sealed.head();
            sealed
        })
        .collect()
}

/// SHA-256 of `prev ‖ bytes` for each event: the work the chain cannot
/// avoid.
fn bare_hashes(prevs: &[[u8; 32]], encoded: &[Vec<u8>]) -> u8 {
    let mut acc = 0u8;
    for (prev, bytes) in prevs.iter().zip(encoded) {
        let mut hasher = Sha256::new();
        hasher.update(prev);
        hasher.update(bytes);
        acc ^= hasher.finalize()[0];
    }
    acc
}

fn prevs_of(chain: &[AuditEvent]) -> Vec<[u8; 32]> {
    std::iter::once([0; 32])
        .chain(chain.iter().map(|e| e.hash.0))
        .take(chain.len())
        .collect()
}

fn verify_throughput(c: &mut Criterion) {
    const N: usize = 10_000;
    let mut f = Fixture::new(7);
    let org = OrgId::generate(f.now(), f.rng());
    let chain = sealed_chain(org, new_events(&mut f, org, N));
    let head = chain.last().unwrap().head();
    let encoded: Vec<Vec<u8>> = chain.iter().map(canonical_bytes).collect();
    let prevs = prevs_of(&chain);
    let mean_len = encoded.iter().map(Vec::len).sum::<usize>() / N;
    println!("audit: canonical event = {mean_len} bytes (+32 previous hash)");

    let mut group = c.benchmark_group("audit_verify");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("verify", |b| {
        b.iter(|| verify(org, &chain, Some(&head)).unwrap());
    });
    group.bench_function("bare_sha256", |b| {
        b.iter(|| bare_hashes(&prevs, &encoded));
    });
    group.finish();
}

fn append_throughput(c: &mut Criterion) {
    const N: usize = 1_000;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut f = Fixture::new(8);
    let org = OrgId::generate(f.now(), f.rng());
    let events = new_events(&mut f, org, N);
    let chain = sealed_chain(org, events.clone());
    let encoded: Vec<Vec<u8>> = chain.iter().map(canonical_bytes).collect();
    let prevs = prevs_of(&chain);

    let mut group = c.benchmark_group("audit_append");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("store_memory_tx_per_event", |b| {
        b.iter_batched(
            || (MemoryStore::new(), events.clone()),
            |(store, events)| {
                runtime.block_on(async {
                    for event in events {
                        let mut tx = store.begin().await.unwrap();
                        tx.append_event(event).await.unwrap();
                        tx.commit().await.unwrap();
                    }
                    store
                })
            },
            BatchSize::LargeInput,
        );
    });
    // The same appends in one transaction: what the append itself costs
    // once the per-transaction snapshot and lock are paid.
    group.bench_function("store_memory_one_tx", |b| {
        b.iter_batched(
            || (MemoryStore::new(), events.clone()),
            |(store, events)| {
                runtime.block_on(async {
                    let mut tx = store.begin().await.unwrap();
                    for event in events {
                        tx.append_event(event).await.unwrap();
                    }
                    tx.commit().await.unwrap();
                    store
                })
            },
            BatchSize::LargeInput,
        );
    });
    group.bench_function("bare_sha256", |b| {
        b.iter(|| bare_hashes(&prevs, &encoded));
    });
    group.finish();
}

criterion_group!(benches, verify_throughput, append_throughput);
criterion_main!(benches);
