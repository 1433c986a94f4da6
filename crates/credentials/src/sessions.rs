//! Sign-in sessions (SECURITY.md 17, 21, 22).

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use iamkit_identity::{OrgId, SessionId, UserId};
use iamkit_store_api::StoreError;
use rand::CryptoRng;
use subtle::ConstantTimeEq;

use crate::error::{Error, FieldRule, Result};
use crate::presented::{PresentedSecret, SecretKind};
use crate::saturating_add;
use crate::secret::SecretDigest;

/// Session timeouts (OWASP Session Management Cheat Sheet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    idle_timeout: Duration,
    absolute_timeout: Duration,
}

impl Default for SessionConfig {
    /// Idle 30 min, absolute 12 h.
    fn default() -> Self {
        Self {
            idle_timeout: Duration::minutes(30),
            absolute_timeout: Duration::hours(12),
        }
    }
}

impl SessionConfig {
    /// Both positive, idle not above absolute.
    pub fn new(idle_timeout: Duration, absolute_timeout: Duration) -> Result<Self> {
        if idle_timeout <= Duration::zero() {
            return Err(Error::InvalidField {
                field: "idle_timeout",
                rule: FieldRule::TooSmall { min: 1 },
            });
        }
        if idle_timeout > absolute_timeout {
            return Err(Error::InvalidField {
                field: "idle_timeout",
                rule: FieldRule::ExceedsOther {
                    other: "absolute_timeout",
                },
            });
        }
        Ok(Self {
            idle_timeout,
            absolute_timeout,
        })
    }

    /// Inactivity after which a session ends.
    pub const fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// Age after which a session ends regardless of activity.
    pub const fn absolute_timeout(&self) -> Duration {
        self.absolute_timeout
    }
}

/// How far sign-in has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Password accepted, second factor still required: authorizes nothing
    /// but completing the second factor (SECURITY.md 17).
    MfaPending,
    /// Fully signed in.
    Full,
}

/// Client details the app supplies for session lists. Not verified.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientMetadata {
    /// The client's IP address as the app saw it.
    pub ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

/// A stored session. Holds only the SHA-256 of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Lookup id (`<id>` of `iamk_ses_<id>_<secret>`).
    pub id: SessionId,
    /// Who signed in.
    pub user: UserId,
    /// The organization signed into, if any.
    pub org: Option<OrgId>,
    /// SHA-256 of the token secret.
    pub secret_hash: SecretDigest,
    /// Sign-in progress.
    pub state: SessionState,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// Last activity.
    pub last_seen_at: DateTime<Utc>,
    /// When the user last proved a factor in this session (signing in,
    /// or re-authenticating): sensitive changes need it recent
    /// (SECURITY.md 39).
    pub authenticated_at: DateTime<Utc>,
    /// App-supplied client details.
    pub client: ClientMetadata,
    /// When revoked (sign-out, password change, deactivation, admin).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Starts a session; returns it and the token to hand to the client once.
    pub fn start(
        user: UserId,
        org: Option<OrgId>,
        state: SessionState,
        client: ClientMetadata,
        now: DateTime<Utc>,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> (Self, PresentedSecret) {
        let id = SessionId::generate(now, rng);
        let secret = PresentedSecret::generate(SecretKind::Session, id.as_uuid(), rng);
        let session = Self {
            id,
            user,
            org,
            secret_hash: secret.digest(),
            state,
            created_at: now,
            last_seen_at: now,
            authenticated_at: now,
            client,
            revoked_at: None,
        };
        (session, secret)
    }

    /// Whether it is unrevoked and within both timeouts at `now`.
    pub fn is_live(&self, config: &SessionConfig, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.live_until(config)
    }

    /// When it ends unless used again: the sooner of its idle deadline
    /// (last activity + idle timeout) and its absolute one (start +
    /// absolute timeout). Revocation aside.
    pub fn live_until(&self, config: &SessionConfig) -> DateTime<Utc> {
        saturating_add(self.last_seen_at, config.idle_timeout)
            .min(saturating_add(self.created_at, config.absolute_timeout))
    }

    /// Whether it authorizes anything at `now`: live and fully signed in.
    /// A session waiting for its second factor authorizes nothing.
    pub fn authorizes(&self, config: &SessionConfig, now: DateTime<Utc>) -> bool {
        self.state == SessionState::Full && self.is_live(config, now)
    }

    /// Whether `presented` is this session's token (constant-time compare)
    /// and the session is live at `now`. An API key or reset token is never
    /// accepted as a session (SECURITY.md 3).
    pub fn accepts(
        &self,
        presented: &PresentedSecret,
        config: &SessionConfig,
        now: DateTime<Utc>,
    ) -> bool {
        let secret_ok: bool = self.secret_hash.ct_eq(&presented.digest()).into();
        secret_ok
            && presented.kind() == SecretKind::Session
            && presented.id() == self.id.as_uuid()
            && self.is_live(config, now)
    }
}

/// Storage of sessions.
///
/// Constraint name: `sessions_id`.
pub trait SessionRepository: Send {
    /// Stores a new session. A duplicate id MUST fail with
    /// `UniqueViolation { constraint: "sessions_id" }`.
    fn insert_session(
        &mut self,
        session: Session,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session with `id`, revoked or not.
    fn get_session(
        &mut self,
        id: SessionId,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;

    /// Records activity: sets `last_seen_at = now` if the session exists and
    /// is not revoked; returns whether it did. It MUST NOT revive a revoked
    /// session.
    fn touch_session(
        &mut self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Completes the second factor: MUST atomically move an unrevoked
    /// `MfaPending` session to `Full` (and set `last_seen_at = now`);
    /// returns whether it did. A revoked or already full session MUST stay
    /// as it is.
    fn complete_session_mfa(
        &mut self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records a fresh proof of a factor: sets `authenticated_at = now` if
    /// the session exists and is not revoked; returns whether it did. It
    /// MUST NOT revive a revoked session.
    fn reauthenticate_session(
        &mut self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes one session; returns whether it was live (unrevoked) before.
    fn revoke_session(
        &mut self,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes every unrevoked session of `user` except `except` (the
    /// current one on a password change, SECURITY.md 21); returns how many.
    /// MUST leave other users' sessions untouched.
    fn revoke_sessions_of(
        &mut self,
        user: UserId,
        except: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The unrevoked sessions of `user`, newest first (by `created_at`, then
    /// id). Timed-out sessions
    /// MAY be included; callers filter with [`Session::is_live`].
    fn list_sessions_of(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<Session>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn start(state: SessionState) -> (Session, PresentedSecret) {
        let mut rng = StdRng::seed_from_u64(11);
        let user = UserId::generate(t0(), &mut rng);
        Session::start(user, None, state, ClientMetadata::default(), t0(), &mut rng)
    }

    #[test]
    fn idle_and_absolute_timeouts() {
        let cfg = SessionConfig::default();
        let (mut s, token) = start(SessionState::Full);
        assert!(s.accepts(&token, &cfg, t0()));
        assert!(s.authorizes(&cfg, t0() + Duration::minutes(29)));
        assert!(
            !s.is_live(&cfg, t0() + Duration::minutes(30)),
            "idle timeout"
        );
        // Activity every 20 minutes keeps it alive until the absolute timeout.
        let mut now = t0();
        while now < t0() + Duration::hours(12) - Duration::minutes(20) {
            now += Duration::minutes(20);
            assert!(s.is_live(&cfg, now));
            s.last_seen_at = now;
        }
        assert!(
            !s.is_live(&cfg, t0() + Duration::hours(12)),
            "absolute timeout"
        );
    }

    #[test]
    fn mfa_pending_authorizes_nothing() {
        let cfg = SessionConfig::default();
        let (s, token) = start(SessionState::MfaPending);
        assert!(
            s.accepts(&token, &cfg, t0()),
            "the token identifies the session"
        );
        assert!(!s.authorizes(&cfg, t0()));
    }

    #[test]
    fn revoked_or_foreign_tokens_are_refused() {
        let cfg = SessionConfig::default();
        let (mut s, token) = start(SessionState::Full);
        let mut rng = StdRng::seed_from_u64(12);
        let key = PresentedSecret::generate(SecretKind::ApiKey, s.id.as_uuid(), &mut rng);
        assert!(
            !s.accepts(&key, &cfg, t0()),
            "an API key is never a session"
        );
        let relabelled = token.to_text().expose().replacen("_ses_", "_key_", 1);
        assert!(!s.accepts(&PresentedSecret::parse(&relabelled).unwrap(), &cfg, t0()));
        s.revoked_at = Some(t0());
        assert!(!s.accepts(&token, &cfg, t0()));
        assert!(!s.authorizes(&cfg, t0()));
    }

    proptest::proptest! {
        /// Against the injected clock: live iff unrevoked, within the idle
        /// timeout of the last activity and the absolute timeout of creation.
        #[test]
        fn liveness_boundaries(
            idle_min in 1i64..120,
            extra_min in 0i64..1_000,
            seen_after in 0i64..2_000,
            now_after in 0i64..3_000,
        ) {
            let cfg = SessionConfig::new(
                Duration::minutes(idle_min),
                Duration::minutes(idle_min + extra_min),
            )
            .unwrap();
            let (mut s, token) = start(SessionState::Full);
            s.last_seen_at = t0() + Duration::minutes(seen_after);
            let now = t0() + Duration::minutes(now_after);
            let expected = now < s.last_seen_at + cfg.idle_timeout()
                && now < t0() + cfg.absolute_timeout();
            proptest::prop_assert_eq!(s.is_live(&cfg, now), expected);
            proptest::prop_assert_eq!(s.accepts(&token, &cfg, now), expected);
            proptest::prop_assert_eq!(s.authorizes(&cfg, now), expected);
            let idle_end = s.last_seen_at + cfg.idle_timeout();
            proptest::prop_assert!(!s.is_live(&cfg, idle_end));
        }
    }

    #[test]
    fn a_timeout_too_long_to_represent_never_ends_and_does_not_panic() {
        let cfg = SessionConfig::new(Duration::MAX, Duration::MAX).unwrap();
        let (s, token) = start(SessionState::Full);
        let far = t0() + Duration::days(365 * 1000);
        assert!(s.is_live(&cfg, far));
        assert!(s.accepts(&token, &cfg, far));
    }

    #[test]
    fn config_is_validated() {
        assert!(SessionConfig::new(Duration::hours(2), Duration::hours(1)).is_err());
        assert!(SessionConfig::new(Duration::zero(), Duration::hours(1)).is_err());
        let cfg = SessionConfig::new(Duration::minutes(5), Duration::hours(1)).unwrap();
        assert_eq!(cfg.idle_timeout(), Duration::minutes(5));
    }
}
