//! Single-use tokens: invitations, password resets, email verification
//! (SECURITY.md 2–6).

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use iamkit_identity::{OrgId, UserId};
use iamkit_store_api::StoreError;
use rand::CryptoRng;
use subtle::ConstantTimeEq;

use crate::error::{Error, FieldRule, Result};
use crate::presented::{PresentedSecret, SecretKind};
use crate::secret::SecretDigest;
use crate::{TokenId, saturating_add};

/// What a single-use token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Sets the first password of an invited user and activates them.
    Invite,
    /// Sets a new password.
    PasswordReset {
        /// Sent by an admin (24 h) rather than requested by the user (1 h).
        by_admin: bool,
    },
    /// Proves control of an email address.
    EmailVerification,
}

impl TokenKind {
    /// The prefix kind of its text form. Both reset flavours share `rst`:
    /// issuing either revokes earlier unused resets (SECURITY.md 6).
    pub const fn secret_kind(self) -> SecretKind {
        match self {
            Self::Invite => SecretKind::Invite,
            Self::PasswordReset { .. } => SecretKind::PasswordReset,
            Self::EmailVerification => SecretKind::EmailVerification,
        }
    }
}

/// Lifetimes of single-use tokens (SECURITY.md 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenConfig {
    /// Invitation lifetime. Default 48 h, as the reference products; NIST
    /// 800-63B suggests shorter-lived links, so apps may lower it.
    pub invite_ttl: Duration,
    /// Admin-initiated reset lifetime (default 24 h).
    pub admin_reset_ttl: Duration,
    /// Self-service reset lifetime (default 1 h).
    pub self_reset_ttl: Duration,
    /// Email verification lifetime (default 48 h).
    pub verification_ttl: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            invite_ttl: Duration::hours(48),
            admin_reset_ttl: Duration::hours(24),
            self_reset_ttl: Duration::hours(1),
            verification_ttl: Duration::hours(48),
        }
    }
}

impl TokenConfig {
    /// The lifetime of a token of `kind`.
    pub fn ttl(&self, kind: TokenKind) -> Duration {
        match kind {
            TokenKind::Invite => self.invite_ttl,
            TokenKind::PasswordReset { by_admin: true } => self.admin_reset_ttl,
            TokenKind::PasswordReset { by_admin: false } => self.self_reset_ttl,
            TokenKind::EmailVerification => self.verification_ttl,
        }
    }

    /// Checks that every lifetime is positive.
    pub fn validate(&self) -> Result<()> {
        for (field, ttl) in [
            ("invite_ttl", self.invite_ttl),
            ("admin_reset_ttl", self.admin_reset_ttl),
            ("self_reset_ttl", self.self_reset_ttl),
            ("verification_ttl", self.verification_ttl),
        ] {
            if ttl <= Duration::zero() {
                return Err(Error::InvalidField {
                    field,
                    rule: FieldRule::TooSmall { min: 1 },
                });
            }
        }
        Ok(())
    }
}

/// A stored single-use token. Holds only the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Lookup id (the `<id>` of the text form).
    pub id: TokenId,
    /// What it is for.
    pub kind: TokenKind,
    /// The user it acts on.
    pub subject: UserId,
    /// The organization it belongs to: an invitation's organization;
    /// `None` for account-wide links (password reset, email verification).
    /// Issuing supersedes only earlier links of the same organization.
    pub org: Option<OrgId>,
    /// SHA-256 of the secret.
    pub secret_hash: SecretDigest,
    /// When issued.
    pub created_at: DateTime<Utc>,
    /// Not redeemable at or after this instant.
    pub expires_at: DateTime<Utc>,
    /// When redeemed.
    pub consumed_at: Option<DateTime<Utc>>,
    /// When revoked (superseded, user deactivated, ...).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether it is unused, unrevoked and unexpired at `now`.
    pub fn is_redeemable(&self, now: DateTime<Utc>) -> bool {
        self.consumed_at.is_none() && self.revoked_at.is_none() && now < self.expires_at
    }

    /// Whether `presented` redeems this record at `now`: same id, same
    /// kind, matching secret (constant time, SECURITY.md 7), redeemable.
    /// Adapters call this inside their atomic consume.
    pub fn accepts(&self, presented: &PresentedSecret, now: DateTime<Utc>) -> bool {
        let secret_ok: bool = self.secret_hash.ct_eq(&presented.digest()).into();
        secret_ok
            && presented.id() == self.id.as_uuid()
            && presented.kind() == self.kind.secret_kind()
            && self.is_redeemable(now)
    }
}

/// A token just issued: the record to store and the secret to send once.
#[derive(Debug)]
pub struct IssuedToken {
    /// Store this.
    pub record: TokenRecord,
    /// Send this (in a link) and forget it.
    pub secret: PresentedSecret,
}

/// Issues a token of `kind` for `subject`, valid for the configured TTL.
pub fn issue_token(
    kind: TokenKind,
    subject: UserId,
    config: &TokenConfig,
    now: DateTime<Utc>,
    rng: &mut (impl CryptoRng + ?Sized),
) -> IssuedToken {
    let id = TokenId::generate(now, rng);
    let secret = PresentedSecret::generate(kind.secret_kind(), id.as_uuid(), rng);
    IssuedToken {
        record: TokenRecord {
            id,
            kind,
            subject,
            org: None,
            secret_hash: secret.digest(),
            created_at: now,
            expires_at: saturating_add(now, config.ttl(kind)),
            consumed_at: None,
            revoked_at: None,
        },
        secret,
    }
}

/// Storage of single-use tokens.
///
/// Constraint name: `tokens_id`.
pub trait TokenRepository: Send {
    /// Stores `token`. In the same atomic step it MUST revoke (set
    /// `revoked_at` to the new token's `created_at`) every earlier token of
    /// the same subject, the same [`SecretKind`] and the same
    /// [`org`](TokenRecord::org) (`None` matching only `None`) that is
    /// neither consumed nor revoked (SECURITY.md 6): one organization's
    /// invitation never supersedes another's. A duplicate id MUST fail with
    /// `UniqueViolation { constraint: "tokens_id" }` and change nothing.
    fn insert_token(
        &mut self,
        token: TokenRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The token with `id`, in any state.
    fn get_token(
        &mut self,
        id: TokenId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send;

    /// Redeems `presented` at `now`: MUST be one atomic conditional update
    /// that sets `consumed_at = now` only if [`TokenRecord::accepts`] holds,
    /// and returns the updated record. Otherwise (unknown id, wrong kind,
    /// wrong secret, expired, revoked, consumed) it MUST return `Ok(None)`
    /// and change nothing. Of N concurrent calls with the same secret exactly
    /// one MUST get `Some` (SECURITY.md 4).
    fn consume_token(
        &mut self,
        presented: &PresentedSecret,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send;

    /// Revokes every unconsumed, unrevoked token of `subject` (all kinds) at
    /// `now`, e.g. on deactivation (SECURITY.md 20); returns how many. It
    /// MUST leave consumed tokens unchanged.
    fn revoke_tokens_of(
        &mut self,
        subject: UserId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn user(rng: &mut StdRng) -> UserId {
        UserId::generate(t0(), rng)
    }

    #[test]
    fn ttls_follow_the_reference_products() {
        let cfg = TokenConfig::default();
        assert_eq!(cfg.ttl(TokenKind::Invite), Duration::hours(48));
        assert_eq!(
            cfg.ttl(TokenKind::PasswordReset { by_admin: true }),
            Duration::hours(24)
        );
        assert_eq!(
            cfg.ttl(TokenKind::PasswordReset { by_admin: false }),
            Duration::hours(1)
        );
        assert_eq!(cfg.ttl(TokenKind::EmailVerification), Duration::hours(48));
        assert!(cfg.validate().is_ok());
        let bad = TokenConfig {
            self_reset_ttl: Duration::zero(),
            ..cfg
        };
        assert!(matches!(
            bad.validate(),
            Err(Error::InvalidField {
                field: "self_reset_ttl",
                ..
            })
        ));
    }

    #[test]
    fn issued_token_is_accepted_once_and_only_as_its_kind() {
        let mut rng = StdRng::seed_from_u64(5);
        let subject = user(&mut rng);
        let issued = issue_token(
            TokenKind::Invite,
            subject,
            &TokenConfig::default(),
            t0(),
            &mut rng,
        );
        let text = issued.secret.to_text();
        assert!(text.expose().starts_with("iamk_inv_"));
        let parsed = PresentedSecret::parse_as(text.expose(), SecretKind::Invite).unwrap();
        assert!(issued.record.accepts(&parsed, t0()));
        assert!(PresentedSecret::parse_as(text.expose(), SecretKind::PasswordReset).is_err());

        // A reset token with the same id but relabelled prefix is refused by the record.
        let relabelled = text.expose().replacen("_inv_", "_rst_", 1);
        let forged = PresentedSecret::parse(&relabelled).unwrap();
        assert!(!issued.record.accepts(&forged, t0()));

        let mut used = issued.record.clone();
        used.consumed_at = Some(t0());
        assert!(!used.accepts(&parsed, t0()));
        let mut revoked = issued.record.clone();
        revoked.revoked_at = Some(t0());
        assert!(!revoked.accepts(&parsed, t0()));

        let other = issue_token(
            TokenKind::Invite,
            subject,
            &TokenConfig::default(),
            t0(),
            &mut rng,
        );
        assert!(
            !issued.record.accepts(&other.secret, t0()),
            "another token's secret"
        );
    }

    #[test]
    fn a_lifetime_too_long_to_represent_does_not_panic() {
        let mut rng = StdRng::seed_from_u64(7);
        let cfg = TokenConfig {
            invite_ttl: Duration::MAX,
            ..TokenConfig::default()
        };
        assert!(cfg.validate().is_ok());
        let issued = issue_token(TokenKind::Invite, user(&mut rng), &cfg, t0(), &mut rng);
        assert_eq!(issued.record.expires_at, DateTime::<Utc>::MAX_UTC);
        assert!(
            issued
                .record
                .accepts(&issued.secret, t0() + Duration::days(365))
        );
    }

    #[test]
    fn the_record_stores_only_a_hash() {
        let mut rng = StdRng::seed_from_u64(6);
        let issued = issue_token(
            TokenKind::EmailVerification,
            user(&mut rng),
            &TokenConfig::default(),
            t0(),
            &mut rng,
        );
        let dump = format!("{:?}", issued.record);
        let text = issued.secret.to_text();
        assert!(!dump.contains(&text.expose()[42..]));
        assert_eq!(issued.record.secret_hash, issued.secret.digest());
    }

    proptest! {
        #[test]
        fn expiry_boundary_against_the_injected_clock(
            kind_ix in 0usize..4,
            offset_secs in -10_000i64..200_000,
            seed in any::<u64>(),
        ) {
            let kind = [
                TokenKind::Invite,
                TokenKind::PasswordReset { by_admin: true },
                TokenKind::PasswordReset { by_admin: false },
                TokenKind::EmailVerification,
            ][kind_ix];
            let cfg = TokenConfig::default();
            let mut rng = StdRng::seed_from_u64(seed);
            let issued = issue_token(kind, user(&mut rng), &cfg, t0(), &mut rng);
            let now = t0() + Duration::seconds(offset_secs);
            let expected = now < t0() + cfg.ttl(kind);
            prop_assert_eq!(issued.record.accepts(&issued.secret, now), expected);
            // Exactly at the expiry instant it is refused; one second before, accepted.
            let expiry = t0() + cfg.ttl(kind);
            prop_assert!(!issued.record.accepts(&issued.secret, expiry));
            prop_assert!(issued.record.accepts(&issued.secret, expiry - Duration::seconds(1)));
        }
    }
}
