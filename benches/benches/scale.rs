//! Authorization at tenant scale (issue 17, "Measure"): one organization of
//! N members (see `scale/tenant.rs` for its shape: one organization role
//! each, a fifth in groups, some teams, a few deactivated accounts), on the
//! memory, SQLite and PostgreSQL stores, and per store and size:
//!
//! - `next_request_second_iam`: two `Iam`s over one store (two processes);
//!   the first changes a member's organization role (not timed), then the
//!   second serves the next request (`authenticate_session` + `is_allowed`).
//! - `change_org_role`: back to back through one `Iam`, as in a
//!   provisioning burst.
//! - `change_org_role_after_check`: one check first (not timed), so the
//!   changing `Iam`'s index is current: the change's own cost.
//! - `cold_build`: the first check in a fresh `Iam` (an empty cache): one
//!   full build of the organization's index.
//! - cached index bytes per member: the heap a fresh `Iam` retains after
//!   its first check, counted by the global allocator (`stats_alloc`,
//!   net bytes allocated less freed), on a second fresh `Iam` so that
//!   connection buffers grown by the first build are not counted; divided
//!   by the organization's members (owner and invitees included).
//! - `authenticate_api_key+is_allowed`: a request with an API key against a
//!   warm index; on the SQL stores each follows one bare `SELECT 1` on the
//!   same pool, and the table gives their ratio.
//! - `invite`: back to back, each with an organization role (last, since
//!   each adds a member: the next size imports on top of them); the table
//!   also gives it against the smallest size run.
//!
//! Every timed iteration is also recorded, and a table of medians (with
//! the targets beside them) is printed at the end.
//!
//! `cargo bench --bench scale` runs 1k and 10k members;
//! `IAMKIT_SCALE_MEMBERS=1000,10000,100000` sets the sizes and
//! `IAMKIT_SCALE_STORES=postgres` the stores (default: memory, sqlite,
//! postgres). PostgreSQL runs when `IAMKIT_POSTGRES_URL` is set, in a
//! schema of its own dropped at the end; after each import the tables are
//! `ANALYZE`d, as autovacuum would within a minute. Under `cargo test`
//! (bench targets run once in test mode) it runs 100 members only.
//!
//! The counting allocator adds an atomic add to every allocation, in every
//! figure alike.

use std::alloc::System;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode};
use iamkit::rbac::{BuiltinRole, Scope};
use iamkit::{Actor, Iam, Placement, Store};
use iamkit_store_memory::MemoryStore;
use iamkit_store_postgres::PgStore;
use iamkit_store_sqlite::SqliteStore;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio::runtime::Runtime;

#[path = "scale/tenant.rs"]
mod tenant;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// `cargo bench` passes `--bench`; `cargo test` runs each bench once.
fn full_run() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test")
}

fn sizes() -> Vec<usize> {
    if !full_run() {
        return vec![100];
    }
    match std::env::var("IAMKIT_SCALE_MEMBERS") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("IAMKIT_SCALE_MEMBERS: sizes like 1000,10000")
            })
            .collect(),
        Err(_) => vec![1_000, 10_000],
    }
}

fn wanted(store: &str) -> bool {
    std::env::var("IAMKIT_SCALE_STORES")
        .map(|list| list.split(',').any(|s| s.trim() == store))
        .unwrap_or(true)
}

/// The figures of the final table, by (store, members).
#[derive(Default)]
struct Figures {
    timed: BTreeMap<(&'static str, usize, &'static str), Vec<Duration>>,
    bytes_per_member: BTreeMap<(&'static str, usize), f64>,
}

static FIGURES: Mutex<Option<Figures>> = Mutex::new(None);

fn record(store: &'static str, members: usize, figure: &'static str, time: Duration) {
    let mut figures = FIGURES.lock().unwrap();
    figures
        .get_or_insert_with(Figures::default)
        .timed
        .entry((store, members, figure))
        .or_default()
        .push(time);
}

fn median(store: &'static str, members: usize, figure: &'static str) -> Option<Duration> {
    let figures = FIGURES.lock().unwrap();
    let mut times = figures
        .as_ref()?
        .timed
        .get(&(store, members, figure))?
        .clone();
    times.sort();
    times.get(times.len() / 2).copied()
}

/// One store under test: the admin's `Iam` (which changes things), a
/// second one (another process, serving requests), and the organization.
struct Scale<S: Store> {
    name: &'static str,
    store: S,
    admin: Iam<S>,
    other: Iam<S>,
    owner: Actor,
    tenant: tenant::Tenant,
    /// Flips the changed member's role back and forth.
    changes: AtomicU64,
    invites: AtomicU64,
    /// The SQL stores' pool, for what the bench asks of it directly.
    pool: Option<Pool>,
}

/// What the bench runs on a SQL store's own pool.
struct Pool {
    /// One bare `SELECT 1`, timed.
    select_1: Box<dyn Fn(&Runtime) -> Duration>,
    /// Run after each import (PostgreSQL: `ANALYZE`).
    after_import: Box<dyn Fn(&Runtime)>,
}

impl<S: Store> Scale<S> {
    async fn new(name: &'static str, store: S) -> Self {
        let admin = tenant::iam(store.clone());
        let tenant = tenant::Tenant::bootstrap(&admin).await;
        let owner = admin
            .authenticate_session(&tenant.session_token)
            .await
            .unwrap();
        Self {
            name,
            other: tenant::iam(store.clone()),
            store,
            admin,
            owner,
            tenant,
            changes: AtomicU64::new(0),
            invites: AtomicU64::new(0),
            pool: None,
        }
    }

    fn org_scope(&self) -> Scope {
        Scope::Organization(self.tenant.org)
    }

    /// Every member of the organization: the owner, the seeded members,
    /// and the invitees so far.
    fn members(&self) -> usize {
        1 + self.tenant.members.len() + self.invites.load(Ordering::Relaxed) as usize
    }

    /// One request with the owner's session through `iam`.
    async fn request(&self, iam: &Iam<S>) {
        let actor = iam
            .authenticate_session(&self.tenant.session_token)
            .await
            .unwrap();
        assert!(iam.is_allowed(&actor, "users.read", self.org_scope()).await);
    }

    /// Flips the first member's organization role through the admin's `Iam`.
    async fn change_role(&self) {
        let role = if self
            .changes
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(2)
        {
            BuiltinRole::ReadOnly
        } else {
            BuiltinRole::Requester
        };
        self.admin
            .change_org_role(
                &self.owner,
                self.tenant.org,
                self.tenant.members[0],
                Some(role.id()),
            )
            .await
            .unwrap();
    }

    async fn invite(&self) {
        let n = self.invites.fetch_add(1, Ordering::Relaxed);
        self.admin
            .invite(
                &self.owner,
                self.tenant.org,
                &tenant::account(&format!("invitee{n}")),
                &Placement {
                    org_role: Some(BuiltinRole::Requester.id()),
                    ..Placement::default()
                },
            )
            .await
            .unwrap();
    }
}

/// How long criterion spends on a figure.
#[derive(Clone, Copy)]
enum Pace {
    /// Milliseconds to a second per iteration (and untimed work around
    /// each): 10 samples in about 2 s.
    Slow,
    /// Each iteration adds a member: 10 samples in about 0.5 s.
    Growing,
    /// Microseconds: 30 samples in about 3 s.
    Fast,
}

/// Runs `routine` as criterion's iterations, each timed by the routine
/// itself (so each may do untimed work first) and recorded for the table.
fn timed(
    c: &mut Criterion,
    group: &str,
    pace: Pace,
    (store, members): (&'static str, usize),
    figure: &'static str,
    mut routine: impl FnMut() -> Duration,
) {
    let (samples, warm_up, measurement) = match pace {
        Pace::Slow => (10, 300, 2_000),
        Pace::Growing => (10, 100, 500),
        Pace::Fast => (30, 500, 3_000),
    };
    let mut group = c.benchmark_group(format!("scale/{group}"));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(samples);
    group.warm_up_time(Duration::from_millis(warm_up));
    group.measurement_time(Duration::from_millis(measurement));
    group.bench_function(BenchmarkId::new(store, members), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let time = routine();
                record(store, members, figure, time);
                total += time;
            }
            total
        });
    });
    group.finish();
}

fn net_bytes(region: &Region<'_, System>) -> isize {
    let change = region.change();
    change.bytes_allocated as isize - change.bytes_deallocated as isize + change.bytes_reallocated
}

fn bench_size<S: Store>(c: &mut Criterion, rt: &Runtime, s: &mut Scale<S>, n: usize) {
    let started = Instant::now();
    rt.block_on(s.tenant.grow_to(&s.store, n));
    eprintln!(
        "scale {}: {n} members imported in {:.1?}",
        s.name,
        started.elapsed()
    );
    if let Some(pool) = &s.pool {
        (pool.after_import)(rt);
    }
    let s = &*s;
    let id = (s.name, n);
    // Both processes serve a request at the current version first.
    rt.block_on(s.request(&s.admin));
    rt.block_on(s.request(&s.other));

    timed(
        c,
        "next_request_second_iam",
        Pace::Slow,
        id,
        "next_request",
        || {
            rt.block_on(async {
                s.change_role().await;
                let started = Instant::now();
                s.request(&s.other).await;
                started.elapsed()
            })
        },
    );
    timed(c, "change_org_role", Pace::Slow, id, "change", || {
        rt.block_on(async {
            let started = Instant::now();
            s.change_role().await;
            started.elapsed()
        })
    });
    timed(
        c,
        "change_org_role_after_check",
        Pace::Slow,
        id,
        "change_warm",
        || {
            rt.block_on(async {
                s.request(&s.admin).await;
                let started = Instant::now();
                s.change_role().await;
                started.elapsed()
            })
        },
    );
    timed(c, "cold_build", Pace::Slow, id, "cold_build", || {
        rt.block_on(async {
            let fresh = tenant::iam(s.store.clone());
            let actor = fresh
                .authenticate_session(&s.tenant.session_token)
                .await
                .unwrap();
            let started = Instant::now();
            assert!(fresh.is_allowed(&actor, "users.read", s.org_scope()).await);
            started.elapsed()
        })
    });

    // The cached index's heap: what a fresh `Iam` keeps after its first
    // check. A first fresh `Iam` grows the pool's buffers, uncounted.
    let bytes = rt.block_on(async {
        let mut retained = 0;
        for _ in 0..2 {
            let fresh = tenant::iam(s.store.clone());
            let actor = fresh
                .authenticate_session(&s.tenant.session_token)
                .await
                .unwrap();
            let region = Region::new(GLOBAL);
            assert!(fresh.is_allowed(&actor, "users.read", s.org_scope()).await);
            retained = net_bytes(&region);
            drop(fresh);
        }
        retained
    });
    let per_member = bytes as f64 / s.members() as f64;
    eprintln!(
        "scale {}: cached index {bytes} B for {} members: {per_member:.0} B/member",
        s.name,
        s.members()
    );
    FIGURES
        .lock()
        .unwrap()
        .get_or_insert_with(Figures::default)
        .bytes_per_member
        .insert(id, per_member);

    let ws_scope = Scope::Workspace(s.tenant.org, s.tenant.workspace);
    let key_request = || async {
        let actor = s
            .admin
            .authenticate_api_key(black_box(&s.tenant.api_key))
            .await
            .unwrap();
        assert!(
            s.admin
                .is_allowed(&actor, tenant::APP_PERMISSION, ws_scope)
                .await
        );
    };
    // Warms the index (the changes above moved the version).
    rt.block_on(key_request());
    // Each request follows a bare `SELECT 1` on the same pool, recorded
    // for the ratio: both see the same machine at the same moment.
    timed(
        c,
        "authenticate_api_key+is_allowed",
        Pace::Fast,
        id,
        "auth",
        || {
            if let Some(pool) = &s.pool {
                record(s.name, n, "select_1", (pool.select_1)(rt));
            }
            rt.block_on(async {
                let started = Instant::now();
                key_request().await;
                started.elapsed()
            })
        },
    );

    // Last, since every invitation adds a member.
    timed(c, "invite", Pace::Growing, id, "invite", || {
        rt.block_on(async {
            let started = Instant::now();
            s.invite().await;
            started.elapsed()
        })
    });
}

/// `SELECT 1` on `pool`, timed.
fn select_1<DB: sqlx::Database>(pool: sqlx::Pool<DB>) -> Box<dyn Fn(&Runtime) -> Duration>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    Box::new(move |rt: &Runtime| {
        rt.block_on(async {
            let started = Instant::now();
            sqlx::query::<DB>("SELECT 1").execute(&pool).await.unwrap();
            started.elapsed()
        })
    })
}

fn bench_store<S: Store>(c: &mut Criterion, rt: &Runtime, mut s: Scale<S>) {
    for n in sizes() {
        bench_size(c, rt, &mut s, n);
    }
}

fn print_table(sizes: &[usize]) {
    let ms = |d: Option<Duration>| {
        d.map_or("–".to_owned(), |d| {
            format!("{:.2} ms", d.as_secs_f64() * 1e3)
        })
    };
    let us = |d: Option<Duration>| {
        d.map_or("–".to_owned(), |d| {
            format!("{:.0} µs", d.as_secs_f64() * 1e6)
        })
    };
    println!("\n## scale: medians of every timed iteration\n");
    println!(
        "| store | members | next request, 2nd Iam | change_org_role | change after a check | invite | invite vs {} | cold build | index B/member | API key + check | SELECT 1 | ratio |",
        sizes.first().copied().unwrap_or_default()
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for store in ["memory", "sqlite", "postgres"] {
        let smallest_invite = sizes.first().and_then(|n| median(store, *n, "invite"));
        for &n in sizes {
            let invite = median(store, n, "invite");
            let invite_ratio = match (invite, smallest_invite) {
                (Some(i), Some(s)) => format!("{:.2}×", i.as_secs_f64() / s.as_secs_f64()),
                _ => "–".to_owned(),
            };
            let auth = median(store, n, "auth");
            let select_1 = median(store, n, "select_1");
            let ratio = match (auth, select_1) {
                (Some(a), Some(s)) => format!("{:.2}×", a.as_secs_f64() / s.as_secs_f64()),
                _ => "–".to_owned(),
            };
            let bytes = FIGURES
                .lock()
                .unwrap()
                .as_ref()
                .and_then(|f| f.bytes_per_member.get(&(store, n)).copied());
            if median(store, n, "cold_build").is_none() {
                continue;
            }
            println!(
                "| {store} | {n} | {} | {} | {} | {} | {invite_ratio} | {} | {} | {} | {} | {ratio} |",
                ms(median(store, n, "next_request")),
                ms(median(store, n, "change")),
                ms(median(store, n, "change_warm")),
                ms(invite),
                ms(median(store, n, "cold_build")),
                bytes.map_or("–".to_owned(), |b| format!("{b:.0}")),
                us(auth),
                us(select_1),
            );
        }
    }
    println!(
        "| target (PostgreSQL, 100k) | 100000 | ≤ 2 ms | ≤ 10 ms | – | – | ≤ 1.3× (vs 1k) | ≤ 1 s | ≤ 512 | – | – | ≤ 1.3× |"
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if wanted("memory") {
        let s = rt.block_on(Scale::new("memory", MemoryStore::new()));
        bench_store(&mut c, &rt, s);
    }
    if wanted("sqlite") {
        let store = rt.block_on(async {
            let store = SqliteStore::temporary().await.unwrap();
            store.migrate().await.unwrap();
            store
        });
        let mut s = rt.block_on(Scale::new("sqlite", store.clone()));
        s.pool = Some(Pool {
            select_1: select_1(store.pool().clone()),
            after_import: Box::new(|_| ()),
        });
        bench_store(&mut c, &rt, s);
    }
    if wanted("postgres") {
        match std::env::var("IAMKIT_POSTGRES_URL") {
            Ok(url) => {
                let store = rt.block_on(async {
                    let store = PgStore::temporary(&url).await.unwrap();
                    store.migrate().await.unwrap();
                    store
                });
                let mut s = rt.block_on(Scale::new("postgres", store.clone()));
                let pool = store.pool().clone();
                s.pool = Some(Pool {
                    select_1: select_1(store.pool().clone()),
                    // Fresh planner statistics, as autovacuum would give
                    // within a minute of the import.
                    after_import: Box::new(move |rt: &Runtime| {
                        rt.block_on(sqlx::query("ANALYZE").execute(&pool)).unwrap();
                    }),
                });
                bench_store(&mut c, &rt, s);
                // The temporary schema is dropped with the store's last clone.
                drop(store);
            }
            Err(_) => eprintln!("IAMKIT_POSTGRES_URL is not set: PostgreSQL not measured"),
        }
    }
    c.final_summary();
    print_table(&sizes());
}
