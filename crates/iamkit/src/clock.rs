//! Where the facade reads the time. Nothing else in iamkit does
//! (`clippy.toml` bans the wall-clock reads elsewhere), so tests control
//! every expiry through a [`ManualClock`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place iamkit reads the wall clock"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to, for tests and examples. Clones share
/// the same time.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use iamkit::{Clock, ManualClock};
/// let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
/// let shared = clock.clone();
/// clock.advance(Duration::hours(48));
/// assert_eq!(shared.now(), Utc.with_ymd_and_hms(2026, 1, 3, 0, 0, 0).unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    micros: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock standing at `start` (microsecond precision).
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            micros: Arc::new(AtomicI64::new(start.timestamp_micros())),
        }
    }

    /// Moves the clock to `time`.
    pub fn set(&self, time: DateTime<Utc>) {
        self.micros.store(time.timestamp_micros(), Ordering::SeqCst);
    }

    /// Moves the clock forward by `by` (backward if negative).
    pub fn advance(&self, by: Duration) {
        let delta = by.num_microseconds().unwrap_or(i64::MAX);
        self.micros.fetch_add(delta, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let clock = ManualClock::new(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::minutes(30));
        assert_eq!(clock.now(), t0 + Duration::minutes(30));
        clock.set(t0);
        assert_eq!(clock.now(), t0);
    }

    #[test]
    fn system_clock_is_after_2025() {
        let floor = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        assert!(SystemClock.now() > floor);
    }
}
