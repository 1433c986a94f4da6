//! Profile updates: one's own, or (as an admin) another member's.

use iamkit_audit::{Action, ProfileField, Target};
use iamkit_identity::{
    DepartmentId, InvalidInput, Language, OrgId, PersonName, Profile, Rule, Theme, TimeZone, UserId,
};
use iamkit_rbac::Scope;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::iam::{Flow, Iam};
use crate::store::Store;
use crate::store::repositories::*;

/// The fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Display name; `Some("")` clears it.
    pub display_name: Option<String>,
    /// `en`, `es` or `pt`.
    pub language: Option<String>,
    /// An IANA time zone name; `Some("")` clears it (the organization's
    /// applies again).
    pub time_zone: Option<String>,
    /// `light`, `dark` or `system`.
    pub theme: Option<String>,
    /// Department from the organization's list; `Some(None)` clears it.
    pub department: Option<Option<DepartmentId>>,
}

/// A validated [`ProfileUpdate`] (without the department, which needs the
/// organization).
pub(crate) struct ParsedUpdate {
    first: Option<PersonName>,
    last: Option<PersonName>,
    display: Option<Option<PersonName>>,
    language: Option<Language>,
    time_zone: Option<Option<TimeZone>>,
    theme: Option<Theme>,
}

impl ParsedUpdate {
    /// Validates every field; the error names the field and the rule.
    pub(crate) fn parse(update: &ProfileUpdate) -> Result<Self> {
        let first = update
            .first_name
            .as_deref()
            .map(|v| PersonName::parse(v).map_err(|e| e.for_field("first_name")))
            .transpose()?;
        let last = update
            .last_name
            .as_deref()
            .map(|v| PersonName::parse(v).map_err(|e| e.for_field("last_name")))
            .transpose()?;
        let display = match update.display_name.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(v) => Some(Some(
                PersonName::parse(v).map_err(|e| e.for_field("display_name"))?,
            )),
        };
        let language = update
            .language
            .as_deref()
            .map(Language::parse)
            .transpose()?;
        let time_zone = match update.time_zone.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(v) => Some(Some(TimeZone::parse(v)?)),
        };
        let theme = update.theme.as_deref().map(Theme::parse).transpose()?;
        Ok(Self {
            first,
            last,
            display,
            language,
            time_zone,
            theme,
        })
    }

    /// Applies the update; returns the audit names of the fields changed.
    pub(crate) fn apply(self, profile: &mut Profile) -> Vec<ProfileField> {
        let mut fields = Vec::new();
        let names_changed = self.first.is_some() || self.last.is_some() || self.display.is_some();
        if let Some(first) = self.first {
            profile.first_name = first;
        }
        if let Some(last) = self.last {
            profile.last_name = last;
        }
        if let Some(display) = self.display {
            profile.display_name = display;
        }
        if names_changed {
            fields.push(ProfileField::DisplayName);
        }
        if let Some(language) = self.language {
            profile.language = language;
            fields.push(ProfileField::Language);
        }
        if let Some(time_zone) = self.time_zone {
            profile.time_zone = time_zone;
            fields.push(ProfileField::TimeZone);
        }
        if let Some(theme) = self.theme {
            profile.theme = theme;
            fields.push(ProfileField::Theme);
        }
        fields
    }
}

impl<S: Store> Iam<S> {
    /// Updates a member's profile and, in `org`, their department (which
    /// must be one of the organization's). A member may update their own
    /// profile with `users.read` (every built-in role); anyone else's
    /// requires `users.update`. Audited with the names of the changed
    /// fields, never their values.
    pub async fn update_profile(
        &self,
        actor: &Actor,
        org: OrgId,
        user: UserId,
        update: &ProfileUpdate,
    ) -> Result<()> {
        let parsed = ParsedUpdate::parse(update)?;
        let permission = if actor.user() == Some(user) {
            "users.read"
        } else {
            "users.update"
        };
        let now = self.now();
        let target = Target::User(user);
        let mut tx = self.begin().await?;
        let outcome: Flow<()> = async {
            self.authorize(&mut tx, actor, permission, Scope::Organization(org), target)
                .await?;
            let (mut account, mut membership) = self.member(&mut tx, org, user).await?;
            let mut fields = parsed.apply(&mut account.profile);
            // The global profile is the account's: only its holder and its
            // managing organization change it (SECURITY.md 32).
            if !fields.is_empty() && actor.user() != Some(user) {
                Self::ensure_manages(org, &account)?;
            }
            if let Some(department) = update.department {
                if let Some(id) = department {
                    let known = tx.get_department(id).await?.is_some_and(|d| d.org == org);
                    if !known {
                        return Err(Error::InvalidInput(InvalidInput::new(
                            "department",
                            Rule::NotInOrganization,
                        ))
                        .into());
                    }
                }
                membership.department = department;
                membership.updated_at = now;
                tx.update_membership(&membership).await?;
                fields.push(ProfileField::Department);
            }
            if fields.is_empty() {
                return Ok(());
            }
            account.updated_at = now;
            tx.update_user(&account).await.map_err(Error::from_store)?;
            self.audit(
                &mut tx,
                org,
                actor,
                Action::ProfileUpdated { fields },
                target,
            )
            .await?;
            Ok(())
        }
        .await;
        self.finish(tx, actor, outcome).await
    }
}
