//! The directory and the user detail page: who is in the organization,
//! what each holds and why, and what they did.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use iamkit_audit::{AuditEvent, EventFilter, EventQuery, EventView, PageLimit, Target};
use iamkit_credentials::{ApiKey, Session};
use iamkit_identity::{
    DirectoryEntry, DirectoryQuery, GroupId, Membership, OrgId, RoleId, TeamMember, TimeZone, User,
    UserId,
};
use iamkit_rbac::{Decision, Grantee, RoleAssignment, Scope};
use iamkit_store_api::Page;

use crate::actor::Actor;
use crate::cache::Work;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam};
use crate::store::Store;
use crate::store::repositories::*;

const READ: &str = "users.read";

/// How many audit events the user detail shows.
pub const RECENT_ACTIVITY: usize = 20;

/// One line of a user's recent activity, names resolved at read time
/// (a deleted user reads "Deleted user").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityLine {
    /// The event.
    pub event: AuditEvent,
    /// Who did it.
    pub actor: String,
    /// To what.
    pub target: String,
}

/// Everything the user detail page shows. No secrets: sessions and keys
/// hold only hashes of theirs.
#[derive(Debug, Clone)]
pub struct UserDetail {
    /// The account (profile, status, email verified, last sign-in).
    pub user: User,
    /// The membership of this organization (status, department).
    pub membership: Membership,
    /// The direct organization role.
    pub org_role: Option<RoleId>,
    /// Every role held in the organization, direct and inherited, with
    /// its source and scope (workspace roles included).
    pub roles: Vec<RoleAssignment>,
    /// Groups of the organization the user is in.
    pub groups: Vec<GroupId>,
    /// Teams of the organization the user is on, with the team role.
    pub teams: Vec<TeamMember>,
    /// Whether a confirmed second factor is enrolled.
    pub two_factor_enabled: bool,
    /// When the user last signed in.
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// The zone to show the user's times in: their own, else the
    /// organization's default, else UTC.
    pub time_zone: TimeZone,
    /// Live sessions: filled only for the organization that manages the
    /// account (or the user looking at themself); sessions are the
    /// account's, across organizations (SECURITY.md 32).
    pub sessions: Vec<Session>,
    /// API keys the user created in the organization's workspaces.
    pub api_keys: Vec<ApiKey>,
    /// The newest events of the organization that involve the user.
    pub recent_activity: Vec<ActivityLine>,
}

impl<S: Store> Iam<S> {
    /// One page of the organization's members matching `query` (status,
    /// text, group, team, department). Requires `users.read`. A group,
    /// team or department of another organization is
    /// [`Error::NotFound`].
    pub async fn directory(
        &self,
        actor: &Actor,
        org: OrgId,
        query: &DirectoryQuery,
    ) -> Result<Page<DirectoryEntry>> {
        let mut tx = self.begin().await?;
        let outcome: Flow<Page<DirectoryEntry>> = async {
            self.authorize(
                &mut tx,
                actor,
                READ,
                Scope::Organization(org),
                Target::Org(org),
            )
            .await?;
            // Filtering by another organization's group or team would tell
            // which members belong to it: it looks absent (SECURITY.md 25).
            if let Some(group) = query.group()
                && tx.get_group(group).await?.is_none_or(|g| g.org != org)
            {
                return Err(Error::NotFound.into());
            }
            if let Some(team) = query.team()
                && tx.get_team(team).await?.is_none_or(|t| t.org != org)
            {
                return Err(Error::NotFound.into());
            }
            if let Some(department) = query.department()
                && tx
                    .get_department(department)
                    .await?
                    .is_none_or(|d| d.org != org)
            {
                return Err(Error::NotFound.into());
            }
            Ok(tx.list_directory(org, query).await?)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// The members holding `role` directly or through a group or team, at
    /// organization or workspace scope. Requires `users.read`.
    pub async fn members_with_role(
        &self,
        actor: &Actor,
        org: OrgId,
        role: RoleId,
    ) -> Result<Vec<UserId>> {
        let mut tx = self.begin().await?;
        let outcome: Flow<Vec<UserId>> = async {
            let mut authz = self
                .authorize(
                    &mut tx,
                    actor,
                    READ,
                    Scope::Organization(org),
                    Target::Org(org),
                )
                .await?;
            let mut users = Vec::new();
            let everyone = tx.list_directory(org, &DirectoryQuery::new()).await?;
            let mut page = everyone;
            loop {
                for entry in &page.items {
                    if authz
                        .index()?
                        .roles_of(entry.user.id, org)
                        .iter()
                        .any(|r| r.role == role)
                    {
                        users.push(entry.user.id);
                    }
                }
                let Some(next) = page.next.clone() else { break };
                let query = DirectoryQuery::new().after(&next)?;
                page = tx.list_directory(org, &query).await?;
            }
            Ok(users)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// The user detail page. Requires `users.read`; the activity slice
    /// additionally requires `audit.read` (empty without it).
    pub async fn user_detail(&self, actor: &Actor, org: OrgId, user: UserId) -> Result<UserDetail> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome: Flow<UserDetail> = async {
            let mut authz = self
                .authorize(
                    &mut tx,
                    actor,
                    READ,
                    Scope::Organization(org),
                    Target::User(user),
                )
                .await?;
            let (account, membership) = self.member(&mut tx, org, user).await?;
            let org_role = authz
                .index()?
                .grant_of(Grantee::User(user), Scope::Organization(org));
            let roles = authz.index()?.roles_of(user, org);
            let groups = tx.list_groups_of_user(org, user).await?;
            let teams = tx.list_teams_of_user(org, user).await?;
            let two_factor_enabled = tx
                .get_totp(user)
                .await?
                .is_some_and(|t| t.confirmed_at.is_some());
            // Sessions are the account's, across organizations: only its
            // managing organization sees them (SECURITY.md 32, 35).
            let sessions = if account.managed_by == Some(org) || actor.user() == Some(user) {
                tx.list_sessions_of(user)
                    .await?
                    .into_iter()
                    .filter(|s| s.is_live(&self.config().sessions, now))
                    .collect()
            } else {
                Vec::new()
            };
            let mut api_keys = Vec::new();
            for workspace in tx.list_workspaces(org).await? {
                api_keys.extend(
                    tx.list_api_keys(workspace.id)
                        .await?
                        .into_iter()
                        .filter(|k| k.created_by == user),
                );
            }
            let may_read_audit = self
                .catalogue()
                .id("audit.read")
                .is_some_and(|p| authz.access.permissions.contains(p));
            let recent_activity = if may_read_audit {
                let query = EventQuery::new(
                    EventFilter::activity_of(user),
                    PageLimit::new(RECENT_ACTIVITY).map_err(|_| Error::Internal)?,
                );
                let events = tx.query_events(org, &query).await?.items;
                self.resolve_names(&mut tx, events).await?
            } else {
                Vec::new()
            };
            let org_zone = tx
                .get_organization(org)
                .await?
                .and_then(|o| o.settings.time_zone);
            Ok(UserDetail {
                time_zone: account.profile.effective_time_zone(org_zone.as_ref()),
                last_sign_in_at: account.last_sign_in_at,
                user: account,
                membership,
                org_role,
                roles,
                groups,
                teams,
                two_factor_enabled,
                sessions,
                api_keys,
                recent_activity,
            })
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Names every actor and target of `events` from the store; objects
    /// that no longer exist read as "Deleted user", "Deleted group", ...
    pub(crate) async fn resolve_names(
        &self,
        tx: &mut Work<S>,
        events: Vec<AuditEvent>,
    ) -> Result<Vec<ActivityLine>> {
        let mut names: HashMap<Target, String> = HashMap::new();
        for event in &events {
            for object in event.mentions() {
                if names.contains_key(&object) {
                    continue;
                }
                let name = match object {
                    Target::User(id) => tx.get_user(id).await?.map(|u| u.profile.shown_name()),
                    Target::Group(id) => tx.get_group(id).await?.map(|g| g.name.to_string()),
                    Target::Team(id) => tx.get_team(id).await?.map(|t| t.name.to_string()),
                    Target::Workspace(id) => {
                        tx.get_workspace(id).await?.map(|w| w.name.to_string())
                    }
                    Target::Org(id) => tx.get_organization(id).await?.map(|o| o.name.to_string()),
                    Target::ApiKey(id) => tx.get_api_key(id).await?.map(|k| k.name),
                    Target::Department(id) => {
                        tx.get_department(id).await?.map(|d| d.name.to_string())
                    }
                    _ => None,
                };
                if let Some(name) = name {
                    names.insert(object, name);
                }
            }
        }
        Ok(events
            .into_iter()
            .map(|event| {
                let view = EventView::new(&event, &names);
                let (actor, target) = (view.actor, view.target);
                ActivityLine {
                    event,
                    actor,
                    target,
                }
            })
            .collect())
    }

    /// Explains whether `user` holds `permission` at `scope`: every grant
    /// that justifies it (role, direct or via which group or team, at which
    /// scope). Requires `roles.read`.
    pub async fn explain(
        &self,
        actor: &Actor,
        user: UserId,
        permission: &str,
        scope: Scope,
    ) -> Result<Decision> {
        let org = scope.org();
        let mut tx = self.begin().await?;
        let outcome: Flow<Decision> = async {
            let mut authz = self
                .authorize(
                    &mut tx,
                    actor,
                    "roles.read",
                    Scope::Organization(org),
                    Target::User(user),
                )
                .await?;
            self.member(&mut tx, org, user).await?;
            // Bad input, not a refusal: name the rule broken.
            let parsed = iamkit_rbac::Permission::parse(permission)
                .map_err(|reason| Error::InvalidPermission { reason })?;
            let Some(id) = self.catalogue().id(permission) else {
                return Err(Error::InvalidPermission {
                    reason: iamkit_rbac::Error::UnknownPermission { permission: parsed },
                }
                .into());
            };
            Ok(authz.index()?.explain(user, id, scope))
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
