//! Conformance cases of the facade's own repositories: password hashes,
//! the outbox, access requests and service accounts.

use chrono::Duration;
use iamkit::credentials::{Argon2Params, NewPassword, Password, PasswordContext, PasswordPolicy};
use iamkit::{
    AccessRequest, AccessRequestRepository, AuthzVersionRepository, MessageId, MessageKind,
    OutboxRecord, OutboxRepository, PasswordRepository, PendingEmailRepository, RequestStatus,
    RequestedChange, ServiceAccount, ServiceAccountRepository,
};
use iamkit::{Store, Transaction};
use iamkit_credentials::{PasswordHasher, SealingKeyId};
use iamkit_identity::{AccessRequestId, Email, Language, Membership, OrgId, UserId};
use iamkit_store_api::ErrorKind;

use crate::credentials::{sealed_under, sealed_without_key_id};
use crate::fixtures::Fixture;

fn hash_of(f: &mut Fixture, text: &str) -> iamkit_credentials::PasswordHash {
    let hasher = PasswordHasher::new(Argon2Params {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    })
    .expect("cheap params");
    let new: NewPassword = PasswordPolicy::default()
        .check(Password::new(text), &PasswordContext::default())
        .expect("a good password");
    hasher.hash(&new, f.rng()).expect("hash")
}

fn message(f: &mut Fixture, at_offset: i64) -> OutboxRecord {
    let now = f.now() + Duration::seconds(at_offset);
    OutboxRecord {
        id: MessageId::generate(now, f.rng()),
        org: None,
        recipient: UserId::generate(now, f.rng()),
        to: Email::parse("ada@example.com").expect("email"),
        language: Language::Es,
        kind: MessageKind::Invitation,
        sealed_link: None,
        created_at: now,
        delivered_at: None,
    }
}

/// A password hash is stored per user, replaced by a later set, and
/// removed by delete; a rolled-back set leaves nothing.
pub async fn password_hash_round_trip<S: Store>(store: S) {
    let mut f = Fixture::new(41);
    let user = UserId::generate(f.now(), f.rng());
    let first = hash_of(&mut f, "glacier ferry violin");
    let second = hash_of(&mut f, "orchard lantern copper");
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.get_password_hash(user).await.expect("get").is_none());
    tx.set_password_hash(user, &first).await.expect("set");
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.get_password_hash(user).await.expect("get"),
        Some(first.clone())
    );
    tx.set_password_hash(user, &second).await.expect("replace");
    tx.rollback().await.expect("rollback");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.get_password_hash(user).await.expect("get"), Some(first));
    assert!(tx.delete_password_hash(user).await.expect("delete"));
    assert!(!tx.delete_password_hash(user).await.expect("delete again"));
    assert!(tx.get_password_hash(user).await.expect("get").is_none());
}

/// Undelivered messages come oldest first until marked delivered; a
/// duplicate id is refused; marking twice reports false.
pub async fn outbox_delivers_each_message_until_acknowledged<S: Store>(store: S) {
    let mut f = Fixture::new(42);
    let older = message(&mut f, 0);
    let newer = message(&mut f, 5);
    let mut tx = store.begin().await.expect("begin");
    tx.insert_outbox_message(&newer).await.expect("insert");
    tx.insert_outbox_message(&older).await.expect("insert");
    let dup = tx
        .insert_outbox_message(&older)
        .await
        .expect_err("duplicate id");
    assert_eq!(dup.violated_constraint(), Some("outbox_id"));
    assert!(matches!(dup.kind(), ErrorKind::UniqueViolation { .. }));
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    let pending = tx.list_undelivered_outbox(10).await.expect("list");
    assert_eq!(pending, vec![older.clone(), newer.clone()]);
    assert_eq!(tx.list_undelivered_outbox(1).await.expect("list").len(), 1);
    assert!(
        tx.mark_outbox_delivered(older.id, f.now())
            .await
            .expect("mark")
    );
    assert!(
        !tx.mark_outbox_delivered(older.id, f.now())
            .await
            .expect("again")
    );
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    let pending = tx.list_undelivered_outbox(10).await.expect("list");
    assert_eq!(pending, vec![newer]);
}

/// A message queued in a rolled-back transaction is never delivered.
pub async fn outbox_rolls_back_with_the_workflow<S: Store>(store: S) {
    let mut f = Fixture::new(43);
    let m = message(&mut f, 0);
    let mut tx = store.begin().await.expect("begin");
    tx.insert_outbox_message(&m).await.expect("insert");
    drop(tx);
    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.list_undelivered_outbox(10)
            .await
            .expect("list")
            .is_empty()
    );
}

/// Resealing outbox links: `list_outbox_to_reseal` returns the undelivered
/// messages whose link is not under the key (also links sealed before key
/// ids), in id order, each once across pages, never messages without a
/// link or delivered ones; `replace_sealed_link` replaces only the
/// expected link of an undelivered message and nothing else.
pub async fn outbox_reseal_contract<S: Store>(store: S) {
    let mut f = Fixture::new(47);
    let (old, new) = (SealingKeyId::new(1), SealingKeyId::new(2));
    let links = [
        Some(sealed_under(old, 1)),
        None,
        Some(sealed_under(new, 3)),
        Some(sealed_under(old, 4)), // delivered below
        Some(sealed_without_key_id(0x55)),
        Some(sealed_under(old, 6)),
        Some(sealed_under(old, 7)),
    ];
    let mut messages = Vec::new();
    for (i, link) in links.into_iter().enumerate() {
        let mut m = message(&mut f, i as i64);
        m.sealed_link = link;
        messages.push(m);
    }
    let delivered_at = f.now() + Duration::minutes(1);
    let mut tx = store.begin().await.expect("begin");
    for m in &mut messages {
        tx.insert_outbox_message(m).await.expect("insert");
    }
    assert!(
        tx.mark_outbox_delivered(messages[3].id, delivered_at)
            .await
            .expect("mark")
    );
    messages[3].delivered_at = Some(delivered_at);
    tx.commit().await.expect("commit");
    let expected = |key: SealingKeyId| -> Vec<OutboxRecord> {
        messages
            .iter()
            .filter(|m| {
                m.delivered_at.is_none() && m.sealed_link.as_ref().is_some_and(|l| !l.is_under(key))
            })
            .cloned()
            .collect()
    };

    let mut tx = store.begin().await.expect("begin");
    let listed = tx
        .list_outbox_to_reseal(new, None, 100)
        .await
        .expect("list");
    let ids: Vec<_> = listed.iter().map(|m| m.id).collect();
    assert_eq!(
        ids,
        [0, 4, 5, 6].map(|i| messages[i].id),
        "undelivered, with a link not under the key, oldest first"
    );
    assert_eq!(listed, expected(new));
    assert_eq!(
        tx.list_outbox_to_reseal(old, None, 100)
            .await
            .expect("list"),
        expected(old)
    );
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = tx.list_outbox_to_reseal(new, after, 3).await.expect("list");
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        paged.extend(page);
    }
    assert_eq!(paged, listed, "pages visit each once");

    let first = &messages[0];
    let first_link = first.sealed_link.clone().expect("a link");
    assert!(
        !tx.replace_sealed_link(first.id, &sealed_under(old, 0xee), &sealed_under(new, 0xa0))
            .await
            .expect("replace"),
        "a stale expected link changes nothing"
    );
    let delivered = &messages[3];
    assert!(
        !tx.replace_sealed_link(
            delivered.id,
            delivered.sealed_link.as_ref().expect("a link"),
            &sealed_under(new, 0xa0)
        )
        .await
        .expect("replace"),
        "a delivered message is left alone"
    );
    assert!(
        !tx.replace_sealed_link(messages[1].id, &first_link, &sealed_under(new, 0xa0))
            .await
            .expect("replace"),
        "a message without a link gets none"
    );
    assert!(
        tx.replace_sealed_link(first.id, &first_link, &sealed_under(new, 0xa0))
            .await
            .expect("replace")
    );
    assert!(
        !tx.replace_sealed_link(first.id, &first_link, &sealed_under(new, 0xa1))
            .await
            .expect("replace"),
        "replaced once"
    );
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    let pending = tx.list_undelivered_outbox(100).await.expect("list");
    let stored = pending.iter().find(|m| m.id == first.id).expect("kept");
    assert_eq!(
        stored,
        &OutboxRecord {
            sealed_link: Some(sealed_under(new, 0xa0)),
            ..first.clone()
        },
        "only the link changed"
    );
    assert!(
        pending
            .iter()
            .any(|m| m.id == messages[1].id && m.sealed_link.is_none())
    );
    let ids: Vec<_> = tx
        .list_outbox_to_reseal(new, None, 100)
        .await
        .expect("list")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, [4, 5, 6].map(|i| messages[i].id));
    // Once delivered, a message is no longer resealed.
    assert!(
        tx.mark_outbox_delivered(messages[6].id, delivered_at)
            .await
            .expect("mark")
    );
    let ids: Vec<_> = tx
        .list_outbox_to_reseal(new, Some(messages[4].id), 100)
        .await
        .expect("list")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, [messages[5].id]);
}

/// Requests are listed per organization; a decision moves a pending
/// request exactly once; a duplicate id is refused.
pub async fn access_requests_are_decided_once<S: Store>(store: S) {
    let mut f = Fixture::new(44);
    let now = f.now();
    let org = OrgId::generate(now, f.rng());
    let other = OrgId::generate(now, f.rng());
    let requester = UserId::generate(now, f.rng());
    let approver = UserId::generate(now, f.rng());
    let request = AccessRequest {
        id: AccessRequestId::generate(now, f.rng()),
        org,
        requester,
        change: RequestedChange::Offboarding { user: requester },
        status: RequestStatus::Pending,
        created_at: now,
        decided: None,
    };
    let mut foreign = request.clone();
    foreign.id = AccessRequestId::generate(now, f.rng());
    foreign.org = other;
    let mut tx = store.begin().await.expect("begin");
    tx.insert_access_request(&request).await.expect("insert");
    tx.insert_access_request(&foreign).await.expect("insert");
    let dup = tx
        .insert_access_request(&request)
        .await
        .expect_err("duplicate");
    assert_eq!(dup.violated_constraint(), Some("access_requests_id"));
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.list_access_requests(org).await.expect("list"),
        vec![request.clone()]
    );
    assert!(
        tx.decide_access_request(request.id, RequestStatus::Approved, approver, now)
            .await
            .expect("decide")
    );
    assert!(
        !tx.decide_access_request(request.id, RequestStatus::Rejected, approver, now)
            .await
            .expect("decide again")
    );
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    let stored = tx
        .get_access_request(request.id)
        .await
        .expect("get")
        .expect("some");
    assert_eq!(stored.status, RequestStatus::Approved);
    assert_eq!(stored.decided, Some((approver, now)));
}

/// Service accounts are marked once and listed per organization.
pub async fn service_accounts_contract<S: Store>(store: S) {
    let mut f = Fixture::new(45);
    let now = f.now();
    let org = OrgId::generate(now, f.rng());
    let other = OrgId::generate(now, f.rng());
    let admin = UserId::generate(now, f.rng());
    let bot = ServiceAccount {
        user: UserId::generate(now, f.rng()),
        org,
        created_by: admin,
        created_at: now,
    };
    let foreign = ServiceAccount {
        user: UserId::generate(now, f.rng()),
        org: other,
        created_by: admin,
        created_at: now,
    };
    let mut tx = store.begin().await.expect("begin");
    tx.insert_service_account(&bot).await.expect("insert");
    tx.insert_service_account(&foreign).await.expect("insert");
    let dup = tx
        .insert_service_account(&bot)
        .await
        .expect_err("duplicate");
    assert_eq!(dup.violated_constraint(), Some("service_accounts_user"));
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.get_service_account(bot.user).await.expect("get"),
        Some(bot.clone())
    );
    assert!(tx.get_service_account(admin).await.expect("get").is_none());
    assert_eq!(
        tx.list_service_accounts(org).await.expect("list"),
        vec![bot]
    );
}

/// Versions start at 0, rise by one per committed bump, per organization,
/// and a rolled-back bump leaves no trace.
pub async fn authz_versions_contract<S: Store>(store: S) {
    let mut f = Fixture::new(46);
    let now = f.now();
    let org = OrgId::generate(now, f.rng());
    let other = OrgId::generate(now, f.rng());
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.get_authz_version(org).await.expect("get"), 0);
    assert_eq!(tx.bump_authz_version(org).await.expect("bump"), 1);
    assert_eq!(tx.bump_authz_version(org).await.expect("bump"), 2);
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.bump_authz_version(org).await.expect("bump"), 3);
    tx.rollback().await.expect("rollback");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.get_authz_version(org).await.expect("get"), 2);
    assert_eq!(tx.get_authz_version(other).await.expect("get"), 0);
}

/// A pending email change is found by its token, commits and rolls back
/// with the transaction, and an unknown token has none.
pub async fn pending_emails_contract<S: Store>(store: S) {
    let mut f = Fixture::new(47);
    let user = UserId::generate(f.now(), f.rng());
    let token = iamkit_credentials::TokenId::generate(f.now(), f.rng());
    let other = iamkit_credentials::TokenId::generate(f.now(), f.rng());
    let email = Email::parse("ada.new@example.com").expect("email");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_pending_email(other, user, &email)
        .await
        .expect("insert");
    tx.rollback().await.expect("rollback");
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.get_pending_email(other).await.expect("get").is_none());
    tx.insert_pending_email(token, user, &email)
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.get_pending_email(token).await.expect("get"),
        Some((user, email))
    );
    assert!(tx.get_pending_email(other).await.expect("get").is_none());
}

/// Request authentication reads a session or key with its context: the
/// user's standing, a confirmed second factor, and the authorization
/// versions of the user's organizations (or of the key's). Unknown ids,
/// and keys whose workspace is gone, have none.
pub async fn authentication_contexts_contract<S: Store>(store: S) {
    use iamkit::AuthenticationRepository;
    use iamkit_credentials::{ApiKeyRepository, SessionRepository, SessionState, TotpRepository};
    use iamkit_identity::{
        ApiKeyId, OrganizationRepository, SessionId, UserRepository, UserStatus,
        WorkspaceRepository,
    };

    let mut f = Fixture::new(47);
    let now = f.now();
    let (acme, globex) = (f.org("acme"), f.org("globex"));
    let (alice, mut bob, carol) = (f.user("alice"), f.user("bob"), f.user("carol"));
    bob.status = UserStatus::Deactivated;
    let workspace = f.workspace(acme.id, "Ops");
    let alice_session = crate::credentials::session(&mut f, alice.id, SessionState::Full, now);
    let carol_session = crate::credentials::session(&mut f, carol.id, SessionState::Full, now);
    let key = crate::credentials::api_key(&mut f, bob.id, workspace.id, "ci", now);
    let carol_key = crate::credentials::api_key(&mut f, carol.id, workspace.id, "cd", now);
    let totp = crate::credentials::enrollment(&mut f, alice.id);

    let mut tx = store.begin().await.expect("begin");
    for org in [&acme, &globex] {
        tx.insert_organization(org).await.expect("org");
    }
    for user in [&alice, &bob, &carol] {
        tx.insert_user(user).await.expect("user");
    }
    tx.insert_membership(&f.membership(acme.id, alice.id))
        .await
        .expect("membership");
    tx.insert_membership(&f.membership(globex.id, alice.id))
        .await
        .expect("membership");
    tx.insert_membership(&f.membership(acme.id, bob.id))
        .await
        .expect("membership");
    tx.insert_workspace(&workspace).await.expect("workspace");
    tx.insert_session(alice_session.clone())
        .await
        .expect("session");
    tx.insert_session(carol_session.clone())
        .await
        .expect("session");
    tx.insert_api_key(key.clone()).await.expect("key");
    tx.insert_api_key(carol_key.clone()).await.expect("key");
    tx.insert_totp(totp).await.expect("totp");
    assert!(tx.confirm_totp(alice.id, 1, now).await.expect("confirm"));
    tx.bump_authz_version(acme.id).await.expect("bump");
    tx.bump_authz_version(acme.id).await.expect("bump");
    tx.bump_authz_version(globex.id).await.expect("bump");
    tx.commit().await.expect("commit");

    let mut tx = store.begin_read().await.expect("begin_read");
    let mut context = tx
        .load_session_context(alice_session.id)
        .await
        .expect("load")
        .expect("alice's session");
    context.authz_versions.sort();
    let mut expected = vec![(acme.id, 2), (globex.id, 1)];
    expected.sort();
    assert_eq!(
        context,
        iamkit::SessionContext {
            session: alice_session,
            user_active: true,
            two_factor: true,
            authz_versions: expected,
        }
    );
    // No membership, no second factor.
    let context = tx
        .load_session_context(carol_session.id)
        .await
        .expect("load")
        .expect("carol's session");
    assert!(context.user_active && !context.two_factor);
    assert!(context.authz_versions.is_empty());
    let unknown = SessionId::generate(now, f.rng());
    assert_eq!(tx.load_session_context(unknown).await.expect("load"), None);

    assert_eq!(
        tx.load_api_key_context(key.id).await.expect("load"),
        Some(iamkit::ApiKeyContext {
            key,
            creator_active: false,
            org: acme.id,
            authz_version: 2,
        })
    );
    let unknown = ApiKeyId::generate(now, f.rng());
    assert_eq!(tx.load_api_key_context(unknown).await.expect("load"), None);
    tx.rollback().await.expect("rollback");

    // A key whose workspace is gone authenticates nothing.
    let mut tx = store.begin().await.expect("begin");
    tx.delete_workspace(workspace.id).await.expect("delete");
    tx.commit().await.expect("commit");
    let mut tx = store.begin_read().await.expect("begin_read");
    assert_eq!(
        tx.load_api_key_context(carol_key.id).await.expect("load"),
        None
    );
}

/// The store reads a request's context outside any transaction of the
/// caller's ([`Store::session_context`], [`Store::api_key_context`]) exactly
/// as a read transaction does, and sees every change committed before the
/// call, whole: a deactivation committed with its version bumps is seen
/// with both (SECURITY.md 20).
pub async fn store_authentication_contexts_match_a_read_transaction<S: Store>(store: S) {
    use iamkit::AuthenticationRepository;
    use iamkit_credentials::{ApiKeyRepository, SessionRepository, SessionState};
    use iamkit_identity::{
        ApiKeyId, OrganizationRepository, SessionId, UserRepository, UserStatus,
        WorkspaceRepository,
    };

    let mut f = Fixture::new(49);
    let now = f.now();
    let (acme, globex) = (f.org("acme"), f.org("globex"));
    let (alice, bob) = (f.user("alice"), f.user("bob"));
    let workspace = f.workspace(acme.id, "Ops");
    let alice_session = crate::credentials::session(&mut f, alice.id, SessionState::Full, now);
    let key = crate::credentials::api_key(&mut f, alice.id, workspace.id, "ci", now);
    let mut tx = store.begin().await.expect("begin");
    for org in [&acme, &globex] {
        tx.insert_organization(org).await.expect("org");
    }
    for user in [&alice, &bob] {
        tx.insert_user(user).await.expect("user");
    }
    for org in [&acme, &globex] {
        tx.insert_membership(&f.membership(org.id, alice.id))
            .await
            .expect("membership");
    }
    tx.insert_workspace(&workspace).await.expect("workspace");
    tx.insert_session(alice_session.clone())
        .await
        .expect("session");
    tx.insert_api_key(key.clone()).await.expect("key");
    tx.bump_authz_version(acme.id).await.expect("bump");
    tx.commit().await.expect("commit");

    let unknown_session = SessionId::generate(now, f.rng());
    let unknown_key = ApiKeyId::generate(now, f.rng());
    // What a read transaction sees, for each id.
    let in_transaction = async |store: &S| {
        let mut tx = store.begin_read().await.expect("begin_read");
        let mut sessions = Vec::new();
        for id in [alice_session.id, unknown_session] {
            sessions.push(tx.load_session_context(id).await.expect("load"));
        }
        let mut keys = Vec::new();
        for id in [key.id, unknown_key] {
            keys.push(tx.load_api_key_context(id).await.expect("load"));
        }
        tx.rollback().await.expect("rollback");
        (sessions, keys)
    };
    let alone = async |store: &S| {
        let mut sessions = Vec::new();
        for id in [alice_session.id, unknown_session] {
            sessions.push(store.session_context(id).await.expect("session_context"));
        }
        let mut keys = Vec::new();
        for id in [key.id, unknown_key] {
            keys.push(store.api_key_context(id).await.expect("api_key_context"));
        }
        (sessions, keys)
    };
    let sorted = |(mut sessions, keys): (Vec<Option<iamkit::SessionContext>>, _)| {
        for context in sessions.iter_mut().flatten() {
            context.authz_versions.sort();
        }
        (sessions, keys)
    };

    let before = sorted(alone(&store).await);
    assert_eq!(before, sorted(in_transaction(&store).await));
    let (sessions, keys) = &before;
    let context = sessions[0].as_ref().expect("alice's session");
    assert!(context.user_active);
    let mut expected = vec![(acme.id, 1), (globex.id, 0)];
    expected.sort();
    assert_eq!(context.authz_versions, expected);
    assert_eq!(sessions[1], None);
    assert_eq!(
        keys[0]
            .as_ref()
            .map(|k| (k.org, k.authz_version, k.creator_active)),
        Some((acme.id, 1, true))
    );
    assert_eq!(keys[1], None);

    // Alice is deactivated, and both her organizations' versions bumped,
    // in one transaction: the next read sees all of it.
    let mut tx = store.begin().await.expect("begin");
    let mut deactivated = alice.clone();
    deactivated.status = UserStatus::Deactivated;
    tx.update_user(&deactivated).await.expect("deactivate");
    tx.bump_authz_version(acme.id).await.expect("bump");
    tx.bump_authz_version(globex.id).await.expect("bump");
    tx.commit().await.expect("commit");
    let after = sorted(alone(&store).await);
    assert_eq!(after, sorted(in_transaction(&store).await));
    let (sessions, keys) = &after;
    let context = sessions[0].as_ref().expect("alice's session");
    assert!(!context.user_active);
    let mut expected = vec![(acme.id, 2), (globex.id, 1)];
    expected.sort();
    assert_eq!(context.authz_versions, expected);
    assert_eq!(
        keys[0]
            .as_ref()
            .map(|k| (k.authz_version, k.creator_active)),
        Some((2, false))
    );

    // A key whose workspace is gone has no context, read either way.
    let mut tx = store.begin().await.expect("begin");
    tx.delete_workspace(workspace.id).await.expect("delete");
    tx.commit().await.expect("commit");
    assert_eq!(store.api_key_context(key.id).await.expect("read"), None);
}

/// The active members of an organization are those whose membership and
/// account are both ACTIVE: invited or deactivated members, deactivated
/// accounts and other organizations' members are not listed; a status
/// change is seen at once.
pub async fn active_members_contract<S: Store>(store: S) {
    use iamkit_identity::{OrganizationRepository, UserRepository, UserStatus};

    let mut f = Fixture::new(48);
    let (acme, globex) = (f.org("acme"), f.org("globex"));
    let alice = f.user("alice");
    let bob = f.user("bob");
    let mut carol = f.user("carol");
    carol.status = UserStatus::Deactivated;
    let dave = f.user("dave");
    let eve = f.user("eve");
    let mut tx = store.begin().await.expect("begin");
    for org in [&acme, &globex] {
        tx.insert_organization(org).await.expect("org");
    }
    for user in [&alice, &bob, &carol, &dave, &eve] {
        tx.insert_user(user).await.expect("user");
    }
    let with_status = |user, status| Membership {
        status,
        ..f.membership(acme.id, user)
    };
    for membership in [
        f.membership(acme.id, alice.id),
        with_status(bob.id, UserStatus::Invited),
        f.membership(acme.id, carol.id),
        with_status(dave.id, UserStatus::Deactivated),
        f.membership(globex.id, eve.id),
    ] {
        tx.insert_membership(&membership).await.expect("membership");
    }
    tx.commit().await.expect("commit");

    let mut tx = store.begin_read().await.expect("begin_read");
    assert_eq!(
        tx.list_active_members(acme.id).await.expect("list"),
        vec![alice.id]
    );
    assert_eq!(
        tx.list_active_members(globex.id).await.expect("list"),
        vec![eve.id]
    );
    tx.rollback().await.expect("rollback");

    let mut tx = store.begin().await.expect("begin");
    tx.update_membership(&f.membership(acme.id, bob.id))
        .await
        .expect("activate");
    let mut eve = eve;
    eve.status = UserStatus::Deactivated;
    tx.update_user(&eve).await.expect("deactivate");
    let mut active = tx.list_active_members(acme.id).await.expect("list");
    active.sort();
    let mut expected = vec![alice.id, bob.id];
    expected.sort();
    assert_eq!(active, expected);
    assert!(
        tx.list_active_members(globex.id)
            .await
            .expect("list")
            .is_empty()
    );
}
