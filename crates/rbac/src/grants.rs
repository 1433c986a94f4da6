//! Scopes, grantees and grants.

use iamkit_identity::{GroupId, OrgId, RoleId, TeamId, UserId, WorkspaceId};
use serde::{Deserialize, Serialize};

/// Where a role is granted: an organization, or one of its workspaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// The whole organization (its own settings and members).
    Organization(OrgId),
    /// One workspace of the organization.
    Workspace(OrgId, WorkspaceId),
}

impl Scope {
    /// The organization the scope is in.
    pub const fn org(self) -> OrgId {
        match self {
            Self::Organization(org) | Self::Workspace(org, _) => org,
        }
    }

    /// Organization or workspace.
    pub const fn kind(self) -> ScopeKind {
        match self {
            Self::Organization(_) => ScopeKind::Organization,
            Self::Workspace(..) => ScopeKind::Workspace,
        }
    }
}

/// The kind of a [`Scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ScopeKind {
    /// [`Scope::Organization`].
    Organization,
    /// [`Scope::Workspace`].
    Workspace,
}

/// A group or a team: a set of users that can hold grants. Both belong to
/// one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Collective {
    /// A group.
    Group(GroupId),
    /// A team.
    Team(TeamId),
}

/// Who a grant is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grantee {
    /// A user, directly.
    User(UserId),
    /// Every member of a group.
    Group(GroupId),
    /// Every member of a team.
    Team(TeamId),
}

impl From<Collective> for Grantee {
    fn from(value: Collective) -> Self {
        match value {
            Collective::Group(g) => Self::Group(g),
            Collective::Team(t) => Self::Team(t),
        }
    }
}

impl Grantee {
    /// The group or team, if the grantee is one.
    pub const fn collective(self) -> Option<Collective> {
        match self {
            Self::User(_) => None,
            Self::Group(g) => Some(Collective::Group(g)),
            Self::Team(t) => Some(Collective::Team(t)),
        }
    }
}

/// How a user came to hold a role, as a user-detail page shows it
/// ("Admin — via group Platform").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Source {
    /// Granted to the user directly.
    Direct,
    /// Inherited from a group the user is in.
    Group(GroupId),
    /// Inherited from a team the user is on.
    Team(TeamId),
}

impl From<Grantee> for Source {
    fn from(value: Grantee) -> Self {
        match value {
            Grantee::User(_) => Self::Direct,
            Grantee::Group(g) => Self::Group(g),
            Grantee::Team(t) => Self::Team(t),
        }
    }
}

/// One role granted to one grantee at one scope. A grantee holds at most
/// one role per scope: granting again replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// Who holds the role.
    pub grantee: Grantee,
    /// Where.
    pub scope: Scope,
    /// Which role.
    pub role: RoleId,
}

/// A member of a group or team, as the index is fed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CollectiveMember {
    /// The group or team.
    pub collective: Collective,
    /// Its organization.
    pub org: OrgId,
    /// The member.
    pub user: UserId,
}
