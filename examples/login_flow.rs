//! Login flow: a member signs in, turns on TOTP two-factor authentication
//! (the code computed as an authenticator app would), signs in with a code,
//! then with a recovery code, and finally resets a forgotten password —
//! which does not sign them in and leaves 2FA on.
//!
//! Run with `cargo run --example login_flow`.

use std::sync::Arc;

use chrono::Duration;
use iamkit::credentials::{
    ClientMetadata, Password, SecretBytes, TotpAlgorithm, TotpSetup, XChaChaSealer, totp_code,
};
use iamkit::rbac::{BuiltinRole, Scope};
use iamkit::{
    Actor, Clock, FirstOwner, Iam, ManualClock, MessageKind, NewAccount, Placement, SystemClock,
};
use iamkit_store_memory::MemoryStore;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn account(username: &str, first: &str, last: &str) -> NewAccount {
    NewAccount {
        username: username.to_owned(),
        email: format!("{username}@acme.example"),
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        language: None,
    }
}

/// What the phone's authenticator app shows at `clock`'s time (RFC 6238).
fn authenticator_app(setup: &TotpSetup, clock: &ManualClock) -> Result<String, AnyError> {
    let unix = u64::try_from(clock.now().timestamp())?;
    Ok(totp_code(&setup.secret, TotpAlgorithm::Sha1, 6, 30, unix)?
        .expose()
        .to_owned())
}

/// The newest link of `kind` in the outbox — what the app would email.
async fn mailbox(iam: &Iam<MemoryStore>, kind: MessageKind) -> Result<String, AnyError> {
    let messages = iam.drain_outbox(100).await?;
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    iam.acknowledge(&ids).await?;
    let message = messages
        .iter()
        .rev()
        .find(|m| m.kind == kind)
        .ok_or("no such message")?;
    println!("  ✉ to {}: {:?}", message.to, message.subject);
    Ok(message
        .link_secret
        .as_ref()
        .ok_or("no link")?
        .expose()
        .to_owned())
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    // A manual clock (started now) so the example can step past a TOTP
    // period instead of waiting 30 seconds.
    let clock = ManualClock::new(SystemClock.now());
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![42; 32]))?;
    let iam = Iam::builder(MemoryStore::new(), sealer)
        .clock(Arc::new(clock.clone()))
        .permission("workflows.run", &[BuiltinRole::Owner, BuiltinRole::Admin])
        .build()?;
    let client = ClientMetadata {
        ip: Some("203.0.113.7".to_owned()),
        user_agent: Some("example".to_owned()),
    };

    // An organization whose Owner invites Alan; Alan sets his password.
    let org = iam
        .bootstrap(
            &Actor::system(),
            "Acme",
            "acme",
            FirstOwner::NewUser {
                account: account("grace", "Grace", "Hopper"),
                password: Password::new("compiler ships at dawn"),
            },
        )
        .await?
        .org;
    let grace = iam
        .log_in(
            "grace",
            &Password::new("compiler ships at dawn"),
            client.clone(),
        )
        .await?;
    let grace = iam.authenticate_session(grace.token.expose()).await?;
    iam.invite(
        &grace,
        org,
        &account("alan", "Alan", "Turing"),
        &Placement {
            org_role: Some(BuiltinRole::Admin.id()),
            ..Placement::default()
        },
    )
    .await?;
    println!("1. Alan is invited");
    let invitation = mailbox(&iam, MessageKind::Invitation).await?;
    iam.accept_invitation(&invitation, Password::new("enigma machine at bletchley"))
        .await?;

    // Sign in with the password, then enrol TOTP.
    let signed = iam
        .log_in(
            "alan@acme.example",
            &Password::new("enigma machine at bletchley"),
            client.clone(),
        )
        .await?;
    println!(
        "2. Alan signs in (second factor required: {})",
        signed.second_factor_required
    );
    let alan = iam.authenticate_session(signed.token.expose()).await?;
    let setup = iam.begin_totp_enrolment(&alan).await?;
    println!(
        "3. Enrolment: scan the QR code ({} bytes of SVG, {} bytes of PNG) or add {}...",
        setup.qr_svg()?.len(),
        setup.qr_png(4)?.len(),
        setup.uri.expose().split('?').next().unwrap_or_default(),
    );
    let code = authenticator_app(&setup, &clock)?;
    let recovery = iam.confirm_totp_enrolment(&alan, &code).await?;
    println!(
        "   confirmed with {code}; {} recovery codes shown once, e.g. {}",
        recovery.len(),
        recovery.first().map(|c| c.expose()).unwrap_or_default()
    );

    // Next sign-in: the password alone gives a session that authorizes
    // nothing until the code (SECURITY.md 17).
    clock.advance(Duration::seconds(30));
    let signed = iam
        .log_in(
            "alan",
            &Password::new("enigma machine at bletchley"),
            client.clone(),
        )
        .await?;
    println!(
        "4. Alan signs in again (second factor required: {}; the token authenticates: {})",
        signed.second_factor_required,
        iam.authenticate_session(signed.token.expose())
            .await
            .is_ok()
    );
    let code = authenticator_app(&setup, &clock)?;
    let alan = iam
        .complete_sign_in_with_totp(signed.token.expose(), &code)
        .await?
        .actor;
    println!(
        "   with code {code}: may run workflows: {}",
        iam.is_allowed(&alan, "workflows.run", Scope::Organization(org))
            .await
    );

    // Phone lost: a recovery code instead, usable once.
    let signed = iam
        .log_in(
            "alan",
            &Password::new("enigma machine at bletchley"),
            client.clone(),
        )
        .await?;
    let code = recovery.first().ok_or("no recovery code")?.expose();
    iam.complete_sign_in_with_recovery_code(signed.token.expose(), code)
        .await?;
    let again = iam
        .log_in(
            "alan",
            &Password::new("enigma machine at bletchley"),
            client.clone(),
        )
        .await?;
    let reused = iam
        .complete_sign_in_with_recovery_code(again.token.expose(), code)
        .await;
    println!(
        "5. Recovery code accepted once; the second time: {}",
        reused.err().map(|e| e.to_string()).unwrap_or_default()
    );

    // Forgotten password: the same answer whether or not the address
    // exists (SECURITY.md 28); the link works once, within the hour.
    iam.request_password_reset("nobody@acme.example").await?;
    iam.request_password_reset("alan@acme.example").await?;
    println!("6. Password reset requested");
    let link = mailbox(&iam, MessageKind::PasswordReset).await?;
    iam.reset_password(&link, Password::new("tea and crumpets at four"))
        .await?;
    let sessions = iam.list_my_sessions(&alan).await;
    println!(
        "   reset done; Alan's old sessions ended: {}",
        sessions.is_err()
    );
    let signed = iam
        .log_in("alan", &Password::new("tea and crumpets at four"), client)
        .await?;
    println!(
        "7. Alan signs in with the new password; 2FA still required: {}",
        signed.second_factor_required
    );
    clock.advance(Duration::seconds(30));
    let code = authenticator_app(&setup, &clock)?;
    iam.complete_sign_in_with_totp(signed.token.expose(), &code)
        .await?;
    println!("   and completes it with {code}");
    Ok(())
}
