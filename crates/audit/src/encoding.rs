//! The canonical byte encoding the hash chain covers.
//!
//! Hand-written rather than derived from serde: stored chains must keep
//! verifying across releases, so every byte is pinned here (and by the
//! golden test) instead of depending on a serializer's formatting.
//!
//! Version 1 layout, integers big-endian:
//!
//! ```text
//! u8 version (= 1)
//! [16] event id | [16] org id | u64 seq | i64 time in microseconds since 1970
//! actor:   u8 tag (1 user, 2 api key, 3 system) [+ 16 id]
//! action:  u16 tag (see `action_tag`) + payload fields in declaration order
//! target:  u8 tag (see `target_tag`) + 16 id
//! outcome: u8 tag (1 success, 2 denied) [+ u8 reason tag + payload]
//! context: ip (u8 0 none | 4 + 4 bytes | 6 + 16 bytes), user agent, request id
//! Option<T>: u8 0 | u8 1 + T      text: u32 length + UTF-8 bytes
//! list: u32 count + items         id: 16 bytes of the UUID
//! ```
//!
//! Every variant carries an explicit tag and every variable-length item a
//! length, so the encoding is prefix-free: two different events never
//! encode to the same bytes. The one field it does not carry in full is the
//! time (whole microseconds): `seal` stores only such times and `verify`
//! refuses any other, so that holds for every event that verifies. Tags are never reused; a new variant gets a
//! new tag, and a change to an existing layout bumps the version.

use std::net::IpAddr;

use iamkit_identity::RoleId;

use crate::action::{
    Action, ImportedHash, MembershipChange, ProfileField, ResetInitiator, SignInFailure,
    SignInMethod,
};
use crate::event::{Actor, AuditEvent, Context, DenialReason, Outcome, Target};

/// The version byte every canonical encoding starts with.
pub const ENCODING_VERSION: u8 = 1;

/// The canonical encoding of `event` (all fields but its own hash).
pub fn canonical_bytes(event: &AuditEvent) -> Vec<u8> {
    let mut buf = Vec::with_capacity(160);
    encode_canonical(event, &mut buf);
    buf
}

/// Appends the canonical encoding of `event` (all fields but its own hash)
/// to `buf`; lets hot loops reuse one buffer.
pub fn encode_canonical(event: &AuditEvent, buf: &mut Vec<u8>) {
    buf.push(ENCODING_VERSION);
    buf.extend_from_slice(event.id.as_uuid().as_bytes());
    buf.extend_from_slice(event.org.as_uuid().as_bytes());
    buf.extend_from_slice(&event.seq.to_be_bytes());
    buf.extend_from_slice(&event.at.timestamp_micros().to_be_bytes());
    actor(buf, &event.actor);
    action(buf, &event.action);
    target(buf, &event.target);
    outcome(buf, &event.outcome);
    context(buf, &event.context);
}

fn id(buf: &mut Vec<u8>, bytes: [u8; 16]) {
    buf.extend_from_slice(&bytes);
}

fn text(buf: &mut Vec<u8>, s: &str) {
    // Bounded text types cap lengths far below u32::MAX; saturating keeps
    // this total without a panic path.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn opt_role(buf: &mut Vec<u8>, role: Option<RoleId>) {
    match role {
        None => buf.push(0),
        Some(role) => {
            buf.push(1);
            id(buf, role.as_uuid().into_bytes());
        }
    }
}

fn opt_text(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => buf.push(0),
        Some(s) => {
            buf.push(1);
            text(buf, s);
        }
    }
}

fn actor(buf: &mut Vec<u8>, actor: &Actor) {
    match actor {
        Actor::User(user) => {
            buf.push(1);
            id(buf, user.as_uuid().into_bytes());
        }
        Actor::ApiKey(key) => {
            buf.push(2);
            id(buf, key.as_uuid().into_bytes());
        }
        Actor::System => buf.push(3),
    }
}

fn target_tag(target: &Target) -> (u8, [u8; 16]) {
    match target {
        Target::User(x) => (1, x.as_uuid().into_bytes()),
        Target::Org(x) => (2, x.as_uuid().into_bytes()),
        Target::Workspace(x) => (3, x.as_uuid().into_bytes()),
        Target::Group(x) => (4, x.as_uuid().into_bytes()),
        Target::Team(x) => (5, x.as_uuid().into_bytes()),
        Target::Department(x) => (6, x.as_uuid().into_bytes()),
        Target::Role(x) => (7, x.as_uuid().into_bytes()),
        Target::ApiKey(x) => (8, x.as_uuid().into_bytes()),
        Target::Session(x) => (9, x.as_uuid().into_bytes()),
        Target::AccessRequest(x) => (10, x.as_uuid().into_bytes()),
    }
}

fn target(buf: &mut Vec<u8>, target: &Target) {
    let (tag, bytes) = target_tag(target);
    buf.push(tag);
    id(buf, bytes);
}

fn action_tag(action: &Action) -> u16 {
    match action {
        Action::Invited { .. } => 1,
        Action::InviteResent => 2,
        Action::InviteRevoked => 3,
        Action::InviteAccepted => 4,
        Action::UserCreated => 5,
        Action::ProfileUpdated { .. } => 6,
        Action::EmailChangeRequested => 7,
        Action::EmailVerified => 8,
        Action::OrgRoleChanged { .. } => 9,
        Action::WorkspaceRoleChanged { .. } => 10,
        Action::GroupMembershipChanged { .. } => 11,
        Action::TeamMembershipChanged { .. } => 12,
        Action::Deactivated => 13,
        Action::Reactivated => 14,
        Action::Deleted => 15,
        Action::PasswordChanged => 16,
        Action::PasswordResetRequested { .. } => 17,
        Action::PasswordResetCompleted => 18,
        Action::TwoFactorEnrolled => 19,
        Action::TwoFactorDisabled => 20,
        Action::RecoveryCodesRegenerated => 21,
        Action::SignedIn { .. } => 22,
        Action::SignInFailed { .. } => 23,
        Action::AccountLocked => 24,
        Action::SessionRevoked { .. } => 25,
        Action::ApiKeyCreated => 26,
        Action::ApiKeyRevoked => 27,
        Action::AccessRequestCreated { .. } => 28,
        Action::AccessRequestApproved => 29,
        Action::AccessRequestRejected => 30,
        Action::AuthorizationDenied { .. } => 31,
        Action::SettingsChanged { .. } => 32,
        Action::AccountReclaimed => 33,
        Action::TwoFactorEnrolmentStarted { .. } => 34,
        Action::EmailVerificationResent => 35,
        Action::CredentialsRevoked { .. } => 36,
        Action::PasswordRehashed => 37,
        Action::PasswordVerified => 38,
        Action::Reauthenticated => 39,
        Action::SecretsResealed { .. } => 40,
        Action::AuditExported { .. } => 41,
        Action::DepartmentCreated => 42,
        Action::DepartmentRenamed => 43,
        Action::DepartmentDeleted => 44,
        Action::UserImported { .. } => 45,
    }
}

fn profile_field_tag(field: ProfileField) -> u8 {
    match field {
        ProfileField::DisplayName => 1,
        ProfileField::Username => 2,
        ProfileField::Language => 3,
        ProfileField::TimeZone => 4,
        ProfileField::Avatar => 5,
        ProfileField::Department => 6,
        ProfileField::Title => 7,
        ProfileField::Theme => 8,
    }
}

fn membership_tag(change: MembershipChange) -> u8 {
    match change {
        MembershipChange::Added => 1,
        MembershipChange::Removed => 2,
        MembershipChange::TeamRoleChanged {
            role: iamkit_identity::TeamRole::Member,
        } => 3,
        MembershipChange::TeamRoleChanged {
            role: iamkit_identity::TeamRole::Lead,
        } => 4,
    }
}

fn action(buf: &mut Vec<u8>, action: &Action) {
    buf.extend_from_slice(&action_tag(action).to_be_bytes());
    match action {
        Action::Invited { role } | Action::AccessRequestCreated { role } => opt_role(buf, *role),
        Action::ProfileUpdated { fields } => {
            let count = u32::try_from(fields.len()).unwrap_or(u32::MAX);
            buf.extend_from_slice(&count.to_be_bytes());
            buf.extend(fields.iter().map(|f| profile_field_tag(*f)));
        }
        Action::OrgRoleChanged { from, to } => {
            opt_role(buf, *from);
            opt_role(buf, *to);
        }
        Action::WorkspaceRoleChanged {
            workspace,
            from,
            to,
        } => {
            id(buf, workspace.as_uuid().into_bytes());
            opt_role(buf, *from);
            opt_role(buf, *to);
        }
        Action::GroupMembershipChanged { group, change } => {
            id(buf, group.as_uuid().into_bytes());
            buf.push(membership_tag(*change));
        }
        Action::TeamMembershipChanged { team, change } => {
            id(buf, team.as_uuid().into_bytes());
            buf.push(membership_tag(*change));
        }
        Action::PasswordResetRequested { by } => buf.push(match by {
            ResetInitiator::SelfService => 1,
            ResetInitiator::Admin => 2,
        }),
        Action::SignedIn { method } => buf.push(match method {
            SignInMethod::Password => 1,
            SignInMethod::PasswordAndTotp => 2,
            SignInMethod::PasswordAndRecoveryCode => 3,
        }),
        Action::SignInFailed { reason } => buf.push(match reason {
            SignInFailure::UnknownUser => 1,
            SignInFailure::WrongPassword => 2,
            SignInFailure::WrongTotpCode => 3,
            SignInFailure::ReplayedTotpCode => 4,
            SignInFailure::WrongRecoveryCode => 5,
            SignInFailure::AccountLocked => 6,
            SignInFailure::Deactivated => 7,
            SignInFailure::WrongLinkSecret => 8,
        }),
        Action::SessionRevoked { session } => id(buf, session.as_uuid().into_bytes()),
        Action::TwoFactorEnrolmentStarted { replacing } => buf.push(u8::from(*replacing)),
        Action::SecretsResealed { count } => buf.extend_from_slice(&count.to_be_bytes()),
        Action::AuditExported { from, until } => {
            for at in [from, until] {
                match at {
                    Some(at) => {
                        buf.push(1);
                        buf.extend_from_slice(&at.timestamp_micros().to_be_bytes());
                    }
                    None => buf.push(0),
                }
            }
        }
        Action::UserImported {
            verified,
            role,
            password,
        } => {
            buf.push(u8::from(*verified));
            opt_role(buf, *role);
            buf.push(match password {
                None => 0,
                Some(ImportedHash::Argon2id) => 1,
                Some(ImportedHash::Argon2i) => 2,
                Some(ImportedHash::Bcrypt) => 3,
                Some(ImportedHash::Scrypt) => 4,
                Some(ImportedHash::Pbkdf2Sha256) => 5,
            });
        }
        Action::CredentialsRevoked { sessions, api_keys } => {
            buf.extend_from_slice(&sessions.to_be_bytes());
            buf.extend_from_slice(&api_keys.to_be_bytes());
        }
        Action::AuthorizationDenied { permission } => text(buf, permission.as_str()),
        Action::SettingsChanged { setting } => text(buf, setting.as_str()),
        Action::InviteResent
        | Action::InviteRevoked
        | Action::InviteAccepted
        | Action::AccountReclaimed
        | Action::UserCreated
        | Action::EmailChangeRequested
        | Action::EmailVerified
        | Action::EmailVerificationResent
        | Action::PasswordRehashed
        | Action::PasswordVerified
        | Action::Reauthenticated
        | Action::Deactivated
        | Action::Reactivated
        | Action::Deleted
        | Action::PasswordChanged
        | Action::PasswordResetCompleted
        | Action::TwoFactorEnrolled
        | Action::TwoFactorDisabled
        | Action::RecoveryCodesRegenerated
        | Action::AccountLocked
        | Action::ApiKeyCreated
        | Action::ApiKeyRevoked
        | Action::AccessRequestApproved
        | Action::AccessRequestRejected
        | Action::DepartmentCreated
        | Action::DepartmentRenamed
        | Action::DepartmentDeleted => {}
    }
}

fn outcome(buf: &mut Vec<u8>, outcome: &Outcome) {
    match outcome {
        Outcome::Success => buf.push(1),
        Outcome::Denied { reason } => {
            buf.push(2);
            match reason {
                DenialReason::MissingPermission { permission } => {
                    buf.push(1);
                    text(buf, permission.as_str());
                }
                DenialReason::ActorDeactivated => buf.push(2),
                DenialReason::OtherOrganization => buf.push(3),
                DenialReason::Escalation => buf.push(4),
                DenialReason::LastOwner => buf.push(5),
                DenialReason::SecondFactorRequired => buf.push(6),
            }
        }
    }
}

fn context(buf: &mut Vec<u8>, context: &Context) {
    match context.ip {
        None => buf.push(0),
        Some(IpAddr::V4(ip)) => {
            buf.push(4);
            buf.extend_from_slice(&ip.octets());
        }
        Some(IpAddr::V6(ip)) => {
            buf.push(6);
            buf.extend_from_slice(&ip.octets());
        }
    }
    opt_text(buf, context.user_agent.as_ref().map(|s| s.as_str()));
    opt_text(buf, context.request_id.as_ref().map(|s| s.as_str()));
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use iamkit_identity::{OrgId, UserId, WorkspaceId};

    use super::*;
    use crate::chain::{ChainHead, EventHash, chain_hash, seal};
    use crate::event::NewEvent;
    use crate::text::{RequestId, UserAgent};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn fixed_event() -> NewEvent {
        NewEvent {
            id: "0196a0b0-0000-7000-8000-000000000001".parse().unwrap(),
            org: "0196a0b0-0000-7000-8000-0000000000aa".parse().unwrap(),
            at: Utc.with_ymd_and_hms(2026, 5, 4, 12, 30, 0).unwrap(),
            actor: Actor::User("0196a0b0-0000-7000-8000-0000000000bb".parse().unwrap()),
            action: Action::WorkspaceRoleChanged {
                workspace: "0196a0b0-0000-7000-8000-0000000000cc".parse().unwrap(),
                from: None,
                to: Some("0196a0b0-0000-7000-8000-0000000000dd".parse().unwrap()),
            },
            target: Target::User("0196a0b0-0000-7000-8000-0000000000ee".parse().unwrap()),
            outcome: Outcome::Success,
            context: Context {
                ip: Some("2001:db8::1".parse().unwrap()),
                user_agent: Some(UserAgent::new("iamkit-test/1").unwrap()),
                request_id: Some(RequestId::new("req-1").unwrap()),
            },
        }
    }

    /// Stored chains depend on these bytes: if this test fails, the change
    /// breaks every existing chain and needs a new encoding version instead.
    #[test]
    fn golden_encoding_and_hash_are_pinned() {
        let org: OrgId = "0196a0b0-0000-7000-8000-0000000000aa".parse().unwrap();
        let event = seal(&ChainHead::genesis(org), fixed_event()).unwrap();
        assert_eq!(
            hex(&canonical_bytes(&event)),
            concat!(
                "01",                               // version
                "0196a0b0000070008000000000000001", // event id
                "0196a0b00000700080000000000000aa", // org
                "0000000000000001",                 // seq
                "000650fd16d0e200",                 // time, µs
                "01",
                "0196a0b00000700080000000000000bb", // actor: user
                "000a",
                "0196a0b00000700080000000000000cc",
                "00",
                "01",
                "0196a0b00000700080000000000000dd", // workspace role: none -> role
                "01",
                "0196a0b00000700080000000000000ee", // target: user
                "01",                               // success
                "06",
                "20010db8000000000000000000000001", // ip v6
                "01",
                "0000000d",
                "69616d6b69742d746573742f31", // user agent
                "01",
                "00000005",
                "7265712d31", // request id
            )
        );
        // Cross-checked with an independent SHA-256 (Python hashlib) over
        // 32 zero bytes followed by the bytes above.
        assert_eq!(
            event.hash.to_string(),
            "f31b77ffd74e513dd11c9dffd844346af13ff803948d046912af8ee55ebabe5d"
        );
    }

    #[test]
    fn hash_covers_the_previous_hash() {
        let org: OrgId = "0196a0b0-0000-7000-8000-0000000000aa".parse().unwrap();
        let event = seal(&ChainHead::genesis(org), fixed_event()).unwrap();
        let mut buf = Vec::new();
        assert_eq!(
            chain_hash(&EventHash::GENESIS, &event, &mut buf),
            event.hash
        );
        assert_ne!(
            chain_hash(&EventHash([1; 32]), &event, &mut buf),
            event.hash
        );
    }

    #[test]
    fn different_events_never_share_an_encoding() {
        let org: OrgId = "0196a0b0-0000-7000-8000-0000000000aa".parse().unwrap();
        let base = seal(&ChainHead::genesis(org), fixed_event()).unwrap();
        let user: UserId = "0196a0b0-0000-7000-8000-0000000000ff".parse().unwrap();
        let workspace: WorkspaceId = "0196a0b0-0000-7000-8000-0000000000ff".parse().unwrap();
        let variants = [
            AuditEvent {
                actor: Actor::System,
                ..base.clone()
            },
            AuditEvent {
                target: Target::Workspace(workspace),
                ..base.clone()
            },
            AuditEvent {
                target: Target::User(user),
                ..base.clone()
            },
            AuditEvent {
                seq: 2,
                ..base.clone()
            },
            AuditEvent {
                context: Context::default(),
                ..base.clone()
            },
            AuditEvent {
                // Same ids and bytes under another variant tag.
                action: Action::OrgRoleChanged {
                    from: None,
                    to: None,
                },
                ..base.clone()
            },
        ];
        let base_bytes = canonical_bytes(&base);
        for variant in &variants {
            assert_ne!(canonical_bytes(variant), base_bytes, "{variant:?}");
        }
    }
}
