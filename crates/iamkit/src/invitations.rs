//! Invitations: invite, resend, revoke, accept; and creating an account
//! with a password.

use iamkit_audit::{Action, MembershipChange, Target};
use iamkit_credentials::{Password, PresentedSecret, SecretKind, TokenKind};
use iamkit_identity::{
    GroupId, Membership, OrgId, RoleId, StatusChange, TeamId, TeamMember, TeamRole, User, UserId,
    UserStatus, WorkspaceId,
};
use iamkit_rbac::{Change, Collective, CollectiveMember, Grant, Grantee, Scope};

use crate::actor::Actor;
use crate::bootstrap::NewAccount;
use crate::error::{Conflict, Error, Result};
use crate::iam::{Authorized, Denial, Failure, Flow, Iam, os_rng, rbac_denial};
use crate::outbox::MessageKind;
use crate::profiles::{ParsedUpdate, ProfileUpdate};
use crate::store::Store;
use crate::store::repositories::*;

/// The roles and places a new member starts with.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// The organization role (`None`: no role, so no access until given one).
    pub org_role: Option<RoleId>,
    /// Workspace roles.
    pub workspace_roles: Vec<(WorkspaceId, RoleId)>,
    /// A group to join.
    pub group: Option<GroupId>,
    /// A team to join, with the team role.
    pub team: Option<(TeamId, TeamRole)>,
}

/// What [`Iam::invite`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invited {
    /// The invited account.
    pub user: UserId,
    /// Whether the email already had an account: it was added to the
    /// organization instead of getting a second account.
    pub existing_account: bool,
}

const INVITE: &str = "users.invite";

/// Placing a member is assigning roles and changing a group or team: the
/// actor needs the permission of each of those actions (SECURITY.md 25),
/// not only `users.invite`.
fn require(authz: &Authorized, org: OrgId, target: Target, permission: &'static str) -> Flow<()> {
    let held = authz
        .index
        .catalogue()
        .id(permission)
        .is_some_and(|p| authz.access.permissions.contains(p));
    if held {
        return Ok(());
    }
    let name = iamkit_audit::PermissionName::new(permission).map_err(|_| Error::Internal)?;
    Err(Failure::Denied(Box::new(Denial {
        org,
        target,
        permission,
        reason: iamkit_audit::DenialReason::MissingPermission { permission: name },
        error: Error::Forbidden {
            permission: permission.to_owned(),
        },
    })))
}

impl<S: Store> Iam<S> {
    /// Gives a new member their roles, group and team, each through the
    /// escalation guard (SECURITY.md 26), in `tx`.
    pub(crate) async fn place(
        &self,
        tx: &mut S::Tx,
        actor: &Actor,
        authz: &mut Authorized,
        org: OrgId,
        user: UserId,
        placement: &Placement,
    ) -> Flow<()> {
        let target = Target::User(user);
        let mut grants = Vec::new();
        if let Some(role) = placement.org_role {
            grants.push(Grant {
                grantee: Grantee::User(user),
                scope: Scope::Organization(org),
                role,
            });
        }
        for (workspace, role) in &placement.workspace_roles {
            let ws = tx.get_workspace(*workspace).await?;
            if ws.is_none_or(|w| w.org != org) {
                return Err(Error::NotFound.into());
            }
            grants.push(Grant {
                grantee: Grantee::User(user),
                scope: Scope::Workspace(org, *workspace),
                role: *role,
            });
        }
        if !grants.is_empty() {
            require(authz, org, target, "roles.assign")?;
        }
        for grant in grants {
            authz
                .ensure_can_set(grant.grantee, grant.scope, Some(grant.role))
                .map_err(|e| rbac_denial(org, target, "roles.assign", e))?;
            authz
                .apply(Change::Assign(grant))
                .map_err(Error::from_rbac)?;
            tx.assign_grant(&grant).await?;
            let action = match grant.scope {
                Scope::Organization(_) => Action::OrgRoleChanged {
                    from: None,
                    to: Some(grant.role),
                },
                Scope::Workspace(_, workspace) => Action::WorkspaceRoleChanged {
                    workspace,
                    from: None,
                    to: Some(grant.role),
                },
            };
            self.audit(tx, org, actor, action, target).await?;
        }
        if let Some(group) = placement.group {
            if tx.get_group(group).await?.is_none_or(|g| g.org != org) {
                return Err(Error::NotFound.into());
            }
            require(authz, org, target, "groups.manage")?;
            authz
                .ensure_can_change_membership(Collective::Group(group))
                .map_err(|e| rbac_denial(org, target, "groups.manage", e))?;
            authz
                .apply(Change::AddMember(CollectiveMember {
                    collective: Collective::Group(group),
                    org,
                    user,
                }))
                .map_err(Error::from_rbac)?;
            tx.insert_group_member(group, user)
                .await
                .map_err(Error::from_store)?;
            let action = Action::GroupMembershipChanged {
                group,
                change: MembershipChange::Added,
            };
            self.audit(tx, org, actor, action, target).await?;
        }
        if let Some((team, role)) = placement.team {
            if tx.get_team(team).await?.is_none_or(|t| t.org != org) {
                return Err(Error::NotFound.into());
            }
            require(authz, org, target, "teams.manage")?;
            authz
                .ensure_can_change_membership(Collective::Team(team))
                .map_err(|e| rbac_denial(org, target, "teams.manage", e))?;
            tx.insert_team_member(&TeamMember { team, user, role })
                .await
                .map_err(Error::from_store)?;
            let action = Action::TeamMembershipChanged {
                team,
                change: MembershipChange::Added,
            };
            self.audit(tx, org, actor, action, target).await?;
        }
        Ok(())
    }

    /// Invites `account` to `org` with `placement`. The account appears as
    /// INVITED and an invitation with a single-use link (48 h by default)
    /// goes to the outbox in the invitee's language. When the email already
    /// has an account, that account is added to the organization instead
    /// (active at once if the account is active). Requires `users.invite`,
    /// and for a placement `roles.assign`, `groups.manage`, `teams.manage`
    /// as it uses them.
    pub async fn invite(
        &self,
        actor: &Actor,
        org: OrgId,
        account: &NewAccount,
        placement: &Placement,
    ) -> Result<Invited> {
        let input = account.parse(UserStatus::Invited)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome: Flow<Invited> = async {
            let mut authz = self
                .authorize(
                    &mut tx,
                    actor,
                    INVITE,
                    Scope::Organization(org),
                    Target::Org(org),
                )
                .await?;
            let existing = tx.find_user_by_email(&input.email).await?;
            let (user, existing_account) = match existing {
                Some(user) => {
                    if tx.get_service_account(user.id).await?.is_some() {
                        return Err(Error::Conflict(Conflict::EmailTaken).into());
                    }
                    if tx.get_membership(org, user.id).await?.is_some() {
                        return Err(Error::Conflict(Conflict::AlreadyMember).into());
                    }
                    (user, true)
                }
                None => {
                    let user = User::new(input, now, &mut os_rng());
                    tx.insert_user(&user).await.map_err(Error::from_store)?;
                    (user, false)
                }
            };
            let status = if user.is_active() {
                UserStatus::Active
            } else {
                UserStatus::Invited
            };
            tx.insert_membership(&Membership {
                org,
                user: user.id,
                status,
                department: None,
                created_at: now,
                updated_at: now,
            })
            .await
            .map_err(Error::from_store)?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::Invited {
                    role: placement.org_role,
                },
                Target::User(user.id),
            )
            .await?;
            self.place(&mut tx, actor, &mut authz, org, user.id, placement)
                .await?;
            if status == UserStatus::Invited {
                self.send_link(
                    &mut tx,
                    Some(org),
                    &user,
                    TokenKind::Invite,
                    MessageKind::Invitation,
                )
                .await?;
            } else {
                self.queue_message(&mut tx, Some(org), &user, MessageKind::Invitation, None)
                    .await?;
            }
            Ok(Invited {
                user: user.id,
                existing_account,
            })
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// The pending invitation of `user` to `org`, after authorization.
    async fn pending_invitation(
        &self,
        tx: &mut S::Tx,
        actor: &Actor,
        org: OrgId,
        user: UserId,
    ) -> Flow<(User, Membership)> {
        self.authorize(
            tx,
            actor,
            INVITE,
            Scope::Organization(org),
            Target::User(user),
        )
        .await?;
        let (account, membership) = self.member(tx, org, user).await?;
        if membership.status != UserStatus::Invited {
            return Err(Error::IllegalTransition {
                from: membership.status,
                change: StatusChange::RevokeInvitation,
            }
            .into());
        }
        Ok((account, membership))
    }

    /// Sends the invitation again with a new link; the old link stops
    /// working. Requires `users.invite`.
    pub async fn resend_invitation(&self, actor: &Actor, org: OrgId, user: UserId) -> Result<()> {
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let (account, _) = self.pending_invitation(&mut tx, actor, org, user).await?;
            self.send_link(
                &mut tx,
                Some(org),
                &account,
                TokenKind::Invite,
                MessageKind::Invitation,
            )
            .await?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::InviteResent,
                Target::User(user),
            )
            .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Withdraws a pending invitation: the link stops working, the
    /// membership and its grants go, and an account that never became
    /// active anywhere is removed. Requires `users.invite`.
    pub async fn revoke_invitation(&self, actor: &Actor, org: OrgId, user: UserId) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let (account, _) = self.pending_invitation(&mut tx, actor, org, user).await?;
            for grant in tx.list_grants_of(Grantee::User(user)).await? {
                if grant.scope.org() == org {
                    tx.revoke_grant(grant.grantee, grant.scope).await?;
                }
            }
            let memberships = tx.list_memberships_of_user(user).await?;
            if account.status == UserStatus::Invited && memberships.len() == 1 {
                tx.revoke_tokens_of(user, now).await?;
                tx.delete_user(user).await?;
            } else {
                tx.delete_membership(org, user).await?;
            }
            self.audit(
                &mut tx,
                org,
                actor,
                Action::InviteRevoked,
                Target::User(user),
            )
            .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Accepts an invitation: `token` is the link secret, `password` the
    /// new password (checked against the policy). The account becomes
    /// ACTIVE with its email verified (the link proved it), the token is
    /// used up, and every pending membership becomes active. Any token
    /// problem (unknown, expired, revoked, used, another kind) is
    /// [`Error::InvalidCredentials`]; a wrong secret for a live link counts
    /// towards the invitee's lockout (SECURITY.md 12); a password the policy
    /// refuses leaves the link usable.
    pub async fn accept_invitation(&self, token: &str, password: Password) -> Result<UserId> {
        self.accept_invitation_with_profile(token, password, &ProfileUpdate::default())
            .await
    }

    /// [`accept_invitation`](Self::accept_invitation), also setting the
    /// invitee's own names and language (the department, an organization's
    /// list, is left to the admin and ignored here).
    pub async fn accept_invitation_with_profile(
        &self,
        token: &str,
        password: Password,
        profile: &ProfileUpdate,
    ) -> Result<UserId> {
        let profile = ParsedUpdate::parse(profile)?;
        let presented = PresentedSecret::parse_as(token, SecretKind::Invite)
            .map_err(|_| Error::InvalidCredentials)?;
        let now = self.now();
        // An invite link is a guessable secret like a password: a wrong
        // secret for a live link counts towards its invitee's lockout, and
        // a locked invitee cannot accept until the lock ends (SECURITY.md 12).
        let user = {
            let mut tx = self.begin().await?;
            let id = iamkit_credentials::TokenId::from_uuid(presented.id());
            let record = tx.get_token(id).await?;
            let (user, accepted, live) = match &record {
                Some(r) => (
                    tx.get_user(r.subject).await?,
                    r.accepts(&presented, now),
                    r.is_redeemable(now),
                ),
                None => (None, false, false),
            };
            let locked = match &user {
                Some(u) => tx.get_throttle(u.id).await?.check(now).is_err(),
                None => false,
            };
            tx.rollback().await?;
            let user = user.ok_or(Error::InvalidCredentials)?;
            if locked {
                return Err(Error::InvalidCredentials);
            }
            if !accepted {
                if live {
                    self.count_failure(user.id, &Actor::system(), None).await?;
                }
                return Err(Error::InvalidCredentials);
            }
            user
        };
        let hash = self.hash_new_password(password, &user.email, &user.username)?;
        let actor = Actor::new(crate::actor::ActorKind::User {
            user: user.id,
            session: iamkit_identity::SessionId::generate(now, &mut os_rng()),
        });
        let mut tx = self.begin().await?;
        let outcome: Flow<UserId> = async {
            let Some(record) = tx.consume_token(&presented, now).await? else {
                return Err(Error::InvalidCredentials.into());
            };
            let mut account = tx
                .get_user(record.subject)
                .await?
                .ok_or(Error::InvalidCredentials)?;
            if account.status == UserStatus::Invited {
                account.apply(StatusChange::AcceptInvitation, now)?;
            }
            profile.apply(&mut account.profile);
            account.email_verified = true;
            account.updated_at = now;
            tx.update_user(&account).await?;
            tx.set_password_hash(account.id, &hash).await?;
            tx.reset_throttle(account.id).await?;
            self.bump_orgs_of(&mut tx, account.id).await?;
            for mut membership in tx.list_memberships_of_user(account.id).await? {
                if membership.status == UserStatus::Invited {
                    membership.status = UserStatus::Active;
                    membership.updated_at = now;
                    tx.update_membership(&membership).await?;
                    self.audit(
                        &mut tx,
                        membership.org,
                        &actor,
                        Action::InviteAccepted,
                        Target::User(account.id),
                    )
                    .await?;
                }
            }
            Ok(account.id)
        }
        .await;
        self.finish(tx, &actor, outcome).await
    }

    /// Creates an account with a password chosen by the admin: ACTIVE at
    /// once, email unverified, a verification link queued. Requires
    /// `users.invite` (and the escalation guard for the placement).
    pub async fn create_user(
        &self,
        actor: &Actor,
        org: OrgId,
        account: &NewAccount,
        password: Password,
        placement: &Placement,
    ) -> Result<UserId> {
        let input = account.parse(UserStatus::Active)?;
        let hash = self.hash_new_password(password, &input.email, &input.username)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome: Flow<UserId> = async {
            let mut authz = self
                .authorize(
                    &mut tx,
                    actor,
                    INVITE,
                    Scope::Organization(org),
                    Target::Org(org),
                )
                .await?;
            let user = User::new(input, now, &mut os_rng());
            tx.insert_user(&user).await.map_err(Error::from_store)?;
            tx.set_password_hash(user.id, &hash).await?;
            tx.insert_membership(&Membership {
                org,
                user: user.id,
                status: UserStatus::Active,
                department: None,
                created_at: now,
                updated_at: now,
            })
            .await
            .map_err(Error::from_store)?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::UserCreated,
                Target::User(user.id),
            )
            .await?;
            self.place(&mut tx, actor, &mut authz, org, user.id, placement)
                .await?;
            self.send_link(
                &mut tx,
                Some(org),
                &user,
                TokenKind::EmailVerification,
                MessageKind::EmailVerification,
            )
            .await?;
            Ok(user.id)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
