//! SECURITY.md 39 and 40 through the [`Iam`](iamkit::Iam) facade, on every
//! adapter: sensitive changes of one's own account need a recent proof of
//! a factor, the previous address hears of changes, and completing the
//! second factor replaces the session token.

use chrono::Duration;
use iamkit::credentials::{ClientMetadata, Password, TotpAlgorithm, totp_code};
use iamkit::rbac::BuiltinRole;
use iamkit::{Clock, Error, MessageKind, Store};

use crate::instances::{PASSWORD, bootstrap, clock, delivered, iam_over, member};

/// An email change and new recovery codes need a proof of a factor within
/// the window; an older session must re-authenticate first, and a wrong
/// password does not count as one.
pub async fn security_39_sensitive_changes_need_a_recent_proof<S: Store>(store: S) {
    let clock = clock();
    let iam = iam_over(&store, &clock);
    let (org, _, owner) = bootstrap(&iam, "acme", "owner").await;
    let (_, bea) = member(&iam, &owner, org, "bea", BuiltinRole::ReadOnly).await;
    let setup = iam.begin_totp_enrolment(&bea).await.expect("workflow step");
    let unix = u64::try_from(clock.now().timestamp()).expect("after 1970");
    let code = totp_code(&setup.secret, TotpAlgorithm::Sha1, 6, 30, unix).expect("a code");
    iam.confirm_totp_enrolment(&bea, code.expose())
        .await
        .expect("workflow step");
    delivered(&iam).await;

    clock.advance(Duration::minutes(11));
    assert!(matches!(
        iam.request_email_change(&bea, "bea.new@acme.example").await,
        Err(Error::ReauthenticationRequired)
    ));
    assert!(matches!(
        iam.regenerate_recovery_codes(&bea).await,
        Err(Error::ReauthenticationRequired)
    ));
    assert!(
        delivered(&iam).await.is_empty(),
        "a refused change sends nothing"
    );
    assert!(matches!(
        iam.reauthenticate(&bea, &Password::new("not bea's password at all"))
            .await,
        Err(Error::InvalidCredentials)
    ));
    assert!(matches!(
        iam.regenerate_recovery_codes(&bea).await,
        Err(Error::ReauthenticationRequired)
    ));
    iam.reauthenticate(&bea, &Password::new(PASSWORD))
        .await
        .expect("the current password is a fresh proof");
    assert_eq!(
        iam.regenerate_recovery_codes(&bea)
            .await
            .expect("fresh now")
            .len(),
        10
    );
    iam.request_email_change(&bea, "bea.new@acme.example")
        .await
        .expect("fresh now");
}

/// The previous address is told when the email changes, and the account's
/// address when the password changes.
pub async fn security_39_the_previous_address_is_told_of_changes<S: Store>(store: S) {
    let clock = clock();
    let iam = iam_over(&store, &clock);
    let (org, _, owner) = bootstrap(&iam, "acme", "owner").await;
    let (bea_id, bea) = member(&iam, &owner, org, "bea", BuiltinRole::ReadOnly).await;
    delivered(&iam).await;
    iam.request_email_change(&bea, "bea.new@acme.example")
        .await
        .expect("workflow step");
    let link = delivered(&iam)
        .await
        .into_iter()
        .find(|m| m.kind == MessageKind::EmailVerification)
        .and_then(|m| m.link_secret)
        .expect("a verification link");
    iam.verify_email(link.expose())
        .await
        .expect("workflow step");
    let told = delivered(&iam).await;
    assert!(
        told.iter().any(|m| m.kind == MessageKind::EmailChanged
            && m.recipient == bea_id
            && m.to.as_str() == "bea@acme.example"),
        "the old address is told: {told:?}"
    );
    iam.change_password(
        &bea,
        &Password::new(PASSWORD),
        Password::new("another long enough passphrase"),
    )
    .await
    .expect("workflow step");
    let told = delivered(&iam).await;
    assert!(
        told.iter()
            .any(|m| m.kind == MessageKind::PasswordChanged
                && m.to.as_str() == "bea.new@acme.example"),
        "{told:?}"
    );
}

/// SECURITY.md 40: the token of a pending sign-in never authorizes, even
/// after the second factor completes; the new one does.
pub async fn security_40_the_second_factor_rotates_the_session_token<S: Store>(store: S) {
    let clock = clock();
    let iam = iam_over(&store, &clock);
    let (org, _, owner) = bootstrap(&iam, "acme", "owner").await;
    let (_, bea) = member(&iam, &owner, org, "bea", BuiltinRole::ReadOnly).await;
    let setup = iam.begin_totp_enrolment(&bea).await.expect("workflow step");
    let code = |clock: &iamkit::ManualClock| {
        let unix = u64::try_from(clock.now().timestamp()).expect("after 1970");
        totp_code(&setup.secret, TotpAlgorithm::Sha1, 6, 30, unix)
            .expect("a code")
            .expose()
            .to_owned()
    };
    iam.confirm_totp_enrolment(&bea, &code(&clock))
        .await
        .expect("workflow step");
    clock.advance(Duration::seconds(30));
    let pending = iam
        .log_in("bea", &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .expect("workflow step");
    let done = iam
        .complete_sign_in_with_totp(pending.token.expose(), &code(&clock))
        .await
        .expect("workflow step");
    assert_ne!(done.token.expose(), pending.token.expose());
    assert!(matches!(
        iam.authenticate_session(pending.token.expose()).await,
        Err(Error::InvalidCredentials)
    ));
    let actor = iam
        .authenticate_session(done.token.expose())
        .await
        .expect("the new token authorizes");
    assert_eq!(actor.user(), done.actor.user());
    assert_ne!(done.session, pending.session);
}
