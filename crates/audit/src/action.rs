//! What happened: one variant per workflow of the facade. Payloads hold ids
//! and enums only, never names, emails or secrets (SECURITY.md 30), so
//! deleting a user never requires rewriting the chain (SECURITY.md 31).

use chrono::{DateTime, Utc};
use iamkit_identity::{GroupId, RoleId, SessionId, TeamId, TeamRole, WorkspaceId};
use serde::{Deserialize, Serialize};

use crate::text::{PermissionName, SettingName};

/// A profile field that a [`Action::ProfileUpdated`] event says changed.
/// The new values are not recorded: they may be personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProfileField {
    /// The display name.
    DisplayName,
    /// The username.
    Username,
    /// The preferred language.
    Language,
    /// The time zone.
    TimeZone,
    /// The avatar.
    Avatar,
    /// The department.
    Department,
    /// The job title.
    Title,
    /// The colour scheme.
    Theme,
}

/// Whether a member joined or left a group or team, or (on a team) took
/// another team role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipChange {
    /// The user joined.
    Added,
    /// The user left or was removed.
    Removed,
    /// The user's role on the team changed to this one.
    TeamRoleChanged {
        /// The new team role.
        role: TeamRole,
    },
}

/// How a sign-in was completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SignInMethod {
    /// Password only.
    Password,
    /// Password and a TOTP code.
    PasswordAndTotp,
    /// Password and a recovery code.
    PasswordAndRecoveryCode,
}

/// Why a sign-in failed. The caller always sees one generic error
/// (SECURITY.md 29); the precise reason goes here, never the secret tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SignInFailure {
    /// No account has the given username or email.
    UnknownUser,
    /// The password did not match.
    WrongPassword,
    /// The TOTP code did not match.
    WrongTotpCode,
    /// A TOTP code of an already used time step was replayed (RFC 6238 5.2).
    ReplayedTotpCode,
    /// The recovery code did not match or was already used.
    WrongRecoveryCode,
    /// The account is locked after too many failures.
    AccountLocked,
    /// The account is deactivated.
    Deactivated,
    /// The secret of an invitation or password-reset link did not match.
    WrongLinkSecret,
}

/// The algorithm of a password hash imported with an account
/// ([`Action::UserImported`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ImportedHash {
    /// argon2id.
    Argon2id,
    /// argon2i.
    Argon2i,
    /// bcrypt.
    Bcrypt,
    /// scrypt.
    Scrypt,
    /// PBKDF2-HMAC-SHA256.
    Pbkdf2Sha256,
}

/// Who started a password reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetInitiator {
    /// The user, through self-service.
    SelfService,
    /// An administrator, for the user.
    Admin,
}

/// What happened, with the ids it concerns.
///
/// The [`Target`](crate::Target) of the event names the object acted on;
/// the payload adds what the target alone does not say. Targets by
/// convention, so that a user's activity page finds what concerns them:
///
/// - the user, for invitations, account lifecycle, profile, email,
///   password, second factor, sign-in, lockout, role and membership
///   changes, and [`SessionRevoked`](Action::SessionRevoked) (the session's
///   owner; the session is in the payload);
/// - the key, for [`ApiKeyCreated`](Action::ApiKeyCreated) and
///   [`ApiKeyRevoked`](Action::ApiKeyRevoked);
/// - the request, for the `AccessRequest*` actions;
/// - the organization, for [`SettingsChanged`](Action::SettingsChanged);
/// - the department, for [`DepartmentCreated`](Action::DepartmentCreated),
///   [`DepartmentRenamed`](Action::DepartmentRenamed) and
///   [`DepartmentDeleted`](Action::DepartmentDeleted) (its name is the
///   target's, resolved at read time like every name);
/// - the object the actor tried to act on, for
///   [`AuthorizationDenied`](Action::AuthorizationDenied).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// A user was invited to the organization, with the role offered.
    Invited {
        /// The organization role the invitation grants on acceptance.
        role: Option<RoleId>,
    },
    /// An invitation was sent again (with a new link).
    InviteResent,
    /// An invitation was revoked before acceptance.
    InviteRevoked,
    /// An invitation was accepted.
    InviteAccepted,
    /// Whoever proved the mailbox (through an invitation link) took over
    /// an account whose email was unverified: new password, every earlier
    /// session, key and link ended, no managing organization any more.
    /// Recorded in every organization of the account (SECURITY.md 33).
    AccountReclaimed,
    /// A user account was created (directly, not by invitation).
    UserCreated,
    /// A user account was imported from another system, with its
    /// membership. No email or name: only what the import carried over.
    UserImported {
        /// Whether the email arrived verified.
        verified: bool,
        /// The organization role it got.
        role: Option<RoleId>,
        /// The algorithm of its imported password hash (`None`: it came
        /// without one and signs in after a password reset).
        password: Option<ImportedHash>,
    },
    /// Profile fields changed.
    ProfileUpdated {
        /// Which fields changed.
        fields: Vec<ProfileField>,
    },
    /// A change of email address was requested (verification pending).
    EmailChangeRequested,
    /// An email address was verified.
    EmailVerified,
    /// A new verification link was sent; the earlier one no longer works.
    EmailVerificationResent,
    /// The user's organization role changed; `None` means no role.
    OrgRoleChanged {
        /// The role before.
        from: Option<RoleId>,
        /// The role after.
        to: Option<RoleId>,
    },
    /// The user's role on a workspace changed; `None` means no role.
    WorkspaceRoleChanged {
        /// The workspace.
        workspace: WorkspaceId,
        /// The role before.
        from: Option<RoleId>,
        /// The role after.
        to: Option<RoleId>,
    },
    /// The user joined or left a group.
    GroupMembershipChanged {
        /// The group.
        group: GroupId,
        /// Joined or left.
        change: MembershipChange,
    },
    /// The user joined or left a team.
    TeamMembershipChanged {
        /// The team.
        team: TeamId,
        /// Joined or left.
        change: MembershipChange,
    },
    /// The user was deactivated.
    Deactivated,
    /// The user was reactivated.
    Reactivated,
    /// The user was deleted.
    Deleted,
    /// The user changed their password.
    PasswordChanged,
    /// A password reset link was issued.
    PasswordResetRequested {
        /// Who asked for it.
        by: ResetInitiator,
    },
    /// A password was set through a reset link.
    PasswordResetCompleted,
    /// TOTP enrolment began: a new secret waits for its first code. It
    /// protects nothing until [`TwoFactorEnrolled`](Action::TwoFactorEnrolled).
    TwoFactorEnrolmentStarted {
        /// Whether an earlier enrolment, begun but never confirmed, was
        /// replaced (its secret no longer works).
        replacing: bool,
    },
    /// TOTP was enrolled and confirmed.
    TwoFactorEnrolled,
    /// TOTP was disabled.
    TwoFactorDisabled,
    /// New recovery codes replaced the old ones.
    RecoveryCodesRegenerated,
    /// The password was right and the session waits for the second
    /// factor: a sign-in that never completes after this one says the
    /// password is known to whoever tried.
    PasswordVerified,
    /// The signed-in user proved their password again, for a sensitive
    /// change (SECURITY.md 39).
    Reauthenticated,
    /// A sign-in succeeded.
    SignedIn {
        /// The factors used.
        method: SignInMethod,
    },
    /// A sign-in failed.
    SignInFailed {
        /// Why (never shown to the caller).
        reason: SignInFailure,
    },
    /// The account was locked after repeated failures.
    AccountLocked,
    /// A session was revoked.
    SessionRevoked {
        /// The session.
        session: SessionId,
    },
    /// A change to the account (deactivation, deletion, a password set
    /// through a reset link, a reclaimed account, leaving an organization)
    /// ended its sessions and API keys at once: one event naming how many,
    /// next to the event of the change itself.
    CredentialsRevoked {
        /// Sessions ended.
        sessions: u64,
        /// API keys revoked.
        api_keys: u64,
    },
    /// The stored password hash was replaced by one with the current
    /// parameters at sign-in (SECURITY.md 8); the password is the same.
    PasswordRehashed,
    /// An API key was created.
    ApiKeyCreated,
    /// An API key was revoked.
    ApiKeyRevoked,
    /// An access request was submitted, for a role where it asks for one.
    AccessRequestCreated {
        /// The role requested.
        role: Option<RoleId>,
    },
    /// An access request was approved.
    AccessRequestApproved,
    /// An access request was rejected.
    AccessRequestRejected,
    /// A permission check denied an operation.
    AuthorizationDenied {
        /// The permission that was required.
        permission: PermissionName,
    },
    /// An organization setting changed.
    SettingsChanged {
        /// Which setting.
        setting: SettingName,
    },
    /// An export of the organization's audit trail was started. Recorded
    /// before the first line is written, so an export cut short is on
    /// record too.
    AuditExported {
        /// The start of the exported range (inclusive), if any.
        from: Option<DateTime<Utc>>,
        /// The end of the exported range (exclusive), if any.
        until: Option<DateTime<Utc>>,
    },
    /// A department was created.
    DepartmentCreated,
    /// A department was renamed. Neither name is recorded: names are
    /// resolved at read time, the department reads under its current one.
    DepartmentRenamed,
    /// A department was deleted (it had no members left).
    DepartmentDeleted,
    /// Stored secrets (TOTP secrets, outbox links) were sealed again under
    /// the sealer's current key, in one batch of a key rotation. Recorded
    /// in the system chain.
    SecretsResealed {
        /// How many values moved to the current key.
        count: u64,
    },
}

macro_rules! action_kinds {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// The kind of an [`Action`], without its payload: what queries
        /// filter on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum ActionKind {
            $(
                #[doc = concat!("[`Action::", stringify!($variant), "`].")]
                $variant,
            )*
        }

        impl ActionKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [ActionKind] = &[$(ActionKind::$variant),*];

            /// The stable `snake_case` name used in exports.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ActionKind::$variant => $name,)*
                }
            }
        }

        impl Action {
            /// The kind of this action.
            pub fn kind(&self) -> ActionKind {
                match self {
                    $(Action::$variant { .. } => ActionKind::$variant,)*
                }
            }
        }
    };
}

action_kinds! {
    Invited => "invited",
    InviteResent => "invite_resent",
    InviteRevoked => "invite_revoked",
    InviteAccepted => "invite_accepted",
    AccountReclaimed => "account_reclaimed",
    UserCreated => "user_created",
    ProfileUpdated => "profile_updated",
    EmailChangeRequested => "email_change_requested",
    EmailVerified => "email_verified",
    EmailVerificationResent => "email_verification_resent",
    OrgRoleChanged => "org_role_changed",
    WorkspaceRoleChanged => "workspace_role_changed",
    GroupMembershipChanged => "group_membership_changed",
    TeamMembershipChanged => "team_membership_changed",
    Deactivated => "deactivated",
    Reactivated => "reactivated",
    Deleted => "deleted",
    PasswordChanged => "password_changed",
    PasswordResetRequested => "password_reset_requested",
    PasswordResetCompleted => "password_reset_completed",
    TwoFactorEnrolmentStarted => "two_factor_enrolment_started",
    TwoFactorEnrolled => "two_factor_enrolled",
    TwoFactorDisabled => "two_factor_disabled",
    RecoveryCodesRegenerated => "recovery_codes_regenerated",
    PasswordVerified => "password_verified",
    Reauthenticated => "reauthenticated",
    SignedIn => "signed_in",
    SignInFailed => "sign_in_failed",
    AccountLocked => "account_locked",
    SessionRevoked => "session_revoked",
    CredentialsRevoked => "credentials_revoked",
    PasswordRehashed => "password_rehashed",
    ApiKeyCreated => "api_key_created",
    ApiKeyRevoked => "api_key_revoked",
    AccessRequestCreated => "access_request_created",
    AccessRequestApproved => "access_request_approved",
    AccessRequestRejected => "access_request_rejected",
    AuthorizationDenied => "authorization_denied",
    SettingsChanged => "settings_changed",
    SecretsResealed => "secrets_resealed",
    AuditExported => "audit_exported",
    DepartmentCreated => "department_created",
    DepartmentRenamed => "department_renamed",
    DepartmentDeleted => "department_deleted",
    UserImported => "user_imported",
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_match_the_export_tag() {
        let action = Action::PasswordResetRequested {
            by: ResetInitiator::Admin,
        };
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json["kind"], action.kind().as_str());
        assert_eq!(json["by"], "admin");
        assert_eq!(ActionKind::ALL.len(), 45);
        let kinds: std::collections::BTreeSet<_> =
            ActionKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            kinds.len(),
            ActionKind::ALL.len(),
            "export names are unique"
        );
    }
}
