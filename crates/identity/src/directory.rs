//! The organization's user directory: filter, search, sort, paginate.
//!
//! The semantics live here so every adapter agrees: entries sort by
//! [`sort_key`] then user id; free text matches a case-insensitive substring
//! of [`search_text`]. SQL adapters store both as columns computed by these
//! functions, so Unicode case folding is Rust's everywhere.

use iamkit_store_api::{Cursor, Page};
use serde::{Deserialize, Serialize};

use crate::ids::{DepartmentId, GroupId, TeamId, UserId};
use crate::organization::Membership;
use crate::user::{User, UserStatus};
use crate::validation::{InvalidInput, Rule};

/// One row of the directory: the account and its membership in the
/// organization being listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// The account.
    pub user: User,
    /// Its membership in the listed organization.
    pub membership: Membership,
}

/// A directory listing request. Build with [`DirectoryQuery::new`] and the
/// setters; filters combine with AND.
///
/// ```
/// use iamkit_identity::{DirectoryQuery, UserStatus};
/// let q = DirectoryQuery::new().with_status(UserStatus::Active).with_text("  ALI ").unwrap();
/// assert_eq!(q.text(), Some("ali"));
/// assert!(DirectoryQuery::new().with_limit(0).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryQuery {
    status: Option<UserStatus>,
    text: Option<String>,
    group: Option<GroupId>,
    team: Option<TeamId>,
    department: Option<DepartmentId>,
    limit: Option<usize>,
    after: Option<DirectoryCursor>,
}

impl DirectoryQuery {
    /// Entries per page unless set.
    pub const DEFAULT_LIMIT: usize = 50;
    /// Largest page.
    pub const MAX_LIMIT: usize = 500;
    /// Longest search text, in code points.
    pub const MAX_TEXT: usize = 200;

    /// Everyone, first page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only members with this status.
    #[must_use]
    pub fn with_status(mut self, status: UserStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only members whose first, last or display name, username or email
    /// contains `text` (case-insensitively). Blank text means no filter.
    pub fn with_text(mut self, text: &str) -> Result<Self, InvalidInput> {
        let trimmed = text.trim();
        if trimmed.chars().count() > Self::MAX_TEXT {
            return Err(InvalidInput::new(
                "text",
                Rule::TooLong {
                    max: Self::MAX_TEXT,
                },
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidInput::new("text", Rule::ControlCharacter));
        }
        self.text = (!trimmed.is_empty()).then(|| trimmed.to_lowercase());
        Ok(self)
    }

    /// Only members of this group.
    #[must_use]
    pub fn with_group(mut self, group: GroupId) -> Self {
        self.group = Some(group);
        self
    }

    /// Only members of this team.
    #[must_use]
    pub fn with_team(mut self, team: TeamId) -> Self {
        self.team = Some(team);
        self
    }

    /// Only members filed under this department.
    #[must_use]
    pub fn with_department(mut self, department: DepartmentId) -> Self {
        self.department = Some(department);
        self
    }

    /// Page size, 1 to [`Self::MAX_LIMIT`].
    pub fn with_limit(mut self, limit: usize) -> Result<Self, InvalidInput> {
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(InvalidInput::new(
                "limit",
                Rule::OutOfRange {
                    min: 1,
                    max: Self::MAX_LIMIT,
                },
            ));
        }
        self.limit = Some(limit);
        Ok(self)
    }

    /// Continue after a page's `next` cursor.
    pub fn after(mut self, cursor: &Cursor) -> Result<Self, InvalidInput> {
        self.after = Some(DirectoryCursor::decode(cursor)?);
        Ok(self)
    }

    /// The status filter.
    pub fn status(&self) -> Option<UserStatus> {
        self.status
    }
    /// The lower-cased search text.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
    /// The group filter.
    pub fn group(&self) -> Option<GroupId> {
        self.group
    }
    /// The team filter.
    pub fn team(&self) -> Option<TeamId> {
        self.team
    }
    /// The department filter.
    pub fn department(&self) -> Option<DepartmentId> {
        self.department
    }
    /// The page size.
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(Self::DEFAULT_LIMIT)
    }
    /// Where this page starts (exclusive).
    pub fn start_after(&self) -> Option<&DirectoryCursor> {
        self.after.as_ref()
    }

    /// Whether `entry` passes the status, department and text filters.
    /// Group and team filters need membership data; adapters apply them.
    pub fn matches(&self, entry: &DirectoryEntry) -> bool {
        self.status.is_none_or(|s| entry.membership.status == s)
            && self
                .department
                .is_none_or(|d| entry.membership.department == Some(d))
            && self
                .text
                .as_deref()
                .is_none_or(|t| search_text(&entry.user).contains(t))
    }

    /// Sorts `matching` (entries that pass every filter) and cuts the page
    /// this query asks for. The reference for what adapters return.
    pub fn paginate(&self, mut matching: Vec<DirectoryEntry>) -> Page<DirectoryEntry> {
        let key = |e: &DirectoryEntry| DirectoryCursor {
            sort_key: sort_key(&e.user),
            user: e.user.id,
        };
        matching.sort_by_cached_key(key);
        if let Some(after) = &self.after {
            matching.retain(|e| key(e) > *after);
        }
        let limit = self.limit();
        let next = (matching.len() > limit)
            .then(|| matching.get(limit - 1).map(|e| key(e).encode()))
            .flatten();
        matching.truncate(limit);
        Page {
            items: matching,
            next,
        }
    }
}

/// The key the directory sorts by: "first last", lower-cased.
pub fn sort_key(user: &User) -> String {
    user.profile.full_name().to_lowercase()
}

/// The lower-cased text free-text search looks in: names, username, email,
/// separated by newlines (which no field contains, so no match spans two).
pub fn search_text(user: &User) -> String {
    let p = &user.profile;
    let mut text = format!("{}\n{}\n", p.first_name, p.last_name);
    if let Some(d) = &p.display_name {
        text.push_str(d.as_str());
        text.push('\n');
    }
    text.push_str(user.username.as_str());
    text.push('\n');
    text.push_str(user.email.as_str());
    text.to_lowercase()
}

/// A decoded directory position: entries sort by `(sort_key, user)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirectoryCursor {
    /// [`sort_key`] of the last entry returned.
    pub sort_key: String,
    /// Its user id (tie-breaker).
    pub user: UserId,
}

impl DirectoryCursor {
    const UUID_LEN: usize = 36;

    /// The opaque form handed to callers.
    pub fn encode(&self) -> Cursor {
        Cursor::new(format!("{}{}", self.user, self.sort_key))
    }

    /// Reads back a cursor made by [`Self::encode`]; anything else is
    /// rejected as `cursor` [`Rule::Malformed`].
    pub fn decode(cursor: &Cursor) -> Result<Self, InvalidInput> {
        let malformed = || InvalidInput::new("cursor", Rule::Malformed);
        let raw = cursor.as_str();
        let id = raw.get(..Self::UUID_LEN).ok_or_else(malformed)?;
        let sort_key = raw.get(Self::UUID_LEN..).ok_or_else(malformed)?;
        Ok(Self {
            user: id.parse().map_err(|_| malformed())?,
            sort_key: sort_key.to_owned(),
        })
    }
}
