#![doc = include_str!("../README.md")]

mod delta;
mod error;
mod grants;
mod guards;
mod index;
mod permissions;
mod repository;
mod roles;

pub use delta::{Observed, ObservedCollective, ObservedMember};
pub use error::{Error, PermissionRule, Result, RoleNameRule};
pub use grants::{Collective, CollectiveMember, Grant, Grantee, Scope, ScopeKind, Source};
pub use guards::{ensure_can_grant, restrict_api_key};
pub use index::{
    Access, AccessIndex, Change, CheckIndex, Decision, Effect, Reason, RoleAssignment,
};
pub use permissions::{
    Catalogue, IAMKIT_PERMISSIONS, MAX_PERMISSION_LEN, Permission, PermissionId, PermissionSet,
};
pub use repository::{GrantRepository, RoleRepository};
pub use roles::{
    AssignableAt, BuiltinRole, CustomRole, MAX_ROLE_NAME_CHARS, RoleDefinition, RoleName,
};
