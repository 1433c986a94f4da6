//! Roles: the six built-ins with fixed ids, and custom roles of an
//! organization.

use std::collections::BTreeSet;
use std::fmt;

use iamkit_identity::{OrgId, RoleId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result, RoleNameRule};
use crate::grants::ScopeKind;
use crate::permissions::{Catalogue, Permission, PermissionSet};

/// The built-in roles, the same in every organization (reference 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BuiltinRole {
    /// Full access, including billing; the only role that grants Owner.
    Owner,
    /// Manages users, roles and settings; everything but billing.
    Admin,
    /// Reviews and authorizes access requests.
    Approver,
    /// Submits access requests.
    Requester,
    /// Reads audit logs; changes nothing.
    Auditor,
    /// Views permitted data; changes nothing.
    ReadOnly,
}

impl BuiltinRole {
    /// Every built-in role, in table order.
    pub const ALL: [Self; 6] = [
        Self::Owner,
        Self::Admin,
        Self::Approver,
        Self::Requester,
        Self::Auditor,
        Self::ReadOnly,
    ];

    /// The role's well-known id: the same in every deployment, so grants
    /// stored by one process mean the same in another.
    pub const fn id(self) -> RoleId {
        RoleId::from_uuid(Uuid::from_u128(
            0x0000_0000_0000_7000_8000_0000_0000_0000 | (self.ordinal() as u128 + 1),
        ))
    }

    /// The built-in role with that id, if it is one.
    pub fn from_id(id: RoleId) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The display name (`Owner`, `Read-only`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Owner => "Owner",
            Self::Admin => "Admin",
            Self::Approver => "Approver",
            Self::Requester => "Requester",
            Self::Auditor => "Auditor",
            Self::ReadOnly => "Read-only",
        }
    }

    pub(crate) const fn ordinal(self) -> usize {
        match self {
            Self::Owner => 0,
            Self::Admin => 1,
            Self::Approver => 2,
            Self::Requester => 3,
            Self::Auditor => 4,
            Self::ReadOnly => 5,
        }
    }
}

impl fmt::Display for BuiltinRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Longest accepted role name, in characters.
pub const MAX_ROLE_NAME_CHARS: usize = 64;

/// A custom role's name: trimmed, 1 to 64 characters, no control characters,
/// not a built-in name. Unique per organization, ignoring case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleName(String);

impl RoleName {
    /// Parses and validates a role name.
    pub fn parse(name: &str) -> Result<Self> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_ROLE_NAME_CHARS {
            return Err(Error::InvalidRoleName {
                rule: RoleNameRule::Length,
            });
        }
        if name.chars().any(char::is_control) {
            return Err(Error::InvalidRoleName {
                rule: RoleNameRule::Characters,
            });
        }
        let key = name.to_lowercase();
        if BuiltinRole::ALL
            .iter()
            .any(|r| r.name().to_lowercase() == key)
        {
            return Err(Error::InvalidRoleName {
                rule: RoleNameRule::ReservedName,
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is checked on: lowercase.
    pub fn unique_key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RoleName {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<RoleName> for String {
    fn from(value: RoleName) -> Self {
        value.0
    }
}

/// The scopes a custom role may be granted at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AssignableAt {
    /// At organization scope.
    pub organization: bool,
    /// At workspace scope.
    pub workspace: bool,
}

impl AssignableAt {
    /// Both scopes.
    pub const ANY: Self = Self {
        organization: true,
        workspace: true,
    };

    /// Whether a role may be granted at that kind of scope.
    pub const fn allows(self, kind: ScopeKind) -> bool {
        match kind {
            ScopeKind::Organization => self.organization,
            ScopeKind::Workspace => self.workspace,
        }
    }
}

/// A role an organization defined for itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRole {
    /// Its id.
    pub id: RoleId,
    /// The organization it belongs to; it is grantable only there.
    pub org: OrgId,
    /// Its name, unique in the organization ignoring case.
    pub name: RoleName,
    /// Its permissions, by name, so stored roles survive catalogue changes.
    pub permissions: BTreeSet<Permission>,
    /// Where it may be granted.
    pub assignable_at: AssignableAt,
}

impl CustomRole {
    /// A validated custom role: every permission must be in `catalogue`, and
    /// the role must be assignable somewhere.
    pub fn new(
        id: RoleId,
        org: OrgId,
        name: RoleName,
        permissions: BTreeSet<Permission>,
        assignable_at: AssignableAt,
        catalogue: &Catalogue,
    ) -> Result<Self> {
        if !assignable_at.organization && !assignable_at.workspace {
            return Err(Error::NotAssignableAnywhere);
        }
        if let Some(unknown) = permissions
            .iter()
            .find(|p| catalogue.id(p.as_str()).is_none())
        {
            return Err(Error::UnknownPermission {
                permission: unknown.clone(),
            });
        }
        // In a workspace the most anyone holds is the Admin set (an
        // organization Owner acts there as an Admin), and a grant needs
        // its grantor to hold the whole role: a permission beyond that set
        // would make the role impossible to grant in any workspace.
        if assignable_at.workspace {
            let admin = catalogue.builtin_permissions(BuiltinRole::Admin);
            if let Some(beyond) = permissions.iter().find(|p| {
                catalogue
                    .id(p.as_str())
                    .is_some_and(|id| !admin.contains(id))
            }) {
                return Err(Error::NotGrantableInWorkspaces {
                    permission: beyond.clone(),
                });
            }
        }
        Ok(Self {
            id,
            org,
            name,
            permissions,
            assignable_at,
        })
    }
}

/// A role as the index knows it: built-in or custom, compiled to a bitset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    /// Its id.
    pub id: RoleId,
    /// Display name.
    pub name: String,
    /// `None` for a built-in role (every organization), else the owning one.
    pub org: Option<OrgId>,
    /// Its permissions in the index's catalogue.
    pub permissions: PermissionSet,
    /// Where it may be granted.
    pub assignable_at: AssignableAt,
    /// Which built-in it is, if any.
    pub builtin: Option<BuiltinRole>,
}

impl RoleDefinition {
    /// A built-in role's definition in `catalogue`.
    pub fn builtin(role: BuiltinRole, catalogue: &Catalogue) -> Self {
        Self {
            id: role.id(),
            name: role.name().to_owned(),
            org: None,
            permissions: catalogue.builtin_permissions(role),
            assignable_at: AssignableAt::ANY,
            builtin: Some(role),
        }
    }

    /// A custom role's definition in `catalogue` (permissions the catalogue
    /// no longer knows are dropped: deny by default).
    pub fn custom(role: &CustomRole, catalogue: &Catalogue) -> Self {
        Self {
            id: role.id,
            name: role.name.as_str().to_owned(),
            org: Some(role.org),
            permissions: catalogue.set_of(role.permissions.iter().map(Permission::as_str)),
            assignable_at: role.assignable_at,
            builtin: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_ids_are_fixed_distinct_and_round_trip() {
        let ids: BTreeSet<_> = BuiltinRole::ALL.iter().map(|r| r.id()).collect();
        assert_eq!(ids.len(), 6);
        assert_eq!(
            BuiltinRole::Owner.id().to_string(),
            "00000000-0000-7000-8000-000000000001"
        );
        for role in BuiltinRole::ALL {
            assert_eq!(BuiltinRole::from_id(role.id()), Some(role));
        }
    }

    #[test]
    fn role_names_are_validated() {
        assert_eq!(
            RoleName::parse("  Billing admin ").unwrap().as_str(),
            "Billing admin"
        );
        assert_eq!(RoleName::parse("Ops").unwrap().unique_key(), "ops");
        let rule = |s: &str| match RoleName::parse(s) {
            Err(Error::InvalidRoleName { rule }) => rule,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(rule("   "), RoleNameRule::Length);
        assert_eq!(rule(&"x".repeat(65)), RoleNameRule::Length);
        assert_eq!(rule("a\u{7}b"), RoleNameRule::Characters);
        assert_eq!(rule("OWNER"), RoleNameRule::ReservedName);
        assert_eq!(rule("read-only"), RoleNameRule::ReservedName);
    }

    #[test]
    fn custom_roles_need_known_permissions_and_a_scope() {
        let catalogue = Catalogue::new();
        let org = OrgId::from_uuid(Uuid::from_u128(1));
        let id = RoleId::from_uuid(Uuid::from_u128(2));
        let name = RoleName::parse("Ops").unwrap();
        let perms: BTreeSet<_> = [Permission::parse("users.read").unwrap()].into();
        let ok = CustomRole::new(
            id,
            org,
            name.clone(),
            perms.clone(),
            AssignableAt::ANY,
            &catalogue,
        );
        assert!(ok.is_ok());
        let nowhere = AssignableAt {
            organization: false,
            workspace: false,
        };
        assert_eq!(
            CustomRole::new(id, org, name.clone(), perms, nowhere, &catalogue),
            Err(Error::NotAssignableAnywhere)
        );
        let unknown: BTreeSet<_> = [Permission::parse("workflows.run").unwrap()].into();
        assert!(matches!(
            CustomRole::new(id, org, name, unknown, AssignableAt::ANY, &catalogue),
            Err(Error::UnknownPermission { .. })
        ));
    }

    #[test]
    fn a_workspace_role_carries_only_what_someone_holds_in_a_workspace() {
        let catalogue = Catalogue::new();
        let org = OrgId::from_uuid(Uuid::from_u128(1));
        let id = RoleId::from_uuid(Uuid::from_u128(2));
        let name = RoleName::parse("Billing").unwrap();
        // `org.billing` is the Owner's alone; in a workspace an Owner
        // holds the Admin set.
        let billing: BTreeSet<_> = [
            Permission::parse("users.read").unwrap(),
            Permission::parse("org.billing").unwrap(),
        ]
        .into();
        assert_eq!(
            CustomRole::new(
                id,
                org,
                name.clone(),
                billing.clone(),
                AssignableAt::ANY,
                &catalogue
            ),
            Err(Error::NotGrantableInWorkspaces {
                permission: Permission::parse("org.billing").unwrap()
            })
        );
        let org_only = AssignableAt {
            organization: true,
            workspace: false,
        };
        assert!(CustomRole::new(id, org, name, billing, org_only, &catalogue).is_ok());
    }
}
