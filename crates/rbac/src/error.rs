//! The crate's error type.

use iamkit_identity::{OrgId, RoleId};

use crate::grants::ScopeKind;
use crate::permissions::Permission;

/// Everything that can go wrong in the RBAC domain. Bad input changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A permission name broke a rule.
    #[error("invalid permission name: {rule:?}")]
    InvalidPermission {
        /// The rule broken.
        rule: PermissionRule,
    },
    /// A permission was registered twice.
    #[error("permission `{permission}` is already registered")]
    DuplicatePermission {
        /// The permission.
        permission: Permission,
    },
    /// A permission is not in the catalogue.
    #[error("permission `{permission}` is not in the catalogue")]
    UnknownPermission {
        /// The permission.
        permission: Permission,
    },
    /// The catalogue cannot hold more permissions.
    #[error("the permission catalogue is full")]
    CatalogueFull,
    /// A role name broke a rule.
    #[error("invalid role name: {rule:?}")]
    InvalidRoleName {
        /// The rule broken.
        rule: RoleNameRule,
    },
    /// A custom role was declared assignable at no scope.
    #[error("a role must be assignable at organization or workspace scope")]
    NotAssignableAnywhere,
    /// A role assignable in workspaces carries a permission nobody holds
    /// in a workspace (outside the Admin set, which is the most an
    /// organization Owner holds there), so nobody could ever grant it
    /// there.
    #[error("`{permission}` is held in no workspace: a workspace role cannot carry it")]
    NotGrantableInWorkspaces {
        /// The first such permission.
        permission: Permission,
    },
    /// The role is not known to the index.
    #[error("role {role} is unknown")]
    UnknownRole {
        /// The role.
        role: RoleId,
    },
    /// The role is a built-in and cannot be changed or deleted.
    #[error("built-in role {role} cannot be changed")]
    BuiltinRoleImmutable {
        /// The role.
        role: RoleId,
    },
    /// The role cannot be granted at this kind of scope, or belongs to
    /// another organization than the scope.
    #[error("role {role} is not assignable at {scope:?} scope of this organization")]
    RoleNotAssignable {
        /// The role.
        role: RoleId,
        /// The kind of scope asked for.
        scope: ScopeKind,
    },
    /// The role is still granted somewhere.
    #[error("role {role} is still granted {grants} time(s)")]
    RoleInUse {
        /// The role.
        role: RoleId,
        /// How many grants use it.
        grants: usize,
    },
    /// A group or team was used with another organization than its own.
    #[error("group or team belongs to another organization")]
    OrganizationMismatch,
    /// The actor lacks permissions of the role it tries to grant or revoke
    /// (SECURITY.md 26).
    #[error("escalation: the actor lacks {missing:?}")]
    Escalation {
        /// The permissions the actor does not hold in that scope.
        missing: Vec<Permission>,
    },
    /// Only an Owner grants or revokes Owner (SECURITY.md 26).
    #[error("only an Owner grants or revokes the Owner role")]
    OwnerRequired,
    /// The change would leave the organization without an active Owner
    /// (SECURITY.md 27).
    #[error("organization {org} would be left without an active Owner")]
    LastOwner {
        /// The organization.
        org: OrgId,
    },
}

/// The rule a permission name broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PermissionRule {
    /// 1 to 64 bytes.
    Length,
    /// At least two dot-separated segments (`namespace.action`).
    Namespace,
    /// Every segment starts with a lowercase ASCII letter.
    SegmentStart,
    /// Only lowercase ASCII letters, digits and `_`.
    Characters,
}

/// The rule a role name broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoleNameRule {
    /// 1 to 64 characters after trimming.
    Length,
    /// No control characters.
    Characters,
    /// Not the name of a built-in role (case-insensitive).
    ReservedName,
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
