//! A per-client limiter for the credential endpoints, on [`governor`].
//!
//! iamkit throttles per *account*: after repeated failures the account
//! locks (SECURITY.md 11). That does not stop one client from trying one
//! common password against many accounts, each failing once. This limiter
//! caps the attempts of one client, whatever the account. It is in-memory
//! and per process: several instances behind a load balancer each count on
//! their own.
//!
//! A client is an IPv4 address, or the /64 prefix of an IPv6 address: one
//! subscriber or host gets a whole /64 (RFC 6177, RFC 7934) and can send
//! from any of its 2^64 addresses, so counting addresses would let it start
//! a fresh budget with every request. An IPv4-mapped IPv6 address
//! (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4 peer)
//! counts as that IPv4 address.
//!
//! The counting is governor's GCRA (a budget of `max_requests` that
//! refills evenly over `window`), kept in a state store of this module
//! that holds at most [`RateLimit::max_clients`] clients: the memory a
//! flood of addresses can make it hold is bounded.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};

use crate::error::ApiError;

/// How many requests one client may send, how fast its budget refills,
/// and how many clients the limiter keeps track of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The budget: requests a client may send at once (at least 1).
    pub max_requests: u32,
    /// How long a spent budget takes to refill completely; it refills
    /// evenly, one request every `window / max_requests`.
    pub window: Duration,
    /// The most clients counted at once (a bound on the limiter's memory;
    /// [`RateLimit::DEFAULT_MAX_CLIENTS`] unless there is reason to
    /// change it). While that many clients have budgets not yet refilled,
    /// a client not among them is refused with 429 until the first of
    /// them has refilled.
    pub max_clients: usize,
}

impl RateLimit {
    /// 100 000 clients: a few megabytes of state, and far more distinct
    /// clients than sign in within one window on a service of this size.
    pub const DEFAULT_MAX_CLIENTS: usize = 100_000;

    /// governor's quota: a burst of `max_requests`, refilled over `window`.
    fn quota(&self) -> Quota {
        let burst = NonZeroU32::new(self.max_requests).unwrap_or(NonZeroU32::MIN);
        let per_request = self.window / burst.get();
        Quota::with_period(per_request)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst)
    }
}

impl Default for RateLimit {
    /// A person signs in a few times an hour; 20 tries a minute from one
    /// client (address, or IPv6 /64) leaves room for a shared office NAT
    /// and none for guessing.
    fn default() -> Self {
        Self {
            max_requests: 20,
            window: Duration::from_secs(60),
            max_clients: Self::DEFAULT_MAX_CLIENTS,
        }
    }
}

/// What one budget is counted under: an IPv4 address, or the first 64 bits
/// of an IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    V4(Ipv4Addr),
    V6Prefix64(u64),
}

impl From<IpAddr> for Client {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4),
                None => {
                    let [a, b, c, d, e, f, g, h, ..] = v6.octets();
                    Self::V6Prefix64(u64::from_be_bytes([a, b, c, d, e, f, g, h]))
                }
            },
        }
    }
}

/// governor's state per client, in a map that [`ClientRateLimiter`] keeps
/// within its bound (governor's own keyed stores grow without one).
#[derive(Clone, Default)]
struct Clients(Arc<Mutex<HashMap<Client, InMemoryState>>>);

impl Clients {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Client, InMemoryState>> {
        // A panic elsewhere while holding the lock leaves states that are
        // still states: keep using them.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn contains(&self, client: &Client) -> bool {
        self.map().contains_key(client)
    }

    fn len(&self) -> usize {
        self.map().len()
    }

    /// The earliest "theoretical arrival time" among the clients (GCRA's
    /// state: nanoseconds since the limiter started).
    fn earliest_arrival(&self) -> Option<u64> {
        self.map().values().filter_map(arrival).min()
    }

    /// Drops the clients whose budget has refilled by `now` (nanoseconds
    /// since the limiter started): a state whose arrival time has passed
    /// counts exactly as no state at all. (governor's own `retain_recent`
    /// keeps them one interval longer.)
    fn drop_refilled(&self, now: u64) {
        self.map()
            .retain(|_, state| arrival(state).is_some_and(|at| at > now));
    }
}

/// A state's theoretical arrival time, read without changing it.
fn arrival(state: &InMemoryState) -> Option<u64> {
    state
        .measure_and_replace(&NotKeyed::NonKey, Err::<((), Nanos), _>)
        .err()
        .flatten()
        .map(Nanos::as_u64)
}

impl StateStore for Clients {
    type Key = Client;

    fn measure_and_replace<T, F, E>(&self, key: &Client, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.map()
            .entry(*key)
            .or_default()
            .measure_and_replace(&NotKeyed::NonKey, f)
    }
}

/// Counts requests per client (IPv4 address or IPv6 /64) with governor,
/// tracking at most [`RateLimit::max_clients`] clients.
pub struct ClientRateLimiter<C: Clock = DefaultClock> {
    limiter: RateLimiter<Client, Clients, C, NoOpMiddleware<C::Instant>>,
    clients: Clients,
    limit: RateLimit,
    clock: C,
    /// When governor's clock started (its states count from there).
    start: C::Instant,
    /// Read: a known client is counted. Write: a new client is admitted,
    /// or refilled ones are dropped — never both at once with counting,
    /// so the map never holds more than `max_clients`. Holds, when the
    /// last sweep found the map full, the instant before which no client
    /// can have refilled: until then new clients are refused without
    /// sweeping again (a flood of new clients costs one sweep per refill,
    /// not one per request).
    admission: RwLock<Option<C::Instant>>,
}

impl<C: Clock> std::fmt::Debug for ClientRateLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRateLimiter")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl ClientRateLimiter {
    /// A limiter allowing `limit` per client, on the monotonic clock.
    pub fn new(limit: RateLimit) -> Self {
        Self::with_clock(limit, DefaultClock::default())
    }
}

impl<C: Clock + Clone> ClientRateLimiter<C> {
    /// A limiter allowing `limit` per client, on `clock` (tests pass
    /// governor's `FakeRelativeClock`).
    pub fn with_clock(limit: RateLimit, clock: C) -> Self {
        let clients = Clients::default();
        let limiter = RateLimiter::new(limit.quota(), clients.clone(), clock.clone());
        // Read after governor's own start: arrival times count from a
        // little earlier, so a budget is never taken as refilled too soon.
        let start = clock.now();
        Self {
            limiter,
            clients,
            limit,
            clock,
            start,
            admission: RwLock::new(None),
        }
    }

    /// Counts a request from `ip`: `Ok` when within the budget, else how
    /// long to wait — until the client's budget allows one more, or, for
    /// a new client while the limiter is full, until the first tracked
    /// client's budget has refilled.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let client = Client::from(ip);
        {
            let _counting = self
                .admission
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if self.clients.contains(&client) {
                return self.count(&client);
            }
        }
        let mut full_until = self
            .admission
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !self.clients.contains(&client) && self.clients.len() >= self.limit.max_clients {
            let now = self.clock.now();
            if let Some(until) = *full_until
                && now < until
            {
                return Err(until.duration_since(now).into());
            }
            self.clients
                .drop_refilled(now.duration_since(self.start).as_u64());
            if self.clients.len() >= self.limit.max_clients {
                let until = self
                    .first_refill()
                    .unwrap_or(now + Nanos::from(self.limit.window));
                *full_until = Some(until);
                return Err(Duration::from(until.duration_since(now)).max(Duration::from_nanos(1)));
            }
            *full_until = None;
        }
        self.count(&client)
    }

    fn count(&self, client: &Client) -> Result<(), Duration> {
        self.limiter
            .check_key(client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// When the first tracked client's budget will have refilled: its
    /// arrival time.
    fn first_refill(&self) -> Option<C::Instant> {
        self.clients
            .earliest_arrival()
            .map(|at| self.start + Nanos::from(at))
    }

    /// How many clients the limiter holds state for (at most
    /// [`RateLimit::max_clients`]).
    pub fn tracked_clients(&self) -> usize {
        self.clients.len()
    }

    /// The limit it applies.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }
}

/// The middleware: 429 with `Retry-After` once the client spent its
/// budget, or while the limiter is full and the client is new. Without
/// connection info (a router served without
/// `into_make_service_with_connect_info`) every client shares one budget,
/// which fails safe.
pub(crate) async fn limit(
    State(limiter): State<Arc<ClientRateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
            addr.ip()
        });
    match limiter.check(ip) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let secs = wait
                .as_secs()
                .saturating_add(u64::from(wait.subsec_nanos() > 0));
            tracing::warn!(retry_after_secs = secs, "credential endpoint rate limited");
            ApiError::rate_limited(secs.max(1)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limit(max_requests: u32, max_clients: usize) -> RateLimit {
        RateLimit {
            max_requests,
            window: Duration::from_secs(60),
            max_clients,
        }
    }

    fn limiter(limit: RateLimit) -> (ClientRateLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (ClientRateLimiter::with_clock(limit, clock.clone()), clock)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_budget_allows_its_burst_then_refills_evenly() {
        let (limiter, clock) = limiter(limit(2, RateLimit::DEFAULT_MAX_CLIENTS));
        let a = ip("203.0.113.7");
        let b = ip("203.0.113.8");
        assert_eq!(limiter.check(a), Ok(()));
        assert_eq!(limiter.check(a), Ok(()));
        // Two a minute: one more every 30 s.
        assert_eq!(limiter.check(a), Err(Duration::from_secs(30)));
        clock.advance(Duration::from_secs(10));
        assert_eq!(limiter.check(a), Err(Duration::from_secs(20)));
        assert_eq!(limiter.check(b), Ok(()), "addresses count apart");
        clock.advance(Duration::from_secs(20));
        assert_eq!(limiter.check(a), Ok(()));
        assert!(limiter.check(a).is_err(), "one refilled, one spent");
        clock.advance(Duration::from_secs(60));
        assert_eq!(limiter.check(a), Ok(()));
        assert_eq!(limiter.check(a), Ok(()));
    }

    #[test]
    fn ipv6_counts_by_64_prefix_and_ipv4_by_address() {
        let same_64 = [
            "2001:db8:1:2::1",
            "2001:db8:1:2:ffff:ffff:ffff:ffff",
            "2001:db8:1:2:dead:beef:0:7",
        ];
        for text in same_64 {
            assert_eq!(
                Client::from(ip(text)),
                Client::V6Prefix64(0x2001_0db8_0001_0002),
                "{text}"
            );
        }
        assert_ne!(
            Client::from(ip("2001:db8:1:2::1")),
            Client::from(ip("2001:db8:1:3::1")),
            "neighbouring /64s are different clients"
        );
        assert_ne!(
            Client::from(ip("203.0.113.7")),
            Client::from(ip("203.0.113.8")),
            "IPv4 counts by the full address"
        );
        assert_eq!(
            Client::from(ip("::ffff:203.0.113.7")),
            Client::V4(Ipv4Addr::new(203, 0, 113, 7)),
            "an IPv4-mapped address is its IPv4 address"
        );
        assert_ne!(
            Client::from(ip("::ffff:203.0.113.7")),
            Client::from(ip("::ffff:203.0.113.8"))
        );
    }

    #[test]
    fn addresses_of_one_64_share_a_budget() {
        let (limiter, _clock) = limiter(limit(3, RateLimit::DEFAULT_MAX_CLIENTS));
        for n in 1..=3_u16 {
            let rotated = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 7, 7, n, n, n, n));
            assert_eq!(limiter.check(rotated), Ok(()));
        }
        let fourth = ip("2001:db8:7:7:abcd::1");
        assert_eq!(limiter.check(fourth), Err(Duration::from_secs(20)));
        assert_eq!(limiter.check(ip("2001:db8:7:8::1")), Ok(()));
        assert_eq!(limiter.tracked_clients(), 2);
        // An IPv4 client reaching a dual-stack socket shares its budget
        // with the same client reaching an IPv4 one.
        let (limiter, _clock) = tests::limiter(limit(1, RateLimit::DEFAULT_MAX_CLIENTS));
        assert_eq!(limiter.check(ip("203.0.113.7")), Ok(()));
        assert!(limiter.check(ip("::ffff:203.0.113.7")).is_err());
    }

    #[test]
    fn clients_rotating_through_one_ipv6_64_share_one_budget() {
        let (limiter, _clock) = limiter(limit(5, RateLimit::DEFAULT_MAX_CLIENTS));
        let in_64 = |low: u64| {
            IpAddr::V6(Ipv6Addr::from(
                (0x2001_0db8_00aa_00bb_u128 << 64) | u128::from(low),
            ))
        };
        let admitted = (1..=50_u64)
            .filter(|n| limiter.check(in_64(n * 0x1_0001_0001)).is_ok())
            .count();
        assert_eq!(admitted, 5, "one budget for the whole /64");
        assert_eq!(limiter.tracked_clients(), 1);
        let next_64 = IpAddr::V6(Ipv6Addr::from(0x2001_0db8_00aa_00bc_u128 << 64));
        assert_eq!(limiter.check(next_64), Ok(()));
        let v4 = IpAddr::from([203, 0, 113, 7]);
        for _ in 0..5 {
            assert_eq!(limiter.check(v4), Ok(()));
        }
        assert!(limiter.check(ip("::ffff:203.0.113.7")).is_err());
        assert_eq!(limiter.check(IpAddr::from([203, 0, 113, 8])), Ok(()));
    }

    #[test]
    fn a_full_limiter_drops_refilled_clients_before_refusing() {
        // One request a minute each, three clients at most.
        let (limiter, clock) = limiter(limit(1, 3));
        for n in 1..=3_u8 {
            limiter
                .check(IpAddr::V4(Ipv4Addr::new(198, 51, 100, n)))
                .unwrap();
            clock.advance(Duration::from_secs(10));
        }
        assert_eq!(limiter.tracked_clients(), 3);
        // Full of budgets not yet refilled (t = 30 s): a new client waits
        // for the first to refill (t = 60 s); known clients keep counting.
        let newcomer = ip("198.51.100.9");
        assert_eq!(limiter.check(newcomer), Err(Duration::from_secs(30)));
        clock.advance(Duration::from_secs(29));
        assert_eq!(
            limiter.check(ip("2001:db8::9")),
            Err(Duration::from_secs(1))
        );
        assert_eq!(
            limiter.check(ip("198.51.100.3")),
            Err(Duration::from_secs(21)),
            "a known client is counted, not refused as new"
        );
        assert_eq!(limiter.tracked_clients(), 3);
        // The first budget has refilled: it makes room; the others not.
        clock.advance(Duration::from_secs(1));
        assert_eq!(limiter.check(newcomer), Ok(()));
        assert_eq!(limiter.tracked_clients(), 3);
        assert_eq!(
            limiter.check(ip("198.51.100.10")),
            Err(Duration::from_secs(10))
        );
    }

    #[test]
    fn the_map_never_exceeds_its_bound_under_a_flood_of_new_clients() {
        let max_clients = 1_000;
        let (limiter, clock) = limiter(RateLimit {
            max_requests: 1,
            window: Duration::from_secs(1),
            max_clients,
        });
        let mut refused = 0;
        // Three refills' worth of ever new /64s, ten times the bound each.
        for step in 0..30_000_u32 {
            if step > 0 && step % 10_000 == 0 {
                clock.advance(Duration::from_secs(1));
            }
            let prefix = u128::from(step) << 64;
            if limiter
                .check(IpAddr::V6(Ipv6Addr::from(prefix | 1)))
                .is_err()
            {
                refused += 1;
            }
            assert!(limiter.tracked_clients() <= max_clients, "step {step}");
        }
        assert_eq!(limiter.tracked_clients(), max_clients);
        // Each second admits one map's worth of new clients: 3 seconds.
        assert_eq!(refused, 30_000 - 3 * max_clients);
    }

    #[test]
    fn a_limit_of_no_clients_refuses_everyone() {
        let (limiter, _clock) = limiter(limit(5, 0));
        assert_eq!(
            limiter.check(ip("203.0.113.7")),
            Err(Duration::from_secs(60))
        );
        assert_eq!(limiter.tracked_clients(), 0);
    }
}
