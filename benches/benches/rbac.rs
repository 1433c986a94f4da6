//! RBAC check path (issue 6): latency per size against a `HashSet` floor
//! measured in the same run, index bytes per user (counting allocator),
//! build time, incremental update + check, and casbin-rs side by side.
//!
//! `cargo bench --bench rbac` runs 1k, 10k, 100k and 1M users; under
//! `cargo test` (bench targets run once in test mode) only 1k and 10k.

use std::alloc::System;
use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use iamkit_identity::UserId;
use iamkit_rbac::{AccessIndex, BuiltinRole, Change, Grant, Grantee, PermissionId, Scope};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[path = "rbac/shape.rs"]
mod shape;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

type Query = (UserId, PermissionId, Scope);
type Floor = HashSet<Query, foldhash::fast::RandomState>;

const QUERIES: usize = 1 << 14;
/// Above this many users the floor holds the answers of a sample of users
/// only: the full set of answers at 1M users would take several GB. A
/// smaller table only makes the floor faster, so the ratio stays honest.
const FLOOR_USERS: usize = 200_000;

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn sizes() -> Vec<usize> {
    if full_run() {
        vec![1_000, 10_000, 100_000, 1_000_000]
    } else {
        vec![1_000, 10_000]
    }
}

fn net_bytes(region: &Region<'_, System>) -> isize {
    let change = region.change();
    change.bytes_allocated as isize - change.bytes_deallocated as isize + change.bytes_reallocated
}

/// Every allowed (user, scope, permission) of `users`, precomputed.
fn floor(index: &AccessIndex, shape: &shape::Shape, users: &[UserId]) -> Floor {
    let mut floor = Floor::default();
    let mut scopes = vec![Scope::Organization(shape.org)];
    scopes.extend(
        shape
            .workspaces
            .iter()
            .map(|w| Scope::Workspace(shape.org, *w)),
    );
    for user in users {
        for scope in &scopes {
            for p in index.check_index().permissions(*user, *scope).iter() {
                floor.insert((*user, p, *scope));
            }
        }
    }
    floor
}

/// Mean ns per query over `rounds` passes, best of 5 (same run, same
/// queries, for the ratio).
fn time_per_query(queries: &[Query], rounds: usize, f: impl Fn(&Query) -> bool) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut allowed = 0usize;
        for _ in 0..rounds {
            for q in queries {
                allowed += usize::from(f(black_box(q)));
            }
        }
        black_box(allowed);
        let ns = start.elapsed().as_nanos() as f64 / (rounds * queries.len()) as f64;
        best = best.min(ns);
    }
    best
}

fn check(c: &mut Criterion) {
    let rounds = if full_run() { 20 } else { 1 };
    let mut first_latency = None;
    let mut group = c.benchmark_group("rbac_check");
    for n in sizes() {
        let shape = shape::shape(n, 42);
        let region = Region::new(GLOBAL);
        let start = Instant::now();
        let index = shape::build_index(&shape);
        let build = start.elapsed();
        let total_bytes = net_bytes(&region);
        let region = Region::new(GLOBAL);
        let compiled = index.check_index().clone();
        let index_bytes = net_bytes(&region);
        drop(compiled);

        let floor_users: Vec<UserId> = shape.users.iter().copied().take(FLOOR_USERS).collect();
        let floor_shape = shape::Shape {
            users: floor_users.clone(),
            org: shape.org,
            workspaces: shape.workspaces.clone(),
            grants: Vec::new(),
            members: Vec::new(),
        };
        let floor = floor(&index, &shape, &floor_users);
        let queries = shape::queries(&floor_shape, index.catalogue(), QUERIES, 7);
        for q in queries.iter().take(2_000) {
            assert_eq!(index.check(q.0, q.1, q.2), floor.contains(q));
        }

        let ours = time_per_query(&queries, rounds, |q| index.check(q.0, q.1, q.2));
        let base = time_per_query(&queries, rounds, |q| floor.contains(q));
        let first = *first_latency.get_or_insert(ours);
        println!(
            "rbac users={n}: check {ours:.1} ns, HashSet floor {base:.1} ns (floor of {} users, {} answers), \
             ratio {:.2}x, vs 1k-user latency {:.2}x; index {} B/user (compiled), {} B/user with source data; build {:.2?}",
            floor_users.len(),
            floor.len(),
            ours / base,
            ours / first,
            index_bytes / n as isize,
            total_bytes / n as isize,
            build,
        );

        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("iamkit", n), &queries, |b, qs| {
            b.iter(|| {
                let q = &qs[i % QUERIES];
                i += 1;
                black_box(index.check(q.0, q.1, q.2))
            });
        });
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("hashset_floor", n), &queries, |b, qs| {
            b.iter(|| {
                let q = &qs[i % QUERIES];
                i += 1;
                black_box(floor.contains(q))
            });
        });
        drop(floor);

        if n == *sizes().last().unwrap_or(&n) {
            incremental(&mut group, index, &shape, n);
        }
    }
    group.finish();
}

/// A grant change (one user's workspace role flips between Requester and
/// Approver) followed by a check: recomputes one user, no rebuild.
fn incremental(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    mut index: AccessIndex,
    shape: &shape::Shape,
    n: usize,
) {
    let scope = Scope::Workspace(shape.org, shape.workspaces[0]);
    let approve = index.catalogue().id("requests.approve").unwrap();
    let mut i = 0usize;
    let mut step = |index: &mut AccessIndex| {
        let user = shape.users[1 + i % (shape.users.len() - 1)];
        let role = if (i / (shape.users.len() - 1)).is_multiple_of(2) {
            BuiltinRole::Approver
        } else {
            BuiltinRole::Requester
        };
        i += 1;
        index
            .apply(Change::Assign(Grant {
                grantee: Grantee::User(user),
                scope,
                role: role.id(),
            }))
            .unwrap();
        index.check(user, approve, scope)
    };
    let start = Instant::now();
    let rounds = 10_000;
    for _ in 0..rounds {
        black_box(step(&mut index));
    }
    let per = start.elapsed() / rounds;
    println!("rbac users={n}: grant change + next check {per:.2?} (target <= 50 µs)");
    assert!(per < Duration::from_millis(5), "an update must not rebuild");
    group.bench_function(BenchmarkId::new("update_then_check", n), |b| {
        b.iter(|| black_box(step(&mut index)));
    });
}

fn casbin(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("rbac_vs_casbin");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(500));
    for n in [1_000, 10_000] {
        let shape = shape::shape(n, 42);
        let index = shape::build_index(&shape);
        let catalogue = index.catalogue().clone();
        let enforcer = runtime.block_on(shape::casbin_enforcer(&shape, &catalogue));
        let queries = shape::queries(&shape, &catalogue, 1_000, 9);
        let requests: Vec<_> = queries
            .iter()
            .map(|q| shape::casbin_request(&catalogue, *q))
            .collect();
        let sample = if full_run() { 200 } else { 20 };
        let start = Instant::now();
        for (q, r) in queries.iter().zip(&requests).take(sample) {
            let decision = casbin::CoreApi::enforce(&enforcer, r.clone()).unwrap();
            assert_eq!(decision, index.check(q.0, q.1, q.2), "{q:?}");
        }
        let theirs = start.elapsed().as_nanos() as f64 / sample as f64;
        let ours = time_per_query(&queries, 100, |q| index.check(q.0, q.1, q.2));
        println!(
            "rbac users={n}: casbin {:.1} µs/check, iamkit {ours:.1} ns/check: iamkit {:.0}x faster",
            theirs / 1_000.0,
            theirs / ours
        );
        let mut i = 0usize;
        group.bench_function(BenchmarkId::new("casbin", n), |b| {
            b.iter(|| {
                let r = &requests[i % requests.len()];
                i += 1;
                black_box(casbin::CoreApi::enforce(&enforcer, r.clone()).unwrap())
            });
        });
        let mut i = 0usize;
        group.bench_function(BenchmarkId::new("iamkit", n), |b| {
            b.iter(|| {
                let q = &queries[i % queries.len()];
                i += 1;
                black_box(index.check(q.0, q.1, q.2))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, check, casbin);
criterion_main!(benches);
