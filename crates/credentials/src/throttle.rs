//! Per-account failure counting with lockout and doubling backoff
//! (SECURITY.md 11–12). The decision is pure; the count lives in the
//! [`ThrottleRepository`], which increments it atomically.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use iamkit_identity::UserId;
use iamkit_store_api::StoreError;

use crate::error::{Error, FieldRule, Result};
use crate::saturating_add;

/// NIST 800-63B 3.2.2: no more than 100 consecutive failed attempts.
pub const MAX_FAILURE_LIMIT: u32 = 100;

/// Throttle settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    max_failures: u32,
    base_lockout: Duration,
    max_lockout: Duration,
}

impl Default for ThrottleConfig {
    /// 10 failures lock for 15 minutes; each further 10 doubles it, up to 24 h.
    fn default() -> Self {
        Self {
            max_failures: 10,
            base_lockout: Duration::minutes(15),
            max_lockout: Duration::hours(24),
        }
    }
}

impl ThrottleConfig {
    /// Locks after `max_failures` (1..=100) for `base_lockout`, doubling on
    /// each further run of failures, capped at `max_lockout`.
    pub fn new(max_failures: u32, base_lockout: Duration, max_lockout: Duration) -> Result<Self> {
        let field = |field, rule| Err(Error::InvalidField { field, rule });
        if max_failures == 0 {
            return field("max_failures", FieldRule::TooSmall { min: 1 });
        }
        if max_failures > MAX_FAILURE_LIMIT {
            return field(
                "max_failures",
                FieldRule::TooLarge {
                    max: u64::from(MAX_FAILURE_LIMIT),
                },
            );
        }
        if base_lockout <= Duration::zero() {
            return field("base_lockout", FieldRule::TooSmall { min: 1 });
        }
        if max_lockout < base_lockout {
            return field(
                "base_lockout",
                FieldRule::ExceedsOther {
                    other: "max_lockout",
                },
            );
        }
        Ok(Self {
            max_failures,
            base_lockout,
            max_lockout,
        })
    }

    /// Failures that trigger a lock.
    pub const fn max_failures(&self) -> u32 {
        self.max_failures
    }

    /// The lock length after the `n`-th run of `max_failures` failures
    /// (`n` ≥ 1): base · 2^(n−1), capped.
    pub fn lockout_for(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(30);
        self.base_lockout
            .checked_mul(1_i32 << doublings)
            .map_or(self.max_lockout, |d| d.min(self.max_lockout))
    }
}

/// An account's throttle record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleState {
    /// Consecutive failures since the last success.
    pub failures: u32,
    /// Locked until then, if locked.
    pub locked_until: Option<DateTime<Utc>>,
}

impl ThrottleState {
    /// Whether an attempt may be made at `now`; [`Error::Locked`] otherwise.
    pub fn check(&self, now: DateTime<Utc>) -> Result<()> {
        match self.locked_until {
            Some(until) if now < until => Err(Error::Locked { until }),
            _ => Ok(()),
        }
    }

    /// The state after one more failure at `now`: every `max_failures`-th
    /// consecutive failure locks the account, each time twice as long.
    #[must_use]
    pub fn after_failure(self, config: &ThrottleConfig, now: DateTime<Utc>) -> Self {
        let failures = self.failures.saturating_add(1);
        let locked_until = if failures.is_multiple_of(config.max_failures) {
            Some(saturating_add(
                now,
                config.lockout_for(failures / config.max_failures),
            ))
        } else {
            self.locked_until
        };
        Self {
            failures,
            locked_until,
        }
    }
}

/// Storage of throttle records, keyed by user.
pub trait ThrottleRepository: Send {
    /// The user's record; MUST return the default (0 failures, unlocked)
    /// when none exists.
    fn get_throttle(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<ThrottleState, StoreError>> + Send;

    /// Reserves one guess before the secret is checked (SECURITY.md 38):
    /// in one atomic step, while the user is locked at `now` it MUST return
    /// `Ok(None)` and change nothing; otherwise it MUST count the guess as
    /// a failure ([`ThrottleState::after_failure`]) and return the new
    /// state. A guess found right is then forgiven by
    /// [`reset_throttle`](Self::reset_throttle). So however many callers
    /// race, at most `max_failures` reservations succeed per lock period:
    /// of N concurrent calls on an unlocked user with no failures, exactly
    /// `min(N, max_failures)` MUST get `Some`.
    fn reserve_attempt(
        &mut self,
        user: UserId,
        config: &ThrottleConfig,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<ThrottleState>, StoreError>> + Send;

    /// Counts one failure and returns the new state, computed with
    /// [`ThrottleState::after_failure`]. MUST be atomic: N concurrent calls
    /// MUST raise the count by exactly N (SECURITY.md 11).
    fn record_throttle_failure(
        &mut self,
        user: UserId,
        config: &ThrottleConfig,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<ThrottleState, StoreError>> + Send;

    /// Resets the record after a success; afterwards [`get_throttle`]
    /// MUST return the default.
    ///
    /// [`get_throttle`]: ThrottleRepository::get_throttle
    fn reset_throttle(
        &mut self,
        user: UserId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn locks_after_ten_then_doubles_and_caps() {
        let cfg = ThrottleConfig::default();
        let mut s = ThrottleState::default();
        for _ in 0..9 {
            s = s.after_failure(&cfg, t0());
            assert!(s.check(t0()).is_ok());
        }
        s = s.after_failure(&cfg, t0());
        assert_eq!(
            s.check(t0()),
            Err(Error::Locked {
                until: t0() + Duration::minutes(15)
            })
        );
        assert!(
            s.check(t0() + Duration::minutes(15)).is_ok(),
            "lock ends exactly at `until`"
        );
        for _ in 0..10 {
            s = s.after_failure(&cfg, t0());
        }
        assert_eq!(s.locked_until, Some(t0() + Duration::minutes(30)));
        assert_eq!(cfg.lockout_for(3), Duration::minutes(60));
        assert_eq!(cfg.lockout_for(8), Duration::hours(24), "capped");
        assert_eq!(cfg.lockout_for(1000), Duration::hours(24));
    }

    proptest::proptest! {
        /// After `n` consecutive failures (all at `t0`), the account is locked
        /// iff `n` reached the limit, for base · 2^(n div limit − 1), capped.
        #[test]
        fn lock_schedule_matches_the_model(limit in 1u32..=100, n in 0u32..400) {
            let cfg = ThrottleConfig::new(limit, Duration::minutes(15), Duration::hours(24)).unwrap();
            let s = (0..n).fold(ThrottleState::default(), |s, _| s.after_failure(&cfg, t0()));
            proptest::prop_assert_eq!(s.failures, n);
            let runs = n / limit;
            if runs == 0 {
                proptest::prop_assert!(s.check(t0()).is_ok());
            } else {
                let minutes = 15i64.saturating_mul(1i64 << (runs - 1).min(20)).min(24 * 60);
                let until = t0() + Duration::minutes(minutes);
                proptest::prop_assert_eq!(s.check(t0()), Err(Error::Locked { until }));
                proptest::prop_assert!(s.check(until).is_ok());
            }
        }
    }

    #[test]
    fn a_lockout_too_long_to_represent_locks_for_good_without_panicking() {
        let cfg = ThrottleConfig::new(1, Duration::MAX / 2, Duration::MAX).unwrap();
        let s = ThrottleState::default().after_failure(&cfg, t0());
        let s = s.after_failure(&cfg, t0());
        assert_eq!(s.locked_until, Some(DateTime::<Utc>::MAX_UTC));
        assert!(s.check(t0() + Duration::days(365 * 1000)).is_err());
    }

    #[test]
    fn limit_is_configurable_but_never_above_100() {
        let err = ThrottleConfig::new(101, Duration::minutes(1), Duration::hours(1)).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidField {
                field: "max_failures",
                rule: FieldRule::TooLarge { max: 100 }
            }
        );
        assert!(ThrottleConfig::new(0, Duration::minutes(1), Duration::hours(1)).is_err());
        let cfg = ThrottleConfig::new(3, Duration::minutes(1), Duration::hours(1)).unwrap();
        let s = (0..3).fold(ThrottleState::default(), |s, _| s.after_failure(&cfg, t0()));
        assert!(s.check(t0()).is_err());
    }
}
