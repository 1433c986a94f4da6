#![doc = include_str!("../README.md")]

// Lets `define_id!` name this crate by its public path from inside it too.
extern crate self as iamkit_identity;

mod ids;
#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
mod private;

pub use ids::{
    AccessRequestId, ApiKeyId, DepartmentId, GroupId, OrgId, RoleId, SessionId, TeamId, UserId,
    WorkspaceId,
};
