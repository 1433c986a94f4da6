//! Requests during a burst of sign-ins (issue 16, "Measure"): requests
//! (`authenticate_session` + `is_allowed`) arrive at a fixed rate, first
//! alone, then while 4 × the hashing pool's threads sign in over and over
//! at the OWASP argon2 cost. Latency is counted from each request's
//! scheduled arrival, so time spent waiting for the executor counts.
//! Prints p50/p99 for both phases, sign-ins per second, how many sign-ins
//! were shed with `Busy`, and the bare argon2 rate the pool could reach.
//!
//! Runs on memory, and on PostgreSQL when `IAMKIT_POSTGRES_URL` is set:
//! `cargo bench --bench load`. `IAMKIT_BENCH_HASH_WORKERS` sets the pool's
//! threads (default: `HashingConfig::default()`, half the machine's parallelism).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use iamkit::credentials::{
    Argon2Params, ClientMetadata, Password, PasswordHasher, PasswordPolicy, SecretBytes,
    XChaChaSealer,
};
use iamkit::rbac::Scope;
use iamkit::{Actor, Config, Error, FirstOwner, Iam, ManualClock, NewAccount, Store};
use iamkit_store_memory::MemoryStore;
use iamkit_store_postgres::PgStore;
use tokio::runtime::Runtime;

const PASSWORD: &str = "glacier ferry violin harbour";
/// One request every this long.
const ARRIVAL: Duration = Duration::from_millis(2);
/// Each phase lasts this long.
const PHASE: Duration = Duration::from_secs(4);

struct Phase {
    p50: Duration,
    p99: Duration,
    requests: usize,
    sign_ins: u64,
    busy: u64,
}

fn config() -> Config {
    let mut config = Config::default();
    if let Some(workers) = std::env::var("IAMKIT_BENCH_HASH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.hashing.workers = workers;
    }
    config
}

async fn setup<S: Store>(store: S) -> (Iam<S>, String, Scope) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
    let iam = Iam::builder(store, sealer)
        .clock(Arc::new(clock))
        .config(config())
        .build()
        .unwrap();
    let done = iam
        .bootstrap(
            &Actor::system(),
            "Acme",
            "acme",
            FirstOwner::NewUser {
                account: NewAccount {
                    username: "owner".to_owned(),
                    email: "owner@acme.example".to_owned(),
                    first_name: "Load".to_owned(),
                    last_name: "Owner".to_owned(),
                    language: None,
                },
                password: Password::new(PASSWORD),
            },
        )
        .await
        .unwrap();
    let signed = iam
        .log_in("owner", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap();
    (
        iam,
        signed.token.expose().to_owned(),
        Scope::Organization(done.org),
    )
}

async fn phase<S: Store>(iam: &Iam<S>, token: &str, scope: Scope, burst: usize) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let sign_ins = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicU64::new(0));
    let mut signers = Vec::new();
    for _ in 0..burst {
        let (iam, stop, sign_ins, busy) = (
            iam.clone(),
            Arc::clone(&stop),
            Arc::clone(&sign_ins),
            Arc::clone(&busy),
        );
        signers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match iam
                    .log_in("owner", &Password::new(PASSWORD), ClientMetadata::default())
                    .await
                {
                    Ok(_) => sign_ins.fetch_add(1, Ordering::Relaxed),
                    Err(Error::Busy) => {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        busy.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(e) => panic!("sign-in failed: {e}"),
                };
            }
        }));
    }
    let started = Instant::now();
    let mut requests = Vec::new();
    let mut n: u32 = 0;
    while started.elapsed() < PHASE {
        let arrival = started + ARRIVAL * n;
        n += 1;
        tokio::time::sleep_until(arrival.into()).await;
        let (iam, token) = (iam.clone(), token.to_owned());
        requests.push(tokio::spawn(async move {
            let actor = iam.authenticate_session(&token).await.unwrap();
            assert!(iam.is_allowed(&actor, "users.read", scope).await);
            arrival.elapsed()
        }));
    }
    let mut latencies = Vec::new();
    for request in requests {
        latencies.push(request.await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    for signer in signers {
        signer.await.unwrap();
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    let per_second = sign_ins.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64();
    Phase {
        p50: at(0.50),
        p99: at(0.99),
        requests: latencies.len(),
        sign_ins: per_second.round() as u64,
        busy: busy.load(Ordering::Relaxed),
    }
}

/// Verifications per second of one thread at the default cost.
fn bare_argon2_rate() -> f64 {
    let hasher = PasswordHasher::new(Argon2Params::default()).unwrap();
    let checked = PasswordPolicy::default()
        .check(Password::new(PASSWORD), &Default::default())
        .unwrap();
    let hash = hasher
        .hash(
            &checked,
            &mut rand::rand_core::UnwrapErr(rand::rngs::SysRng),
        )
        .unwrap();
    let password = Password::new(PASSWORD);
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(2) {
        let _ = hasher.verify(&password, Some(&hash));
        n += 1;
    }
    f64::from(n) / started.elapsed().as_secs_f64()
}

fn run<S: Store>(rt: &Runtime, name: &str, store: S, bare: f64) {
    let workers = config().hashing.workers.get();
    let (iam, token, scope) = rt.block_on(setup(store));
    let calm = rt.block_on(phase(&iam, &token, scope, 0));
    let burst = rt.block_on(phase(&iam, &token, scope, 4 * workers));
    println!("\n{name}: {workers} hashing threads, bare argon2 {bare:.1}/s per thread");
    println!("| phase | requests | p50 | p99 | sign-ins/s | shed (Busy) |");
    println!("|---|---|---|---|---|---|");
    for (label, p) in [("alone", &calm), ("during the burst", &burst)] {
        println!(
            "| {label} | {} | {:.2?} | {:.2?} | {} | {} |",
            p.requests, p.p50, p.p99, p.sign_ins, p.busy
        );
    }
    println!(
        "p99 ratio (burst / alone): {:.2}; sign-ins/s vs pool × bare rate ({:.1}): {:.2}",
        burst.p99.as_secs_f64() / calm.p99.as_secs_f64(),
        bare * workers as f64,
        burst.sign_ins as f64 / (bare * workers as f64)
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bare = bare_argon2_rate();
    run(&rt, "memory", MemoryStore::new(), bare);
    match std::env::var("IAMKIT_POSTGRES_URL") {
        Ok(url) => {
            let store = rt.block_on(async {
                let store = PgStore::temporary(&url).await.unwrap();
                store.migrate().await.unwrap();
                store
            });
            run(&rt, "postgres", store, bare);
        }
        Err(_) => eprintln!("IAMKIT_POSTGRES_URL is not set: PostgreSQL not measured"),
    }
}
