//! The facade's error type.

use iamkit_credentials::{FieldRule, PasswordRule};
use iamkit_identity::{InvalidInput, StatusChange, UserStatus};
use iamkit_rbac::Permission;
use iamkit_store_api::StoreError;

/// What a workflow can refuse or fail with. Every refusal changes nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input broke a validation rule (names the field and the rule).
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),
    /// A new password broke the policy.
    #[error("password rejected: {rule}")]
    InvalidPassword {
        /// The rule broken.
        rule: PasswordRule,
    },
    /// A credentials field (API key name, restriction, ...) broke a rule.
    #[error("invalid `{field}`: {rule}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// The rule broken.
        rule: FieldRule,
    },
    /// The object does not exist, or belongs to another organization
    /// (SECURITY.md 25: existence is never revealed across tenants).
    #[error("not found")]
    NotFound,
    /// The actor lacks the permission in the target's scope.
    #[error("forbidden: `{permission}` required")]
    Forbidden {
        /// The permission required.
        permission: String,
    },
    /// Authentication failed. One error for every reason (SECURITY.md 29);
    /// the reason goes to the audit log.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A unique value is taken or a state conflicts.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The change is to the account itself (its status, global profile,
    /// password, all its sessions, its deletion), and the account is not
    /// managed by this organization: it acts on its membership only
    /// (SECURITY.md 32). Suspend or remove the membership instead.
    #[error("the account is not managed by this organization; act on its membership instead")]
    NotManaged,
    /// The change needs a recent proof of a factor (SECURITY.md 39): call
    /// [`Iam::reauthenticate`](crate::Iam::reauthenticate) with the current
    /// password, then retry. Nothing was done.
    #[error("re-authentication required")]
    ReauthenticationRequired,
    /// Too many password hashes are waiting for the hashing pool (see
    /// [`HashingConfig`](crate::HashingConfig)): nothing was done; retry
    /// shortly (an HTTP service answers 503 with `Retry-After`).
    #[error("busy: too many password checks in progress; retry shortly")]
    Busy,
    /// The change would leave the organization without an active Owner
    /// (SECURITY.md 27).
    #[error("the organization would be left without an active Owner")]
    LastOwner,
    /// The actor would grant or revoke more than it holds (SECURITY.md 26);
    /// `missing` is empty when only an Owner may grant the role.
    #[error("{}", escalation_message(missing))]
    Escalation {
        /// The permissions the actor lacks (empty: Owner required).
        missing: Vec<Permission>,
    },
    /// The account's status does not allow the change.
    #[error("cannot {change} a user who is {from}")]
    IllegalTransition {
        /// The current status.
        from: UserStatus,
        /// The change attempted.
        change: StatusChange,
    },
    /// The role cannot be used here (unknown, wrong scope kind, other
    /// organization).
    #[error("role not assignable here")]
    RoleNotAssignable,
    /// The app still links records to the user: deletion refused, nothing
    /// changed. Deactivate the user instead (their history stays).
    #[error("linked records prevent deletion; deactivate the user instead")]
    LinkedData {
        /// What links to the user.
        records: Vec<crate::deletion::LinkedRecord>,
    },
    /// Members are still filed under the department: deletion refused,
    /// nothing changed. Move them to another department (or none) with
    /// [`Iam::update_profile`](crate::Iam::update_profile) first.
    #[error("{count} member(s) still filed under the department; move them before deleting it")]
    DepartmentInUse {
        /// The first members filed under it, by user id (at most
        /// [`DEPARTMENT_MEMBERS_SHOWN`](crate::DEPARTMENT_MEMBERS_SHOWN)).
        members: Vec<iamkit_identity::UserId>,
        /// How many members are filed under it.
        count: usize,
    },
    /// A custom role definition broke a rule (name, unknown permission,
    /// assignable nowhere).
    #[error("invalid role: {reason}")]
    InvalidRole {
        /// The rule broken.
        reason: iamkit_rbac::Error,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A cryptographic operation failed (hashing, sealing, opening).
    #[error("internal credential failure")]
    Crypto,
    /// No key of the sealer's ring opens a stored sealed secret (its key
    /// was dropped from the ring too early, or the value is damaged); see
    /// [`Iam::reseal`](crate::Iam::reseal).
    #[error("no sealing key opens {value}")]
    Unsealable {
        /// Which stored value.
        value: crate::SealedValue,
    },
    /// An internal invariant failed (a constant name that should validate
    /// did not). Never caused by input.
    #[error("internal error")]
    Internal,
    /// An app permission given to the builder is malformed or registered
    /// twice.
    #[error("invalid permission: {reason}")]
    InvalidPermission {
        /// The rule broken.
        reason: iamkit_rbac::Error,
    },
}

/// Which conflict an [`Error::Conflict`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// Another account has the username.
    #[error("username taken")]
    UsernameTaken,
    /// Another account has the email.
    #[error("email taken")]
    EmailTaken,
    /// Another object of the organization has the name (or slug).
    #[error("name taken")]
    NameTaken,
    /// The user is already a member.
    #[error("already a member")]
    AlreadyMember,
    /// The access request was already approved or rejected.
    #[error("already decided")]
    AlreadyDecided,
    /// The role is still granted; reassign before deleting it.
    #[error("role still granted {grants} time(s)")]
    RoleInUse {
        /// How many grants use it.
        grants: usize,
    },
    /// Two-factor authentication is already on (disable it to re-enrol).
    #[error("two-factor authentication already enabled")]
    TwoFactorEnabled,
}

/// Result of a facade call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Maps a store unique violation to the conflict it means.
    pub(crate) fn from_store(e: StoreError) -> Self {
        match e.violated_constraint() {
            Some("users_username") => Self::Conflict(Conflict::UsernameTaken),
            Some("users_email") => Self::Conflict(Conflict::EmailTaken),
            Some(
                "organizations_slug"
                | "workspaces_name"
                | "groups_name"
                | "teams_name"
                | "custom_roles_org_name"
                | "departments_name",
            ) => Self::Conflict(Conflict::NameTaken),
            Some("memberships_pkey" | "group_members_pkey" | "team_members_pkey") => {
                Self::Conflict(Conflict::AlreadyMember)
            }
            _ => Self::Store(e),
        }
    }

    pub(crate) fn from_credentials(e: iamkit_credentials::Error) -> Self {
        use iamkit_credentials::Error as C;
        match e {
            C::InvalidPassword { rule } => Self::InvalidPassword { rule },
            C::InvalidField { field, rule } => Self::InvalidField { field, rule },
            C::InvalidCredentials | C::Locked { .. } => Self::InvalidCredentials,
            _ => Self::Crypto,
        }
    }

    pub(crate) fn from_rbac(e: iamkit_rbac::Error) -> Self {
        use iamkit_rbac::Error as R;
        match e {
            R::Escalation { missing } => Self::Escalation { missing },
            R::OwnerRequired => Self::Escalation {
                missing: Vec::new(),
            },
            R::LastOwner { .. } => Self::LastOwner,
            _ => Self::RoleNotAssignable,
        }
    }
}

/// What [`Error::Escalation`] says: the permissions missing, or, when
/// none are, that the role is an Owner's to grant.
fn escalation_message(missing: &[Permission]) -> String {
    if missing.is_empty() {
        return "escalation: only an Owner may grant or take the Owner role".to_owned();
    }
    let names: Vec<&str> = missing.iter().map(Permission::as_str).collect();
    format!("escalation: the actor lacks {}", names.join(", "))
}

impl From<iamkit_identity::IdentityError> for Error {
    fn from(e: iamkit_identity::IdentityError) -> Self {
        use iamkit_identity::IdentityError as I;
        match e {
            I::Invalid(i) => Self::InvalidInput(i),
            I::IllegalTransition { from, change } => Self::IllegalTransition { from, change },
            _ => Self::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escalation_names_what_is_missing_or_that_an_owner_is_needed() {
        let owner_only = Error::from_rbac(iamkit_rbac::Error::OwnerRequired);
        assert_eq!(
            owner_only.to_string(),
            "escalation: only an Owner may grant or take the Owner role"
        );
        let missing = Error::Escalation {
            missing: vec![
                Permission::parse("users.delete").unwrap(),
                Permission::parse("audit.read").unwrap(),
            ],
        };
        assert_eq!(
            missing.to_string(),
            "escalation: the actor lacks users.delete, audit.read"
        );
    }
}
