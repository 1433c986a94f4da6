//! The targeted locks of the PostgreSQL adapter, beyond the conformance
//! kit: at READ COMMITTED a repository call that reads before it writes
//! rows that do not exist yet cannot rely on row locks, so it takes a
//! transaction-scoped advisory lock. Each case holds the first transaction
//! open while the second runs: without the lock the second would not wait,
//! and the outcome below would break.

mod support;

use std::time::Duration;

use iamkit::credentials::{
    RecoveryCode, RecoveryCodeRepository, TokenConfig, TokenKind, TokenRepository,
    generate_recovery_codes, issue_token,
};
use iamkit::identity::UserId;
use iamkit::{Store, Transaction};
use iamkit_testkit::fixtures::Fixture;

/// Long enough for the second transaction to reach its lock.
const HOLD: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_issuances_for_one_subject_leave_one_live_token() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let store = support::fresh(url).await;
    let mut f = Fixture::default();
    let subject = UserId::from_uuid(uuid::Uuid::from_u128(3));
    let kind = TokenKind::PasswordReset { by_admin: false };
    let config = TokenConfig::default();
    let first = issue_token(kind, subject, &config, f.now(), f.rng());
    let second = issue_token(kind, subject, &config, f.now(), f.rng());

    let mut tx = store.begin().await.unwrap();
    tx.insert_token(first.record.clone()).await.unwrap();
    let other = store.clone();
    let record = second.record.clone();
    let racing = tokio::spawn(async move {
        let mut tx = other.begin().await.unwrap();
        tx.insert_token(record).await.unwrap();
        tx.commit().await.unwrap();
    });
    tokio::time::sleep(HOLD).await;
    assert!(!racing.is_finished(), "the second issuance waits");
    tx.commit().await.unwrap();
    racing.await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let first = tx.get_token(first.record.id).await.unwrap().unwrap();
    let second = tx.get_token(second.record.id).await.unwrap().unwrap();
    assert!(first.revoked_at.is_some(), "the later issuance revoked it");
    assert!(second.revoked_at.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replacements_of_recovery_codes_leave_the_later_set() {
    let Some(url) = support::url_or_notice() else {
        return;
    };
    let store = support::fresh(url).await;
    let mut f = Fixture::default();
    let user = UserId::from_uuid(uuid::Uuid::from_u128(4));
    let old = generate_recovery_codes(user, f.now(), f.rng());
    let one = generate_recovery_codes(user, f.now(), f.rng());
    let two = generate_recovery_codes(user, f.now(), f.rng());
    let mut tx = store.begin().await.unwrap();
    tx.replace_recovery_codes(user, old.records.clone())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    tx.replace_recovery_codes(user, one.records.clone())
        .await
        .unwrap();
    let other = store.clone();
    let records = two.records.clone();
    let racing = tokio::spawn(async move {
        let mut tx = other.begin().await.unwrap();
        tx.replace_recovery_codes(user, records).await.unwrap();
        tx.commit().await.unwrap();
    });
    tokio::time::sleep(HOLD).await;
    assert!(!racing.is_finished(), "the second replacement waits");
    tx.commit().await.unwrap();
    racing.await.unwrap();

    let digest = |code: &RecoveryCode| RecoveryCode::digest_of_input(code.expose()).unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.count_recovery_codes(user).await.unwrap(),
        u64::try_from(two.codes.len()).unwrap()
    );
    let now = f.now();
    assert!(
        !tx.consume_recovery_code(user, &digest(&one.codes[0]), now)
            .await
            .unwrap()
    );
    assert!(
        tx.consume_recovery_code(user, &digest(&two.codes[0]), now)
            .await
            .unwrap()
    );
}
