//! User accounts and their lifecycle.

use std::fmt;

use chrono::{DateTime, Utc};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::email::Email;
use crate::error::{IdentityError, Result};
use crate::ids::{OrgId, UserId};
use crate::profile::Profile;
use crate::username::Username;

/// Where an account (or an organization membership) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    /// Invited, has not accepted yet: cannot sign in.
    Invited,
    /// Can sign in and act within their roles.
    Active,
    /// Access revoked; history kept. Cannot sign in.
    Deactivated,
}

impl UserStatus {
    /// Every status.
    pub const ALL: [Self; 3] = [Self::Invited, Self::Active, Self::Deactivated];

    /// The upper-case label shown in admin consoles (`ACTIVE`, ...).
    pub const fn label(self) -> &'static str {
        match self {
            Self::Invited => "INVITED",
            Self::Active => "ACTIVE",
            Self::Deactivated => "DEACTIVATED",
        }
    }

    /// The outcome of `change` from this status, or
    /// [`IdentityError::IllegalTransition`].
    ///
    /// | from \ change | accept | deactivate | reactivate | revoke invitation | delete |
    /// |---|---|---|---|---|---|
    /// | INVITED | ACTIVE | — | — | removed | removed |
    /// | ACTIVE | — | DEACTIVATED | — | — | removed |
    /// | DEACTIVATED | — | — | ACTIVE | — | removed |
    ///
    /// An invitation is revoked rather than deactivated: an account that never
    /// became active has no history worth keeping.
    pub fn apply(self, change: StatusChange) -> Result<Transition> {
        use StatusChange as C;
        use UserStatus as S;
        match (self, change) {
            (S::Invited, C::AcceptInvitation) => Ok(Transition::To(S::Active)),
            (S::Active, C::Deactivate) => Ok(Transition::To(S::Deactivated)),
            (S::Deactivated, C::Reactivate) => Ok(Transition::To(S::Active)),
            (S::Invited, C::RevokeInvitation) => Ok(Transition::Removed),
            (_, C::Delete) => Ok(Transition::Removed),
            (from, change) => Err(IdentityError::IllegalTransition { from, change }),
        }
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A lifecycle event applied to a [`UserStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusChange {
    /// The invitee accepted and set a password.
    AcceptInvitation,
    /// An admin revoked access.
    Deactivate,
    /// An admin restored access.
    Reactivate,
    /// An admin withdrew a pending invitation.
    RevokeInvitation,
    /// The account (or membership) is erased.
    Delete,
}

impl StatusChange {
    /// Every change.
    pub const ALL: [Self; 5] = [
        Self::AcceptInvitation,
        Self::Deactivate,
        Self::Reactivate,
        Self::RevokeInvitation,
        Self::Delete,
    ];
}

impl fmt::Display for StatusChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AcceptInvitation => "accept the invitation of",
            Self::Deactivate => "deactivate",
            Self::Reactivate => "reactivate",
            Self::RevokeInvitation => "revoke the invitation of",
            Self::Delete => "delete",
        })
    }
}

/// Where a legal [`StatusChange`] leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The record stays, with this status.
    To(UserStatus),
    /// The record is removed.
    Removed,
}

/// A user account. Global: one account can be a member of several
/// organizations (see [`Membership`](crate::Membership)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The account's id.
    pub id: UserId,
    /// Login handle, unique across all organizations.
    pub username: Username,
    /// Sign-in and notification address, unique across all organizations.
    pub email: Email,
    /// Whether the user proved they own `email`. Only verified addresses
    /// receive notifications other than invitations and verifications.
    pub email_verified: bool,
    /// Names, avatar and language.
    pub profile: Profile,
    /// Account status.
    pub status: UserStatus,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account last changed.
    pub updated_at: DateTime<Utc>,
    /// When the user last signed in, if ever.
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// The organization that manages the account itself (status, global
    /// profile, password and 2FA resets, all sessions, deletion): the one
    /// that verified the email's domain, or else the one that created the
    /// account, for as long as it belongs to no other. `None`: the account
    /// manages itself, and every organization acts on its own membership
    /// only (SECURITY.md 32).
    #[serde(default)]
    pub managed_by: Option<OrgId>,
}

/// The validated input of a new account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login handle.
    pub username: Username,
    /// Address.
    pub email: Email,
    /// Names, avatar, language.
    pub profile: Profile,
    /// `Invited` for the invite flow, `Active` when created with a password.
    pub status: UserStatus,
}

impl User {
    /// A new account created at `now`.
    pub fn new(input: NewUser, now: DateTime<Utc>, rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        Self {
            id: UserId::generate(now, rng),
            username: input.username,
            email: input.email,
            email_verified: false,
            profile: input.profile,
            status: input.status,
            created_at: now,
            updated_at: now,
            last_sign_in_at: None,
            managed_by: None,
        }
    }

    /// Applies a lifecycle change at `now`. Returns `Transition::Removed` when
    /// the caller must delete the account; the status is unchanged then.
    pub fn apply(&mut self, change: StatusChange, now: DateTime<Utc>) -> Result<Transition> {
        let transition = self.status.apply(change)?;
        if let Transition::To(status) = transition {
            self.status = status;
            self.updated_at = now;
        }
        Ok(transition)
    }

    /// Whether the account may sign in and act.
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole transition table, written out independently of `apply`.
    #[test]
    fn full_transition_table() {
        use StatusChange as C;
        use Transition::{Removed, To};
        use UserStatus as S;
        let expected: [(S, C, Option<Transition>); 15] = [
            (S::Invited, C::AcceptInvitation, Some(To(S::Active))),
            (S::Invited, C::Deactivate, None),
            (S::Invited, C::Reactivate, None),
            (S::Invited, C::RevokeInvitation, Some(Removed)),
            (S::Invited, C::Delete, Some(Removed)),
            (S::Active, C::AcceptInvitation, None),
            (S::Active, C::Deactivate, Some(To(S::Deactivated))),
            (S::Active, C::Reactivate, None),
            (S::Active, C::RevokeInvitation, None),
            (S::Active, C::Delete, Some(Removed)),
            (S::Deactivated, C::AcceptInvitation, None),
            (S::Deactivated, C::Deactivate, None),
            (S::Deactivated, C::Reactivate, Some(To(S::Active))),
            (S::Deactivated, C::RevokeInvitation, None),
            (S::Deactivated, C::Delete, Some(Removed)),
        ];
        for (from, change, want) in expected {
            match (from.apply(change), want) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "{from:?} {change:?}"),
                (Err(IdentityError::IllegalTransition { from: f, change: c }), None) => {
                    assert_eq!((f, c), (from, change));
                }
                (got, want) => panic!("{from:?} {change:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn illegal_transition_error_reads_well() {
        let err = UserStatus::Invited
            .apply(StatusChange::Deactivate)
            .unwrap_err();
        assert_eq!(err.to_string(), "cannot deactivate a user who is INVITED");
    }
}
