//! What an organization's access index is compiled from, read in one pass:
//! a full build costs a fixed number of statements, however many members,
//! groups and teams the organization has.

use std::future::Future;

use iamkit_identity::{OrgId, UserId};
use iamkit_rbac::{CollectiveMember, CustomRole, Grant};
use iamkit_store_api::StoreError;

/// An organization's authorization data as stored: everything its
/// [`AccessIndex`](iamkit_rbac::AccessIndex) is compiled from. Each list is
/// in no particular order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessModel {
    /// Every custom role of the organization.
    pub custom_roles: Vec<CustomRole>,
    /// Every grant whose scope is in the organization (the organization or
    /// any of its workspaces), to any grantee.
    pub grants: Vec<Grant>,
    /// One entry per member of each group and each team of the
    /// organization.
    pub collective_members: Vec<CollectiveMember>,
    /// The members whose membership and account are both ACTIVE: only they
    /// use their grants.
    pub active_members: Vec<UserId>,
}

/// The read behind every full build of an organization's index.
///
/// A process builds an organization's index in full when it has none (it
/// just started) or cannot bring the one it has up to date, so the read
/// must not cost a query per member, group or team: adapters read each
/// list in one statement (or scan), decoding rows as they arrive.
pub trait AccessModelRepository: Send {
    /// `org`'s [`AccessModel`] as this transaction sees it. MUST hold:
    /// - in `custom_roles`, exactly the roles
    ///   [`list_custom_roles`](iamkit_rbac::RoleRepository::list_custom_roles)
    ///   lists for `org`;
    /// - in `grants`, exactly the grants
    ///   [`list_grants_in_org`](iamkit_rbac::GrantRepository::list_grants_in_org)
    ///   lists for `org`;
    /// - in `collective_members`, for each group and each team of `org`,
    ///   one entry per member (its `org` being `org`), and nothing else;
    /// - in `active_members`, exactly the users
    ///   [`list_active_members`](crate::AuthzVersionRepository::list_active_members)
    ///   lists for `org`.
    ///
    /// Each item MUST appear once, and nothing of another organization may
    /// appear. An unknown organization has an empty model. The lists MAY
    /// come in any order.
    fn load_access_model(
        &mut self,
        org: OrgId,
    ) -> impl Future<Output = Result<AccessModel, StoreError>> + Send;
}
