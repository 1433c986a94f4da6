//! The authorization version: a per-organization counter in the store,
//! bumped in the same transaction as any change that can alter what
//! anyone in the organization may do. Every [`Iam`](crate::Iam) keeps an
//! in-process cache of each organization's compiled
//! [`AccessIndex`](iamkit_rbac::AccessIndex) tagged with the version it was
//! built at, and rebuilds it when the stored version differs — so a change
//! is visible to the very next check (SECURITY.md 20), and several `Iam`
//! instances over one database agree.
//!
//! Every bump also records, in the same transaction, an [`AuthzDelta`]
//! naming what the change touched (the organization's change log). A
//! process whose cached index is at version v and finds the organization at
//! w reads the deltas v+1..w, re-reads only the entities they name and
//! brings its index up to date, instead of rebuilding it from every row of
//! the organization; where the log no longer reaches back to v it rebuilds.

use std::future::Future;

use iamkit_identity::__private::Uuid;
use iamkit_identity::{GroupId, OrgId, RoleId, TeamId, UserId};
use iamkit_rbac::Collective;
use iamkit_store_api::StoreError;

/// What one change of an organization's authorization touched, recorded
/// with the version it produced (see
/// [`append_authz_delta`](AuthzVersionRepository::append_authz_delta)).
///
/// A delta names entities, not their new state: a reader re-reads the named
/// entities from the store at the version it brings its index to, so deltas
/// can be merged in any order and a missed detail of a change cannot make an
/// index wrong, only the naming must be complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum AuthzDelta {
    /// A member's standing in the organization: their direct grants, their
    /// groups and teams, the status of their membership or account, their
    /// membership itself.
    Member(UserId),
    /// A group or team: its grants, its members, or its existence.
    Collective(Collective),
    /// A custom role: its definition or its existence.
    Role(RoleId),
    /// The organization's set of workspaces.
    Workspaces,
    /// The organization's settings (two-factor enforcement).
    Settings,
    /// Nothing an index is compiled from (an API key, a session, an access
    /// request: read from the store on every call, or granting nothing by
    /// itself).
    Unchanged,
    /// Anything: a reader rebuilds the organization's index.
    Everything,
}

impl AuthzDelta {
    /// The kind's stable name, as adapters store it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Member(_) => "member",
            Self::Collective(Collective::Group(_)) => "group",
            Self::Collective(Collective::Team(_)) => "team",
            Self::Role(_) => "role",
            Self::Workspaces => "workspaces",
            Self::Settings => "settings",
            Self::Unchanged => "unchanged",
            Self::Everything => "everything",
        }
    }

    /// The id of the entity named, for the kinds that name one.
    pub fn subject(&self) -> Option<Uuid> {
        match self {
            Self::Member(user) => Some(user.as_uuid()),
            Self::Collective(Collective::Group(group)) => Some(group.as_uuid()),
            Self::Collective(Collective::Team(team)) => Some(team.as_uuid()),
            Self::Role(role) => Some(role.as_uuid()),
            Self::Workspaces | Self::Settings | Self::Unchanged | Self::Everything => None,
        }
    }

    /// The delta stored as [`kind`](Self::kind) and
    /// [`subject`](Self::subject). A kind this version does not know (written
    /// by a newer one during a rolling upgrade), or a subject missing where
    /// the kind needs one, reads as [`Everything`](Self::Everything): the
    /// reader rebuilds rather than guess.
    pub fn from_parts(kind: &str, subject: Option<Uuid>) -> Self {
        match (kind, subject) {
            ("member", Some(id)) => Self::Member(UserId::from_uuid(id)),
            ("group", Some(id)) => Self::Collective(Collective::Group(GroupId::from_uuid(id))),
            ("team", Some(id)) => Self::Collective(Collective::Team(TeamId::from_uuid(id))),
            ("role", Some(id)) => Self::Role(RoleId::from_uuid(id)),
            ("workspaces", None) => Self::Workspaces,
            ("settings", None) => Self::Settings,
            ("unchanged", None) => Self::Unchanged,
            _ => Self::Everything,
        }
    }
}

/// Per-organization authorization versions.
pub trait AuthzVersionRepository: Send {
    /// The organization's current version; MUST be 0 when never bumped.
    fn get_authz_version(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Reads the organization's version like
    /// [`get_authz_version`](Self::get_authz_version) and holds it until
    /// the transaction ends: another transaction's `lock_authz_version` or
    /// [`bump_authz_version`](Self::bump_authz_version) of the same
    /// organization MUST wait for this one to end (or one of them fails
    /// with `Conflict`). Every workflow that may change an organization's
    /// authorization starts with it, so two such workflows in one
    /// organization (two demotions racing for the last Owner) run one
    /// after the other even where transactions are not serializable.
    ///
    /// The default reads without locking, which is right for adapters whose
    /// transactions already run one at a time (memory, SQLite).
    fn lock_authz_version(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.get_authz_version(org)
    }

    /// The version of every organization `user` is a member of (in any
    /// status), 0 where never bumped, in one read: authentication stamps
    /// the actor with them, so a later check whose cached index still has
    /// the stamped version need not read the store. MUST list each such
    /// organization exactly once, and no other.
    fn list_authz_versions_of_member(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<(OrgId, u64)>, StoreError>> + Send;

    /// The members of `org` whose membership and account are both ACTIVE,
    /// each once, in one read: compiling the organization's index needs
    /// the standing of every member, and one query per member would make
    /// each change cost a round trip per member.
    fn list_active_members(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<Vec<UserId>, StoreError>> + Send;

    /// Increments the organization's version and returns the new value.
    /// MUST be atomic: N committed bumps raise it by exactly N, and a
    /// rolled-back bump leaves it unchanged.
    fn bump_authz_version(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Records that the change which bumped `org` to `version` touched
    /// `delta`. The facade calls it in the transaction of the bump, right
    /// after [`bump_authz_version`](Self::bump_authz_version): it MUST commit
    /// or roll back with that transaction (a rolled-back bump leaves no
    /// delta). MUST fail with `UniqueViolation { constraint:
    /// "authz_deltas_pkey" }` when `org` already has a delta at `version`,
    /// storing nothing.
    fn append_authz_delta(
        &mut self,
        org: OrgId,
        version: u64,
        delta: AuthzDelta,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The deltas of `org` whose version `v` has `after < v <= up_to`, in
    /// one read, ascending by version, each with its version. MUST hold no
    /// delta of another organization. A version that was pruned, or bumped
    /// without a delta, is simply absent: the caller sees the gap and
    /// rebuilds.
    fn list_authz_deltas(
        &mut self,
        org: OrgId,
        after: u64,
        up_to: u64,
    ) -> impl Future<Output = Result<Vec<(u64, AuthzDelta)>, StoreError>> + Send;

    /// Deletes the deltas of `org` with a version below `keep_from` and
    /// returns how many went. MUST leave every other delta, of `org` and of
    /// every other organization.
    fn prune_authz_deltas(
        &mut self,
        org: OrgId,
        keep_from: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_delta_round_trips_through_its_parts() {
        let id = Uuid::from_u128(42);
        let deltas = [
            AuthzDelta::Member(UserId::from_uuid(id)),
            AuthzDelta::Collective(Collective::Group(GroupId::from_uuid(id))),
            AuthzDelta::Collective(Collective::Team(TeamId::from_uuid(id))),
            AuthzDelta::Role(RoleId::from_uuid(id)),
            AuthzDelta::Workspaces,
            AuthzDelta::Settings,
            AuthzDelta::Unchanged,
            AuthzDelta::Everything,
        ];
        for delta in deltas {
            assert_eq!(AuthzDelta::from_parts(delta.kind(), delta.subject()), delta);
        }
    }

    #[test]
    fn an_unknown_or_malformed_delta_reads_as_everything() {
        // A kind a newer version wrote during a rolling upgrade: rebuild.
        assert_eq!(
            AuthzDelta::from_parts("department", Some(Uuid::from_u128(1))),
            AuthzDelta::Everything
        );
        assert_eq!(
            AuthzDelta::from_parts("member", None),
            AuthzDelta::Everything
        );
        assert_eq!(
            AuthzDelta::from_parts("settings", Some(Uuid::from_u128(1))),
            AuthzDelta::Everything
        );
    }
}
