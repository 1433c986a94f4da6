//! A per-client-address fixed-window limiter for the credential endpoints.
//!
//! iamkit throttles per *account*: after repeated failures the account
//! locks (SECURITY.md 11). That does not stop one client from trying one
//! common password against many accounts, each failing once. This limiter
//! caps the attempts of one client address, whatever the account. It is
//! in-memory and per process: several instances behind a load balancer
//! each count on their own (a shared store would be the next step).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;

/// How many requests one client address may send per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed in one window.
    pub max_requests: u32,
    /// The window's length.
    pub window: Duration,
}

/// Beyond this many tracked addresses, expired windows are swept before a
/// new one is added, so the map cannot grow without bound.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// Counts requests per client address in fixed windows.
#[derive(Debug)]
pub struct IpRateLimiter {
    limit: RateLimit,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl IpRateLimiter {
    /// A limiter allowing `limit` per address.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request from `ip` at `now`: `Ok` when within the limit,
    /// else how long until the address's window ends.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        // A panic elsewhere while holding the lock leaves counts that are
        // still counts: keep using them.
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window_len = self.limit.window;
        if windows.len() >= SWEEP_ABOVE && !windows.contains_key(&ip) {
            windows.retain(|_, w| now.duration_since(w.started) < window_len);
        }
        let window = windows.entry(ip).or_insert(Window {
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
}

/// The middleware: 429 with `Retry-After` once the client's address spent
/// its window. Without connection info (a router served without
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
    use super::*;

    #[test]
    fn a_window_allows_its_count_then_refuses_until_it_ends() {
        let limiter = IpRateLimiter::new(RateLimit {
            max_requests: 2,
            window: Duration::from_secs(60),
        });
        let a = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
        let b = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 8));
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
    fn expired_windows_are_swept_when_the_map_is_large() {
        let limiter = IpRateLimiter::new(RateLimit {
            max_requests: 1,
            window: Duration::from_secs(1),
        });
        let t0 = Instant::now();
        for n in 0..SWEEP_ABOVE {
            let ip = IpAddr::V6(std::net::Ipv6Addr::from(u128::try_from(n).unwrap()));
            limiter.check(ip, t0).unwrap();
        }
        limiter
            .check(IpAddr::V4(Ipv4Addr::LOCALHOST), t0 + Duration::from_secs(2))
            .unwrap();
        assert_eq!(limiter.windows.lock().unwrap().len(), 1);
    }
}
