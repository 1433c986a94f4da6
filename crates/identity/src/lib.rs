#![doc = include_str!("../README.md")]

// Lets `define_id!` name this crate by its public path from inside it too.
extern crate self as iamkit_identity;

mod directory;
mod email;
mod error;
mod ids;
mod names;
mod organization;
mod private;
mod profile;
mod repository;
mod user;
mod username;
mod validation;
mod workspace;

#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}

pub use directory::{DirectoryCursor, DirectoryEntry, DirectoryQuery, search_text, sort_key};
pub use email::{Email, EmailDomain};
pub use error::{IdentityError, Result};
pub use ids::{
    AccessRequestId, ApiKeyId, DepartmentId, GroupId, OrgId, RoleId, SessionId, TeamId, UserId,
    WorkspaceId,
};
pub use names::{Name, PersonName, Slug};
pub use organization::{AutoJoinDomain, Department, Membership, OrgSettings, Organization};
pub use profile::{AvatarUrl, Language, Profile, Theme, TimeZone};
pub use repository::{
    GroupRepository, OrganizationRepository, StoreResult, TeamRepository, UserRepository,
    WorkspaceRepository,
};
pub use user::{NewUser, StatusChange, Transition, User, UserStatus};
pub use username::Username;
pub use validation::{InvalidInput, Rule};
pub use workspace::{Group, Team, TeamMember, TeamRole, Workspace};
