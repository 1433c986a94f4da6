//! Organizations (tenants), their departments and their members.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::email::EmailDomain;
use crate::ids::{DepartmentId, OrgId, RoleId, UserId};
use crate::names::{Name, Slug};
use crate::user::UserStatus;

/// A tenant: the unit of administration, billing and isolation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// The organization's id.
    pub id: OrgId,
    /// Display name.
    pub name: Name,
    /// URL handle, unique across all organizations.
    pub slug: Slug,
    /// Security and onboarding settings.
    pub settings: OrgSettings,
    /// When the organization was created.
    pub created_at: DateTime<Utc>,
}

/// Organization-wide settings an Owner or Admin controls.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrgSettings {
    /// Members without a second factor can do nothing but enrol one.
    pub require_two_factor: bool,
    /// Email domains whose verified users may join on their own.
    pub auto_join: Vec<AutoJoinDomain>,
    /// The time zone of members who chose none (UTC when unset).
    #[serde(default)]
    pub time_zone: Option<crate::TimeZone>,
}

impl OrgSettings {
    /// The auto-join rule for `domain`, if the organization has one.
    pub fn auto_join_for(&self, domain: &str) -> Option<&AutoJoinDomain> {
        self.auto_join
            .iter()
            .find(|rule| rule.domain.as_str() == domain)
    }
}

/// "Anyone with a verified address at `domain` may join with `default_role`."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoJoinDomain {
    /// The email domain.
    pub domain: EmailDomain,
    /// The organization role a self-joined member receives.
    pub default_role: RoleId,
}

/// A department (sub-organization) users can be filed under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// The department's id.
    pub id: DepartmentId,
    /// Its organization.
    pub org: OrgId,
    /// Name, unique within the organization (case-insensitively).
    pub name: Name,
}

/// A user's membership of an organization, with its own status: a user can
/// be active in one organization and deactivated in another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The organization.
    pub org: OrgId,
    /// The member.
    pub user: UserId,
    /// Status within this organization.
    pub status: UserStatus,
    /// Department, from the organization's list.
    pub department: Option<DepartmentId>,
    /// When the membership was created (the invitation or the join).
    pub created_at: DateTime<Utc>,
    /// When the membership last changed.
    pub updated_at: DateTime<Utc>,
}
