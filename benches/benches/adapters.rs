//! The `Iam` facade on each shipped adapter (issue 9), in one run so the
//! figures compare:
//! - `invite_accept/<adapter>`: one invitation, delivered through the
//!   outbox and accepted (two workflows, three transactions). argon2 runs
//!   at a cheap cost here so the figure is the storage path's; the
//!   `facade` bench measures the hash at the OWASP default.
//! - `authenticate_api_key+is_allowed/<adapter>`: one request with an API
//!   key.
//! - `request_password_reset/<adapter>/{known,unknown}`: the self-service
//!   reset request for an account's address and for an unknown one; they
//!   must not differ (SECURITY.md 28).
//! - `warm_is_allowed/<adapter>`: a check with an actor authenticated for
//!   this request and a warm index: it must not touch the store, so the
//!   SQL adapters should be within 1.2× of memory.
//!
//! SQLite runs on a temporary file (WAL, `synchronous = FULL`): the
//! embedded default. PostgreSQL runs when `IAMKIT_POSTGRES_URL` is set, in
//! a schema of its own dropped afterwards.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use iamkit::credentials::{Argon2Params, NewApiKey, Password, SecretBytes, XChaChaSealer};
use iamkit::identity::{OrgId, WorkspaceId};
use iamkit::rbac::{BuiltinRole, Scope};
use iamkit::{
    Actor, Config, FirstOwner, Iam, ManualClock, MessageKind, NewAccount, Placement, Store,
};
use iamkit_store_memory::MemoryStore;
use iamkit_store_postgres::PgStore;
use iamkit_store_sqlite::SqliteStore;
use tokio::runtime::Runtime;

const PASSWORD: &str = "glacier ferry violin harbour";

struct Fixture<S: Store> {
    iam: Iam<S>,
    owner: Actor,
    org: OrgId,
    workspace: WorkspaceId,
    api_key: String,
}

fn account(name: &str) -> NewAccount {
    NewAccount {
        username: name.to_owned(),
        email: format!("{name}@acme.example"),
        first_name: "Bench".to_owned(),
        last_name: "User".to_owned(),
        language: None,
    }
}

async fn fixture<S: Store>(store: S) -> Fixture<S> {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
    let config = Config {
        argon2: Argon2Params {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        ..Config::default()
    };
    let iam = Iam::builder(store, sealer)
        .clock(Arc::new(clock))
        .config(config)
        .permission("workflows.run", &[BuiltinRole::Owner, BuiltinRole::Admin])
        .build()
        .unwrap();
    let done = iam
        .bootstrap(
            &Actor::system(),
            "Acme",
            "acme",
            FirstOwner::NewUser {
                account: account("owner"),
                password: Password::new(PASSWORD),
            },
        )
        .await
        .unwrap();
    let signed = iam
        .log_in("owner", &Password::new(PASSWORD), Default::default())
        .await
        .unwrap();
    let owner = iam
        .authenticate_session(signed.token.expose())
        .await
        .unwrap();
    let workspace = iam.create_workspace(&owner, done.org, "Ops").await.unwrap();
    let key = iam
        .create_api_key(
            &owner,
            done.org,
            NewApiKey {
                name: "bench".to_owned(),
                workspace,
                restriction: Some(BTreeSet::from(["workflows.run".to_owned()])),
                expires_at: None,
            },
        )
        .await
        .unwrap();
    Fixture {
        iam,
        owner,
        org: done.org,
        workspace,
        api_key: key.secret.expose().to_owned(),
    }
}

/// Invites a fresh user, delivers the outbox and accepts.
async fn invite_and_accept<S: Store>(f: &Fixture<S>, n: u64) {
    let invited = f
        .iam
        .invite(
            &f.owner,
            f.org,
            &account(&format!("user{n}")),
            &Placement {
                org_role: Some(BuiltinRole::Requester.id()),
                ..Placement::default()
            },
        )
        .await
        .unwrap();
    let messages = f.iam.drain_outbox(16).await.unwrap();
    let link = messages
        .iter()
        .find(|m| m.recipient == invited.user && m.kind == MessageKind::Invitation)
        .and_then(|m| m.link_secret.as_ref())
        .unwrap()
        .expose()
        .to_owned();
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    f.iam.acknowledge(&ids).await.unwrap();
    f.iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
}

fn bench_adapter<S: Store>(c: &mut Criterion, rt: &Runtime, name: &str, store: S) {
    let f = rt.block_on(fixture(store));
    let next = AtomicU64::new(0);

    let mut group = c.benchmark_group("invite_accept");
    group.throughput(criterion::Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| rt.block_on(invite_and_accept(&f, next.fetch_add(1, Ordering::Relaxed))));
    });
    group.finish();

    let ws_scope = Scope::Workspace(f.org, f.workspace);
    let mut group = c.benchmark_group("authenticate_api_key+is_allowed");
    group.bench_function(name, |b| {
        b.iter(|| {
            rt.block_on(async {
                let actor = f.iam.authenticate_api_key(black_box(&f.api_key)).await;
                assert!(
                    f.iam
                        .is_allowed(&actor.unwrap(), "workflows.run", ws_scope)
                        .await
                );
            });
        });
    });
    group.finish();

    // SECURITY.md 28: a self-service reset request for an unknown address
    // must take as long as one for an account (the lookup happens later,
    // in the delivery loop's drain).
    let reset = |email: &'static str| {
        rt.block_on(f.iam.request_password_reset(black_box(email)))
            .unwrap();
    };
    let mut group = c.benchmark_group(format!("request_password_reset/{name}"));
    group.bench_function("known", |b| {
        b.iter(|| reset("owner@acme.example"));
    });
    group.bench_function("unknown", |b| {
        b.iter(|| reset("nobody@acme.example"));
    });
    group.finish();

    let actor = rt.block_on(f.iam.authenticate_api_key(&f.api_key)).unwrap();
    // Warms the index.
    assert!(rt.block_on(f.iam.is_allowed(&actor, "workflows.run", ws_scope)));
    let mut group = c.benchmark_group("warm_is_allowed");
    group.bench_function(name, |b| {
        b.iter(|| {
            let allowed = rt.block_on(f.iam.is_allowed(
                black_box(&actor),
                black_box("workflows.run"),
                ws_scope,
            ));
            assert!(allowed);
        });
    });
    group.finish();
}

fn adapters(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    bench_adapter(c, &rt, "memory", MemoryStore::new());
    let sqlite = rt.block_on(async {
        let store = SqliteStore::temporary().await.unwrap();
        store.migrate().await.unwrap();
        store
    });
    bench_adapter(c, &rt, "sqlite", sqlite);
    match std::env::var("IAMKIT_POSTGRES_URL") {
        Ok(url) => {
            let postgres = rt.block_on(async {
                let store = PgStore::temporary(&url).await.unwrap();
                store.migrate().await.unwrap();
                store
            });
            bench_adapter(c, &rt, "postgres", postgres);
        }
        Err(_) => eprintln!("IAMKIT_POSTGRES_URL is not set: PostgreSQL not benchmarked"),
    }
}

criterion_group!(benches, adapters);
criterion_main!(benches);
