//! Credential verification costs (issue 4):
//! - password verify through iamkit vs a bare `argon2` verify, same params;
//! - API key verify (parse + SHA-256 + constant-time compare) vs a bare
//!   SHA-256 of 32 bytes;
//! - TOTP verify with the replay check.

use std::hint::black_box;

use argon2::{Algorithm, Argon2, Params, PasswordVerifier as _, Version};
use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use iamkit_credentials::{
    ApiKey, Argon2Params, NewApiKey, Password, PasswordCheck, PasswordContext, PasswordHasher,
    PasswordPolicy, PresentedSecret, SecretBytes, SecretKind, TotpConfig, TotpEnrollment,
    XChaChaSealer, totp_code,
};
use iamkit_identity::{UserId, WorkspaceId};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};

fn password_verify(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let params = Argon2Params::default();
    let hasher = PasswordHasher::new(params).unwrap();
    let typed = Password::new("glacier ferry violin");
    let new = PasswordPolicy::default()
        .check(typed.clone(), &PasswordContext::default())
        .unwrap();
    let hash = hasher.hash(&new, &mut rng).unwrap();
    let phc = hash.as_phc().to_owned();
    let bare = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(params.m_cost_kib, params.t_cost, params.p_cost, None).unwrap(),
    );
    assert!(
        bare.verify_password(b"glacier ferry violin", phc.as_str())
            .is_ok()
    );

    let mut group = c.benchmark_group("password_verify");
    group.sample_size(10);
    group.bench_function("iamkit", |b| {
        b.iter(|| {
            let check = hasher.verify(black_box(&typed), Some(black_box(&hash)));
            assert_eq!(
                check,
                PasswordCheck::Valid {
                    needs_rehash: false
                }
            );
        });
    });
    group.bench_function("bare_argon2", |b| {
        b.iter(|| {
            let parsed = argon2::PasswordHash::new(black_box(phc.as_str())).unwrap();
            assert!(
                bare.verify_password(black_box(b"glacier ferry violin"), &parsed)
                    .is_ok()
            );
        });
    });
    group.bench_function("iamkit_unknown_user", |b| {
        b.iter(|| {
            let check = hasher.verify(black_box(&typed), None);
            assert_eq!(check, PasswordCheck::Invalid);
        });
    });
    group.finish();
}

fn api_key_verify(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let new = NewApiKey {
        name: "bench".into(),
        workspace: WorkspaceId::generate(now, &mut rng),
        restriction: None,
        expires_at: None,
    };
    let (key, secret) =
        ApiKey::create(new, UserId::generate(now, &mut rng), now, &mut rng).unwrap();
    let text = secret.to_text().expose().to_owned();
    let bytes = [7u8; 32];

    let mut group = c.benchmark_group("api_key_verify");
    group.bench_function("iamkit_parse_hash_compare", |b| {
        b.iter(|| {
            let presented =
                PresentedSecret::parse_as(black_box(&text), SecretKind::ApiKey).unwrap();
            assert!(key.accepts(&presented, now));
        });
    });
    group.bench_function("bare_sha256_32_bytes", |b| {
        b.iter(|| black_box(Sha256::digest(black_box(&bytes))));
    });
    group.finish();
}

fn totp_verify(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(3);
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![5; 32])).unwrap();
    let user = UserId::generate(now, &mut rng);
    let (mut enrollment, setup) = TotpEnrollment::begin(
        user,
        "bench",
        &TotpConfig::new("iamkit"),
        &sealer,
        now,
        &mut rng,
    )
    .unwrap();
    let unix = u64::try_from(now.timestamp()).unwrap();
    let code = totp_code(&setup.secret, enrollment.algorithm, 6, 30, unix).unwrap();
    // A previous step was used: the replay check is live on every call.
    enrollment.last_step = Some(unix / 30 - 1);

    c.bench_function("totp_verify_with_replay_check", |b| {
        b.iter(|| {
            let step = enrollment
                .verify(&sealer, black_box(code.expose()), now)
                .unwrap();
            assert_eq!(step, unix / 30);
        });
    });
}

criterion_group!(benches, password_verify, api_key_verify, totp_verify);
criterion_main!(benches);
