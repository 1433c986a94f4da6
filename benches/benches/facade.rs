//! The `Iam` facade on the memory store (issue 8):
//! - `log_in` (OWASP argon2 defaults) vs a bare argon2 verify of the same
//!   PHC string, same run: the facade's own overhead (lookups, session,
//!   audit event, one commit) should stay within 5 %;
//! - `authenticate_api_key` + `is_allowed`, and `authenticate_session` +
//!   `is_allowed`: the per-request path (target ≤ 2 µs each).
//!
//! Set-up is one bootstrap (one default-cost hash) so that CI's single
//! test-mode pass stays cheap.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::Arc;

use argon2::{Argon2, PasswordVerifier as _};
use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use iamkit::credentials::{ClientMetadata, NewApiKey, Password, SecretBytes, XChaChaSealer};
use iamkit::rbac::{BuiltinRole, Scope};
use iamkit::{Actor, FirstOwner, Iam, ManualClock, NewAccount, PasswordRepository, Store};
use iamkit_store_memory::MemoryStore;
use tokio::runtime::Runtime;

const PASSWORD: &str = "glacier ferry violin harbour";

struct Fixture {
    rt: Runtime,
    iam: Iam<MemoryStore>,
    phc: String,
    session_token: String,
    api_key: String,
    org: iamkit::identity::OrgId,
    workspace: iamkit::identity::WorkspaceId,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
    let iam = Iam::builder(store.clone(), sealer)
        .clock(Arc::new(clock))
        .permission("workflows.run", &[BuiltinRole::Owner, BuiltinRole::Admin])
        .build()
        .unwrap();
    let (org, workspace, phc, session_token, api_key) = rt.block_on(async {
        let done = iam
            .bootstrap(
                &Actor::system(),
                "Acme",
                "acme",
                FirstOwner::NewUser {
                    account: NewAccount {
                        username: "owner".to_owned(),
                        email: "owner@acme.example".to_owned(),
                        first_name: "Ada".to_owned(),
                        last_name: "Owner".to_owned(),
                        language: None,
                    },
                    password: Password::new(PASSWORD),
                },
            )
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        let phc = tx
            .get_password_hash(done.owner)
            .await
            .unwrap()
            .unwrap()
            .as_phc()
            .to_owned();
        drop(tx);
        let signed = iam
            .log_in("owner", &Password::new(PASSWORD), ClientMetadata::default())
            .await
            .unwrap();
        let token = signed.token.expose().to_owned();
        let owner = iam.authenticate_session(&token).await.unwrap();
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
        (
            done.org,
            workspace,
            phc,
            token,
            key.secret.expose().to_owned(),
        )
    });
    Fixture {
        rt,
        iam,
        phc,
        session_token,
        api_key,
        org,
        workspace,
    }
}

fn facade(c: &mut Criterion) {
    let f = fixture();
    let bare = Argon2::default();
    assert!(
        bare.verify_password(
            PASSWORD.as_bytes(),
            &argon2::PasswordHash::new(&f.phc).unwrap()
        )
        .is_ok()
    );

    // Interleaved in one group so both run under the same conditions.
    let mut group = c.benchmark_group("login");
    group.sample_size(10);
    group.bench_function("iam_log_in", |b| {
        b.iter(|| {
            let signed = f.rt.block_on(f.iam.log_in(
                black_box("owner"),
                &Password::new(PASSWORD),
                ClientMetadata::default(),
            ));
            assert!(signed.is_ok());
        });
    });
    group.bench_function("bare_argon2_verify", |b| {
        b.iter(|| {
            let parsed = argon2::PasswordHash::new(black_box(&f.phc)).unwrap();
            assert!(
                bare.verify_password(black_box(PASSWORD.as_bytes()), &parsed)
                    .is_ok()
            );
        });
    });
    group.finish();

    let mut group = c.benchmark_group("per_request");
    let ws_scope = Scope::Workspace(f.org, f.workspace);
    group.bench_function("authenticate_api_key+is_allowed", |b| {
        b.iter(|| {
            f.rt.block_on(async {
                let actor = f.iam.authenticate_api_key(black_box(&f.api_key)).await;
                let actor = actor.unwrap();
                assert!(f.iam.is_allowed(&actor, "workflows.run", ws_scope).await);
            });
        });
    });
    let org_scope = Scope::Organization(f.org);
    group.bench_function("authenticate_session+is_allowed", |b| {
        b.iter(|| {
            f.rt.block_on(async {
                let actor = f
                    .iam
                    .authenticate_session(black_box(&f.session_token))
                    .await;
                let actor = actor.unwrap();
                assert!(f.iam.is_allowed(&actor, "workflows.run", org_scope).await);
            });
        });
    });
    group.finish();
}

criterion_group!(benches, facade);
criterion_main!(benches);
