//! Domain-wide joining: an organization lists email domains; a user with a
//! verified address at one of them may join with the domain's default role.

use iamkit_audit::{Action, SettingName, Target};
use iamkit_identity::{AutoJoinDomain, EmailDomain, Membership, OrgId, RoleId, UserStatus};
use iamkit_rbac::{Change, Grant, Grantee, Scope};

use crate::actor::{Actor, ActorKind};
use crate::error::{Conflict, Error, Result};
use crate::iam::{Flow, Iam, rbac_denial};
use crate::store::Store;
use crate::store::repositories::*;

const SETTINGS: &str = "org.settings";

impl<S: Store> Iam<S> {
    /// Replaces the organization's auto-join rules: (domain, default
    /// organization role). Requires `org.settings`, and the actor must be
    /// allowed to grant each default role (SECURITY.md 26), since setting
    /// it grants it to whoever joins.
    pub async fn set_auto_join(
        &self,
        actor: &Actor,
        org: OrgId,
        rules: &[(&str, RoleId)],
    ) -> Result<()> {
        let rules = rules
            .iter()
            .map(|(domain, role)| {
                Ok(AutoJoinDomain {
                    domain: EmailDomain::parse(domain)?,
                    default_role: *role,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let target = Target::Org(org);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            let mut authz = self
                .authorize(&mut tx, actor, SETTINGS, Scope::Organization(org), target)
                .await?;
            let index = authz.index()?;
            for rule in &rules {
                let def = index
                    .role(rule.default_role)
                    .filter(|d| d.org.is_none_or(|o| o == org))
                    .ok_or(Error::RoleNotAssignable)?;
                iamkit_rbac::ensure_can_grant(index.catalogue(), &authz.access, def)
                    .map_err(|e| rbac_denial(org, target, SETTINGS, e))?;
            }
            let mut organization = tx.get_organization(org).await?.ok_or(Error::NotFound)?;
            organization.settings.auto_join = rules;
            tx.update_organization(&organization).await?;
            let setting = SettingName::new("auto_join").map_err(|_| Error::Internal)?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::SettingsChanged { setting },
                target,
            )
            .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Turns the organization's two-factor enforcement on or off
    /// (SECURITY.md 19: under enforcement a member without a confirmed
    /// second factor can do nothing but enrol). Requires `org.settings`.
    /// Audited as `settings_changed` (`require_two_factor`), which also
    /// moves the organization's authorization version, so every `Iam` over
    /// the store applies it from the next check.
    pub async fn set_two_factor_required(
        &self,
        actor: &Actor,
        org: OrgId,
        required: bool,
    ) -> Result<()> {
        self.change_setting(actor, org, "require_two_factor", |settings| {
            let changed = settings.require_two_factor != required;
            settings.require_two_factor = required;
            changed
        })
        .await
    }

    /// Sets the time zone of members who chose none (`None`: UTC), an IANA
    /// name checked against the tz database; a bad name is
    /// [`Error::InvalidInput`] naming `time_zone`, and changes nothing.
    /// Requires `org.settings`. Audited as `settings_changed`
    /// (`time_zone`) when it changes.
    pub async fn set_default_time_zone(
        &self,
        actor: &Actor,
        org: OrgId,
        time_zone: Option<&str>,
    ) -> Result<()> {
        let time_zone = time_zone
            .map(iamkit_identity::TimeZone::parse)
            .transpose()?;
        self.change_setting(actor, org, "time_zone", |settings| {
            let changed = settings.time_zone != time_zone;
            settings.time_zone = time_zone;
            changed
        })
        .await
    }

    /// Changes one organization setting with `change` (which says whether
    /// it changed anything), after `org.settings` is authorized; a real
    /// change is stored and audited as `settings_changed` (`name`), a
    /// no-op records nothing.
    async fn change_setting(
        &self,
        actor: &Actor,
        org: OrgId,
        name: &'static str,
        change: impl FnOnce(&mut iamkit_identity::OrgSettings) -> bool + Send,
    ) -> Result<()> {
        let target = Target::Org(org);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            self.authorize(&mut tx, actor, SETTINGS, Scope::Organization(org), target)
                .await?;
            let mut organization = tx.get_organization(org).await?.ok_or(Error::NotFound)?;
            if change(&mut organization.settings) {
                tx.update_organization(&organization).await?;
                let setting = SettingName::new(name).map_err(|_| Error::Internal)?;
                self.audit(
                    &mut tx,
                    org,
                    actor,
                    Action::SettingsChanged { setting },
                    target,
                )
                .await?;
            }
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }

    /// Joins `org` on one's own: the signed-in user's email must be
    /// verified and at a domain the organization lists; they become an
    /// active member with the domain's default role. Anything else is
    /// [`Error::NotFound`] (an organization is not revealed to outsiders).
    pub async fn join_by_domain(&self, actor: &Actor, org: OrgId) -> Result<RoleId> {
        let ActorKind::User { user, session } = actor.kind else {
            return Err(Error::NotFound);
        };
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome: Flow<RoleId> = async {
            let live = tx
                .get_session(session)
                .await?
                .is_some_and(|s| s.user == user && s.authorizes(&self.config().sessions, now));
            let account = tx.get_user(user).await?;
            let (true, Some(account)) = (live, account) else {
                return Err(Error::InvalidCredentials.into());
            };
            let organization = tx.get_organization(org).await?.ok_or(Error::NotFound)?;
            let rule = organization
                .settings
                .auto_join_for(account.email.domain())
                .filter(|_| account.email_verified && account.is_active())
                .ok_or(Error::NotFound)?;
            if tx.get_membership(org, user).await?.is_some() {
                return Err(Error::Conflict(Conflict::AlreadyMember).into());
            }
            self.joined(&mut tx, user, org).await?;
            tx.insert_membership(&Membership {
                org,
                user,
                status: UserStatus::Active,
                department: None,
                created_at: now,
                updated_at: now,
            })
            .await
            .map_err(Error::from_store)?;
            let grant = Grant {
                grantee: Grantee::User(user),
                scope: Scope::Organization(org),
                role: rule.default_role,
            };
            self.load_index(&mut tx, org)
                .await?
                .validate(&Change::Assign(grant))
                .map_err(Error::from_rbac)?;
            tx.assign_grant(&grant).await?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::OrgRoleChanged {
                    from: None,
                    to: Some(rule.default_role),
                },
                Target::User(user),
            )
            .await?;
            Ok(rule.default_role)
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
