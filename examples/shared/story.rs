//! The administrator's story of the quick start, on any store: shared by
//! `quickstart` (SQLite or memory) and `postgres` (PostgreSQL), which
//! include this file with `#[path]` and differ only in the store.
//!
//! Bootstrap an organization with its Owner, create a workspace, invite a
//! colleague who accepts, assign roles directly and through a group,
//! explain a permission, deactivate, then print the colleague's activity
//! and verify the organization's audit chain.

use std::sync::Arc;

use iamkit::audit::{ActionKind, EventFilter};
use iamkit::credentials::{ClientMetadata, Password, SecretBytes, XChaChaSealer};
use iamkit::rbac::{BuiltinRole, Collective, Scope, Source};
use iamkit::{
    Actor, Error, FirstOwner, Iam, MessageKind, NewAccount, Placement, Store, SystemClock,
};
use iamkit_identity::TeamRole;
use rand::Rng as _;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

/// Any error of the story, for `main`'s `?`.
pub type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn person(username: &str, first: &str, last: &str, language: &str) -> NewAccount {
    NewAccount {
        username: username.into(),
        email: format!("{username}@acme.example"),
        first_name: first.into(),
        last_name: last.into(),
        language: Some(language.into()),
    }
}

/// Runs the story on `store`, which must be migrated and empty.
pub async fn story<S: Store>(store: S) -> Result<(), AnyError> {
    // The app key that seals link secrets in the outbox; from the app's
    // secret store in production.
    let mut key = vec![0u8; 32];
    UnwrapErr(SysRng).fill_bytes(&mut key);
    let sealer = XChaChaSealer::new(&SecretBytes::new(key))?;
    let iam = Iam::builder(store.clone(), sealer)
        .clock(Arc::new(SystemClock))
        .permission("workflows.run", &[BuiltinRole::Owner, BuiltinRole::Admin])
        .build()?;

    // 1. Bootstrap: the organization and its first Owner.
    let ada_password = "analytical engine punched cards";
    let acme = iam
        .bootstrap(
            &Actor::system(),
            "Acme Corp",
            "acme",
            FirstOwner::NewUser {
                account: person("ada", "Ada", "Lovelace", "en"),
                password: Password::new(ada_password),
            },
        )
        .await?;
    let signed_in = iam
        .log_in(
            "ada@acme.example",
            &Password::new(ada_password),
            ClientMetadata::default(),
        )
        .await?;
    let ada = iam.authenticate_session(signed_in.token.expose()).await?;
    println!("bootstrapped Acme Corp; Ada is its Owner and signed in");

    let ops = iam.create_workspace(&ada, acme.org, "Operations").await?;

    // 2. Invite Bob as Read-only; the invitation waits in the outbox.
    let invited = iam
        .invite(
            &ada,
            acme.org,
            &person("bob", "Bob", "Marley", "pt"),
            &Placement {
                org_role: Some(BuiltinRole::ReadOnly.id()),
                ..Placement::default()
            },
        )
        .await?;
    let bob = invited.user;
    let outbox = iam.drain_outbox(10).await?;
    let invitation = outbox
        .iter()
        .find(|m| m.kind == MessageKind::Invitation)
        .ok_or("no invitation queued")?;
    println!(
        "invitation to {} ({}): \"{}\"",
        invitation.to, invitation.language, invitation.subject
    );
    let link = invitation
        .link_secret
        .as_ref()
        .ok_or("no link")?
        .expose()
        .to_owned();
    iam.acknowledge(&outbox.iter().map(|m| m.id).collect::<Vec<_>>())
        .await?;

    // 3. Bob accepts: sets his password, becomes ACTIVE, email verified.
    let bob_password = "one love one heart reggae";
    iam.accept_invitation(&link, Password::new(bob_password))
        .await?;
    let bob_session = iam
        .log_in(
            "bob",
            &Password::new(bob_password),
            ClientMetadata::default(),
        )
        .await?;
    let bob_actor = iam.authenticate_session(bob_session.token.expose()).await?;
    match iam.create_group(&bob_actor, acme.org, "Sneaky").await {
        Err(Error::Forbidden { permission }) => {
            println!("Bob (Read-only) may not create groups: `{permission}` required");
        }
        other => println!("unexpected: {other:?}"),
    }

    // 4. Assign roles: Approver on the workspace, directly.
    iam.set_workspace_role(&ada, acme.org, ops, bob, Some(BuiltinRole::Approver.id()))
        .await?;

    // 5. Group inheritance: the Platform group holds Admin; Bob joins it.
    let platform = iam.create_group(&ada, acme.org, "Platform").await?;
    iam.set_collective_role(
        &ada,
        Collective::Group(platform),
        Scope::Organization(acme.org),
        Some(BuiltinRole::Admin.id()),
    )
    .await?;
    iam.add_member(
        &ada,
        acme.org,
        Collective::Group(platform),
        bob,
        TeamRole::Member,
    )
    .await?;

    // 6. Explain a permission: why may Bob invite users?
    let decision = iam
        .explain(&ada, bob, "users.invite", Scope::Organization(acme.org))
        .await?;
    println!("may Bob invite users? {}", decision.is_allowed());
    let source = |s: Source| match s {
        Source::Direct => "direct".to_owned(),
        Source::Group(g) if g == platform => "via group Platform".to_owned(),
        other => format!("{other:?}"),
    };
    let scope = |s: Scope| match s {
        Scope::Organization(_) => "organization".to_owned(),
        Scope::Workspace(_, w) if w == ops => "workspace Operations".to_owned(),
        other => format!("{other:?}"),
    };
    for reason in &decision.reasons {
        println!(
            "  because of role {} ({}, at {})",
            reason.role_name,
            source(reason.source),
            scope(reason.scope)
        );
    }
    let detail = iam.user_detail(&ada, acme.org, bob).await?;
    println!("Bob's roles:");
    for role in &detail.roles {
        println!(
            "  {:<10} at {:<22} {}",
            role.role_name,
            scope(role.scope),
            source(role.source)
        );
    }

    // 7. Deactivate: sessions, keys and links revoked in one transaction;
    // the very next call sees it.
    iam.deactivate(&ada, acme.org, bob).await?;
    let after = iam.create_group(&bob_actor, acme.org, "Too late").await;
    println!("Bob acts after deactivation: {:?}", after.map(|_| ()));

    // 8. Bob's activity, names resolved, and the audit chain verified.
    let detail = iam.user_detail(&ada, acme.org, bob).await?;
    println!(
        "Bob is {}; his recent activity:",
        detail.membership.status.label()
    );
    for line in detail.recent_activity.iter().rev() {
        println!(
            "  #{:<3} {:<26} by {:<14} on {}",
            line.event.seq,
            line.event.action.kind().as_str(),
            line.actor,
            line.target
        );
    }
    // 9. The audit trail as an Auditor sees it: the newest role changes,
    // then the chain verified against its head (publish the head outside
    // the database: whoever can write the database could rewrite both).
    let changes = EventFilter {
        kinds: vec![ActionKind::OrgRoleChanged, ActionKind::Deactivated],
        ..EventFilter::default()
    };
    let page = iam.audit_log(&ada, acme.org, &changes, None, 10).await?;
    println!("audit trail, role changes and deactivations:");
    for line in &page.items {
        println!(
            "  #{:<3} {:<26} by {:<14} on {}",
            line.event.seq,
            line.event.action.kind().as_str(),
            line.actor,
            line.target
        );
    }
    let verification = iam.verify_audit(&ada, acme.org).await?;
    match verification.result {
        Ok(verified) => println!(
            "audit chain verified: {} events, head {}",
            verified.head.seq, verification.head.hash
        ),
        Err(broken) => println!("audit chain broken: {broken}"),
    }
    Ok(())
}
