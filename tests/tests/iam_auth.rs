//! Authentication and self-service through the `Iam` facade: log in,
//! second factor, 2FA management, passwords, email verification, sessions,
//! the per-request API (SECURITY.md 10–12, 17–19, 21, 22, 28, 29).

mod common;

use std::time::Instant;

use chrono::Duration;
use common::*;
use iamkit::audit::{Action, SignInFailure, SignInMethod};
use iamkit::credentials::{
    ClientMetadata, Password, ThrottleRepository, TotpAlgorithm, TotpSetup, totp_code,
};
use iamkit::identity::UserId;
use iamkit::rbac::{BuiltinRole, Scope};
use iamkit::{Actor, Conflict, Error, Iam, MessageKind, SignedIn, Store, Transaction};
use iamkit_store_memory::MemoryStore;

fn no_client() -> ClientMetadata {
    ClientMetadata::default()
}

async fn log_in(w: &World, who: &str, password: &str) -> Result<SignedIn, Error> {
    w.iam
        .log_in(who, &Password::new(password), no_client())
        .await
}

/// The code an authenticator app shows now for `setup`.
fn code_now(w: &World, setup: &TotpSetup) -> String {
    code_at(setup, w.clock_now().timestamp())
}

fn code_at(setup: &TotpSetup, unix: i64) -> String {
    totp_code(&setup.secret, TotpAlgorithm::Sha1, 6, 30, unix as u64)
        .unwrap()
        .expose()
        .to_owned()
}

/// A member with 2FA on: returns the setup and the recovery codes.
async fn with_totp(w: &World, actor: &Actor) -> (TotpSetup, Vec<String>) {
    let setup = w.iam.begin_totp_enrolment(actor).await.unwrap();
    let codes = w
        .iam
        .confirm_totp_enrolment(actor, &code_now(w, &setup))
        .await
        .unwrap();
    // The enrolment code's step is used up: move to the next one.
    w.clock.advance(Duration::seconds(30));
    (setup, codes.iter().map(|c| c.expose().to_owned()).collect())
}

async fn sign_in_failures(store: &MemoryStore, w: &World) -> Vec<SignInFailure> {
    use iamkit::audit::{AuditRepository, EventQuery};
    let mut tx = store.begin().await.unwrap();
    let query = EventQuery {
        limit: iamkit::audit::PageLimit::new(1000).unwrap(),
        ..EventQuery::default()
    };
    let page = tx.query_events(w.org, &query).await.unwrap();
    tx.rollback().await.unwrap();
    page.items
        .into_iter()
        .filter_map(|e| match e.action {
            Action::SignInFailed { reason } => Some(reason),
            _ => None,
        })
        .collect()
}

async fn events(w: &World) -> Vec<Action> {
    use iamkit::audit::{AuditRepository, EventQuery};
    let mut tx = w.store.begin().await.unwrap();
    let page = tx
        .query_events(
            w.org,
            &EventQuery {
                limit: iamkit::audit::PageLimit::new(1000).unwrap(),
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    page.items.into_iter().map(|e| e.action).collect()
}

async fn failures_of(w: &World, user: UserId) -> u32 {
    let mut tx = w.store.begin().await.unwrap();
    let state = tx.get_throttle(user).await.unwrap();
    tx.rollback().await.unwrap();
    state.failures
}

async fn link(w: &World, user: UserId, kind: MessageKind) -> Option<String> {
    let messages = w.iam.drain_outbox(1000).await.unwrap();
    let found = messages
        .iter()
        .rev()
        .find(|m| m.recipient == user && m.kind == kind)
        .and_then(|m| m.link_secret.as_ref().map(|s| s.expose().to_owned()));
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    w.iam.acknowledge(&ids).await.unwrap();
    found
}

async fn require_two_factor(w: &World) {
    w.iam
        .set_two_factor_required(&w.owner, w.org, true)
        .await
        .unwrap();
}

// ---------------------------------------------------------------- log in

#[tokio::test]
async fn every_login_failure_is_the_same_error_and_the_reason_is_audited() {
    let w = world().await;
    let (ada, _) = member(&w, "ada", BuiltinRole::Admin).await;
    let invited = w
        .iam
        .invite(
            &w.owner,
            w.org,
            &account("ivy"),
            &iamkit::Placement::default(),
        )
        .await
        .unwrap();
    let _ = invited;
    let (bob, _) = member(&w, "bob", BuiltinRole::ReadOnly).await;
    w.iam.deactivate(&w.owner, w.org, bob).await.unwrap();

    for (who, password) in [
        ("nobody", PASSWORD),
        ("nobody@acme.example", PASSWORD),
        ("ada", "wrong password entirely"),
        ("ada@acme.example", "wrong password entirely"),
        ("ivy", PASSWORD),
        ("bob", PASSWORD),
        ("not an email@", PASSWORD),
    ] {
        let err = log_in(&w, who, password).await.unwrap_err();
        assert!(matches!(err, Error::InvalidCredentials), "{who}: {err:?}");
        assert_eq!(err.to_string(), "invalid credentials");
    }
    let reasons = sign_in_failures(&w.store, &w).await;
    assert!(reasons.contains(&SignInFailure::WrongPassword));
    assert!(reasons.contains(&SignInFailure::Deactivated));
    // Only real accounts count towards a lockout.
    assert_eq!(failures_of(&w, ada).await, 2);
    // Email and username both sign in; success resets the count.
    log_in(&w, "ada@acme.example", PASSWORD).await.unwrap();
    assert_eq!(failures_of(&w, ada).await, 0);
}

#[tokio::test]
async fn success_records_last_sign_in_and_audits_it() {
    let w = world().await;
    let (ada, _) = member(&w, "ada", BuiltinRole::Admin).await;
    w.clock.advance(Duration::minutes(5));
    let signed = log_in(&w, "ada", PASSWORD).await.unwrap();
    assert!(!signed.second_factor_required);
    assert!(!signed.enrolment_required);
    let detail = w.iam.user_detail(&w.owner, w.org, ada).await.unwrap();
    assert_eq!(detail.user.last_sign_in_at, Some(w.clock_now()));
    assert!(matches!(
        events(&w).await.first(),
        Some(Action::SignedIn {
            method: SignInMethod::Password
        })
    ));
    assert!(!format!("{signed:?}").contains(signed.token.expose()));
}

#[tokio::test]
async fn unknown_user_costs_the_same_argon2_work_with_default_parameters() {
    // SECURITY.md 10, with the OWASP defaults (not the cheap test cost).
    let store = MemoryStore::new();
    let clock = iamkit::ManualClock::new(
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 23, 9, 0, 0).unwrap(),
    );
    let iam = iam_over(&store, &clock, iamkit::Config::default());
    bootstrap(&iam, "acme", "owner").await;
    let time = |who: &'static str| {
        let iam = iam.clone();
        async move {
            let start = Instant::now();
            let r = iam
                .log_in(who, &Password::new("wrong password entirely"), no_client())
                .await;
            assert!(matches!(r, Err(Error::InvalidCredentials)));
            start.elapsed().as_secs_f64()
        }
    };
    // Warm up, then compare the fastest of a few of each: noise only adds
    // time, so minimums are stable on a busy machine. Skipping argon2 for
    // an unknown user would make it about a thousand times faster than a
    // known one; the bound only has to catch that, not measure equality
    // (the dummy hash's equal cost is tested in iamkit-credentials).
    time("owner").await;
    let mut known = f64::MAX;
    let mut unknown = f64::MAX;
    for _ in 0..3 {
        known = known.min(time("owner").await);
        unknown = unknown.min(time("ghost").await);
    }
    assert!(
        unknown >= 0.25 * known,
        "unknown {unknown:.4}s vs known {known:.4}s: argon2 skipped for an unknown user?"
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_account_and_the_lock_looks_like_a_wrong_password() {
    let w = world().await;
    let (ada, _) = member(&w, "ada", BuiltinRole::Admin).await;
    for _ in 0..10 {
        log_in(&w, "ada", "wrong password entirely")
            .await
            .unwrap_err();
    }
    assert!(events(&w).await.contains(&Action::AccountLocked));
    // Even the right password is refused, with the same error.
    let err = log_in(&w, "ada", PASSWORD).await.unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials));
    assert!(
        sign_in_failures(&w.store, &w)
            .await
            .contains(&SignInFailure::AccountLocked)
    );
    // Backoff over: the right password works again.
    w.clock.advance(Duration::hours(1));
    log_in(&w, "ada", PASSWORD).await.unwrap();
    assert_eq!(failures_of(&w, ada).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failures_are_all_counted() {
    // SECURITY.md 11 (Zitadel CVE-2023-47111): no lost updates.
    let w = world().await;
    let (ada, _) = member(&w, "ada", BuiltinRole::Admin).await;
    let mut tasks = Vec::new();
    for _ in 0..9 {
        let iam = w.iam.clone();
        tasks.push(tokio::spawn(async move {
            iam.log_in(
                "ada",
                &Password::new("wrong password entirely"),
                no_client(),
            )
            .await
            .is_err()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap());
    }
    assert_eq!(failures_of(&w, ada).await, 9);
}

#[tokio::test]
async fn login_rehashes_outdated_parameters() {
    let w = world().await;
    let mut stronger = cheap_config();
    stronger.argon2.m_cost_kib = 128;
    let iam2 = iam_over(&w.store, &w.clock, stronger);
    let read = || async {
        let mut tx = w.store.begin().await.unwrap();
        use iamkit::PasswordRepository;
        let h = tx.get_password_hash(w.owner_id).await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        h.as_phc().to_owned()
    };
    assert!(read().await.contains("m=64"));
    iam2.log_in("owner", &Password::new(PASSWORD), no_client())
        .await
        .unwrap();
    assert!(read().await.contains("m=128"));
    // The old service still verifies the new hash.
    log_in(&w, "owner", PASSWORD).await.unwrap();
}

// ------------------------------------------------------------ second factor

#[tokio::test]
async fn two_factor_sign_in_is_pending_until_a_valid_code() {
    let w = world().await;
    let (ada, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let (setup, codes) = with_totp(&w, &actor).await;
    assert_eq!(codes.len(), 10);
    assert!(setup.uri.expose().starts_with("otpauth://totp/iamkit:"));
    assert!(setup.qr_svg().unwrap().starts_with("<svg"));
    assert!(setup.qr_png(4).unwrap().starts_with(b"\x89PNG"));

    let signed = log_in(&w, "ada", PASSWORD).await.unwrap();
    assert!(signed.second_factor_required);
    let token = signed.token.expose().to_owned();
    // SECURITY.md 17: the pending session authorizes nothing.
    assert!(matches!(
        w.iam.authenticate_session(&token).await,
        Err(Error::InvalidCredentials)
    ));
    let pending = Actor::clone(&actor);
    let _ = pending;
    // The password was a guess, counted until the second factor completes
    // (SECURITY.md 38); a wrong code fails and counts too.
    assert_eq!(failures_of(&w, ada).await, 1);
    let err = w
        .iam
        .complete_sign_in_with_totp(&token, "000000")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials));
    assert_eq!(failures_of(&w, ada).await, 2);
    let code = code_now(&w, &setup);
    let done = w
        .iam
        .complete_sign_in_with_totp(&token, &code)
        .await
        .unwrap();
    assert_eq!(done.actor.user(), Some(ada));
    // SECURITY.md 40: the pending token ends; the new one authorizes.
    assert!(matches!(
        w.iam.authenticate_session(&token).await,
        Err(Error::InvalidCredentials)
    ));
    assert_ne!(done.token.expose(), token.as_str());
    let actor = w
        .iam
        .authenticate_session(done.token.expose())
        .await
        .unwrap();
    assert!(
        w.iam
            .is_allowed(&actor, "workflows.run", Scope::Organization(w.org))
            .await
    );
    assert_eq!(failures_of(&w, ada).await, 0);
    assert!(events(&w).await.contains(&Action::SignedIn {
        method: SignInMethod::PasswordAndTotp
    }));

    // SECURITY.md 14: the same code (same step) never works twice.
    let again = log_in(&w, "ada", PASSWORD).await.unwrap();
    assert!(
        w.iam
            .complete_sign_in_with_totp(again.token.expose(), &code)
            .await
            .is_err()
    );
    assert!(
        sign_in_failures(&w.store, &w)
            .await
            .iter()
            .any(|r| matches!(
                r,
                SignInFailure::WrongTotpCode | SignInFailure::ReplayedTotpCode
            ))
    );
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let w = world().await;
    let (_, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let (_, codes) = with_totp(&w, &actor).await;
    let first = log_in(&w, "ada", PASSWORD).await.unwrap();
    // Typed in lower case and without dashes still works.
    let typed = codes[0].replace('-', "").to_lowercase();
    w.iam
        .complete_sign_in_with_recovery_code(first.token.expose(), &typed)
        .await
        .unwrap();
    let second = log_in(&w, "ada", PASSWORD).await.unwrap();
    assert!(
        w.iam
            .complete_sign_in_with_recovery_code(second.token.expose(), &codes[0])
            .await
            .is_err()
    );
    w.iam
        .complete_sign_in_with_recovery_code(second.token.expose(), &codes[1])
        .await
        .unwrap();
    // A completed session cannot be "completed" again.
    assert!(
        w.iam
            .complete_sign_in_with_recovery_code(second.token.expose(), &codes[2])
            .await
            .is_err()
    );
}

#[tokio::test]
async fn second_factor_guesses_are_throttled() {
    // SECURITY.md 12: TOTP and recovery guesses share the password's lock.
    let w = world().await;
    let (_, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let (setup, codes) = with_totp(&w, &actor).await;
    let signed = log_in(&w, "ada", PASSWORD).await.unwrap();
    let token = signed.token.expose().to_owned();
    for i in 0..10 {
        let guess = if i % 2 == 0 {
            "123456"
        } else {
            "AAAA-BBBB-CCCC-DDDD"
        };
        let _ = w.iam.complete_sign_in_with_totp(&token, guess).await;
        let _ = w
            .iam
            .complete_sign_in_with_recovery_code(&token, guess)
            .await;
    }
    // Locked: the right code and a right recovery code are refused.
    assert!(
        w.iam
            .complete_sign_in_with_totp(&token, &code_now(&w, &setup))
            .await
            .is_err()
    );
    assert!(
        w.iam
            .complete_sign_in_with_recovery_code(&token, &codes[0])
            .await
            .is_err()
    );
    assert!(events(&w).await.contains(&Action::AccountLocked));
}

#[tokio::test]
async fn enrolment_needs_a_valid_code_and_cannot_repeat() {
    let w = world().await;
    let (_, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let setup = w.iam.begin_totp_enrolment(&actor).await.unwrap();
    assert!(
        w.iam
            .confirm_totp_enrolment(&actor, "999999")
            .await
            .is_err()
    );
    // Not on yet: sign-in needs no second factor.
    assert!(
        !log_in(&w, "ada", PASSWORD)
            .await
            .unwrap()
            .second_factor_required
    );
    w.iam
        .confirm_totp_enrolment(&actor, &code_now(&w, &setup))
        .await
        .unwrap();
    assert!(matches!(
        w.iam.begin_totp_enrolment(&actor).await,
        Err(Error::Conflict(Conflict::TwoFactorEnabled))
    ));
    assert!(events(&w).await.contains(&Action::TwoFactorEnrolled));
}

#[tokio::test]
async fn regenerated_recovery_codes_replace_the_old_ones() {
    let w = world().await;
    let (_, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let (_, old) = with_totp(&w, &actor).await;
    let new = w.iam.regenerate_recovery_codes(&actor).await.unwrap();
    let signed = log_in(&w, "ada", PASSWORD).await.unwrap();
    assert!(
        w.iam
            .complete_sign_in_with_recovery_code(signed.token.expose(), &old[0])
            .await
            .is_err()
    );
    w.iam
        .complete_sign_in_with_recovery_code(signed.token.expose(), new[0].expose())
        .await
        .unwrap();
}

#[tokio::test]
async fn disabling_two_factor_requires_the_current_password() {
    // SECURITY.md 18.
    let w = world().await;
    let (_, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    with_totp(&w, &actor).await;
    let err = w
        .iam
        .disable_two_factor(&actor, &Password::new("wrong password entirely"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials));
    assert!(
        log_in(&w, "ada", PASSWORD)
            .await
            .unwrap()
            .second_factor_required
    );
    w.iam
        .disable_two_factor(&actor, &Password::new(PASSWORD))
        .await
        .unwrap();
    assert!(
        !log_in(&w, "ada", PASSWORD)
            .await
            .unwrap()
            .second_factor_required
    );
    assert!(events(&w).await.contains(&Action::TwoFactorDisabled));
}

#[tokio::test]
async fn org_enforcement_leaves_only_enrolment() {
    // SECURITY.md 19.
    let w = world().await;
    let (_, _) = member(&w, "ada", BuiltinRole::Admin).await;
    require_two_factor(&w).await;
    let signed = log_in(&w, "ada", PASSWORD).await.unwrap();
    assert!(signed.enrolment_required);
    let actor = w
        .iam
        .authenticate_session(signed.token.expose())
        .await
        .unwrap();
    assert!(
        !w.iam
            .is_allowed(&actor, "users.read", Scope::Organization(w.org))
            .await
    );
    let err = w
        .iam
        .invite(
            &actor,
            w.org,
            &account("zed"),
            &iamkit::Placement::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    // Enrolling is allowed, and afterwards (with the second factor) so is
    // everything the role grants.
    let (setup, _) = with_totp(&w, &actor).await;
    let again = log_in(&w, "ada", PASSWORD).await.unwrap();
    assert!(again.second_factor_required && !again.enrolment_required);
    let actor = w
        .iam
        .complete_sign_in_with_totp(again.token.expose(), &code_now(&w, &setup))
        .await
        .unwrap()
        .actor;
    assert!(
        w.iam
            .is_allowed(&actor, "users.read", Scope::Organization(w.org))
            .await
    );
}

// -------------------------------------------------------------- passwords

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    // SECURITY.md 21.
    let w = world().await;
    let (_, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let other = log_in(&w, "ada", PASSWORD).await.unwrap();
    let err = w
        .iam
        .change_password(
            &actor,
            &Password::new("not the password"),
            Password::new("a brand new long passphrase"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials));
    w.iam
        .change_password(
            &actor,
            &Password::new(PASSWORD),
            Password::new("a brand new long passphrase"),
        )
        .await
        .unwrap();
    assert!(
        w.iam
            .authenticate_session(other.token.expose())
            .await
            .is_err()
    );
    assert!(
        w.iam
            .is_allowed(&actor, "users.read", Scope::Organization(w.org))
            .await
    );
    assert!(log_in(&w, "ada", PASSWORD).await.is_err());
    log_in(&w, "ada", "a brand new long passphrase")
        .await
        .unwrap();
    // Policy still applies.
    assert!(matches!(
        w.iam
            .change_password(
                &actor,
                &Password::new("a brand new long passphrase"),
                Password::new("short")
            )
            .await,
        Err(Error::InvalidPassword { .. })
    ));
}

#[tokio::test]
async fn admin_reset_link_is_single_use_24h_and_ends_all_sessions() {
    let w = world().await;
    let (ada, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    // Only an admin may send one.
    let (_, viewer) = member(&w, "vic", BuiltinRole::ReadOnly).await;
    assert!(matches!(
        w.iam.send_password_reset(&viewer, w.org, ada).await,
        Err(Error::Forbidden { .. })
    ));
    w.iam
        .send_password_reset(&w.owner, w.org, ada)
        .await
        .unwrap();
    let first = link(&w, ada, MessageKind::PasswordReset).await.unwrap();
    // A new link kills the older one (SECURITY.md 6).
    w.iam
        .send_password_reset(&w.owner, w.org, ada)
        .await
        .unwrap();
    let second = link(&w, ada, MessageKind::PasswordReset).await.unwrap();
    assert!(
        w.iam
            .reset_password(&first, Password::new("a fresh reset passphrase"))
            .await
            .is_err()
    );
    w.clock.advance(Duration::hours(23));
    w.iam
        .reset_password(&second, Password::new("a fresh reset passphrase"))
        .await
        .unwrap();
    assert!(
        !w.iam
            .is_allowed(&actor, "users.read", Scope::Organization(w.org))
            .await
    );
    assert!(
        w.iam
            .reset_password(&second, Password::new("another reset passphrase"))
            .await
            .is_err()
    );
    log_in(&w, "ada", "a fresh reset passphrase").await.unwrap();

    // Expiry: 24 h.
    let owner = sign_in(&w.iam, "owner").await;
    w.iam.send_password_reset(&owner, w.org, ada).await.unwrap();
    let third = link(&w, ada, MessageKind::PasswordReset).await.unwrap();
    w.clock.advance(Duration::hours(24));
    assert!(
        w.iam
            .reset_password(&third, Password::new("another reset passphrase"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn self_service_reset_answers_the_same_for_unknown_addresses() {
    // SECURITY.md 28.
    let w = world().await;
    let (ada, _) = member(&w, "ada", BuiltinRole::Admin).await;
    let before = audit_len(&w.store, w.org).await;
    for email in ["ghost@acme.example", "not an email", ""] {
        w.iam.request_password_reset(email).await.unwrap();
    }
    assert!(w.iam.drain_outbox(100).await.unwrap().is_empty());
    assert_eq!(audit_len(&w.store, w.org).await, before);
    w.iam
        .request_password_reset("ada@acme.example")
        .await
        .unwrap();
    assert!(link(&w, ada, MessageKind::PasswordReset).await.is_some());
}

/// SECURITY.md 28: the request itself does no work that depends on the
/// address (nothing is read or written for a known account either); the
/// lookup, the link and the audit event come with the next drain, and
/// repeated requests before it give one link.
#[tokio::test]
async fn self_service_reset_is_looked_up_at_the_next_drain_once_per_address() {
    let w = world().await;
    let (ada, _) = member(&w, "ada", BuiltinRole::Admin).await;
    let before = audit_len(&w.store, w.org).await;
    for _ in 0..3 {
        w.iam
            .request_password_reset("ada@acme.example")
            .await
            .unwrap();
        w.iam
            .request_password_reset("ghost@acme.example")
            .await
            .unwrap();
    }
    assert_eq!(audit_len(&w.store, w.org).await, before);
    let messages = w.iam.drain_outbox(100).await.unwrap();
    let resets: Vec<_> = messages
        .iter()
        .filter(|m| m.kind == MessageKind::PasswordReset)
        .collect();
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0].recipient, ada);
    assert_eq!(audit_len(&w.store, w.org).await, before + 1);
    // Nothing left to look up.
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    w.iam.acknowledge(&ids).await.unwrap();
    assert!(w.iam.drain_outbox(100).await.unwrap().is_empty());
}

#[tokio::test]
async fn self_service_reset_expires_in_an_hour_does_not_sign_in_and_keeps_2fa() {
    // SECURITY.md 5, 18.
    let w = world().await;
    let (ada, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let (setup, _) = with_totp(&w, &actor).await;
    w.iam
        .request_password_reset("ada@acme.example")
        .await
        .unwrap();
    let late = link(&w, ada, MessageKind::PasswordReset).await.unwrap();
    w.clock.advance(Duration::minutes(61));
    assert!(
        w.iam
            .reset_password(&late, Password::new("a fresh reset passphrase"))
            .await
            .is_err()
    );
    w.iam
        .request_password_reset("ada@acme.example")
        .await
        .unwrap();
    let fresh = link(&w, ada, MessageKind::PasswordReset).await.unwrap();
    let user = w
        .iam
        .reset_password(&fresh, Password::new("a fresh reset passphrase"))
        .await
        .unwrap();
    assert_eq!(user, ada);
    // Reset revoked the old sessions and created none.
    assert!(
        !w.iam
            .is_allowed(&actor, "users.read", Scope::Organization(w.org))
            .await
    );
    let signed = log_in(&w, "ada", "a fresh reset passphrase").await.unwrap();
    assert!(signed.second_factor_required);
    w.iam
        .complete_sign_in_with_totp(signed.token.expose(), &code_now(&w, &setup))
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_reset_secrets_count_towards_the_lockout() {
    // SECURITY.md 12: a reset token is a guessable secret like the others.
    let w = world().await;
    let (ada, _) = member(&w, "ada", BuiltinRole::Admin).await;
    w.iam
        .request_password_reset("ada@acme.example")
        .await
        .unwrap();
    let good = link(&w, ada, MessageKind::PasswordReset).await.unwrap();
    // Same id, different secret: flip the last character.
    let mut bad = good.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'a' { 'b' } else { 'a' });
    assert!(
        w.iam
            .reset_password(&bad, Password::new("a fresh reset passphrase"))
            .await
            .is_err()
    );
    assert_eq!(failures_of(&w, ada).await, 1);
    // A reset token is never a session or an invitation (SECURITY.md 3).
    assert!(w.iam.authenticate_session(&good).await.is_err());
    assert!(
        w.iam
            .accept_invitation(&good, Password::new(PASSWORD))
            .await
            .is_err()
    );
    w.iam
        .reset_password(&good, Password::new("a fresh reset passphrase"))
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_invite_secrets_count_towards_the_lockout() {
    // SECURITY.md 12: an invite token is a guessable secret like the others.
    let w = world().await;
    let invited = w
        .iam
        .invite(
            &w.owner,
            w.org,
            &account("ivy"),
            &iamkit::Placement::default(),
        )
        .await
        .unwrap();
    let good = invitation_link(&w, invited.user).await;
    // Same id, different secret: flip the last character.
    let mut bad = good.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'a' { 'b' } else { 'a' });
    let limit = iamkit::Config::default().throttle.max_failures();
    for attempt in 1..=limit {
        let err = w
            .iam
            .accept_invitation(&bad, Password::new(PASSWORD))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidCredentials), "{err:?}");
        assert_eq!(failures_of(&w, invited.user).await, attempt);
    }
    // Locked: even the right link is refused, with the same answer, and
    // the refusal does not extend the count.
    let err = w
        .iam
        .accept_invitation(&good, Password::new(PASSWORD))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCredentials), "{err:?}");
    assert_eq!(failures_of(&w, invited.user).await, limit);
    // Once the lock (15 min) ends, the still-live link works and the count
    // starts over.
    w.clock.advance(Duration::minutes(16));
    w.iam
        .accept_invitation(&good, Password::new(PASSWORD))
        .await
        .unwrap();
    assert_eq!(failures_of(&w, invited.user).await, 0);
}

// ------------------------------------------------------------------ email

#[tokio::test]
async fn verification_link_verifies_and_resend_kills_the_old_one() {
    let w = world().await;
    let ada = w
        .iam
        .create_user(
            &w.owner,
            w.org,
            &account("ada"),
            Password::new(PASSWORD),
            &iamkit::Placement {
                org_role: Some(BuiltinRole::ReadOnly.id()),
                ..iamkit::Placement::default()
            },
        )
        .await
        .unwrap();
    let first = link(&w, ada, MessageKind::EmailVerification).await.unwrap();
    let actor = sign_in(&w.iam, "ada").await;
    assert!(w.iam.resend_verification(&actor).await.unwrap());
    let second = link(&w, ada, MessageKind::EmailVerification).await.unwrap();
    assert!(w.iam.verify_email(&first).await.is_err());
    assert_eq!(w.iam.verify_email(&second).await.unwrap(), ada);
    let detail = w.iam.user_detail(&w.owner, w.org, ada).await.unwrap();
    assert!(detail.user.email_verified);
    assert!(!w.iam.resend_verification(&actor).await.unwrap());
    assert!(w.iam.verify_email(&second).await.is_err());
    assert!(events(&w).await.contains(&Action::EmailVerified));
}

// --------------------------------------------------- sessions and requests

#[tokio::test]
async fn sessions_are_listed_and_revoked_by_their_user_and_by_an_admin() {
    // SECURITY.md 22.
    let w = world().await;
    let (ada, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let phone = log_in(&w, "ada", PASSWORD).await.unwrap();
    let laptop = log_in(&w, "ada", PASSWORD).await.unwrap();
    let mine = w.iam.list_my_sessions(&actor).await.unwrap();
    assert_eq!(mine.len(), 3);
    assert_eq!(mine.iter().filter(|s| s.current).count(), 1);

    w.iam
        .revoke_my_session(&actor, phone.session)
        .await
        .unwrap();
    assert!(
        w.iam
            .authenticate_session(phone.token.expose())
            .await
            .is_err()
    );
    // Another user's session looks like none.
    assert!(matches!(
        w.iam.revoke_my_session(&w.owner, laptop.session).await,
        Err(Error::NotFound)
    ));
    assert_eq!(w.iam.revoke_my_sessions(&actor, true).await.unwrap(), 1);
    assert!(
        w.iam
            .authenticate_session(laptop.token.expose())
            .await
            .is_err()
    );
    assert_eq!(w.iam.list_my_sessions(&actor).await.unwrap().len(), 1);

    // An admin signs ada out everywhere; a read-only member may not.
    let (_, viewer) = member(&w, "vic", BuiltinRole::ReadOnly).await;
    assert!(matches!(
        w.iam.revoke_sessions_of_user(&viewer, w.org, ada).await,
        Err(Error::Forbidden { .. })
    ));
    assert_eq!(
        w.iam
            .revoke_sessions_of_user(&w.owner, w.org, ada)
            .await
            .unwrap(),
        1
    );
    assert!(
        !w.iam
            .is_allowed(&actor, "users.read", Scope::Organization(w.org))
            .await
    );
}

#[tokio::test]
async fn sessions_time_out_when_idle_and_absolutely() {
    let w = world().await;
    let signed = log_in(&w, "owner", PASSWORD).await.unwrap();
    let config = iamkit::Config::default().sessions;
    let token = signed.token.expose().to_owned();
    // Activity keeps it alive past the idle timeout...
    for _ in 0..3 {
        w.clock
            .advance(config.idle_timeout() - Duration::seconds(1));
        w.iam.authenticate_session(&token).await.unwrap();
    }
    // ...but not past idle without activity.
    w.clock.advance(config.idle_timeout());
    assert!(w.iam.authenticate_session(&token).await.is_err());
    // Absolute timeout even with activity.
    let signed = log_in(&w, "owner", PASSWORD).await.unwrap();
    let token = signed.token.expose().to_owned();
    let step = config.idle_timeout() - Duration::seconds(1);
    let mut elapsed = Duration::zero();
    while elapsed + step < config.absolute_timeout() {
        w.clock.advance(step);
        elapsed += step;
        w.iam.authenticate_session(&token).await.unwrap();
    }
    w.clock.advance(step);
    assert!(w.iam.authenticate_session(&token).await.is_err());
}

#[tokio::test]
async fn deactivation_and_role_removal_are_seen_by_the_very_next_check() {
    let w = world().await;
    let (ada, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let scope = Scope::Organization(w.org);
    assert!(w.iam.is_allowed(&actor, "workflows.run", scope).await);
    assert!(!w.iam.is_allowed(&actor, "org.billing", scope).await);
    assert!(!w.iam.is_allowed(&actor, "no.such", scope).await);
    assert!(
        !w.iam
            .is_allowed(&Actor::system(), "workflows.run", scope)
            .await
    );
    w.iam
        .change_org_role(&w.owner, w.org, ada, Some(BuiltinRole::ReadOnly.id()))
        .await
        .unwrap();
    assert!(!w.iam.is_allowed(&actor, "workflows.run", scope).await);
    assert!(w.iam.is_allowed(&actor, "users.read", scope).await);
    w.iam.deactivate(&w.owner, w.org, ada).await.unwrap();
    assert!(!w.iam.is_allowed(&actor, "users.read", scope).await);
    // Another organization's scope is never allowed.
    let (other, _) = bootstrap(&w.iam, "other", "olga").await;
    assert!(
        !w.iam
            .is_allowed(&w.owner, "users.read", Scope::Organization(other))
            .await
    );
}

#[tokio::test]
async fn a_pending_session_cannot_use_self_service() {
    // SECURITY.md 17: MfaPending authorizes nothing, self-service included.
    let w = world().await;
    let (_, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    with_totp(&w, &actor).await;
    let signed = log_in(&w, "ada", PASSWORD).await.unwrap();
    let forged = iam_actor_for_pending(&w.iam, &signed).await;
    assert!(forged.is_none());
}

/// The only way to get an `Actor` is authenticating; a pending session
/// cannot.
async fn iam_actor_for_pending(iam: &Iam<MemoryStore>, signed: &SignedIn) -> Option<Actor> {
    iam.authenticate_session(signed.token.expose()).await.ok()
}

#[tokio::test]
async fn a_revoked_api_key_authorizes_nothing_at_the_next_call() {
    let w = world().await;
    let ws = w
        .iam
        .create_workspace(&w.owner, w.org, "Ops")
        .await
        .unwrap();
    let created = w
        .iam
        .create_api_key(
            &w.owner,
            w.org,
            iamkit::credentials::NewApiKey {
                name: "ci".to_owned(),
                workspace: ws,
                restriction: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let key = w
        .iam
        .authenticate_api_key(created.secret.expose())
        .await
        .unwrap();
    let scope = Scope::Workspace(w.org, ws);
    assert!(w.iam.is_allowed(&key, "workflows.run", scope).await);
    // A key acts only in its workspace.
    assert!(
        !w.iam
            .is_allowed(&key, "workflows.run", Scope::Organization(w.org))
            .await
    );
    w.iam
        .revoke_api_key(&w.owner, w.org, created.key.id)
        .await
        .unwrap();
    assert!(!w.iam.is_allowed(&key, "workflows.run", scope).await);
    assert!(
        w.iam
            .authenticate_api_key(created.secret.expose())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_email_change_takes_effect_only_once_the_new_address_is_verified() {
    let w = world().await;
    let (ada, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let before = audit_len(&w.store, w.org).await;
    w.iam
        .request_email_change(&actor, "ada.new@acme.example")
        .await
        .unwrap();
    assert_eq!(audit_len(&w.store, w.org).await, before + 1);
    let messages = w.iam.drain_outbox(100).await.unwrap();
    let message = messages
        .iter()
        .find(|m| m.kind == MessageKind::EmailVerification)
        .unwrap();
    assert_eq!(message.to.as_str(), "ada.new@acme.example");
    let link = message.link_secret.as_ref().unwrap().expose().to_owned();
    // The old address stays until then.
    log_in(&w, "ada@acme.example", PASSWORD).await.unwrap();
    assert!(log_in(&w, "ada.new@acme.example", PASSWORD).await.is_err());
    let detail = w.iam.user_detail(&w.owner, w.org, ada).await.unwrap();
    assert_eq!(detail.user.email.as_str(), "ada@acme.example");

    assert_eq!(w.iam.verify_email(&link).await.unwrap(), ada);
    let detail = w.iam.user_detail(&w.owner, w.org, ada).await.unwrap();
    assert_eq!(detail.user.email.as_str(), "ada.new@acme.example");
    assert!(detail.user.email_verified);
    log_in(&w, "ada.new@acme.example", PASSWORD).await.unwrap();
    assert!(log_in(&w, "ada@acme.example", PASSWORD).await.is_err());

    // Another account's address answers alike (SECURITY.md 34) but sends
    // no link and changes no address.
    w.iam
        .request_email_change(&actor, "owner@acme.example")
        .await
        .unwrap();
    let messages = w.iam.drain_outbox(1000).await.unwrap();
    assert!(
        messages
            .iter()
            .all(|m| m.to.as_str() != "owner@acme.example"),
        "no link for a taken address"
    );
    let detail = w.iam.user_detail(&w.owner, w.org, ada).await.unwrap();
    assert_eq!(detail.user.email.as_str(), "ada.new@acme.example");
    let before = audit_len(&w.store, w.org).await;
    assert!(matches!(
        w.iam.request_email_change(&actor, "not an email").await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(audit_len(&w.store, w.org).await, before);
}

#[tokio::test]
async fn the_right_password_does_not_reset_second_factor_guesses() {
    // SECURITY.md 12: otherwise password + 9 guesses, repeated, never locks.
    let w = world().await;
    let (ada, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let (setup, _) = with_totp(&w, &actor).await;
    // "Right password, then wrong codes": the password stays counted until
    // the second factor completes, so one round of ten guesses locks; were
    // it forgiven, the count would restart at each sign-in.
    let signed = log_in(&w, "ada", PASSWORD).await.unwrap();
    let token = signed.token.expose().to_owned();
    for _ in 0..9 {
        let _ = w.iam.complete_sign_in_with_totp(&token, "123456").await;
    }
    assert!(log_in(&w, "ada", PASSWORD).await.is_err(), "locked by now");
    assert_eq!(failures_of(&w, ada).await, 10);
    w.clock.advance(Duration::hours(1));
    let signed = log_in(&w, "ada", PASSWORD).await.unwrap();
    w.iam
        .complete_sign_in_with_totp(signed.token.expose(), &code_now(&w, &setup))
        .await
        .unwrap();
    assert_eq!(failures_of(&w, ada).await, 0);
}

#[tokio::test]
async fn the_shorter_minimum_applies_only_when_a_second_factor_is_enforced() {
    // SECURITY.md 9: 15 code points alone, 8 with an enforced second factor.
    let w = world().await;
    let (_, actor) = member(&w, "ada", BuiltinRole::Admin).await;
    let short = "tulip frog"; // 10 code points
    let (setup, _) = with_totp(&w, &actor).await;
    assert!(matches!(
        w.iam
            .change_password(&actor, &Password::new(PASSWORD), Password::new(short))
            .await,
        Err(Error::InvalidPassword { .. })
    ));
    require_two_factor(&w).await;
    w.iam
        .change_password(&actor, &Password::new(PASSWORD), Password::new(short))
        .await
        .unwrap();
    let signed = log_in(&w, "ada", short).await.unwrap();
    w.iam
        .complete_sign_in_with_totp(signed.token.expose(), &code_now(&w, &setup))
        .await
        .unwrap();
}
