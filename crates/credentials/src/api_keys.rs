//! API keys (SECURITY.md 2, 3, 7, 23).

use std::collections::BTreeSet;
use std::future::Future;

use chrono::{DateTime, Utc};
use iamkit_identity::{ApiKeyId, UserId, WorkspaceId};
use iamkit_store_api::StoreError;
use rand::CryptoRng;
use subtle::ConstantTimeEq;

use crate::error::{Error, FieldRule, Result};
use crate::presented::{PresentedSecret, SecretKind};
use crate::secret::SecretDigest;

/// Longest key name, in code points.
pub const MAX_API_KEY_NAME: usize = 100;

/// What the app asks for when creating a key. The creator is *not* here: it
/// comes from the authenticated actor (SECURITY.md 23, Better Auth
/// CVE-2025-61928).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// A label for humans (1–100 code points, no control characters).
    pub name: String,
    /// The workspace the key acts in.
    pub workspace: WorkspaceId,
    /// Permission names the key is limited to; `None` = the creator's
    /// permissions. The facade intersects it with the creator's current
    /// permissions on every use.
    pub restriction: Option<BTreeSet<String>>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored API key. Holds only the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Lookup id (`<id>` of `iamk_key_<id>_<secret>`).
    pub id: ApiKeyId,
    /// Label.
    pub name: String,
    /// Workspace it acts in.
    pub workspace: WorkspaceId,
    /// Permission names it is limited to (see [`NewApiKey::restriction`]).
    pub restriction: Option<BTreeSet<String>>,
    /// Who created it: the authenticated actor.
    pub created_by: UserId,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last successful use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// SHA-256 of the secret.
    pub secret_hash: SecretDigest,
}

impl ApiKey {
    /// Creates a key for `created_by` (the authenticated actor); returns it
    /// and the text to show once.
    pub fn create(
        new: NewApiKey,
        created_by: UserId,
        now: DateTime<Utc>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(Self, PresentedSecret)> {
        let name = new.name.trim();
        if name.is_empty() {
            return Err(Error::InvalidField {
                field: "name",
                rule: FieldRule::Empty,
            });
        }
        if name.chars().count() > MAX_API_KEY_NAME {
            return Err(Error::InvalidField {
                field: "name",
                rule: FieldRule::TooLong {
                    max: MAX_API_KEY_NAME as u64,
                },
            });
        }
        if name.chars().any(char::is_control) {
            return Err(Error::InvalidField {
                field: "name",
                rule: FieldRule::ControlCharacter,
            });
        }
        if new.expires_at.is_some_and(|e| e <= now) {
            return Err(Error::InvalidField {
                field: "expires_at",
                rule: FieldRule::NotInFuture,
            });
        }
        if let Some(r) = &new.restriction
            && r.iter().any(|p| p.trim().is_empty())
        {
            return Err(Error::InvalidField {
                field: "restriction",
                rule: FieldRule::Empty,
            });
        }
        let id = ApiKeyId::generate(now, rng);
        let secret = PresentedSecret::generate(SecretKind::ApiKey, id.as_uuid(), rng);
        let key = Self {
            id,
            name: name.to_owned(),
            workspace: new.workspace,
            restriction: new.restriction,
            created_by,
            created_at: now,
            expires_at: new.expires_at,
            last_used_at: None,
            revoked_at: None,
            secret_hash: secret.digest(),
        };
        Ok((key, secret))
    }

    /// Whether it is unrevoked and unexpired at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }

    /// The permissions the key may use, given its creator's *current*
    /// permissions in the key's workspace: the restriction intersected with
    /// them (or all of them when unrestricted). Computed on every use, so
    /// removing a role from the creator shrinks the key at once
    /// (SECURITY.md 23).
    pub fn permissions_within(&self, creator_permissions: &BTreeSet<String>) -> BTreeSet<String> {
        match &self.restriction {
            Some(restriction) => restriction
                .intersection(creator_permissions)
                .cloned()
                .collect(),
            None => creator_permissions.clone(),
        }
    }

    /// Verification: `presented` is an API key for this id, its SHA-256
    /// matches in constant time, and the key is active at `now`.
    pub fn accepts(&self, presented: &PresentedSecret, now: DateTime<Utc>) -> bool {
        let secret_ok: bool = self.secret_hash.ct_eq(&presented.digest()).into();
        secret_ok
            && presented.kind() == SecretKind::ApiKey
            && presented.id() == self.id.as_uuid()
            && self.is_active(now)
    }
}

/// Storage of API keys.
///
/// Constraint name: `api_keys_id`.
pub trait ApiKeyRepository: Send {
    /// Stores a new key. A duplicate id MUST fail with
    /// `UniqueViolation { constraint: "api_keys_id" }`.
    fn insert_api_key(
        &mut self,
        key: ApiKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The key with `id`, revoked or not.
    fn get_api_key(
        &mut self,
        id: ApiKeyId,
    ) -> impl Future<Output = Result<Option<ApiKey>, StoreError>> + Send;

    /// Sets `last_used_at = now` on an unrevoked key; returns whether it did.
    fn touch_api_key(
        &mut self,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes one key; returns whether it was unrevoked before. A revoked
    /// key MUST keep its first `revoked_at`.
    fn revoke_api_key(
        &mut self,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes every unrevoked key created by `creator` (deactivation,
    /// SECURITY.md 20); returns how many.
    fn revoke_api_keys_of(
        &mut self,
        creator: UserId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The keys of `workspace` (revoked ones included), oldest first (by
    /// `created_at`, then id).
    fn list_api_keys(
        &mut self,
        workspace: WorkspaceId,
    ) -> impl Future<Output = Result<Vec<ApiKey>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn new_key(rng: &mut StdRng) -> NewApiKey {
        NewApiKey {
            name: "ci deploy".into(),
            workspace: WorkspaceId::generate(t0(), rng),
            restriction: Some(["workflows.run".to_owned()].into()),
            expires_at: Some(t0() + Duration::days(30)),
        }
    }

    #[test]
    fn verify_parses_hashes_and_compares() {
        let mut rng = StdRng::seed_from_u64(21);
        let creator = UserId::generate(t0(), &mut rng);
        let (key, secret) = ApiKey::create(new_key(&mut rng), creator, t0(), &mut rng).unwrap();
        assert_eq!(key.created_by, creator);
        let text = secret.to_text();
        assert!(text.expose().starts_with("iamk_key_"));
        let parsed = PresentedSecret::parse_as(text.expose(), SecretKind::ApiKey).unwrap();
        assert!(key.accepts(&parsed, t0()));
        assert!(!key.accepts(&parsed, t0() + Duration::days(30)), "expired");
        let mut revoked = key.clone();
        revoked.revoked_at = Some(t0());
        assert!(!revoked.accepts(&parsed, t0()));
        let ses = PresentedSecret::parse(&text.expose().replacen("_key_", "_ses_", 1)).unwrap();
        assert!(
            !key.accepts(&ses, t0()),
            "a session token is never an API key"
        );
        assert!(!format!("{key:?}").contains(&text.expose()[42..]));
    }

    #[test]
    fn permissions_are_the_restriction_within_the_creators_current_ones() {
        let mut rng = StdRng::seed_from_u64(23);
        let creator = UserId::generate(t0(), &mut rng);
        let set = |names: &[&str]| {
            names
                .iter()
                .map(|n| (*n).to_owned())
                .collect::<BTreeSet<_>>()
        };
        let new = NewApiKey {
            restriction: Some(set(&["workflows.run", "users.invite"])),
            ..new_key(&mut rng)
        };
        let (key, _) = ApiKey::create(new, creator, t0(), &mut rng).unwrap();
        let creator_now = set(&["workflows.run", "users.invite", "audit.read"]);
        assert_eq!(
            key.permissions_within(&creator_now),
            set(&["workflows.run", "users.invite"])
        );
        // The creator lost `users.invite`: the key loses it too, immediately.
        let creator_later = set(&["workflows.run", "audit.read"]);
        assert_eq!(
            key.permissions_within(&creator_later),
            set(&["workflows.run"])
        );
        assert!(key.permissions_within(&BTreeSet::new()).is_empty());
        let unrestricted = ApiKey {
            restriction: None,
            ..key
        };
        assert_eq!(
            unrestricted.permissions_within(&creator_later),
            creator_later
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        let mut rng = StdRng::seed_from_u64(22);
        let creator = UserId::generate(t0(), &mut rng);
        let cases = [
            (
                NewApiKey {
                    name: "  ".into(),
                    ..new_key(&mut rng)
                },
                "name",
                FieldRule::Empty,
            ),
            (
                NewApiKey {
                    name: "x".repeat(101),
                    ..new_key(&mut rng)
                },
                "name",
                FieldRule::TooLong { max: 100 },
            ),
            (
                NewApiKey {
                    expires_at: Some(t0()),
                    ..new_key(&mut rng)
                },
                "expires_at",
                FieldRule::NotInFuture,
            ),
            (
                NewApiKey {
                    restriction: Some([String::new()].into()),
                    ..new_key(&mut rng)
                },
                "restriction",
                FieldRule::Empty,
            ),
        ];
        for (input, field, rule) in cases {
            assert_eq!(
                ApiKey::create(input, creator, t0(), &mut rng).unwrap_err(),
                Error::InvalidField { field, rule }
            );
        }
    }
}
