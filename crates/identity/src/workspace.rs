//! Workspaces, groups and teams: the org-scoped containers of people.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{GroupId, OrgId, TeamId, UserId, WorkspaceId};
use crate::names::Name;

/// An isolated environment inside an organization; roles can be granted per
/// workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// The workspace's id.
    pub id: WorkspaceId,
    /// Its organization.
    pub org: OrgId,
    /// Name, unique within the organization (case-insensitively).
    pub name: Name,
    /// When the workspace was created.
    pub created_at: DateTime<Utc>,
}

/// A set of users that receives roles as one (a "Platform" group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The group's id.
    pub id: GroupId,
    /// Its organization.
    pub org: OrgId,
    /// Name, unique among the organization's groups (case-insensitively).
    pub name: Name,
    /// When the group was created.
    pub created_at: DateTime<Utc>,
}

/// A team of people; like a group, but each member has a team role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// The team's id.
    pub id: TeamId,
    /// Its organization.
    pub org: OrgId,
    /// Name, unique among the organization's teams (case-insensitively).
    pub name: Name,
    /// When the team was created.
    pub created_at: DateTime<Utc>,
}

/// A member's role on a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TeamRole {
    /// An ordinary member.
    Member,
    /// Leads the team.
    Lead,
}

/// One user's place on a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TeamMember {
    /// The team.
    pub team: TeamId,
    /// The user.
    pub user: UserId,
    /// Member or lead.
    pub role: TeamRole,
}
