//! `log_in` for a known account with a wrong password against an unknown
//! account, on SQLite and PostgreSQL in one run (issue 16, item 5;
//! SECURITY.md 10: the two must cost the same on the response path). The
//! argon2 cost is the OWASP default, as in production.
//!
//! The known account would lock after ten wrong guesses, so its throttle
//! is reset between batches of five, outside the timed part; each unknown
//! try uses a fresh name. Besides criterion's groups, `cargo bench` prints
//! a paired run (the two cases alternating) and its ratio.
//!
//! SQLite runs on a temporary file (WAL, `synchronous = FULL`). PostgreSQL
//! runs when `IAMKIT_POSTGRES_URL` is set, in a schema of its own.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use iamkit::credentials::{
    ClientMetadata, Password, SecretBytes, ThrottleRepository, XChaChaSealer,
};
use iamkit::identity::UserId;
use iamkit::{Actor, Config, FirstOwner, Iam, ManualClock, NewAccount, Store, Transaction};
use iamkit_store_postgres::PgStore;
use iamkit_store_sqlite::SqliteStore;
use tokio::runtime::Runtime;

const PASSWORD: &str = "glacier ferry violin harbour";

/// Guesses between two throttle resets (below the default limit of 10).
const BATCH: u64 = 5;

async fn fixture<S: Store>(store: S) -> (Iam<S>, UserId) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
    let iam = Iam::builder(store, sealer)
        .clock(Arc::new(clock))
        .config(Config::default())
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
                    first_name: "Bench".to_owned(),
                    last_name: "Owner".to_owned(),
                    language: None,
                },
                password: Password::new(PASSWORD),
            },
        )
        .await
        .unwrap();
    (iam, done.owner)
}

async fn reset<S: Store>(store: &S, user: UserId) {
    let mut tx = store.begin().await.unwrap();
    tx.reset_throttle(user).await.unwrap();
    tx.commit().await.unwrap();
}

/// The name tried: the owner's, or a fresh name nobody has. Fresh names,
/// as an enumeration probe uses: one name tried over and over would lock
/// its throttle slot, and a locked slot (like a locked account) skips the
/// reservation's write, which the known account, reset between batches,
/// never does.
fn identifier(known: bool, probes: &mut u64) -> String {
    if known {
        return "owner".to_owned();
    }
    *probes += 1;
    format!("nobody{probes}")
}

fn bench_store<S: Store>(c: &mut Criterion, rt: &Runtime, name: &str, store: S) {
    let (iam, owner) = rt.block_on(fixture(store.clone()));
    let wrong = Password::new("not the owner's password at all");
    let mut group = c.benchmark_group(format!("log_in/{name}"));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(15));
    let mut probes = 0u64;
    for case in ["known_wrong", "unknown"] {
        group.bench_function(case, |b| {
            b.iter_custom(|iterations| {
                let mut spent = Duration::ZERO;
                let mut done = 0;
                while done < iterations {
                    rt.block_on(reset(&store, owner));
                    let batch = BATCH.min(iterations - done);
                    let start = Instant::now();
                    for _ in 0..batch {
                        let identifier = identifier(case == "known_wrong", &mut probes);
                        let refused = rt.block_on(iam.log_in(
                            black_box(&identifier),
                            black_box(&wrong),
                            ClientMetadata::default(),
                        ));
                        assert!(refused.is_err());
                    }
                    spent += start.elapsed();
                    done += batch;
                }
                spent
            });
        });
    }
    group.finish();
    if std::env::args().any(|a| a == "--bench") {
        paired(rt, name, &iam, &store, owner, &wrong);
    }
}

/// Known-wrong and unknown alternately, 100 pairs (the order flips every
/// pair): the machine's drift over the run (other load, CPU frequency)
/// hits both sides alike, which two criterion groups run one after the
/// other do not guarantee. Prints the median of each and their ratio.
fn paired<S: Store>(
    rt: &Runtime,
    name: &str,
    iam: &Iam<S>,
    store: &S,
    owner: UserId,
    wrong: &Password,
) {
    const PAIRS: usize = 100;
    let mut known = Vec::with_capacity(PAIRS);
    let mut unknown = Vec::with_capacity(PAIRS);
    let mut probes = 0u64;
    let mut time = |known: bool| {
        let identifier = identifier(known, &mut probes);
        let start = Instant::now();
        let refused = rt.block_on(iam.log_in(&identifier, wrong, ClientMetadata::default()));
        assert!(refused.is_err());
        start.elapsed()
    };
    for pair in 0..PAIRS {
        if (pair as u64).is_multiple_of(BATCH) {
            rt.block_on(reset(store, owner));
        }
        if pair % 2 == 0 {
            known.push(time(true));
            unknown.push(time(false));
        } else {
            unknown.push(time(false));
            known.push(time(true));
        }
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[PAIRS / 2], unknown[PAIRS / 2]);
    println!(
        "log_in/{name}/paired: median known-wrong {k:.2?}, unknown {u:.2?}, ratio {:.3}",
        k.as_secs_f64() / u.as_secs_f64()
    );
}

fn login_timing(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sqlite = rt.block_on(async {
        let store = SqliteStore::temporary().await.unwrap();
        store.migrate().await.unwrap();
        store
    });
    bench_store(c, &rt, "sqlite", sqlite);
    match std::env::var("IAMKIT_POSTGRES_URL") {
        Ok(url) => {
            let postgres = rt.block_on(async {
                let store = PgStore::temporary(&url).await.unwrap();
                store.migrate().await.unwrap();
                store
            });
            bench_store(c, &rt, "postgres", postgres);
        }
        Err(_) => eprintln!("IAMKIT_POSTGRES_URL is not set: PostgreSQL not benchmarked"),
    }
}

criterion_group!(benches, login_timing);
criterion_main!(benches);
