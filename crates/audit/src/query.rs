//! Filters and pagination of an organization's events, newest first.

use std::borrow::Borrow;

use chrono::{DateTime, Utc};
use iamkit_identity::UserId;
use iamkit_store_api::{Cursor, Page};

use crate::action::ActionKind;
use crate::error::{Error, Result};
use crate::event::{Actor, AuditEvent, Target};

/// Which events a query returns. Every set criterion must hold; an empty
/// filter matches every event of the organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events by this actor.
    pub actor: Option<Actor>,
    /// Only events on this target.
    pub target: Option<Target>,
    /// Only events where this user is the actor or the target: the user's
    /// activity.
    pub involving: Option<UserId>,
    /// Only events of these kinds; empty means any kind.
    pub kinds: Vec<ActionKind>,
    /// Only events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only events strictly before this time.
    pub until: Option<DateTime<Utc>>,
}

impl EventFilter {
    /// The events of `user`'s activity page.
    pub fn activity_of(user: UserId) -> Self {
        Self {
            involving: Some(user),
            ..Self::default()
        }
    }

    /// Whether `event` passes the filter.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.actor.is_none_or(|a| event.actor == a)
            && self.target.is_none_or(|t| event.target == t)
            && self.involving.is_none_or(|u| event.involves(u))
            && (self.kinds.is_empty() || self.kinds.contains(&event.action.kind()))
            && self.from.is_none_or(|from| event.at >= from)
            && self.until.is_none_or(|until| event.at < until)
    }
}

/// How many events one page holds: `1..=`[`PageLimit::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageLimit(usize);

impl PageLimit {
    /// The largest page.
    pub const MAX: usize = 1000;
    /// The page size used when the caller names none.
    pub const DEFAULT: Self = Self(50);

    /// Checks `limit` against `1..=MAX`.
    pub fn new(limit: usize) -> Result<Self> {
        if (1..=Self::MAX).contains(&limit) {
            Ok(Self(limit))
        } else {
            Err(Error::InvalidPageLimit { max: Self::MAX })
        }
    }

    /// The page size.
    pub fn get(self) -> usize {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One page request: a filter, where the previous page ended, and a size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Which events.
    pub filter: EventFilter,
    /// Only events with a smaller sequence number (the previous page's
    /// end); `None` starts at the newest event.
    pub before_seq: Option<u64>,
    /// The page size.
    pub limit: PageLimit,
}

impl EventQuery {
    /// The first page of `filter`'s events.
    pub fn new(filter: EventFilter, limit: PageLimit) -> Self {
        Self {
            filter,
            before_seq: None,
            limit,
        }
    }

    /// The page after the one that returned `cursor`.
    ///
    /// A cursor is client input: one this crate did not produce is
    /// rejected here, so repositories only ever see a typed position.
    pub fn after(mut self, cursor: &Cursor) -> Result<Self> {
        let seq = cursor
            .as_str()
            .strip_prefix("seq.")
            .and_then(|digits| digits.parse::<u64>().ok())
            .filter(|seq| *seq >= 1)
            .ok_or(Error::InvalidCursor)?;
        self.before_seq = Some(seq);
        Ok(self)
    }

    /// Builds a page from an organization's events given newest first
    /// (descending sequence numbers): skips to `before_seq`, applies the
    /// filter and cuts at the limit, with a cursor when more may follow.
    /// Adapters without a query language use it as their whole query.
    pub fn collect_page<I>(&self, newest_first: I) -> Page<AuditEvent>
    where
        I: IntoIterator,
        I::Item: Borrow<AuditEvent>,
    {
        let limit = self.limit.get();
        let mut items: Vec<AuditEvent> = newest_first
            .into_iter()
            .skip_while(|e| {
                self.before_seq
                    .is_some_and(|before| e.borrow().seq >= before)
            })
            .filter(|e| self.filter.matches(e.borrow()))
            .take(limit.saturating_add(1))
            .map(|e| e.borrow().clone())
            .collect();
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| cursor_before(last.seq))
        } else {
            None
        };
        Page { items, next }
    }
}

/// The cursor of the page that continues below sequence number `seq`.
pub fn cursor_before(seq: u64) -> Cursor {
    Cursor::new(format!("seq.{seq}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors_reject_bad_input() {
        assert_eq!(
            PageLimit::new(0),
            Err(Error::InvalidPageLimit { max: 1000 })
        );
        assert_eq!(
            PageLimit::new(1001),
            Err(Error::InvalidPageLimit { max: 1000 })
        );
        assert_eq!(PageLimit::new(1000).map(PageLimit::get), Ok(1000));
        let query = EventQuery::default();
        for bad in ["", "seq.", "seq.0", "seq.-1", "17", "seq.x"] {
            assert_eq!(
                query.clone().after(&Cursor::new(bad)),
                Err(Error::InvalidCursor),
                "{bad:?}"
            );
        }
        let next = query.after(&cursor_before(42)).unwrap();
        assert_eq!(next.before_seq, Some(42));
    }
}
