//! Tamper detection of the hash chain: every single modification, deletion,
//! reordering or insertion is reported at the right sequence number.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions may panic on bad fixtures"
)]

use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, Duration, TimeZone, Utc};
use iamkit_audit::{
    Action, Actor, AuditEvent, BreakKind, ChainBreak, ChainHead, Context, DenialReason, EventHash,
    EventId, ImportedHash, MembershipChange, NewEvent, Outcome, PermissionName, ProfileField,
    RequestId, ResetInitiator, SettingName, SignInFailure, SignInMethod, Target, UserAgent,
    chain_hash, seal, verify,
};
use iamkit_identity::{
    AccessRequestId, ApiKeyId, GroupId, OrgId, RoleId, SessionId, TeamId, UserId, WorkspaceId,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).unwrap()
}

/// One action of each of the 45 kinds, chosen by `selector`.
fn sample_action(selector: u8, rng: &mut StdRng) -> Action {
    let now = t0();
    let role = RoleId::generate(now, rng);
    match selector % 46 {
        0 => Action::Invited { role: Some(role) },
        1 => Action::InviteResent,
        2 => Action::InviteRevoked,
        3 => Action::InviteAccepted,
        4 => Action::UserCreated,
        5 => Action::ProfileUpdated {
            fields: vec![ProfileField::DisplayName, ProfileField::Title],
        },
        6 => Action::EmailChangeRequested,
        7 => Action::EmailVerified,
        8 => Action::OrgRoleChanged {
            from: None,
            to: Some(role),
        },
        9 => Action::WorkspaceRoleChanged {
            workspace: WorkspaceId::generate(now, rng),
            from: Some(role),
            to: None,
        },
        10 => Action::GroupMembershipChanged {
            group: GroupId::generate(now, rng),
            change: MembershipChange::Added,
        },
        11 => Action::TeamMembershipChanged {
            team: TeamId::generate(now, rng),
            change: MembershipChange::Removed,
        },
        12 => Action::Deactivated,
        13 => Action::Reactivated,
        14 => Action::Deleted,
        15 => Action::PasswordChanged,
        16 => Action::PasswordResetRequested {
            by: ResetInitiator::SelfService,
        },
        17 => Action::PasswordResetCompleted,
        18 => Action::TwoFactorEnrolled,
        19 => Action::TwoFactorDisabled,
        20 => Action::RecoveryCodesRegenerated,
        21 => Action::SignedIn {
            method: SignInMethod::PasswordAndTotp,
        },
        22 => Action::SignInFailed {
            reason: SignInFailure::WrongPassword,
        },
        23 => Action::AccountLocked,
        24 => Action::SessionRevoked {
            session: SessionId::generate(now, rng),
        },
        25 => Action::ApiKeyCreated,
        26 => Action::ApiKeyRevoked,
        27 => Action::AccessRequestCreated { role: None },
        28 => Action::AccessRequestApproved,
        29 => Action::AccessRequestRejected,
        30 => Action::AuthorizationDenied {
            permission: PermissionName::new("users.invite").unwrap(),
        },
        31 => Action::TwoFactorEnrolmentStarted { replacing: true },
        32 => Action::EmailVerificationResent,
        33 => Action::CredentialsRevoked {
            sessions: 3,
            api_keys: 1,
        },
        34 => Action::PasswordRehashed,
        35 => Action::AccountReclaimed,
        36 => Action::PasswordVerified,
        37 => Action::Reauthenticated,
        38 => Action::SecretsResealed { count: 12 },
        40 => Action::AuditExported {
            from: Some(now),
            until: None,
        },
        39 => Action::SignInFailed {
            reason: SignInFailure::WrongLinkSecret,
        },
        41 => Action::DepartmentCreated,
        42 => Action::DepartmentRenamed,
        43 => Action::DepartmentDeleted,
        44 => Action::UserImported {
            verified: true,
            role: Some(role),
            password: Some(ImportedHash::Bcrypt),
        },
        _ => Action::SettingsChanged {
            setting: SettingName::new("two_factor_required").unwrap(),
        },
    }
}

fn sample_event(org: OrgId, selector: u8, offset_ms: i64, rng: &mut StdRng) -> NewEvent {
    let now = t0() + Duration::milliseconds(offset_ms);
    let actor = match selector % 3 {
        0 => Actor::User(UserId::generate(now, rng)),
        1 => Actor::ApiKey(ApiKeyId::generate(now, rng)),
        _ => Actor::System,
    };
    let target = match selector % 4 {
        0 => Target::User(UserId::generate(now, rng)),
        1 => Target::AccessRequest(AccessRequestId::generate(now, rng)),
        2 => Target::Org(org),
        _ => Target::ApiKey(ApiKeyId::generate(now, rng)),
    };
    let action = sample_action(selector, rng);
    let mut event = NewEvent::new(org, actor, action, target, now, rng);
    if selector.is_multiple_of(5) {
        event = event.denied(DenialReason::Escalation);
    }
    if selector.is_multiple_of(2) {
        event = event.with_context(Context {
            ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, selector))),
            user_agent: Some(UserAgent::new("Mozilla/5.0 (X11; Linux x86_64)").unwrap()),
            request_id: Some(RequestId::new(format!("req-{selector}")).unwrap()),
        });
    }
    event
}

/// A sealed chain of one event per selector.
fn build_chain(org: OrgId, selectors: &[u8], seed: u64) -> (Vec<AuditEvent>, ChainHead) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut head = ChainHead::genesis(org);
    let mut events = Vec::new();
    for (i, selector) in selectors.iter().enumerate() {
        let event = seal(&head, sample_event(org, *selector, i as i64, &mut rng)).unwrap();
        head = event.head();
        events.push(event);
    }
    (events, head)
}

fn org() -> OrgId {
    OrgId::generate(t0(), &mut StdRng::seed_from_u64(99))
}

#[derive(Debug, Clone)]
enum Tamper {
    Modify {
        index: usize,
        field: u8,
    },
    Delete {
        index: usize,
    },
    Swap {
        a: usize,
        b: usize,
    },
    Move {
        from: usize,
        to: usize,
    },
    Insert {
        position: usize,
        chained: bool,
        selector: u8,
    },
}

/// Applies `tamper` and returns the break it must produce.
fn apply(events: &mut Vec<AuditEvent>, tamper: &Tamper, rng: &mut StdRng) -> ChainBreak {
    let at = |seq: usize, kind| ChainBreak {
        seq: seq as u64 + 1,
        kind,
    };
    match *tamper {
        Tamper::Modify { index, field } => {
            let event = &mut events[index];
            let now = t0();
            match field % 8 {
                0 => event.actor = Actor::User(UserId::generate(now, rng)),
                1 => event.target = Target::User(UserId::generate(now, rng)),
                2 => {
                    event.action = if event.action == Action::Deleted {
                        Action::Reactivated
                    } else {
                        Action::Deleted
                    }
                }
                3 => event.at += Duration::seconds(1),
                4 => {
                    event.outcome = match event.outcome {
                        Outcome::Success => Outcome::Denied {
                            reason: DenialReason::LastOwner,
                        },
                        Outcome::Denied { .. } => Outcome::Success,
                    }
                }
                5 => event.context.ip = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
                6 => event.id = EventId::generate(now, rng),
                _ => event.hash.0[7] ^= 0x40,
            }
            at(index, BreakKind::Modified)
        }
        Tamper::Delete { index } => {
            events.remove(index);
            at(index, BreakKind::Missing)
        }
        Tamper::Swap { a, b } => {
            events.swap(a, b);
            at(a.min(b), BreakKind::Reordered)
        }
        Tamper::Move { from, to } => {
            let event = events.remove(from);
            events.insert(to, event);
            at(from.min(to), BreakKind::Reordered)
        }
        Tamper::Insert {
            position,
            chained,
            selector,
        } => {
            let org = events[0].org;
            let prev = if position == 0 {
                EventHash::GENESIS
            } else {
                events[position - 1].hash
            };
            let head = ChainHead {
                org,
                seq: position as u64,
                hash: prev,
            };
            let mut forged = seal(&head, sample_event(org, selector, 0, rng)).unwrap();
            if !chained {
                forged.hash = EventHash(rng.random());
            }
            events.insert(position, forged);
            at(position, BreakKind::Inserted)
        }
    }
}

fn tamper_strategy(len: usize) -> BoxedStrategy<Tamper> {
    let modify = (0..len, any::<u8>()).prop_map(|(index, field)| Tamper::Modify { index, field });
    let delete = (0..len).prop_map(|index| Tamper::Delete { index });
    let insert = (0..=len, any::<bool>(), any::<u8>()).prop_map(|(position, chained, selector)| {
        Tamper::Insert {
            position,
            chained,
            selector,
        }
    });
    if len < 2 {
        return prop_oneof![modify, delete, insert].boxed();
    }
    let swap = (0..len, 0..len)
        .prop_filter("two positions", |(a, b)| a != b)
        .prop_map(|(a, b)| Tamper::Swap { a, b });
    let moved = (0..len, 0..len)
        .prop_filter("a real move", |(from, to)| from != to)
        .prop_map(|(from, to)| Tamper::Move { from, to });
    prop_oneof![modify, delete, insert, swap, moved].boxed()
}

proptest! {
    #[test]
    fn an_untouched_chain_verifies(selectors in prop::collection::vec(any::<u8>(), 0..40), seed: u64) {
        let org = org();
        let (events, head) = build_chain(org, &selectors, seed);
        let verified = verify(org, &events, Some(&head)).unwrap();
        prop_assert_eq!(verified.head, head);
        prop_assert_eq!(verify(org, &events, None).unwrap().head, head);
    }

    #[test]
    fn any_single_tampering_is_found_at_its_sequence_number(
        (selectors, tamper) in prop::collection::vec(any::<u8>(), 1..40)
            .prop_flat_map(|s| { let len = s.len(); (Just(s), tamper_strategy(len)) }),
        seed: u64,
    ) {
        let org = org();
        let (mut events, head) = build_chain(org, &selectors, seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let expected = apply(&mut events, &tamper, &mut rng);
        prop_assert_eq!(verify(org, &events, Some(&head)), Err(expected));
    }
}

#[test]
fn each_kind_is_named_on_a_small_chain() {
    let org = org();
    let (events, head) = build_chain(org, &[1, 2, 3, 4, 5], 3);
    let mut rng = StdRng::seed_from_u64(5);
    let cases = [
        (
            Tamper::Modify { index: 2, field: 2 },
            3,
            BreakKind::Modified,
        ),
        (Tamper::Delete { index: 4 }, 5, BreakKind::Missing),
        (Tamper::Swap { a: 1, b: 2 }, 2, BreakKind::Reordered),
        (Tamper::Move { from: 4, to: 0 }, 1, BreakKind::Reordered),
        (
            Tamper::Insert {
                position: 5,
                chained: true,
                selector: 9,
            },
            6,
            BreakKind::Inserted,
        ),
        (
            Tamper::Insert {
                position: 2,
                chained: true,
                selector: 9,
            },
            3,
            BreakKind::Inserted,
        ),
    ];
    for (tamper, seq, kind) in cases {
        let mut copy = events.clone();
        apply(&mut copy, &tamper, &mut rng);
        assert_eq!(
            verify(org, &copy, Some(&head)),
            Err(ChainBreak { seq, kind }),
            "{tamper:?}"
        );
    }
}

#[test]
fn an_event_of_another_organization_is_foreign() {
    let org = org();
    let (mut events, head) = build_chain(org, &[1, 2, 3], 3);
    let other = OrgId::generate(t0(), &mut StdRng::seed_from_u64(1));
    let (theirs, _) = build_chain(other, &[7, 8], 4);
    events[1] = theirs[1].clone();
    assert_eq!(
        verify(org, &events, Some(&head)),
        Err(ChainBreak {
            seq: 2,
            kind: BreakKind::Inserted
        })
    );
}

#[test]
fn a_consistently_rewritten_tail_is_caught_only_by_the_anchor() {
    let org = org();
    let (mut events, head) = build_chain(org, &[1, 2, 3, 4], 3);
    // Rewrite event 3 and re-hash it and everything after it.
    events[2].action = Action::Deleted;
    let mut buf = Vec::new();
    for i in 2..events.len() {
        events[i].hash = chain_hash(&events[i - 1].hash, &events[i], &mut buf);
    }
    assert!(
        verify(org, &events, None).is_ok(),
        "self-consistent without an anchor"
    );
    assert_eq!(
        verify(org, &events, Some(&head)),
        Err(ChainBreak {
            seq: 4,
            kind: BreakKind::Modified
        })
    );
}

#[test]
fn sealing_assigns_the_next_sequence_and_checks_the_organization() {
    let org = org();
    let mut rng = StdRng::seed_from_u64(8);
    let head = ChainHead {
        org,
        seq: 41,
        hash: EventHash([3; 32]),
    };
    let sealed = seal(&head, sample_event(org, 1, 0, &mut rng)).unwrap();
    assert_eq!(sealed.seq, 42);
    let other = OrgId::generate(t0(), &mut rng);
    assert_eq!(
        seal(
            &ChainHead::genesis(other),
            sample_event(org, 1, 0, &mut rng)
        ),
        Err(iamkit_audit::Error::OrganizationMismatch {
            event: org,
            head: other
        })
    );
    let full = ChainHead {
        org,
        seq: u64::MAX,
        hash: EventHash::GENESIS,
    };
    assert_eq!(
        seal(&full, sample_event(org, 1, 0, &mut rng)),
        Err(iamkit_audit::Error::SequenceExhausted)
    );
}

#[test]
fn a_sealed_event_survives_a_microsecond_store() {
    let org = org();
    let mut rng = StdRng::seed_from_u64(8);
    let mut event = sample_event(org, 2, 0, &mut rng);
    event.at += Duration::nanoseconds(123_456_789);
    let sealed = seal(&ChainHead::genesis(org), event).unwrap();
    assert_eq!(sealed.at.timestamp_subsec_nanos(), 123_456_000);
    // What a SQL adapter reads back: the same instant at µs precision.
    let json = serde_json::to_string(&sealed).unwrap();
    let back: AuditEvent = serde_json::from_str(&json).unwrap();
    assert!(verify(org, [back], Some(&sealed.head())).is_ok());
}

/// The canonical encoding keeps the time in whole microseconds, so a stored
/// time that differs from the sealed one only below a microsecond, or only
/// in how a leap second is written, encodes to the same bytes. Such an
/// event is not the one that was sealed and must not verify.
#[test]
fn a_time_changed_below_the_encodings_precision_is_caught() {
    let org = org();
    let (events, head) = build_chain(org, &[1, 2, 3], 21);
    assert!(verify(org, &events, Some(&head)).is_ok());

    let mut nanos = events.clone();
    nanos[1].at += Duration::nanoseconds(500);
    assert_eq!(
        verify(org, &nanos, Some(&head)),
        Err(ChainBreak {
            seq: 2,
            kind: BreakKind::Modified
        })
    );

    // 23:59:59 + 1.5 s written as a leap second: the same microsecond count
    // as 00:00:00.5 of the next day.
    let mut rng = StdRng::seed_from_u64(22);
    let midnight = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
    let sealed = seal(
        &ChainHead::genesis(org),
        NewEvent::new(
            org,
            Actor::System,
            Action::AccountLocked,
            Target::Org(org),
            midnight + Duration::milliseconds(500),
            &mut rng,
        ),
    )
    .unwrap();
    let leap = chrono::NaiveDate::from_ymd_opt(2026, 6, 30)
        .unwrap()
        .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
        .unwrap()
        .and_utc();
    assert_eq!(leap.timestamp_micros(), sealed.at.timestamp_micros());
    let mut forged = sealed.clone();
    forged.at = leap;
    assert_ne!(forged, sealed);
    assert_eq!(
        verify(org, [&forged], Some(&sealed.head())),
        Err(ChainBreak {
            seq: 1,
            kind: BreakKind::Modified
        })
    );
}

/// Sealing an instant written as a leap second stores its canonical form,
/// so the genuine event still verifies.
#[test]
fn an_event_sealed_in_a_leap_second_verifies() {
    let org = org();
    let mut rng = StdRng::seed_from_u64(23);
    let leap = chrono::NaiveDate::from_ymd_opt(2026, 6, 30)
        .unwrap()
        .and_hms_nano_opt(23, 59, 59, 1_250_000_000)
        .unwrap()
        .and_utc();
    let mut event = NewEvent::new(
        org,
        Actor::System,
        Action::AccountLocked,
        Target::Org(org),
        t0(),
        &mut rng,
    );
    event.at = leap;
    let sealed = seal(&ChainHead::genesis(org), event).unwrap();
    assert_eq!(sealed.at.timestamp_micros(), leap.timestamp_micros());
    assert!(verify(org, [&sealed], Some(&sealed.head())).is_ok());
    let json = serde_json::to_string(&sealed).unwrap();
    let back: AuditEvent = serde_json::from_str(&json).unwrap();
    assert!(verify(org, [back], Some(&sealed.head())).is_ok());
}
