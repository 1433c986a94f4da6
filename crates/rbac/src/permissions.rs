//! Permissions: validated namespaced names, the catalogue that interns them
//! to dense indices, and the bitset a role's permissions are stored as.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, PermissionRule, Result};
use crate::roles::BuiltinRole;

/// Longest accepted permission name, in bytes.
pub const MAX_PERMISSION_LEN: usize = 64;

/// A namespaced permission name such as `users.invite` or `workflows.run`.
///
/// Valid by construction: two or more dot-separated segments of lowercase
/// ASCII letters, digits and `_`, each starting with a letter, at most
/// [`MAX_PERMISSION_LEN`] bytes in all.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Permission(String);

impl Permission {
    /// Parses and validates a permission name.
    pub fn parse(name: &str) -> Result<Self> {
        if name.is_empty() || name.len() > MAX_PERMISSION_LEN {
            return Err(Error::InvalidPermission {
                rule: PermissionRule::Length,
            });
        }
        let mut segments = 0usize;
        for segment in name.split('.') {
            segments += 1;
            let mut chars = segment.chars();
            match chars.next() {
                Some(c) if c.is_ascii_lowercase() => {}
                _ => {
                    return Err(Error::InvalidPermission {
                        rule: PermissionRule::SegmentStart,
                    });
                }
            }
            if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                return Err(Error::InvalidPermission {
                    rule: PermissionRule::Characters,
                });
            }
        }
        if segments < 2 {
            return Err(Error::InvalidPermission {
                rule: PermissionRule::Namespace,
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name, e.g. `users.invite`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Permission {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<Permission> for String {
    fn from(value: Permission) -> Self {
        value.0
    }
}

impl std::str::FromStr for Permission {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// The dense index of a permission in a [`Catalogue`]. Only meaningful with
/// the catalogue that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PermissionId(u32);

impl PermissionId {
    /// The dense index.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    pub(crate) const fn from_raw(raw: u32) -> Self {
        Self(raw)
    }
}

/// The permissions iamkit's own admin actions check, in catalogue order.
///
/// Each entry names the built-in roles holding it; the README table is
/// rendered from this list and a test keeps the two identical.
pub const IAMKIT_PERMISSIONS: &[(&str, &[BuiltinRole])] = {
    use BuiltinRole::{Admin, Approver, Auditor, Owner, ReadOnly, Requester};
    &[
        (
            "users.read",
            &[Owner, Admin, Approver, Requester, Auditor, ReadOnly],
        ),
        ("users.invite", &[Owner, Admin]),
        ("users.update", &[Owner, Admin]),
        ("users.deactivate", &[Owner, Admin]),
        ("users.delete", &[Owner, Admin]),
        ("roles.read", &[Owner, Admin, Approver, Auditor, ReadOnly]),
        ("roles.assign", &[Owner, Admin]),
        ("roles.manage", &[Owner, Admin]),
        ("groups.manage", &[Owner, Admin]),
        ("teams.manage", &[Owner, Admin]),
        ("workspaces.manage", &[Owner, Admin]),
        ("departments.manage", &[Owner, Admin]),
        ("users.import", &[Owner, Admin]),
        ("api_keys.create", &[Owner, Admin, Requester]),
        ("api_keys.manage", &[Owner, Admin]),
        ("sessions.revoke", &[Owner, Admin]),
        ("audit.read", &[Owner, Admin, Auditor]),
        ("audit.export", &[Owner, Admin, Auditor]),
        ("org.settings", &[Owner, Admin]),
        ("org.billing", &[Owner]),
        (
            "requests.read",
            &[Owner, Admin, Approver, Requester, Auditor, ReadOnly],
        ),
        ("requests.create", &[Owner, Admin, Requester]),
        ("requests.approve", &[Owner, Admin, Approver]),
    ]
};

/// The set of known permissions, interned to dense indices.
///
/// Built once at start-up: iamkit's own permissions ([`IAMKIT_PERMISSIONS`])
/// first, then the app's ([`Catalogue::register`]). An index compiled from a
/// catalogue keeps it, so indices never change under it.
#[derive(Debug, Clone)]
pub struct Catalogue {
    names: Vec<Permission>,
    by_name: HashMap<String, PermissionId>,
    builtin: [PermissionSet; BuiltinRole::ALL.len()],
}

impl Default for Catalogue {
    fn default() -> Self {
        Self::new()
    }
}

impl Catalogue {
    /// A catalogue holding iamkit's own permissions.
    pub fn new() -> Self {
        let mut catalogue = Self {
            names: Vec::new(),
            by_name: HashMap::new(),
            builtin: Default::default(),
        };
        for (name, roles) in IAMKIT_PERMISSIONS {
            // The constant table is checked by a unit test; a bad entry is a
            // programming error that the test catches, so skip rather than panic.
            if let Ok(permission) = Permission::parse(name) {
                let _ = catalogue.register(permission, roles);
            }
        }
        catalogue
    }

    /// Registers an app permission and names the built-in roles that hold it.
    ///
    /// Fails with [`Error::DuplicatePermission`] if the name is already known,
    /// leaving the catalogue unchanged.
    pub fn register(
        &mut self,
        permission: Permission,
        held_by: &[BuiltinRole],
    ) -> Result<PermissionId> {
        if self.by_name.contains_key(permission.as_str()) {
            return Err(Error::DuplicatePermission { permission });
        }
        let index = u32::try_from(self.names.len()).map_err(|_| Error::CatalogueFull)?;
        let id = PermissionId(index);
        self.by_name.insert(permission.as_str().to_owned(), id);
        self.names.push(permission);
        for role in held_by {
            if let Some(set) = self.builtin.get_mut(role.ordinal()) {
                set.insert(id);
            }
        }
        Ok(id)
    }

    /// The id of a permission name, if it is in the catalogue.
    pub fn id(&self, name: &str) -> Option<PermissionId> {
        self.by_name.get(name).copied()
    }

    /// The name of a permission id.
    pub fn name(&self, id: PermissionId) -> Option<&Permission> {
        self.names.get(id.index())
    }

    /// Number of permissions.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the catalogue is empty (never, once built with [`Catalogue::new`]).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every permission, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (PermissionId, &Permission)> {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(i, p)| u32::try_from(i).ok().map(|i| (PermissionId(i), p)))
    }

    /// The permissions of a built-in role.
    pub fn builtin_permissions(&self, role: BuiltinRole) -> PermissionSet {
        self.builtin
            .get(role.ordinal())
            .cloned()
            .unwrap_or_default()
    }

    /// The set of the named permissions that the catalogue knows; unknown
    /// names are skipped (deny by default, SECURITY.md 24).
    pub fn set_of<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> PermissionSet {
        let mut set = PermissionSet::new();
        for name in names {
            if let Some(id) = self.id(name) {
                set.insert(id);
            }
        }
        set
    }

    /// The names of the permissions in `set`, in catalogue order.
    pub fn names_of(&self, set: &PermissionSet) -> Vec<Permission> {
        set.iter().filter_map(|id| self.name(id).cloned()).collect()
    }
}

/// A set of permissions of one [`Catalogue`], stored as a bitset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet {
    words: Vec<u64>,
}

impl PermissionSet {
    /// The empty set.
    pub const fn new() -> Self {
        Self { words: Vec::new() }
    }

    /// Adds a permission.
    pub fn insert(&mut self, id: PermissionId) {
        let word = id.index() / 64;
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        if let Some(w) = self.words.get_mut(word) {
            *w |= 1 << (id.index() % 64);
        }
    }

    /// Whether the set holds a permission.
    pub fn contains(&self, id: PermissionId) -> bool {
        self.words
            .get(id.index() / 64)
            .is_some_and(|w| w & (1 << (id.index() % 64)) != 0)
    }

    /// Adds every permission of `other`.
    pub fn union_with(&mut self, other: &Self) {
        if self.words.len() < other.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// Keeps only the permissions also in `other`.
    pub fn intersect_with(&mut self, other: &Self) {
        for (i, a) in self.words.iter_mut().enumerate() {
            *a &= other.words.get(i).copied().unwrap_or(0);
        }
        self.trim();
    }

    /// Whether every permission of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.words
            .iter()
            .enumerate()
            .all(|(i, a)| a & !other.words.get(i).copied().unwrap_or(0) == 0)
    }

    /// The permissions of `self` missing from `other`.
    pub fn difference(&self, other: &Self) -> Self {
        let mut out = Self {
            words: self
                .words
                .iter()
                .enumerate()
                .map(|(i, a)| a & !other.words.get(i).copied().unwrap_or(0))
                .collect(),
        };
        out.trim();
        out
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Number of permissions in the set.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The permissions, in index order.
    pub fn iter(&self) -> impl Iterator<Item = PermissionId> + '_ {
        self.words.iter().enumerate().flat_map(|(i, w)| {
            (0..64u32).filter_map(move |bit| {
                if w & (1 << bit) == 0 {
                    return None;
                }
                u32::try_from(i * 64)
                    .ok()
                    .map(|base| PermissionId(base + bit))
            })
        })
    }

    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    // Trailing zero words are dropped so equal sets compare and hash equal.
    fn trim(&mut self) {
        while self.words.last() == Some(&0) {
            self.words.pop();
        }
    }
}

impl FromIterator<PermissionId> for PermissionSet {
    fn from_iter<T: IntoIterator<Item = PermissionId>>(iter: T) -> Self {
        let mut set = Self::new();
        for id in iter {
            set.insert(id);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_are_namespaced_lowercase() {
        assert!(Permission::parse("users.invite").is_ok());
        assert!(Permission::parse("workflows.run_now").is_ok());
        assert!(Permission::parse("a.b.c2").is_ok());
        let rule = |s: &str| match Permission::parse(s) {
            Err(Error::InvalidPermission { rule }) => rule,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(rule(""), PermissionRule::Length);
        assert_eq!(rule(&"a.".repeat(40)), PermissionRule::Length);
        assert_eq!(rule("users"), PermissionRule::Namespace);
        assert_eq!(rule("Users.read"), PermissionRule::SegmentStart);
        assert_eq!(rule("users..read"), PermissionRule::SegmentStart);
        assert_eq!(rule("users.re-ad"), PermissionRule::Characters);
    }

    #[test]
    fn catalogue_interns_iamkit_then_app_permissions() {
        let mut catalogue = Catalogue::new();
        assert_eq!(catalogue.len(), IAMKIT_PERMISSIONS.len());
        for (i, (name, _)) in IAMKIT_PERMISSIONS.iter().enumerate() {
            assert_eq!(catalogue.id(name).unwrap().index(), i, "{name}");
        }
        let run = catalogue
            .register(
                Permission::parse("workflows.run").unwrap(),
                &[BuiltinRole::Owner],
            )
            .unwrap();
        assert_eq!(run.index(), IAMKIT_PERMISSIONS.len());
        assert_eq!(catalogue.name(run).unwrap().as_str(), "workflows.run");
        assert!(
            catalogue
                .builtin_permissions(BuiltinRole::Owner)
                .contains(run)
        );
        assert!(
            !catalogue
                .builtin_permissions(BuiltinRole::Admin)
                .contains(run)
        );
        let again = catalogue.register(Permission::parse("workflows.run").unwrap(), &[]);
        assert!(matches!(again, Err(Error::DuplicatePermission { .. })));
        assert_eq!(catalogue.len(), IAMKIT_PERMISSIONS.len() + 1);
    }

    #[test]
    fn bitset_operations() {
        let ids = |v: &[u32]| {
            v.iter()
                .map(|&i| PermissionId(i))
                .collect::<PermissionSet>()
        };
        let a = ids(&[1, 70, 130]);
        let b = ids(&[1, 130]);
        assert!(b.is_subset(&a));
        assert!(!a.is_subset(&b));
        assert_eq!(a.difference(&b), ids(&[70]));
        let mut c = a.clone();
        c.intersect_with(&ids(&[70, 5]));
        assert_eq!(c, ids(&[70]));
        assert_eq!(
            a.iter().map(PermissionId::index).collect::<Vec<_>>(),
            vec![1, 70, 130]
        );
        assert_eq!(a.len(), 3);
        let mut d = b.clone();
        d.union_with(&ids(&[2]));
        assert!(d.contains(PermissionId(2)) && d.contains(PermissionId(130)));
        assert!(PermissionSet::new().is_empty());
        let mut e = ids(&[200]);
        e.intersect_with(&ids(&[1]));
        assert_eq!(e, PermissionSet::new(), "trimmed sets compare equal");
    }
}
