//! Conformance cases of the credentials repositories: tokens, sessions,
//! API keys, TOTP, recovery codes and throttling.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use iamkit::{Store, Transaction};
use iamkit_credentials::{
    ApiKey, ApiKeyRepository, ClientMetadata, NewApiKey, PresentedSecret, RecoveryCode,
    RecoveryCodeRepository, SealedSecret, SealingKeyId, SecretBytes, SecretKind, Session,
    SessionRepository, SessionState, ThrottleConfig, ThrottleRepository, ThrottleState,
    TokenConfig, TokenKind, TokenRepository, TotpConfig, TotpEnrollment, TotpRepository,
    XChaChaSealer, generate_recovery_codes, issue_token,
};
use iamkit_identity::{UserId, WorkspaceId};
use iamkit_store_api::ErrorKind;

use crate::fixtures::Fixture;

const RACERS: usize = 32;
/// Retries of a conflicting transaction before a case gives up.
const MAX_RETRIES: usize = 1000;

fn user(f: &mut Fixture) -> UserId {
    let now = f.now();
    UserId::generate(now, f.rng())
}

fn issue(f: &mut Fixture, kind: TokenKind, subject: UserId) -> iamkit_credentials::IssuedToken {
    let now = f.now();
    issue_token(kind, subject, &TokenConfig::default(), now, f.rng())
}

async fn insert_tokens<S: Store>(store: &S, tokens: &[&iamkit_credentials::TokenRecord]) {
    let mut tx = store.begin().await.expect("begin");
    for t in tokens {
        tx.insert_token((*t).clone()).await.expect("insert token");
    }
    tx.commit().await.expect("commit");
}

/// A token reads back equal; `consume_token` succeeds once, records
/// `consumed_at`, and refuses every later attempt.
pub async fn token_round_trip_and_single_use<S: Store>(store: S) {
    let mut f = Fixture::default();
    let subject = user(&mut f);
    let issued = issue(&mut f, TokenKind::Invite, subject);
    insert_tokens(&store, &[&issued.record]).await;
    let now = f.now() + Duration::minutes(5);
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.get_token(issued.record.id).await.expect("get"),
        Some(issued.record.clone())
    );
    let consumed = tx
        .consume_token(&issued.secret, now)
        .await
        .expect("consume")
        .expect("first use succeeds");
    assert_eq!(consumed.consumed_at, Some(now));
    assert_eq!(consumed.subject, subject);
    assert_eq!(
        tx.consume_token(&issued.secret, now)
            .await
            .expect("consume"),
        None
    );
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    let stored = tx
        .get_token(issued.record.id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(stored.consumed_at, Some(now));
    assert_eq!(
        tx.consume_token(&issued.secret, now)
            .await
            .expect("consume"),
        None
    );
}

/// `tokens_id` is unique and a failed insert changes nothing.
pub async fn token_id_is_unique<S: Store>(store: S) {
    let mut f = Fixture::default();
    let subject = user(&mut f);
    let issued = issue(&mut f, TokenKind::EmailVerification, subject);
    insert_tokens(&store, &[&issued.record]).await;
    let mut tx = store.begin().await.expect("begin");
    let mut twin = issue(&mut f, TokenKind::EmailVerification, subject).record;
    twin.id = issued.record.id;
    let err = tx.insert_token(twin).await.expect_err("duplicate id");
    assert_eq!(
        err.kind(),
        &ErrorKind::UniqueViolation {
            constraint: "tokens_id".into()
        }
    );
    assert_eq!(
        tx.get_token(issued.record.id).await.expect("get"),
        Some(issued.record.clone()),
        "the failed insert neither replaced nor revoked the original"
    );
}

/// Unknown, wrong-kind, wrong-secret, expired and revoked tokens are all
/// refused with the same `None`, and refusing changes nothing.
pub async fn consume_refuses_invalid_tokens_alike<S: Store>(store: S) {
    let mut f = Fixture::default();
    let subject = user(&mut f);
    let reset = issue(
        &mut f,
        TokenKind::PasswordReset { by_admin: false },
        subject,
    );
    insert_tokens(&store, &[&reset.record]).await;
    let now = f.now();
    let text = reset.secret.to_text();

    let unknown = issue(
        &mut f,
        TokenKind::PasswordReset { by_admin: false },
        subject,
    );
    let relabelled =
        PresentedSecret::parse(&text.expose().replacen("_rst_", "_inv_", 1)).expect("parses");
    let other_secret = PresentedSecret::generate(
        SecretKind::PasswordReset,
        reset.record.id.as_uuid(),
        f.rng(),
    );
    let mut tx = store.begin().await.expect("begin");
    for (what, presented, at) in [
        ("unknown id", &unknown.secret, now),
        ("wrong kind", &relabelled, now),
        ("wrong secret", &other_secret, now),
        ("expired", &reset.secret, now + Duration::hours(1)),
    ] {
        assert_eq!(
            tx.consume_token(presented, at).await.expect("consume"),
            None,
            "{what} is refused"
        );
    }
    assert_eq!(
        tx.get_token(reset.record.id).await.expect("get"),
        Some(reset.record.clone()),
        "refusals changed nothing"
    );
    assert!(
        tx.consume_token(&reset.secret, now + Duration::minutes(59))
            .await
            .expect("consume")
            .is_some(),
        "the genuine token still works before expiry"
    );
    drop(tx);

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.revoke_tokens_of(subject, now).await.expect("revoke"), 1);
    assert_eq!(
        tx.consume_token(&reset.secret, now).await.expect("consume"),
        None,
        "revoked is refused"
    );
}

/// Issuing a token revokes the subject's earlier unused tokens of the same
/// kind (both reset flavours count as one kind), and nothing else.
pub async fn issuing_a_token_revokes_earlier_unused_ones_of_that_kind<S: Store>(store: S) {
    let mut f = Fixture::default();
    let subject = user(&mut f);
    let other = user(&mut f);
    let self_reset = issue(
        &mut f,
        TokenKind::PasswordReset { by_admin: false },
        subject,
    );
    let used_reset = issue(
        &mut f,
        TokenKind::PasswordReset { by_admin: false },
        subject,
    );
    let verification = issue(&mut f, TokenKind::EmailVerification, subject);
    let others_reset = issue(&mut f, TokenKind::PasswordReset { by_admin: false }, other);
    insert_tokens(&store, &[&used_reset.record]).await;
    let mut tx = store.begin().await.expect("begin");
    tx.consume_token(&used_reset.secret, f.now())
        .await
        .expect("consume")
        .expect("consumed");
    tx.commit().await.expect("commit");
    insert_tokens(
        &store,
        &[
            &self_reset.record,
            &verification.record,
            &others_reset.record,
        ],
    )
    .await;

    let admin_reset = issue(&mut f, TokenKind::PasswordReset { by_admin: true }, subject);
    insert_tokens(&store, &[&admin_reset.record]).await;

    let mut tx = store.begin().await.expect("begin");
    let get = |t: &iamkit_credentials::TokenRecord| t.id;
    let revoked = tx
        .get_token(get(&self_reset.record))
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(revoked.revoked_at, Some(admin_reset.record.created_at));
    let used = tx
        .get_token(get(&used_reset.record))
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(used.revoked_at, None, "a consumed token stays as it was");
    for untouched in [
        &verification.record,
        &others_reset.record,
        &admin_reset.record,
    ] {
        assert_eq!(
            tx.get_token(untouched.id).await.expect("get").as_ref(),
            Some(untouched),
            "other kinds, other subjects and the new token are untouched"
        );
    }
    assert_eq!(
        tx.consume_token(&self_reset.secret, f.now())
            .await
            .expect("consume"),
        None
    );
    assert!(
        tx.consume_token(&admin_reset.secret, f.now())
            .await
            .expect("consume")
            .is_some()
    );
}

/// `revoke_tokens_of` revokes every pending token of the subject, of all
/// kinds, and counts them; consumed tokens and other subjects are untouched.
pub async fn revoke_tokens_of_invalidates_pending_links<S: Store>(store: S) {
    let mut f = Fixture::default();
    let subject = user(&mut f);
    let other = user(&mut f);
    let invite = issue(&mut f, TokenKind::Invite, subject);
    let reset = issue(&mut f, TokenKind::PasswordReset { by_admin: true }, subject);
    let verify = issue(&mut f, TokenKind::EmailVerification, subject);
    let foreign = issue(&mut f, TokenKind::Invite, other);
    insert_tokens(
        &store,
        &[
            &invite.record,
            &reset.record,
            &verify.record,
            &foreign.record,
        ],
    )
    .await;
    let mut tx = store.begin().await.expect("begin");
    tx.consume_token(&verify.secret, f.now())
        .await
        .expect("consume")
        .expect("consumed");
    let later = f.now() + Duration::minutes(1);
    assert_eq!(
        tx.revoke_tokens_of(subject, later).await.expect("revoke"),
        2
    );
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    for t in [&invite, &reset] {
        let stored = tx.get_token(t.record.id).await.expect("get").expect("kept");
        assert_eq!(stored.revoked_at, Some(later));
        assert_eq!(
            tx.consume_token(&t.secret, later).await.expect("consume"),
            None
        );
    }
    let consumed = tx
        .get_token(verify.record.id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(consumed.revoked_at, None);
    assert!(
        tx.consume_token(&foreign.secret, later)
            .await
            .expect("consume")
            .is_some()
    );
}

/// 32 concurrent redemptions of one token: exactly one succeeds
/// (SECURITY.md 4).
pub async fn concurrent_consumes_of_one_token_one_wins<S: Store>(store: S) {
    let mut f = Fixture::default();
    let subject = user(&mut f);
    let issued = issue(&mut f, TokenKind::PasswordReset { by_admin: true }, subject);
    insert_tokens(&store, &[&issued.record]).await;
    let text = Arc::new(issued.secret.to_text());
    let now = f.now();
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        let text = Arc::clone(&text);
        tasks.push(tokio::spawn(async move {
            let presented = PresentedSecret::parse(text.expose()).expect("parses");
            barrier.wait().await;
            let mut tx = store.begin().await?;
            let won = tx.consume_token(&presented, now).await?;
            tx.commit().await?;
            Ok::<_, iamkit_store_api::StoreError>(won.is_some())
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(true) => wins += 1,
            Ok(false) => {}
            Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict, "losers may only conflict"),
        }
    }
    assert_eq!(wins, 1, "exactly one of {RACERS} redemptions succeeds");
}

/// A consume in a transaction that is dropped is undone.
pub async fn dropped_consume_is_rolled_back<S: Store>(store: S) {
    let mut f = Fixture::default();
    let subject = user(&mut f);
    let issued = issue(&mut f, TokenKind::Invite, subject);
    insert_tokens(&store, &[&issued.record]).await;
    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.consume_token(&issued.secret, f.now())
            .await
            .expect("consume")
            .is_some()
    );
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.consume_token(&issued.secret, f.now())
            .await
            .expect("consume")
            .is_some(),
        "the rolled-back consume left the token unused"
    );
}

pub(crate) fn session(
    f: &mut Fixture,
    user: UserId,
    state: SessionState,
    at: DateTime<Utc>,
) -> Session {
    let client = ClientMetadata {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("conformance".into()),
    };
    Session::start(user, None, state, client, at, f.rng()).0
}

/// Sessions: round trip, unique id, touch, MFA completion, revoke one, revoke
/// all but the current one, listing newest first.
pub async fn sessions_contract<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = user(&mut f);
    let bob = user(&mut f);
    let t = f.now();
    let s1 = session(&mut f, alice, SessionState::Full, t);
    let s2 = session(
        &mut f,
        alice,
        SessionState::MfaPending,
        t + Duration::seconds(1),
    );
    let s3 = session(&mut f, alice, SessionState::Full, t + Duration::seconds(2));
    let bobs = session(&mut f, bob, SessionState::Full, t);
    let mut tx = store.begin().await.expect("begin");
    for s in [&s1, &s2, &s3, &bobs] {
        tx.insert_session(s.clone()).await.expect("insert session");
    }
    let err = tx.insert_session(s1.clone()).await.expect_err("duplicate");
    assert_eq!(
        err.kind(),
        &ErrorKind::UniqueViolation {
            constraint: "sessions_id".into()
        }
    );
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.get_session(s1.id).await.expect("get"), Some(s1.clone()));
    let ids: Vec<_> = tx
        .list_sessions_of(alice)
        .await
        .expect("list")
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, vec![s3.id, s2.id, s1.id], "newest first, only alice's");

    let later = t + Duration::minutes(10);
    assert!(tx.touch_session(s1.id, later).await.expect("touch"));
    assert_eq!(
        tx.get_session(s1.id)
            .await
            .expect("get")
            .expect("kept")
            .last_seen_at,
        later
    );
    assert!(tx.complete_session_mfa(s2.id, later).await.expect("mfa"));
    assert_eq!(
        tx.get_session(s2.id)
            .await
            .expect("get")
            .expect("kept")
            .state,
        SessionState::Full
    );
    assert!(
        !tx.complete_session_mfa(s2.id, later).await.expect("mfa"),
        "already full"
    );

    assert!(tx.revoke_session(s3.id, later).await.expect("revoke"));
    assert!(
        !tx.revoke_session(s3.id, later).await.expect("revoke"),
        "once"
    );
    assert!(
        !tx.touch_session(s3.id, later).await.expect("touch"),
        "no revival"
    );
    assert!(
        !tx.complete_session_mfa(s3.id, later).await.expect("mfa"),
        "a revoked session stays revoked"
    );
    let revoked = tx.get_session(s3.id).await.expect("get").expect("kept");
    assert_eq!(revoked.revoked_at, Some(later));
    assert!(revoked.last_seen_at < later);

    // Password change: all but the current one (SECURITY.md 21).
    assert_eq!(
        tx.revoke_sessions_of(alice, Some(s1.id), later)
            .await
            .expect("revoke"),
        1
    );
    let remaining: Vec<_> = tx
        .list_sessions_of(alice)
        .await
        .expect("list")
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(remaining, vec![s1.id]);
    // Password reset / deactivation: all.
    assert_eq!(
        tx.revoke_sessions_of(alice, None, later)
            .await
            .expect("revoke"),
        1
    );
    assert!(tx.list_sessions_of(alice).await.expect("list").is_empty());
    assert_eq!(
        tx.get_session(bobs.id).await.expect("get"),
        Some(bobs.clone()),
        "other users' sessions untouched"
    );
}

pub(crate) fn api_key(
    f: &mut Fixture,
    creator: UserId,
    workspace: WorkspaceId,
    name: &str,
    now: DateTime<Utc>,
) -> ApiKey {
    let new = NewApiKey {
        name: name.into(),
        workspace,
        restriction: Some(BTreeSet::from(["workflows.run".to_owned()])),
        expires_at: None,
    };
    ApiKey::create(new, creator, now, f.rng())
        .expect("valid key")
        .0
}

/// API keys: round trip, unique id, touch, revoke one, revoke all of a
/// creator, list by workspace.
pub async fn api_keys_contract<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = user(&mut f);
    let bob = user(&mut f);
    let now = f.now();
    let ws = WorkspaceId::generate(now, f.rng());
    let other_ws = WorkspaceId::generate(now, f.rng());
    let k1 = api_key(&mut f, alice, ws, "one", now);
    let k2 = api_key(&mut f, alice, other_ws, "two", now);
    let k3 = api_key(&mut f, bob, ws, "three", now + Duration::seconds(1));
    let mut tx = store.begin().await.expect("begin");
    for k in [&k1, &k2, &k3] {
        tx.insert_api_key(k.clone()).await.expect("insert key");
    }
    let err = tx.insert_api_key(k1.clone()).await.expect_err("duplicate");
    assert_eq!(
        err.kind(),
        &ErrorKind::UniqueViolation {
            constraint: "api_keys_id".into()
        }
    );
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.get_api_key(k1.id).await.expect("get"), Some(k1.clone()));
    let listed: Vec<_> = tx
        .list_api_keys(ws)
        .await
        .expect("list")
        .iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(
        listed,
        vec![k1.id, k3.id],
        "oldest first, only this workspace"
    );
    let later = now + Duration::minutes(3);
    assert!(tx.touch_api_key(k1.id, later).await.expect("touch"));
    assert_eq!(
        tx.get_api_key(k1.id)
            .await
            .expect("get")
            .expect("kept")
            .last_used_at,
        Some(later)
    );
    assert!(tx.revoke_api_key(k1.id, later).await.expect("revoke"));
    assert!(
        !tx.revoke_api_key(k1.id, later + Duration::minutes(1))
            .await
            .expect("revoke")
    );
    assert_eq!(
        tx.get_api_key(k1.id)
            .await
            .expect("get")
            .expect("kept")
            .revoked_at,
        Some(later),
        "first revocation time kept"
    );
    assert!(!tx.touch_api_key(k1.id, later).await.expect("touch"));
    assert_eq!(
        tx.revoke_api_keys_of(alice, later).await.expect("revoke"),
        1,
        "only k2 was still active"
    );
    assert!(
        tx.get_api_key(k2.id)
            .await
            .expect("get")
            .expect("kept")
            .revoked_at
            .is_some()
    );
    assert_eq!(tx.get_api_key(k3.id).await.expect("get"), Some(k3.clone()));
}

pub(crate) fn enrollment(f: &mut Fixture, user: UserId) -> TotpEnrollment {
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![3; 32])).expect("key");
    let now = f.now();
    TotpEnrollment::begin(
        user,
        "conformance",
        &TotpConfig::new("iamkit"),
        &sealer,
        now,
        f.rng(),
    )
    .expect("enrolment")
    .0
}

/// TOTP: a pending enrolment can be replaced; confirmation records the
/// enrolment step; later steps are accepted once, earlier ones never; a
/// confirmed enrolment is not replaced; delete removes it.
pub async fn totp_contract<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = user(&mut f);
    let first = enrollment(&mut f, alice);
    let second = enrollment(&mut f, alice);
    let now = f.now();
    let mut tx = store.begin().await.expect("begin");
    assert!(
        !tx.accept_totp_step(alice, 10).await.expect("accept"),
        "nothing enrolled"
    );
    tx.insert_totp(first.clone()).await.expect("insert");
    tx.insert_totp(second.clone())
        .await
        .expect("a pending one is replaced");
    assert_eq!(tx.get_totp(alice).await.expect("get"), Some(second.clone()));
    assert!(
        !tx.accept_totp_step(alice, 10).await.expect("accept"),
        "pending enrolments accept no login code"
    );
    assert!(tx.confirm_totp(alice, 100, now).await.expect("confirm"));
    assert!(
        !tx.confirm_totp(alice, 101, now).await.expect("confirm"),
        "once"
    );
    let confirmed = tx.get_totp(alice).await.expect("get").expect("kept");
    assert_eq!(confirmed.confirmed_at, Some(now));
    assert_eq!(confirmed.last_step, Some(100));
    assert!(
        !tx.accept_totp_step(alice, 100).await.expect("accept"),
        "the enrolment code is used"
    );
    assert!(!tx.accept_totp_step(alice, 99).await.expect("accept"));
    assert!(tx.accept_totp_step(alice, 101).await.expect("accept"));
    assert!(
        !tx.accept_totp_step(alice, 101).await.expect("accept"),
        "replay"
    );
    assert_eq!(
        tx.get_totp(alice)
            .await
            .expect("get")
            .expect("kept")
            .last_step,
        Some(101)
    );
    let err = tx
        .insert_totp(enrollment(&mut f, alice))
        .await
        .expect_err("confirmed");
    assert_eq!(err.kind(), &ErrorKind::Conflict);
    assert_eq!(
        tx.get_totp(alice)
            .await
            .expect("get")
            .expect("kept")
            .last_step,
        Some(101),
        "the failed insert changed nothing"
    );
    assert!(tx.delete_totp(alice).await.expect("delete"));
    assert!(!tx.delete_totp(alice).await.expect("delete"));
    assert_eq!(tx.get_totp(alice).await.expect("get"), None);
}

/// 32 concurrent acceptances of one TOTP step: exactly one succeeds.
pub async fn concurrent_accepts_of_one_totp_step_one_wins<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = user(&mut f);
    let mut tx = store.begin().await.expect("begin");
    tx.insert_totp(enrollment(&mut f, alice))
        .await
        .expect("insert");
    assert!(tx.confirm_totp(alice, 1, f.now()).await.expect("confirm"));
    tx.commit().await.expect("commit");
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut tx = store.begin().await?;
            let won = tx.accept_totp_step(alice, 2).await?;
            tx.commit().await?;
            Ok::<_, iamkit_store_api::StoreError>(won)
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(true) => wins += 1,
            Ok(false) => {}
            Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict),
        }
    }
    assert_eq!(wins, 1, "one code, one login");
}

/// 32 concurrent confirmations of one pending enrolment: exactly one
/// confirms it, and the step it recorded is the one stored (SECURITY.md 14:
/// the enrolment code counts as used).
pub async fn concurrent_confirms_of_one_enrolment_one_wins<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = user(&mut f);
    let mut tx = store.begin().await.expect("begin");
    tx.insert_totp(enrollment(&mut f, alice))
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
    let now = f.now();
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS as u64 {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut tx = store.begin().await?;
            let won = tx.confirm_totp(alice, 100 + i, now).await?;
            tx.commit().await?;
            Ok::<_, iamkit_store_api::StoreError>(won.then_some(100 + i))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(Some(step)) => winners.push(step),
            Ok(None) => {}
            Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict),
        }
    }
    assert_eq!(winners.len(), 1, "one enrolment, one confirmation");
    let mut tx = store.begin().await.expect("begin");
    let stored = tx.get_totp(alice).await.expect("get").expect("kept");
    assert_eq!(stored.confirmed_at, Some(now));
    assert_eq!(stored.last_step, winners.first().copied());
}

/// Bytes that name `key` as their sealing key (the store does not open
/// them, so any body will do).
pub(crate) fn sealed_under(key: SealingKeyId, filler: u8) -> SealedSecret {
    let mut bytes = SealedSecret::header(key).to_vec();
    bytes.extend_from_slice(&[filler; 44]);
    SealedSecret::from_bytes(bytes)
}

/// Bytes of a value sealed before key ids existed: no header.
pub(crate) fn sealed_without_key_id(filler: u8) -> SealedSecret {
    let sealed = SealedSecret::from_bytes(vec![filler; 60]);
    assert_eq!(sealed.key_id(), None, "the filler must not spell a header");
    sealed
}

/// Resealing TOTP secrets: `list_totp_to_reseal` returns the enrolments,
/// pending and confirmed, whose secret is not under the key (also those
/// sealed before key ids), in user order, each once across pages;
/// `replace_sealed_totp` replaces only the expected value, keeps the rest
/// of the enrolment, and rolls back with its transaction.
pub async fn totp_reseal_contract<S: Store>(store: S) {
    let mut f = Fixture::new(61);
    let (old, new) = (SealingKeyId::new(1), SealingKeyId::new(2));
    let now = f.now();
    let mut enrolments = Vec::new();
    for i in 0..7u8 {
        let owner = user(&mut f);
        let mut e = enrollment(&mut f, owner);
        e.sealed_secret = match i {
            0 | 3 => sealed_under(new, i),
            5 => sealed_without_key_id(0x50 + i),
            _ => sealed_under(old, i),
        };
        enrolments.push(e);
    }
    let mut tx = store.begin().await.expect("begin");
    for (i, e) in enrolments.iter_mut().enumerate() {
        tx.insert_totp(e.clone()).await.expect("insert");
        // Some confirmed and used, the others pending.
        if i % 2 == 0 {
            assert!(
                tx.confirm_totp(e.user, 40 + i as u64, now)
                    .await
                    .expect("confirm")
            );
            e.confirmed_at = Some(now);
            e.last_step = Some(40 + i as u64);
        }
    }
    tx.commit().await.expect("commit");
    enrolments.sort_by_key(|e| e.user);
    let outside = |key: SealingKeyId| -> Vec<TotpEnrollment> {
        enrolments
            .iter()
            .filter(|e| !e.sealed_secret.is_under(key))
            .cloned()
            .collect()
    };

    let mut tx = store.begin().await.expect("begin");
    let listed = tx.list_totp_to_reseal(new, None, 100).await.expect("list");
    assert_eq!(
        listed,
        outside(new),
        "old and key-less values, in user order"
    );
    assert_eq!(listed.len(), 5);
    assert_eq!(
        tx.list_totp_to_reseal(old, None, 100).await.expect("list"),
        outside(old)
    );
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = tx.list_totp_to_reseal(new, after, 2).await.expect("list");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.user);
        paged.extend(page);
    }
    assert_eq!(paged, listed, "pages visit each once");
    assert!(
        tx.list_totp_to_reseal(new, None, 0)
            .await
            .expect("list")
            .is_empty()
    );

    // A stale expected value (re-enrolled meanwhile) changes nothing.
    let pending = listed
        .iter()
        .find(|e| e.confirmed_at.is_none())
        .expect("a pending one")
        .clone();
    let confirmed = listed
        .iter()
        .find(|e| e.confirmed_at.is_some())
        .expect("a confirmed one")
        .clone();
    let stale = sealed_under(old, 0xee);
    assert!(
        !tx.replace_sealed_totp(pending.user, &stale, &sealed_under(new, 0xaa))
            .await
            .expect("replace")
    );
    assert_eq!(
        tx.get_totp(pending.user).await.expect("get"),
        Some(pending.clone())
    );
    assert!(
        !tx.replace_sealed_totp(user(&mut f), &stale, &sealed_under(new, 0xaa))
            .await
            .expect("replace"),
        "nobody enrolled"
    );
    for e in [&pending, &confirmed] {
        let resealed = sealed_under(new, 0xa0);
        assert!(
            tx.replace_sealed_totp(e.user, &e.sealed_secret, &resealed)
                .await
                .expect("replace")
        );
        let stored = tx.get_totp(e.user).await.expect("get").expect("kept");
        assert_eq!(
            stored,
            TotpEnrollment {
                sealed_secret: resealed,
                ..e.clone()
            },
            "only the sealed secret changed"
        );
        assert!(
            !tx.replace_sealed_totp(e.user, &e.sealed_secret, &sealed_under(new, 0xa1))
                .await
                .expect("replace"),
            "replaced once"
        );
    }
    assert_eq!(
        tx.list_totp_to_reseal(new, None, 100)
            .await
            .expect("list")
            .len(),
        3
    );
    tx.commit().await.expect("commit");

    // A replacement rolled back leaves the old value.
    let left = outside(new)
        .into_iter()
        .find(|e| e.user != pending.user && e.user != confirmed.user)
        .expect("one left");
    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.replace_sealed_totp(left.user, &left.sealed_secret, &sealed_under(new, 0xbb))
            .await
            .expect("replace")
    );
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.get_totp(left.user).await.expect("get"), Some(left));
    assert_eq!(
        tx.list_totp_to_reseal(new, None, 100)
            .await
            .expect("list")
            .len(),
        3
    );
}

/// 32 concurrent replacements of one sealed TOTP secret, each expecting
/// the stored value: exactly one replaces it, and its value is stored.
pub async fn concurrent_reseals_of_one_totp_secret_one_wins<S: Store>(store: S) {
    let mut f = Fixture::new(62);
    let alice = user(&mut f);
    let mut e = enrollment(&mut f, alice);
    e.sealed_secret = sealed_under(SealingKeyId::new(1), 1);
    let expected = e.sealed_secret.clone();
    let mut tx = store.begin().await.expect("begin");
    tx.insert_totp(e).await.expect("insert");
    tx.commit().await.expect("commit");
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        let expected = expected.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let resealed = sealed_under(SealingKeyId::new(2), i as u8);
            let mut tx = store.begin().await?;
            let won = tx.replace_sealed_totp(alice, &expected, &resealed).await?;
            tx.commit().await?;
            Ok::<_, iamkit_store_api::StoreError>(won.then_some(resealed))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(Some(value)) => winners.push(value),
            Ok(None) => {}
            Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict),
        }
    }
    assert_eq!(winners.len(), 1, "one value, one replacement");
    let mut tx = store.begin().await.expect("begin");
    let stored = tx.get_totp(alice).await.expect("get").expect("kept");
    assert_eq!(Some(&stored.sealed_secret), winners.first());
}

/// Recovery codes: each is consumable once; regenerating replaces every
/// earlier code; codes are per user; delete removes them.
pub async fn recovery_codes_contract<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = user(&mut f);
    let bob = user(&mut f);
    let now = f.now();
    let set = generate_recovery_codes(alice, now, f.rng());
    let bobs = generate_recovery_codes(bob, now, f.rng());
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.count_recovery_codes(alice).await.expect("count"), 0);
    tx.replace_recovery_codes(alice, set.records.clone())
        .await
        .expect("replace");
    tx.replace_recovery_codes(bob, bobs.records.clone())
        .await
        .expect("replace");
    assert_eq!(tx.count_recovery_codes(alice).await.expect("count"), 10);
    let digest = |c: &RecoveryCode| c.digest().expect("a generated code is valid");
    assert!(
        tx.consume_recovery_code(alice, &digest(&set.codes[0]), now)
            .await
            .expect("consume")
    );
    assert!(
        !tx.consume_recovery_code(alice, &digest(&set.codes[0]), now)
            .await
            .expect("consume"),
        "once"
    );
    assert!(
        !tx.consume_recovery_code(alice, &digest(&bobs.codes[1]), now)
            .await
            .expect("consume"),
        "another user's code"
    );
    assert_eq!(tx.count_recovery_codes(alice).await.expect("count"), 9);

    let fresh = generate_recovery_codes(alice, now, f.rng());
    tx.replace_recovery_codes(alice, fresh.records.clone())
        .await
        .expect("replace");
    assert_eq!(tx.count_recovery_codes(alice).await.expect("count"), 10);
    assert!(
        !tx.consume_recovery_code(alice, &digest(&set.codes[1]), now)
            .await
            .expect("consume"),
        "regenerating invalidated the old set"
    );
    assert!(
        tx.consume_recovery_code(alice, &digest(&fresh.codes[1]), now)
            .await
            .expect("consume")
    );
    tx.delete_recovery_codes(alice).await.expect("delete");
    assert_eq!(tx.count_recovery_codes(alice).await.expect("count"), 0);
    assert_eq!(tx.count_recovery_codes(bob).await.expect("count"), 10);
}

/// 32 concurrent uses of one recovery code: exactly one succeeds
/// (SECURITY.md 16).
pub async fn concurrent_consumes_of_one_recovery_code_one_wins<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = user(&mut f);
    let now = f.now();
    let set = generate_recovery_codes(alice, now, f.rng());
    let mut tx = store.begin().await.expect("begin");
    tx.replace_recovery_codes(alice, set.records.clone())
        .await
        .expect("replace");
    tx.commit().await.expect("commit");
    let typed = Arc::new(set.codes[3].expose().to_uppercase());
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        let typed = Arc::clone(&typed);
        tasks.push(tokio::spawn(async move {
            let digest = RecoveryCode::digest_of_input(&typed).expect("valid");
            barrier.wait().await;
            let mut tx = store.begin().await?;
            let won = tx.consume_recovery_code(alice, &digest, now).await?;
            tx.commit().await?;
            Ok::<_, iamkit_store_api::StoreError>(won)
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(true) => wins += 1,
            Ok(false) => {}
            Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict),
        }
    }
    assert_eq!(wins, 1, "exactly one of {RACERS} uses succeeds");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.count_recovery_codes(alice).await.expect("count"), 9);
}

/// Throttle: default record, counting with lockout, reset on success.
pub async fn throttle_contract<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = user(&mut f);
    let bob = user(&mut f);
    let now = f.now();
    let config = ThrottleConfig::new(3, Duration::minutes(15), Duration::hours(1)).expect("valid");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.get_throttle(alice).await.expect("get"),
        ThrottleState::default()
    );
    for n in 1..=2 {
        let s = tx
            .record_throttle_failure(alice, &config, now)
            .await
            .expect("record");
        assert_eq!(s.failures, n);
        assert!(s.check(now).is_ok());
    }
    let locked = tx
        .record_throttle_failure(alice, &config, now)
        .await
        .expect("record");
    assert_eq!(locked.locked_until, Some(now + Duration::minutes(15)));
    assert_eq!(tx.get_throttle(alice).await.expect("get"), locked);
    assert_eq!(
        tx.get_throttle(bob).await.expect("get"),
        ThrottleState::default()
    );
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.get_throttle(alice).await.expect("get"),
        locked,
        "durable"
    );
    tx.reset_throttle(alice).await.expect("reset");
    assert_eq!(
        tx.get_throttle(alice).await.expect("get"),
        ThrottleState::default()
    );
}

/// 32 concurrent failed attempts are counted as 32 (SECURITY.md 11,
/// Zitadel CVE-2023-47111).
pub async fn concurrent_failures_are_all_counted<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = user(&mut f);
    let now = f.now();
    let config = ThrottleConfig::default();
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            // Retry on conflict: every attempt must end up counted. Bounded,
            // so an adapter that always conflicts fails the case instead of
            // hanging it.
            for _ in 0..MAX_RETRIES {
                let mut tx = store.begin().await.expect("begin");
                let counted = tx.record_throttle_failure(alice, &config, now).await;
                match counted {
                    Ok(_) => match tx.commit().await {
                        Ok(()) => return,
                        Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict),
                    },
                    Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict),
                }
            }
            panic!("a failed attempt was still not counted after {MAX_RETRIES} conflicts");
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let mut tx = store.begin().await.expect("begin");
    let state = tx.get_throttle(alice).await.expect("get");
    assert_eq!(state.failures, RACERS as u32);
    assert!(state.check(now).is_err(), "32 failures lock the account");
}

/// SECURITY.md 38: reservations limit evaluations. Of 32 concurrent
/// reservations on a fresh user with a limit of 10, exactly 10 succeed
/// (the tenth locks), the rest are refused and change nothing; a reset
/// (a right guess) makes room again; a locked user stays locked.
pub async fn concurrent_reservations_stop_at_the_limit<S: Store>(store: S) {
    let mut f = Fixture::default();
    let alice = user(&mut f);
    let now = f.now();
    let config = ThrottleConfig::default();
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            // Retry on conflict: a conflicted reservation was not made.
            for _ in 0..MAX_RETRIES {
                let mut tx = store.begin().await.expect("begin");
                match tx.reserve_attempt(alice, &config, now).await {
                    Ok(reserved) => match tx.commit().await {
                        Ok(()) => return reserved.is_some(),
                        Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict),
                    },
                    Err(e) => assert_eq!(e.kind(), &ErrorKind::Conflict),
                }
            }
            panic!("a reservation still conflicted after {MAX_RETRIES} tries");
        }));
    }
    let mut granted = 0;
    for task in tasks {
        if task.await.expect("task") {
            granted += 1;
        }
    }
    assert_eq!(granted, config.max_failures(), "one lock period's worth");
    let mut tx = store.begin().await.expect("begin");
    let state = tx.get_throttle(alice).await.expect("get");
    assert_eq!(state.failures, config.max_failures());
    assert!(state.check(now).is_err(), "the tenth reservation locks");
    assert_eq!(
        tx.reserve_attempt(alice, &config, now)
            .await
            .expect("reserve"),
        None,
        "refused while locked"
    );
    assert_eq!(
        tx.get_throttle(alice).await.expect("get"),
        state,
        "a refusal changes nothing"
    );
    let later = state.locked_until.expect("locked") + Duration::seconds(1);
    let next = tx
        .reserve_attempt(alice, &config, later)
        .await
        .expect("reserve")
        .expect("granted once the lock ends");
    assert_eq!(next.failures, config.max_failures() + 1);
    tx.reset_throttle(alice).await.expect("reset");
    assert!(
        tx.reserve_attempt(alice, &config, now)
            .await
            .expect("reserve")
            .is_some()
    );
}
