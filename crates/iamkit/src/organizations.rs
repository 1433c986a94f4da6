//! Which organizations an authenticated actor acts in: what a "who am I"
//! endpoint shows after sign-in, so a client learns its tenants' ids.

use iamkit_identity::{Organization, UserStatus};

use crate::actor::{Actor, ActorKind};
use crate::error::{Error, Result};
use crate::iam::Iam;
use crate::store::Store;
use crate::store::repositories::*;

impl<S: Store> Iam<S> {
    /// The organizations `actor` acts in, oldest first: for a signed-in
    /// user (live, fully signed-in session, active account) every
    /// organization where their membership is ACTIVE; for an API key its
    /// one organization while its creator is an active member there (an
    /// empty list otherwise). Needs no permission: it tells the actor only
    /// about itself. A dead session, a revoked or expired key, a
    /// deactivated account, a pending second factor and [`Actor::system`]
    /// are [`Error::InvalidCredentials`].
    pub async fn organizations_of(&self, actor: &Actor) -> Result<Vec<Organization>> {
        let now = self.now();
        // Only reads: no write lock (see `Store::begin_read`).
        let mut tx = self.begin_read().await?;
        let (user, only) = match &actor.kind {
            ActorKind::User { .. } => (self.session_user(&mut tx, actor).await?.id, None),
            ActorKind::ApiKey {
                key, creator, org, ..
            } => {
                let active = tx
                    .get_api_key(*key)
                    .await?
                    .is_some_and(|k| k.is_active(now));
                let creator_active = tx.get_user(*creator).await?.is_some_and(|u| u.is_active());
                if !(active && creator_active) {
                    return Err(Error::InvalidCredentials);
                }
                (*creator, Some(*org))
            }
            ActorKind::System => return Err(Error::InvalidCredentials),
        };
        let mut organizations = Vec::new();
        for membership in tx.list_memberships_of_user(user).await? {
            if membership.status != UserStatus::Active
                || only.is_some_and(|org| org != membership.org)
            {
                continue;
            }
            if let Some(organization) = tx.get_organization(membership.org).await? {
                organizations.push(organization);
            }
        }
        tx.rollback().await?;
        organizations.sort_by_key(|o| (o.created_at, o.id));
        Ok(organizations)
    }
}
