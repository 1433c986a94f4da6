//! SECURITY.md 38 through the [`Iam`] facade: the lockout limits
//! evaluations, not only counts. 200 guesses race on real threads; the
//! audit trail shows at most the limit evaluated (one `WrongPassword` or
//! `WrongTotpCode` event per evaluated guess), and the right secret is
//! refused until the lock ends.

use std::sync::Arc;

use iamkit::audit::{Action, AuditRepository, SignInFailure};
use iamkit::credentials::{ClientMetadata, Password, TotpAlgorithm, totp_code};
use iamkit::identity::OrgId;
use iamkit::rbac::BuiltinRole;
use iamkit::{Clock, Config, Iam, Store, Transaction};

use crate::instances::{PASSWORD, bootstrap, clock, iam_over, member};

/// Concurrent guesses per case.
const GUESSES: usize = 200;

/// How many of `org`'s events are sign-in failures for `reason`.
async fn failures_audited<S: Store>(store: &S, org: OrgId, reason: SignInFailure) -> usize {
    let mut tx = store.begin().await.expect("workflow step");
    let mut after = 0;
    let mut count = 0;
    loop {
        let batch = tx
            .scan_events(org, after, 500)
            .await
            .expect("workflow step");
        let Some(last) = batch.last() else { break };
        after = last.seq;
        count += batch
            .iter()
            .filter(|e| e.action == Action::SignInFailed { reason })
            .count();
    }
    tx.rollback().await.expect("workflow step");
    count
}

/// Runs `GUESSES` copies of `guess` at once on the runtime's threads.
async fn race<S, F, Fut>(iam: &Iam<S>, guess: F)
where
    S: Store,
    F: Fn(Iam<S>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(GUESSES));
    let mut tasks = Vec::new();
    for _ in 0..GUESSES {
        let barrier = Arc::clone(&barrier);
        let attempt = guess(iam.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            attempt.await;
        }));
    }
    for task in tasks {
        task.await.expect("a guess task");
    }
}

/// 200 concurrent wrong passwords: at most the limit are evaluated; then
/// the right password is refused until the lock ends.
pub async fn security_38_concurrent_wrong_passwords_evaluate_at_most_the_limit<S: Store>(store: S) {
    let clock = clock();
    let iam = iam_over(&store, &clock);
    let (org, _, owner) = bootstrap(&iam, "acme", "owner").await;
    member(&iam, &owner, org, "bea", BuiltinRole::ReadOnly).await;
    race(&iam, |iam| async move {
        let refused = iam
            .log_in(
                "bea",
                &Password::new("wrong guess number n"),
                ClientMetadata::default(),
            )
            .await;
        assert!(refused.is_err(), "a wrong password never signs in");
    })
    .await;
    let limit = usize::try_from(Config::default().throttle.max_failures()).expect("small");
    let evaluated = failures_audited(&store, org, SignInFailure::WrongPassword).await;
    assert!(
        (1..=limit).contains(&evaluated),
        "{evaluated} wrong passwords evaluated, limit {limit}"
    );
    assert!(
        iam.log_in("bea", &Password::new(PASSWORD), ClientMetadata::default())
            .await
            .is_err(),
        "the right password is refused while locked"
    );
    clock.advance(chrono::Duration::hours(1));
    iam.log_in("bea", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .expect("the right password signs in once the lock ends");
}

/// 200 concurrent wrong TOTP codes on one pending session: at most the
/// limit are evaluated (the password itself was one of them).
pub async fn security_38_concurrent_wrong_codes_evaluate_at_most_the_limit<S: Store>(store: S) {
    let clock = clock();
    let iam = iam_over(&store, &clock);
    let (org, _, owner) = bootstrap(&iam, "acme", "owner").await;
    let (_, bea) = member(&iam, &owner, org, "bea", BuiltinRole::ReadOnly).await;
    let setup = iam.begin_totp_enrolment(&bea).await.expect("workflow step");
    let code = |at: chrono::DateTime<chrono::Utc>| {
        let unix = u64::try_from(at.timestamp()).expect("after 1970");
        totp_code(&setup.secret, TotpAlgorithm::Sha1, 6, 30, unix)
            .expect("a code")
            .expose()
            .to_owned()
    };
    iam.confirm_totp_enrolment(&bea, &code(clock.now()))
        .await
        .expect("workflow step");
    // The enrolment code's step is used up: move to the next one.
    clock.advance(chrono::Duration::seconds(30));
    let pending = iam
        .log_in("bea", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .expect("workflow step");
    let token = Arc::new(pending.token.expose().to_owned());
    let right = code(clock.now());
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    race(&iam, |iam| {
        let token = Arc::clone(&token);
        async move {
            let refused = iam.complete_sign_in_with_totp(&token, wrong).await;
            assert!(refused.is_err(), "a wrong code never completes");
        }
    })
    .await;
    let limit = usize::try_from(Config::default().throttle.max_failures()).expect("small");
    let evaluated = failures_audited(&store, org, SignInFailure::WrongTotpCode).await;
    assert!(
        (1..limit).contains(&evaluated),
        "{evaluated} wrong codes evaluated; with the password, limit {limit}"
    );
    assert!(
        iam.complete_sign_in_with_totp(&token, &right)
            .await
            .is_err(),
        "the right code is refused while locked"
    );
}
