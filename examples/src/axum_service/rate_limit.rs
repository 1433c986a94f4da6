//! A per-client fixed-window limiter for the credential endpoints.
//!
//! iamkit throttles per *account*: after repeated failures the account
//! locks (SECURITY.md 11). That does not stop one client from trying one
//! common password against many accounts, each failing once. This limiter
//! caps the attempts of one client, whatever the account. It is in-memory
//! and per process: several instances behind a load balancer each count on
//! their own (a shared store would be the next step).
//!
//! A client is an IPv4 address, or the /64 prefix of an IPv6 address: one
//! subscriber or host gets a whole /64 (RFC 6177, RFC 7934) and can send
//! from any of its 2^64 addresses, so counting addresses would let it start
//! a fresh budget with every request. An IPv4-mapped IPv6 address
//! (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4 peer)
//! counts as that IPv4 address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;

/// How many requests one client may send per window, and how many clients
/// the limiter keeps track of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in one window.
    pub max_requests: u32,
    /// The window's length.
    pub window: Duration,
    /// The most clients counted at once (a bound on the limiter's memory;
    /// [`RateLimit::DEFAULT_MAX_CLIENTS`] unless there is reason to
    /// change it). While that many clients have windows still running, a
    /// client not among them is refused with 429 until the earliest window
    /// ends.
    pub max_clients: usize,
}

impl RateLimit {
    /// 100 000 clients: a few megabytes of windows, and far more distinct
    /// clients than sign in within one window on a service of this size.
    pub const DEFAULT_MAX_CLIENTS: usize = 100_000;
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

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

#[derive(Debug, Default)]
struct Windows {
    by_client: HashMap<Client, Window>,
    /// Set when a sweep found the map full of running windows: none of
    /// them ends before this instant (a window only ever restarts later),
    /// so until then new clients are refused without sweeping again — a
    /// flood of new clients costs one sweep per window, not one per
    /// request.
    full_until: Option<Instant>,
}

/// Counts requests per client (IPv4 address or IPv6 /64) in fixed
/// windows, tracking at most [`RateLimit::max_clients`] clients.
#[derive(Debug)]
pub struct IpRateLimiter {
    limit: RateLimit,
    windows: Mutex<Windows>,
}

impl IpRateLimiter {
    /// A limiter allowing `limit` per client.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            windows: Mutex::new(Windows::default()),
        }
    }

    /// Counts a request from `ip` at `now`: `Ok` when within the limit,
    /// else how long to wait — until the client's window ends, or, for a
    /// new client while the limiter is full, until the earliest window
    /// ends.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        // A panic elsewhere while holding the lock leaves counts that are
        // still counts: keep using them.
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window_len = self.limit.window;
        let client = Client::from(ip);
        if !windows.by_client.contains_key(&client)
            && windows.by_client.len() >= self.limit.max_clients
        {
            make_room(&mut windows, window_len, self.limit.max_clients, now)?;
        }
        let window = windows.by_client.entry(client).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(window.started) >= window_len {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        if window.count >= self.limit.max_requests {
            return Err(window_len.saturating_sub(now.duration_since(window.started)));
        }
        window.count += 1;
        Ok(())
    }

    /// How many clients the limiter holds a window for (at most
    /// [`RateLimit::max_clients`]).
    pub fn tracked_clients(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_client
            .len()
    }
}

/// Frees a place for a new client in a full map by dropping the windows
/// that have ended; `Err` with the wait until the earliest running window
/// ends when none has.
///
/// Refusing the new client, rather than evicting the oldest running
/// window, is deliberate: eviction would hand a fresh budget to whoever
/// is evicted, so a client holding many addresses (a botnet, or many /64s
/// of its IPv6 allocation) could flush its own spent window by sending
/// from `max_clients` other addresses and keep guessing. Refusal fails
/// closed: during such a flood, clients not yet counted wait at most one
/// window, clients already counted keep their budgets, and the rest of the
/// service is not limited at all.
fn make_room(
    windows: &mut Windows,
    window_len: Duration,
    max_clients: usize,
    now: Instant,
) -> Result<(), Duration> {
    if let Some(until) = windows.full_until
        && now < until
    {
        return Err(until.duration_since(now));
    }
    windows
        .by_client
        .retain(|_, w| now.duration_since(w.started) < window_len);
    if windows.by_client.len() < max_clients {
        windows.full_until = None;
        return Ok(());
    }
    let until = windows
        .by_client
        .values()
        .filter_map(|w| w.started.checked_add(window_len))
        .min()
        // Only when `max_clients` is 0 (nobody is ever counted) or an end
        // does not fit in an `Instant`: try again in a window.
        .or_else(|| now.checked_add(window_len))
        .unwrap_or(now);
    windows.full_until = Some(until);
    Err(until.saturating_duration_since(now))
}

/// The middleware: 429 with `Retry-After` once the client spent its
/// window, or while the limiter is full and the client is new. Without connection info (a router served without
/// `into_make_service_with_connect_info`) every client shares one budget,
/// which fails safe.
pub(super) async fn limit(
    State(limiter): State<Arc<IpRateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
            addr.ip()
        });
    match limiter.check(ip, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let secs = wait
                .as_secs()
                .saturating_add(u64::from(wait.subsec_nanos() > 0));
            ApiError::rate_limited(secs.max(1)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn limit(max_requests: u32, max_clients: usize) -> RateLimit {
        RateLimit {
            max_requests,
            window: Duration::from_secs(60),
            max_clients,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_window_allows_its_count_then_refuses_until_it_ends() {
        let limiter = IpRateLimiter::new(limit(2, RateLimit::DEFAULT_MAX_CLIENTS));
        let a = ip("203.0.113.7");
        let b = ip("203.0.113.8");
        let t0 = Instant::now();
        assert_eq!(limiter.check(a, t0), Ok(()));
        assert_eq!(limiter.check(a, t0), Ok(()));
        assert_eq!(
            limiter.check(a, t0 + Duration::from_secs(10)),
            Err(Duration::from_secs(50))
        );
        assert_eq!(limiter.check(b, t0), Ok(()), "addresses count apart");
        assert_eq!(limiter.check(a, t0 + Duration::from_secs(60)), Ok(()));
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
        let limiter = IpRateLimiter::new(limit(3, RateLimit::DEFAULT_MAX_CLIENTS));
        let t0 = Instant::now();
        for n in 1..=3_u16 {
            let rotated = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 7, 7, n, n, n, n));
            assert_eq!(limiter.check(rotated, t0), Ok(()));
        }
        let fourth = ip("2001:db8:7:7:abcd::1");
        assert_eq!(limiter.check(fourth, t0), Err(Duration::from_secs(60)));
        assert_eq!(limiter.check(ip("2001:db8:7:8::1"), t0), Ok(()));
        assert_eq!(limiter.tracked_clients(), 2);
        // An IPv4 client reaching a dual-stack socket shares its budget
        // with the same client reaching an IPv4 one.
        let limiter = IpRateLimiter::new(limit(1, RateLimit::DEFAULT_MAX_CLIENTS));
        assert_eq!(limiter.check(ip("203.0.113.7"), t0), Ok(()));
        assert!(limiter.check(ip("::ffff:203.0.113.7"), t0).is_err());
    }

    #[test]
    fn a_full_limiter_drops_ended_windows_before_refusing() {
        let limiter = IpRateLimiter::new(limit(5, 3));
        let t0 = Instant::now();
        for (n, at) in [(1_u8, 0), (2, 10), (3, 20)] {
            let client = IpAddr::V4(Ipv4Addr::new(198, 51, 100, n));
            limiter.check(client, t0 + Duration::from_secs(at)).unwrap();
        }
        assert_eq!(limiter.tracked_clients(), 3);
        // Full of running windows: a new client waits for the earliest to
        // end; known clients keep counting.
        let newcomer = ip("198.51.100.9");
        assert_eq!(
            limiter.check(newcomer, t0 + Duration::from_secs(30)),
            Err(Duration::from_secs(30))
        );
        assert_eq!(
            limiter.check(ip("2001:db8::9"), t0 + Duration::from_secs(59)),
            Err(Duration::from_secs(1))
        );
        assert_eq!(
            limiter.check(ip("198.51.100.3"), t0 + Duration::from_secs(59)),
            Ok(())
        );
        assert_eq!(limiter.tracked_clients(), 3);
        // The first window has ended: it makes room; the others still run.
        assert_eq!(
            limiter.check(newcomer, t0 + Duration::from_secs(60)),
            Ok(())
        );
        assert_eq!(limiter.tracked_clients(), 3);
        assert_eq!(
            limiter.check(ip("198.51.100.10"), t0 + Duration::from_secs(60)),
            Err(Duration::from_secs(10))
        );
    }

    #[test]
    fn the_map_never_exceeds_its_bound_under_a_flood_of_new_clients() {
        let max_clients = 1_000;
        let limiter = IpRateLimiter::new(RateLimit {
            max_requests: 1,
            window: Duration::from_secs(1),
            max_clients,
        });
        let t0 = Instant::now();
        let mut refused = 0;
        // Three windows' worth of ever new /64s, ten times the bound each.
        for step in 0..30_000_u32 {
            let prefix = u128::from(step) << 64;
            let at = t0 + Duration::from_secs(u64::from(step / 10_000));
            if limiter
                .check(IpAddr::V6(Ipv6Addr::from(prefix | 1)), at)
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
        let limiter = IpRateLimiter::new(limit(5, 0));
        let t0 = Instant::now();
        assert_eq!(
            limiter.check(ip("203.0.113.7"), t0),
            Err(Duration::from_secs(60))
        );
        assert_eq!(limiter.tracked_clients(), 0);
    }
}
