//! Sealing-key rotation through the [`Iam`] facade (issue 16, item 9):
//! TOTP secrets and outbox links sealed under one key keep working when
//! the app restarts with a ring whose current key is a new one, and
//! [`Iam::reseal`] moves every stored value to the new key, in batches,
//! resumably, so that the old key can be dropped.
//!
//! Key A is the app's first key ([`XChaChaSealer::new`]); key B, id 2,
//! replaces it.

use std::collections::{BTreeMap, BTreeSet};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use chrono::Duration;
use iamkit::credentials::{
    ClientMetadata, Password, RecoveryCode, SealedSecret, SealingKeyId, SecretBytes, TotpConfig,
    TotpRepository, TotpSetup, XChaChaSealer, totp_code,
};
use iamkit::identity::{OrgId, UserId};
use iamkit::rbac::BuiltinRole;
use iamkit::{
    Actor, Error, Iam, ManualClock, MessageId, OutboxRepository, Placement, SealedValue, Store,
    Transaction,
};

use crate::instances::{PASSWORD, account, bootstrap, clock, iam_sealed_by, member, sign_in};

/// The id of the key that replaces the first one.
pub const KEY_B: SealingKeyId = SealingKeyId::new(2);

fn key_a() -> SecretBytes {
    SecretBytes::new(vec![0xA1; 32])
}

fn key_b() -> SecretBytes {
    SecretBytes::new(vec![0xB2; 32])
}

/// The app before the rotation: key A alone.
pub fn ring_a() -> XChaChaSealer {
    XChaChaSealer::new(&key_a()).expect("a 32-byte key")
}

/// During the rotation: B current, A still opening.
pub fn ring_b_a() -> XChaChaSealer {
    XChaChaSealer::ring(KEY_B, &key_b())
        .and_then(|ring| ring.with_old_key(SealingKeyId::FIRST, &key_a()))
        .expect("32-byte keys, distinct ids")
}

/// After the rotation: B alone.
pub fn ring_b() -> XChaChaSealer {
    XChaChaSealer::ring(KEY_B, &key_b()).expect("a 32-byte key")
}

/// The current code of `setup` (iamkit's default TOTP settings).
fn code(setup: &TotpSetup, clock: &ManualClock) -> String {
    let config = TotpConfig::new("iamkit");
    let now = u64::try_from(iamkit::Clock::now(clock).timestamp()).expect("after 1970");
    totp_code(
        &setup.secret,
        config.algorithm,
        config.digits,
        config.period_secs,
        now,
    )
    .expect("valid settings")
    .expose()
    .to_owned()
}

/// Enrols `actor` in TOTP and confirms it; returns the key and the
/// recovery codes.
async fn enrol<S: Store>(
    iam: &Iam<S>,
    clock: &ManualClock,
    actor: &Actor,
) -> (TotpSetup, Vec<RecoveryCode>) {
    let setup = iam
        .begin_totp_enrolment(actor)
        .await
        .expect("workflow step");
    let codes = iam
        .confirm_totp_enrolment(actor, &code(&setup, clock))
        .await
        .expect("workflow step");
    (setup, codes)
}

/// Signs `who` in with the password and then a TOTP code.
async fn sign_in_with_totp<S: Store>(
    iam: &Iam<S>,
    clock: &ManualClock,
    who: &str,
    setup: &TotpSetup,
) -> Result<Actor, Error> {
    let signed = iam
        .log_in(who, &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .expect("the password is right");
    assert!(signed.second_factor_required, "{who} has 2FA");
    iam.complete_sign_in_with_totp(signed.token.expose(), &code(setup, clock))
        .await
        .map(|completed| completed.actor)
}

/// The undelivered links by recipient, opened (drains without
/// acknowledging).
async fn pending_links<S: Store>(iam: &Iam<S>) -> BTreeMap<UserId, (MessageId, String)> {
    iam.drain_outbox(1000)
        .await
        .expect("every pending link opens")
        .into_iter()
        .filter_map(|m| Some((m.recipient, (m.id, m.link_secret?.expose().to_owned()))))
        .collect()
}

/// How many stored sealed values are not under `key`.
pub async fn not_under<S: Store>(store: &S, key: SealingKeyId) -> usize {
    let mut tx = store.begin().await.expect("begin");
    let totp = tx
        .list_totp_to_reseal(key, None, usize::MAX)
        .await
        .expect("list");
    let links = tx
        .list_outbox_to_reseal(key, None, usize::MAX)
        .await
        .expect("list");
    tx.rollback().await.expect("rollback");
    totp.len() + links.len()
}

/// Calls [`Iam::reseal`] until it is done; returns how many values it
/// moved. Every call moves at most `batch` values.
pub async fn reseal_until_done<S: Store>(iam: &Iam<S>, batch: usize) -> usize {
    let mut total = 0;
    for _ in 0..10_000 {
        let progress = iam.reseal(batch).await.expect("reseal");
        assert!(progress.resealed <= batch, "{progress:?}");
        total += progress.resealed;
        if progress.done {
            return total;
        }
    }
    panic!("reseal did not finish in 10 000 calls");
}

/// The context the TOTP secret of `user` is sealed with
/// (`crates/credentials/src/totp.rs`).
fn totp_context(user: UserId) -> Vec<u8> {
    let mut context = b"iamkit totp v1 ".to_vec();
    context.extend_from_slice(user.as_uuid().as_bytes());
    context
}

/// `plaintext` sealed as iamkit's sealer did before key ids existed:
/// `nonce | XChaCha20-Poly1305(key, nonce, plaintext, aad = context)`.
fn sealed_before_key_ids(key: &SecretBytes, plaintext: &[u8], context: &[u8]) -> SealedSecret {
    let key: [u8; 32] = key.expose().try_into().expect("a 32-byte key");
    let cipher = XChaCha20Poly1305::new(&Key::from(key));
    let nonce = [0x5au8; 24];
    let ct = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: context,
            },
        )
        .expect("encrypts");
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&ct);
    SealedSecret::from_bytes(bytes)
}

/// Rewrites `user`'s stored TOTP secret as it was stored before key ids.
async fn store_totp_as_before_key_ids<S: Store>(store: &S, user: UserId, setup: &TotpSetup) {
    let mut tx = store.begin().await.expect("begin");
    let stored = tx.get_totp(user).await.expect("get").expect("enrolled");
    let old = sealed_before_key_ids(&key_a(), setup.secret.expose(), &totp_context(user));
    assert!(
        tx.replace_sealed_totp(user, &stored.sealed_secret, &old)
            .await
            .expect("replace")
    );
    tx.commit().await.expect("commit");
}

/// Rewrites the link of message `id` as it was stored before key ids.
async fn store_link_as_before_key_ids<S: Store>(store: &S, id: MessageId, link: &str) {
    let mut tx = store.begin().await.expect("begin");
    let stored = tx
        .list_undelivered_outbox(1000)
        .await
        .expect("list")
        .into_iter()
        .find(|m| m.id == id)
        .and_then(|m| m.sealed_link)
        .expect("an undelivered link");
    let old = sealed_before_key_ids(&key_a(), link.as_bytes(), id.as_uuid().as_bytes());
    assert!(
        tx.replace_sealed_link(id, &stored, &old)
            .await
            .expect("replace")
    );
    tx.commit().await.expect("commit");
}

async fn stored_totp_key<S: Store>(store: &S, user: UserId) -> Option<SealingKeyId> {
    let mut tx = store.begin().await.expect("begin");
    let stored = tx.get_totp(user).await.expect("get").expect("enrolled");
    tx.rollback().await.expect("rollback");
    stored.sealed_secret.key_id()
}

/// The whole rotation across restarts of the app. Under key A: three
/// members with confirmed TOTP (one of them stored as before key ids), one
/// with a pending enrolment, two invitations waiting in the outbox (one
/// link stored as before key ids). The app stops; it restarts over
/// `after` (another pool on the same database) with the ring {B current,
/// A old}: every member signs in with TOTP, the pending links open, new
/// secrets go under B; `reseal` moves every value. Restarted with {B}
/// alone, everything still works; A alone opens nothing any more.
pub async fn rotation_across_a_restart<S: Store>(before: S, after: S) {
    let clock = clock();
    let iam = iam_sealed_by(&before, &clock, ring_a());
    let (org, owner_id, owner) = bootstrap(&iam, "acme", "owner").await;
    let mut enrolled = Vec::new();
    for name in ["ada", "bob", "eve"] {
        let (user, actor) = member(&iam, &owner, org, name, BuiltinRole::ReadOnly).await;
        let (setup, _) = enrol(&iam, &clock, &actor).await;
        enrolled.push((name, user, setup));
    }
    let (cyd_id, cyd) = member(&iam, &owner, org, "cyd", BuiltinRole::ReadOnly).await;
    let cyd_setup = iam.begin_totp_enrolment(&cyd).await.expect("workflow step");
    let dan = invite(&iam, &owner, org, "dan").await;
    let fay = invite(&iam, &owner, org, "fay").await;
    let links = pending_links(&iam).await;
    assert_eq!(
        links.keys().copied().collect::<Vec<_>>(),
        BTreeSet::from([dan, fay]).into_iter().collect::<Vec<_>>(),
        "dan's and fay's invitations wait"
    );
    let (eve, eve_setup) = enrolled
        .iter()
        .find(|(name, ..)| *name == "eve")
        .map(|(_, user, setup)| (*user, setup))
        .expect("eve");
    store_totp_as_before_key_ids(&before, eve, eve_setup).await;
    let (fay_link_id, fay_link) = links.get(&fay).expect("fay's link").clone();
    store_link_as_before_key_ids(&before, fay_link_id, &fay_link).await;
    assert_eq!(
        pending_links(&iam).await,
        links,
        "the first key opens values sealed before key ids"
    );
    assert_eq!(
        not_under(&before, SealingKeyId::FIRST).await,
        2,
        "eve's secret and fay's link have no key id"
    );
    // The app stops.
    drop(iam);
    drop(before);

    // It restarts with B current and A still in the ring.
    clock.advance(Duration::seconds(30));
    let iam = iam_sealed_by(&after, &clock, ring_b_a());
    for (name, _, setup) in &enrolled {
        sign_in_with_totp(&iam, &clock, name, setup)
            .await
            .unwrap_or_else(|e| panic!("{name} signs in with TOTP under {{B, A}}: {e}"));
    }
    assert_eq!(pending_links(&iam).await, links, "pending links still open");
    // What is sealed from now on is under B.
    let owner = sign_in(&iam, "owner").await;
    let (owner_setup, _) = enrol(&iam, &clock, &owner).await;
    assert_eq!(stored_totp_key(&after, owner_id).await, Some(KEY_B));
    assert_eq!(
        stored_totp_key(&after, cyd_id).await,
        Some(SealingKeyId::FIRST)
    );
    // Four TOTP secrets (ada, bob, eve, cyd's pending one) and two links.
    assert_eq!(not_under(&after, KEY_B).await, 6);
    assert_eq!(reseal_until_done(&iam, 2).await, 6);
    assert_eq!(not_under(&after, KEY_B).await, 0);
    let again = iam.reseal(2).await.expect("reseal");
    assert_eq!((again.resealed, again.done), (0, true));
    drop(iam);

    // Restarted with B alone: everything still works.
    clock.advance(Duration::seconds(30));
    let iam = iam_sealed_by(&after, &clock, ring_b());
    for (name, _, setup) in &enrolled {
        sign_in_with_totp(&iam, &clock, name, setup)
            .await
            .unwrap_or_else(|e| panic!("{name} signs in with TOTP under {{B}}: {e}"));
    }
    sign_in_with_totp(&iam, &clock, "owner", &owner_setup)
        .await
        .expect("the owner signs in with TOTP");
    let cyd = sign_in(&iam, "cyd").await;
    iam.confirm_totp_enrolment(&cyd, &code(&cyd_setup, &clock))
        .await
        .expect("the pending enrolment was resealed too");
    assert_eq!(pending_links(&iam).await, links, "pending links still open");
    for (invited, (_, link)) in &links {
        let accepted = iam
            .accept_invitation(link, Password::new(PASSWORD))
            .await
            .expect("the invitation link works");
        assert_eq!(accepted, *invited);
    }

    // Key A alone opens nothing any more.
    clock.advance(Duration::seconds(30));
    let iam = iam_sealed_by(&after, &clock, ring_a());
    let (name, _, setup) = enrolled.first().expect("three enrolled");
    assert!(matches!(
        sign_in_with_totp(&iam, &clock, name, setup).await,
        Err(Error::InvalidCredentials)
    ));
}

/// Invites `name` (no role); the link waits in the outbox.
async fn invite<S: Store>(iam: &Iam<S>, owner: &Actor, org: OrgId, name: &str) -> UserId {
    iam.invite(owner, org, &account(name), &Placement::default())
        .await
        .expect("workflow step")
        .user
}

/// [`rotation_across_a_restart`] on one store: the restarted app is a new
/// `Iam` over a clone of it.
pub async fn a_rotated_key_keeps_two_factor_and_links_working<S: Store>(store: S) {
    rotation_across_a_restart(store.clone(), store).await;
}

/// `reseal` works in batches of at most `batch_size`, each committed: after
/// a crash (a new `Iam`, its position lost) it resumes with what is left,
/// moving nothing twice. A value sealed under the old key behind its
/// position (by an instance still on the old ring) keeps it from reporting
/// `done` until that value is moved too. A batch size of 0 is refused.
pub async fn reseal_runs_in_batches_and_resumes_after_a_crash<S: Store>(store: S) {
    let clock = clock();
    let old_app = iam_sealed_by(&store, &clock, ring_a());
    let (org, owner_id, owner) = bootstrap(&old_app, "acme", "owner").await;
    let mut enrolled = Vec::new();
    for name in ["ada", "bob", "cyd", "dan", "eve"] {
        let (_, actor) = member(&old_app, &owner, org, name, BuiltinRole::ReadOnly).await;
        enrolled.push((name, enrol(&old_app, &clock, &actor).await.0));
    }
    for name in ["fay", "gus"] {
        invite(&old_app, &owner, org, name).await;
    }
    assert_eq!(not_under(&store, KEY_B).await, 7);

    let iam = iam_sealed_by(&store, &clock, ring_b_a());
    assert!(matches!(
        iam.reseal(0).await,
        Err(Error::InvalidField {
            field: "batch_size",
            ..
        })
    ));
    let first = iam.reseal(3).await.expect("reseal");
    assert_eq!((first.resealed, first.done), (3, false));
    assert_eq!(not_under(&store, KEY_B).await, 4, "the batch is committed");
    // The process dies; a new one starts over and finds what is left.
    drop(iam);
    let iam = iam_sealed_by(&store, &clock, ring_b_a());
    let second = iam.reseal(3).await.expect("reseal");
    assert_eq!((second.resealed, second.done), (3, false));
    // Meanwhile an instance still on key A alone seals the owner's new
    // TOTP secret, behind the resealing pass (which has moved on to the
    // outbox links).
    let (owner_setup, _) = enrol(&old_app, &clock, &owner).await;
    assert_eq!(
        stored_totp_key(&store, owner_id).await,
        Some(SealingKeyId::FIRST)
    );
    let mut calls = 0;
    let mut moved = 0;
    loop {
        let progress = iam.reseal(3).await.expect("reseal");
        moved += progress.resealed;
        calls += 1;
        if progress.done {
            break;
        }
        assert!(calls < 10, "reseal finishes");
    }
    assert_eq!(moved, 2, "the last link and the owner's new secret");
    assert_eq!(not_under(&store, KEY_B).await, 0);
    assert_eq!(stored_totp_key(&store, owner_id).await, Some(KEY_B));

    // Nothing was lost on the way: with B alone everyone signs in.
    clock.advance(Duration::seconds(30));
    let iam = iam_sealed_by(&store, &clock, ring_b());
    enrolled.push(("owner", owner_setup));
    for (name, setup) in &enrolled {
        sign_in_with_totp(&iam, &clock, name, setup)
            .await
            .unwrap_or_else(|e| panic!("{name} signs in with TOTP under {{B}}: {e}"));
    }
    assert_eq!(pending_links(&iam).await.len(), 2);
}

/// A value no key of the ring opens (its key was dropped too early) stops
/// `reseal` with [`Error::Unsealable`] naming it, and its batch changes
/// nothing; `drain_outbox` names such a link too. The remedies work: the
/// user turns 2FA off (and may enrol again), an undelivered message is
/// acknowledged (and sent anew); then `reseal` finishes.
pub async fn reseal_stops_at_a_value_no_key_opens<S: Store>(store: S) {
    let clock = clock();
    let lost_key = XChaChaSealer::ring(SealingKeyId::new(9), &SecretBytes::new(vec![0xC3; 32]))
        .expect("a 32-byte key");
    let lost = iam_sealed_by(&store, &clock, lost_key);
    let (org, _, owner) = bootstrap(&lost, "acme", "owner").await;
    let (ada_id, ada) = member(&lost, &owner, org, "ada", BuiltinRole::ReadOnly).await;
    enrol(&lost, &clock, &ada).await;
    let old_app = iam_sealed_by(&store, &clock, ring_a());
    let (_, bob) = member(&old_app, &owner, org, "bob", BuiltinRole::ReadOnly).await;
    let (bob_setup, _) = enrol(&old_app, &clock, &bob).await;
    let dan = invite(&lost, &owner, org, "dan").await;
    let dan_message = {
        let mut tx = store.begin().await.expect("begin");
        let id = tx
            .list_undelivered_outbox(100)
            .await
            .expect("list")
            .into_iter()
            .find(|m| m.recipient == dan && m.sealed_link.is_some())
            .expect("dan's invitation")
            .id;
        tx.rollback().await.expect("rollback");
        id
    };
    assert_eq!(not_under(&store, KEY_B).await, 3);

    let iam = iam_sealed_by(&store, &clock, ring_b_a());
    let err = iam
        .reseal(10)
        .await
        .expect_err("ada's key is not in the ring");
    assert!(
        matches!(
            err,
            Error::Unsealable {
                value: SealedValue::TotpSecret(user)
            } if user == ada_id
        ),
        "{err:?}"
    );
    assert_eq!(
        not_under(&store, KEY_B).await,
        3,
        "the batch changed nothing"
    );
    // Still stuck at the same value.
    assert!(matches!(
        iam.reseal(10).await,
        Err(Error::Unsealable {
            value: SealedValue::TotpSecret(_)
        })
    ));

    // Ada turns 2FA off with her password (her session is still good).
    iam.disable_two_factor(&ada, &Password::new(PASSWORD))
        .await
        .expect("2FA off");
    let err = iam
        .reseal(10)
        .await
        .expect_err("dan's link is under the lost key");
    assert!(
        matches!(
            err,
            Error::Unsealable {
                value: SealedValue::OutboxLink(id)
            } if id == dan_message
        ),
        "{err:?}"
    );
    assert_eq!(
        not_under(&store, KEY_B).await,
        2,
        "bob's secret was moved in a batch that rolled back"
    );
    let err = iam
        .drain_outbox(10)
        .await
        .expect_err("dan's link does not open");
    assert!(
        matches!(
            err,
            Error::Unsealable {
                value: SealedValue::OutboxLink(id)
            } if id == dan_message
        ),
        "the drain names the message: {err:?}"
    );
    iam.acknowledge(&[dan_message]).await.expect("acknowledge");
    assert!(
        iam.drain_outbox(10).await.is_ok(),
        "the outbox drains again"
    );
    assert_eq!(reseal_until_done(&iam, 10).await, 1, "bob's secret");
    assert_eq!(not_under(&store, KEY_B).await, 0);
    let iam = iam_sealed_by(&store, &clock, ring_b());
    clock.advance(Duration::seconds(30));
    sign_in_with_totp(&iam, &clock, "bob", &bob_setup)
        .await
        .expect("bob signs in under {B}");
}
