//! Invitations: invite, resend, revoke, accept; and creating an account
//! with a password.

use chrono::{DateTime, Utc};
use iamkit_audit::{Action, MembershipChange, SignInFailure, Target};
use iamkit_credentials::{Password, PasswordHash, PresentedSecret, SecretKind, TokenKind};
use iamkit_identity::{
    GroupId, Membership, OrgId, RoleId, StatusChange, TeamId, TeamMember, TeamRole, User, UserId,
    UserStatus, WorkspaceId,
};
use iamkit_rbac::{Change, Collective, CollectiveMember, Grant, Grantee, Scope};

use crate::actor::Actor;
use crate::attempts::Guess;
use crate::bootstrap::NewAccount;
use crate::cache::Work;
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

/// What [`Iam::invite`] did. It reads the same whether or not the address
/// already had an account (SECURITY.md 34): the holder learns of the
/// invitation by email, the inviting organization learns nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invited {
    /// The invited account.
    pub user: UserId,
}

const INVITE: &str = "users.invite";

/// Placing a member is assigning roles and changing a group or team: the
/// actor needs the permission of each of those actions (SECURITY.md 25),
/// not only `users.invite`.
pub(crate) fn require(
    authz: &Authorized,
    org: OrgId,
    target: Target,
    permission: &'static str,
) -> Flow<()> {
    let held = authz
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

/// Grants a new member `grant`, once the escalation guard passed.
pub(crate) async fn assign_new<S: Store>(
    tx: &mut Work<S>,
    authz: &mut Authorized,
    grant: Grant,
) -> Flow<()> {
    authz
        .apply(Change::Assign(grant))
        .map_err(Error::from_rbac)?;
    tx.assign_grant(&grant).await?;
    Ok(())
}

/// Stores `user` as an account managed by `org` that signs in with
/// `hash`, and its ACTIVE membership of `org` (`create_user`,
/// `import_users`).
pub(crate) async fn insert_managed_active<S: Store>(
    tx: &mut Work<S>,
    org: OrgId,
    user: &mut User,
    hash: &PasswordHash,
    now: DateTime<Utc>,
) -> Flow<()> {
    user.managed_by = Some(org);
    tx.insert_user(user).await.map_err(Error::from_store)?;
    tx.set_password_hash(user.id, hash).await?;
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
    Ok(())
}

impl<S: Store> Iam<S> {
    /// Gives a new member their roles, group and team, each through the
    /// escalation guard (SECURITY.md 26), in `tx`.
    pub(crate) async fn place(
        &self,
        tx: &mut Work<S>,
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
            assign_new(tx, authz, grant).await?;
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

    /// Invites `account` to `org` with `placement`. The member appears as
    /// INVITED and an invitation with a single-use link (48 h by default)
    /// goes to the outbox in the invitee's language; the placement's roles
    /// take effect when the invitation is accepted. When the email already
    /// has an account, that account is invited the same way, never
    /// attached: it joins only when its holder accepts while authenticated
    /// (SECURITY.md 33), and the answer does not say which case it was
    /// (SECURITY.md 34). A new account is managed by `org` (SECURITY.md
    /// 32). Requires `users.invite`, and for a placement `roles.assign`,
    /// `groups.manage`, `teams.manage` as it uses them.
    pub async fn invite(
        &self,
        actor: &Actor,
        org: OrgId,
        account: &NewAccount,
        placement: &Placement,
    ) -> Result<Invited> {
        let input = account.parse(UserStatus::Invited)?;
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
            let user = self
                .invite_in(&mut tx, actor, &mut authz, org, input, existing, placement)
                .await?;
            Ok(Invited { user })
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Invites `input`'s address to `org` in `tx` (see [`Iam::invite`]):
    /// a new account managed by `org`, or the `existing` account of that
    /// address, either way as an INVITED membership with a link of `org`'s
    /// own.
    #[expect(
        clippy::too_many_arguments,
        reason = "the invitation's context: whose, where, for whom, with what"
    )]
    pub(crate) async fn invite_in(
        &self,
        tx: &mut Work<S>,
        actor: &Actor,
        authz: &mut Authorized,
        org: OrgId,
        input: iamkit_identity::NewUser,
        existing: Option<User>,
        placement: &Placement,
    ) -> Flow<UserId> {
        let user = match existing {
            Some(user) => {
                if tx.get_service_account(user.id).await?.is_some() {
                    return Err(Error::Conflict(Conflict::EmailTaken).into());
                }
                if tx.get_membership(org, user.id).await?.is_some() {
                    return Err(Error::Conflict(Conflict::AlreadyMember).into());
                }
                user
            }
            None => {
                let mut user = User::new(input, self.now(), &mut os_rng());
                user.managed_by = Some(org);
                tx.insert_user(&user).await.map_err(Error::from_store)?;
                user
            }
        };
        tx.insert_membership(&Membership {
            org,
            user: user.id,
            status: UserStatus::Invited,
            department: None,
            created_at: self.now(),
            updated_at: self.now(),
        })
        .await
        .map_err(Error::from_store)?;
        self.audit(
            tx,
            org,
            actor,
            Action::Invited {
                role: placement.org_role,
            },
            Target::User(user.id),
        )
        .await?;
        self.place(tx, actor, authz, org, user.id, placement)
            .await?;
        self.send_link(
            tx,
            Some(org),
            &user,
            TokenKind::Invite,
            MessageKind::Invitation,
        )
        .await?;
        Ok(user.id)
    }

    /// The pending invitation of `user` to `org`, after authorization.
    async fn pending_invitation(
        &self,
        tx: &mut Work<S>,
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
                self.leave(&mut tx, account, org).await?;
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
    /// account's password. Only the inviting organization's membership
    /// becomes active (SECURITY.md 33); what the password does depends on
    /// the account:
    ///
    /// - a new account (never active): it is the first password (checked
    ///   against the policy); the account becomes ACTIVE with its email
    ///   verified (the link proved it);
    /// - an account whose holder has proved the address (active, email
    ///   verified): it must be the account's current password, so only
    ///   the holder consents to join; nothing else about the account
    ///   changes;
    /// - an account whose address was never proved (created by an admin who
    ///   chose its password): whoever proves the mailbox now reclaims it.
    ///   The password replaces the old one; every earlier session, API key,
    ///   link and second factor ends; no organization manages the account
    ///   any more; every organization of the account records
    ///   [`Action::AccountReclaimed`].
    ///
    /// Any token problem (unknown, expired, revoked, used, another kind, no
    /// pending membership), a wrong current password and a deactivated
    /// account are all [`Error::InvalidCredentials`]; a wrong secret for a
    /// live link, or a wrong current password, counts towards the
    /// invitee's lockout (SECURITY.md 12); a password the policy refuses
    /// leaves the link usable.
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
        let (user, stored, guess) = self.open_invitation(&presented).await?;
        let joining = Joining::of(&user).ok_or(Error::InvalidCredentials)?;
        // argon2 outside the transaction, as in log in.
        let hash = match joining {
            Joining::Consent => {
                let check = self.inner.hashing.verify(&password, stored).await?;
                if matches!(check, iamkit_credentials::PasswordCheck::Invalid) {
                    self.wrong_guess(guess, &Actor::system(), SignInFailure::WrongPassword)
                        .await?;
                    return Err(Error::InvalidCredentials);
                }
                None
            }
            Joining::FirstPassword | Joining::Reclaim => Some(
                self.hash_new_password(password, &user.email, &user.username)
                    .await?,
            ),
        };
        self.join_by_invitation(&presented, &user, joining, hash, Some(profile))
            .await
    }

    /// Accepts an invitation to another organization as the signed-in
    /// `actor` (SECURITY.md 33: the session is the holder's consent, no
    /// password asked): `token` must be a live invitation of the actor's
    /// own account, which must have a verified address. Only that
    /// organization's membership becomes active. Anything else (another
    /// account's link, a pending second factor, an unverified address,
    /// which must accept through the link with a password and so reclaims
    /// the account) is [`Error::InvalidCredentials`], changing nothing.
    pub async fn accept_invitation_signed_in(&self, actor: &Actor, token: &str) -> Result<UserId> {
        let presented = PresentedSecret::parse_as(token, SecretKind::Invite)
            .map_err(|_| Error::InvalidCredentials)?;
        let me = {
            let mut tx = self.begin_read().await?;
            let me = self.session_user(&mut tx, actor).await;
            tx.rollback().await?;
            me?
        };
        let (user, _, _) = self.open_invitation(&presented).await?;
        if user.id != me.id || Joining::of(&user) != Some(Joining::Consent) {
            return Err(Error::InvalidCredentials);
        }
        self.join_by_invitation(&presented, &user, Joining::Consent, None, None)
            .await
    }

    /// Reads the invitation `presented` stands for: its subject and the
    /// subject's password hash, with the guess this acceptance is. An invite
    /// link is a guessable secret like a password: a guess at a live link
    /// is counted towards its invitee's lockout before the secret is
    /// compared, a locked invitee cannot accept until the lock ends, and
    /// only a completed acceptance forgives it (SECURITY.md 12, 38).
    async fn open_invitation(
        &self,
        presented: &PresentedSecret,
    ) -> Result<(User, Option<PasswordHash>, Guess)> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let id = iamkit_credentials::TokenId::from_uuid(presented.id());
        let record = tx.get_token(id).await?.filter(|r| r.is_redeemable(now));
        let user = match &record {
            Some(r) => tx.get_user(r.subject).await?,
            None => None,
        };
        let stored = match &user {
            Some(u) => tx.get_password_hash(u.id).await?,
            None => None,
        };
        tx.rollback().await?;
        let (Some(record), Some(user)) = (record, user) else {
            return Err(Error::InvalidCredentials);
        };
        let guess = self.guess_link(&record, presented).await?;
        Ok((user, stored, guess))
    }

    /// Redeems `presented` and activates the invitation's membership in one
    /// transaction, as `joining` says (see
    /// [`accept_invitation`](Self::accept_invitation)); `hash` is the new
    /// password's, when there is one.
    async fn join_by_invitation(
        &self,
        presented: &PresentedSecret,
        user: &User,
        joining: Joining,
        hash: Option<PasswordHash>,
        mut profile: Option<ParsedUpdate>,
    ) -> Result<UserId> {
        let now = self.now();
        let actor = Actor::new(crate::actor::ActorKind::User {
            user: user.id,
            session: iamkit_identity::SessionId::generate(now, &mut os_rng()),
        });
        let mut tx = self.begin().await?;
        let outcome: Flow<UserId> = async {
            let Some(record) = tx.consume_token(presented, now).await? else {
                return Err(Error::InvalidCredentials.into());
            };
            let mut account = tx
                .get_user(record.subject)
                .await?
                .ok_or(Error::InvalidCredentials)?;
            // The account may have changed since the password was checked.
            if Joining::of(&account) != Some(joining) {
                return Err(Error::InvalidCredentials.into());
            }
            // The link's organization only; a link from before links had
            // one accepts every pending membership, as it did then.
            let pending: Vec<Membership> = tx
                .list_memberships_of_user(account.id)
                .await?
                .into_iter()
                .filter(|m| {
                    m.status == UserStatus::Invited && record.org.is_none_or(|org| m.org == org)
                })
                .collect();
            if pending.is_empty() {
                return Err(Error::InvalidCredentials.into());
            }
            if account.status == UserStatus::Invited {
                account.apply(StatusChange::AcceptInvitation, now)?;
            }
            let mut revoked = crate::deactivation::Revoked::default();
            if let Some(profile) = profile.take() {
                profile.apply(&mut account.profile);
            }
            account.email_verified = true;
            account.updated_at = now;
            if joining == Joining::Reclaim {
                // SECURITY.md 33: proving the mailbox beats having created
                // the account. Whatever the creator set up ends here.
                account.managed_by = None;
                revoked = self.revoke_credentials_of(&mut tx, account.id, now).await?;
                if tx.get_totp(account.id).await?.is_some() {
                    tx.delete_totp(account.id).await?;
                }
            }
            tx.update_user(&account).await?;
            if let Some(hash) = &hash {
                tx.set_password_hash(account.id, hash).await?;
            }
            tx.reset_throttle(account.id).await?;
            if joining == Joining::Reclaim {
                self.audit_in_orgs_of(&mut tx, account.id, &actor, Action::AccountReclaimed)
                    .await?;
                self.audit_revoked_everywhere(&mut tx, &actor, account.id, revoked)
                    .await?;
            }
            self.bump_orgs_of(&mut tx, account.id).await?;
            for mut membership in pending {
                membership.status = UserStatus::Active;
                membership.updated_at = now;
                tx.update_membership(&membership).await?;
                self.joined(&mut tx, account.id, membership.org).await?;
                self.audit(
                    &mut tx,
                    membership.org,
                    &actor,
                    Action::InviteAccepted,
                    Target::User(account.id),
                )
                .await?;
            }
            Ok(account.id)
        }
        .await;
        self.finish(tx, &actor, outcome).await
    }

    /// Creates an account with a password chosen by the admin: ACTIVE at
    /// once, email unverified, a verification link queued, managed by
    /// `org` (SECURITY.md 32). Requires `users.invite` (and the escalation
    /// guard for the placement).
    ///
    /// When the address already has an account, no account is created and
    /// the password is discarded: the account is invited exactly as by
    /// [`invite`](Self::invite) (INVITED until its holder accepts), and
    /// the call answers alike (SECURITY.md 34). Someone who pre-creates an
    /// account for another person's address gains nothing: the
    /// mailbox's owner reclaims it through any invitation link
    /// (see [`accept_invitation`](Self::accept_invitation)).
    pub async fn create_user(
        &self,
        actor: &Actor,
        org: OrgId,
        account: &NewAccount,
        password: Password,
        placement: &Placement,
    ) -> Result<UserId> {
        let input = account.parse(UserStatus::Active)?;
        let hash = self
            .hash_new_password(password, &input.email, &input.username)
            .await?;
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
            if let Some(existing) = tx.find_user_by_email(&input.email).await? {
                let input = iamkit_identity::NewUser {
                    status: UserStatus::Invited,
                    ..input
                };
                return self
                    .invite_in(
                        &mut tx,
                        actor,
                        &mut authz,
                        org,
                        input,
                        Some(existing),
                        placement,
                    )
                    .await;
            }
            let mut user = User::new(input, now, &mut os_rng());
            insert_managed_active(&mut tx, org, &mut user, &hash, now).await?;
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

/// What accepting an invitation proves and does, by the account's state
/// (SECURITY.md 33).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joining {
    /// A new account: the password given is its first.
    FirstPassword,
    /// The holder has proved the address: the password given must be the
    /// current one (consent by authentication).
    Consent,
    /// The address was never proved: the link's holder reclaims the account.
    Reclaim,
}

impl Joining {
    /// `None` for a deactivated account: it joins nothing.
    fn of(account: &User) -> Option<Self> {
        match account.status {
            UserStatus::Invited => Some(Self::FirstPassword),
            UserStatus::Active if account.email_verified => Some(Self::Consent),
            UserStatus::Active => Some(Self::Reclaim),
            UserStatus::Deactivated => None,
        }
    }
}
