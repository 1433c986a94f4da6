//! Refusal of cross-origin state-changing requests (SECURITY.md 41, ASVS
//! 5.0 V3.5).
//!
//! A page on another origin can make the user's browser send a request to
//! this service, with the session cookie whenever the browser attaches it.
//! `SameSite=Lax` keeps the cookie off cross-*site* POST, PUT and DELETE,
//! but not off requests from a sibling subdomain (same site, another
//! origin), and it says nothing about sign-in forms without a cookie. The
//! JSON-only bodies stop forms, but not body-less requests such as
//! deactivation, sign-out or key revocation. So one layer over the whole
//! router ([`CrossOriginLayer`], a tower layer) checks what the browser
//! itself says about where a request comes from, before any handler runs:
//!
//! - `GET`, `HEAD` and `OPTIONS` pass: they change nothing here.
//! - Any other method: an `Origin` header, when present, must be one of the
//!   configured allowed origins; `Sec-Fetch-Site`, when present, must be
//!   `same-origin` or `none` (typed by the user), or `same-site` /
//!   `cross-site` from an allowed origin (a front end served from another
//!   origin, configured on purpose).
//! - Neither header: allowed. Current browsers send `Origin` on every
//!   cross-origin request whose method is not GET or HEAD, and
//!   `Sec-Fetch-Site` on every request to an https or localhost URL (all
//!   major engines since 2023), so such a request comes from a client that
//!   is no browser (curl, an API-key caller) and carries no one else's
//!   ambient cookie.
//!
//! The same rule as Go's `net/http.CrossOriginProtection` (Go 1.25), but
//! stricter: a present `Origin` must be listed even when `Sec-Fetch-Site`
//! says `same-origin`, so a wrong `public_url` shows at once in
//! development rather than hiding behind the fetch metadata.

use std::fmt;
use std::future::Future;
use std::net::Ipv6Addr;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::error::ApiError;

/// The Fetch Metadata header naming the relation of the request's
/// initiator to its target (`same-origin`, `same-site`, `cross-site`,
/// `none`).
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// A web origin as browsers serialize it in the `Origin` header:
/// `scheme://host[:port]`, scheme `http` or `https`, host in lower case
/// (IDNA hosts in their `xn--` form), the default port left out.
///
/// `http://App.Example:80` and `http://app.example` are the same origin;
/// `https://app.example` and `https://api.app.example` are not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    https: bool,
    host: String,
    port: u16,
}

/// Why a text is not an [`Origin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidOrigin {
    reason: &'static str,
}

impl fmt::Display for InvalidOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an origin `scheme://host[:port]`: {}", self.reason)
    }
}

impl std::error::Error for InvalidOrigin {}

const fn invalid(reason: &'static str) -> InvalidOrigin {
    InvalidOrigin { reason }
}

impl Origin {
    /// `http://{host}:{port}` for a host already in canonical form.
    pub(crate) fn http(host: &str, port: u16) -> Self {
        Self {
            https: false,
            host: host.to_owned(),
            port,
        }
    }

    /// Parses `scheme://host[:port]` (a single trailing `/` is tolerated).
    /// Anything else — a path, a query, user info, `null` (what a
    /// sandboxed or `file:` page sends) — is not an origin.
    ///
    /// # Errors
    /// The text is not an http(s) origin.
    pub fn parse(text: &str) -> Result<Self, InvalidOrigin> {
        let (scheme, rest) = text.split_once("://").ok_or(invalid("no `scheme://`"))?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(invalid("the scheme is not http or https"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (ip, after) = bracketed
                .split_once(']')
                .ok_or(invalid("an unclosed `[`"))?;
            let ip: Ipv6Addr = ip.parse().map_err(|_| invalid("a bad IPv6 address"))?;
            (format!("[{ip}]"), after)
        } else {
            let end = authority.find(':').unwrap_or(authority.len());
            let (host, after) = authority.split_at(end);
            let host_chars = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
            if host.is_empty() || !host.chars().all(host_chars) {
                return Err(invalid("the host is empty or has a character hosts do not"));
            }
            (host.to_ascii_lowercase(), after)
        };
        let default_port = if https { 443 } else { 80 };
        let port = match port.strip_prefix(':') {
            None if port.is_empty() => default_port,
            None => return Err(invalid("something follows the host")),
            // `u16::from_str` takes a leading `+`; a port is digits only.
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                match digits.parse() {
                    Ok(0) | Err(_) => return Err(invalid("the port is out of range")),
                    Ok(port) => port,
                }
            }
            Some(_) => return Err(invalid("the port is not a number")),
        };
        Ok(Self { https, host, port })
    }

    /// The origin of a URL: its scheme and authority, the path, query and
    /// fragment dropped (`https://app.example/iam` → `https://app.example`).
    ///
    /// # Errors
    /// The URL does not start with an http(s) origin.
    pub fn of_url(url: &str) -> Result<Self, InvalidOrigin> {
        let authority_start = url.find("://").map_or(0, |at| at.saturating_add(3));
        let end = url
            .get(authority_start..)
            .and_then(|rest| rest.find(['/', '?', '#']))
            .map_or(url.len(), |at| at.saturating_add(authority_start));
        Self::parse(url.get(..end).unwrap_or(url))
    }

    /// The same server as seen from this machine: for an origin on
    /// `localhost`, `127.0.0.1` or `[::1]`, the origins of the three
    /// spellings with the same scheme and port (a browser on the machine
    /// may use any of them); for any other origin, itself alone.
    pub fn with_loopback_aliases(&self) -> Vec<Self> {
        const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];
        if LOOPBACK.contains(&self.host.as_str()) {
            LOOPBACK
                .iter()
                .map(|host| Self {
                    host: (*host).to_owned(),
                    ..self.clone()
                })
                .collect()
        } else {
            vec![self.clone()]
        }
    }
}

impl FromStr for Origin {
    type Err = InvalidOrigin;

    fn from_str(text: &str) -> Result<Self, InvalidOrigin> {
        Self::parse(text)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        let default_port = if self.https { 443 } else { 80 };
        write!(f, "{scheme}://{}", self.host)?;
        if self.port != default_port {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// The single value of header `name`: `Some(None)` when absent, `None`
/// when repeated (which no browser does: refused as ambiguous).
fn single_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<Option<&'h HeaderValue>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    values.next().is_none().then_some(first)
}

/// Whether a request with `method` and `headers` may reach the handlers
/// when pages of `allowed` origins may change state (the module docs give
/// the rule).
fn is_allowed(method: &Method, headers: &HeaderMap, allowed: &[Origin]) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let (Some(origin), Some(site)) = (
        single_value(headers, "origin"),
        single_value(headers, SEC_FETCH_SITE),
    ) else {
        return false;
    };
    let listed = |value: &HeaderValue| {
        value
            .to_str()
            .ok()
            .and_then(|text| Origin::parse(text).ok())
            .is_some_and(|origin| allowed.contains(&origin))
    };
    let from_allowed_origin = match origin {
        None => false,
        Some(value) if listed(value) => true,
        Some(_) => return false,
    };
    match site.map(HeaderValue::as_bytes) {
        // No fetch metadata: an older browser whose `Origin` was checked
        // above, or no browser at all.
        None => true,
        Some(b"same-origin" | b"none") => true,
        Some(b"same-site" | b"cross-site") => from_allowed_origin,
        // A value the Fetch Metadata spec does not define: fail closed.
        Some(_) => false,
    }
}

/// The refusal of cross-origin state-changing requests as a tower layer:
/// a request that may change state (any method but GET, HEAD, OPTIONS)
/// which a page of an origin not in the list made the browser send is
/// answered 403 `cross_origin` before the inner service sees it (the
/// module docs give the rule). Put it over the whole app — the routes of
/// [`IamRouter`](crate::IamRouter) and the app's own — so that a route
/// added later is covered without anyone remembering to.
#[derive(Debug, Clone)]
pub struct CrossOriginLayer {
    allowed: Arc<[Origin]>,
}

impl CrossOriginLayer {
    /// A layer letting pages of `allowed` origins change state.
    pub fn new(allowed: impl IntoIterator<Item = Origin>) -> Self {
        Self {
            allowed: allowed.into_iter().collect(),
        }
    }

    /// The origins whose pages may change state.
    pub fn allowed(&self) -> &[Origin] {
        &self.allowed
    }
}

impl<S> Layer<S> for CrossOriginLayer {
    type Service = CrossOrigin<S>;

    fn layer(&self, inner: S) -> CrossOrigin<S> {
        CrossOrigin {
            inner,
            allowed: Arc::clone(&self.allowed),
        }
    }
}

/// The service [`CrossOriginLayer`] wraps around another.
#[derive(Debug, Clone)]
pub struct CrossOrigin<S> {
    inner: S,
    allowed: Arc<[Origin]>,
}

impl<S, B> Service<axum::http::Request<B>> for CrossOrigin<S>
where
    S: Service<axum::http::Request<B>, Response = Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        if is_allowed(request.method(), request.headers(), &self.allowed) {
            Box::pin(self.inner.call(request))
        } else {
            tracing::warn!(method = %request.method(), "cross-origin state change refused");
            Box::pin(std::future::ready(Ok(
                ApiError::cross_origin().into_response()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(text: &str) -> Origin {
        Origin::parse(text).unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn origins_parse_as_browsers_serialize_them() {
        assert_eq!(
            origin("https://app.example").to_string(),
            "https://app.example"
        );
        assert_eq!(
            origin("HTTPS://App.Example:443/"),
            origin("https://app.example")
        );
        assert_eq!(
            origin("http://app.example:80"),
            origin("http://app.example")
        );
        assert_eq!(
            origin("http://127.0.0.1:3000").to_string(),
            "http://127.0.0.1:3000"
        );
        assert_eq!(
            origin("http://[0:0:0:0:0:0:0:1]:8080").to_string(),
            "http://[::1]:8080"
        );
        assert_ne!(origin("http://app.example"), origin("https://app.example"));
        assert_ne!(
            origin("https://app.example"),
            origin("https://app.example:8443")
        );
        assert_ne!(
            origin("https://app.example"),
            origin("https://evil.app.example")
        );
        for bad in [
            "null",
            "",
            "app.example",
            "ftp://app.example",
            "file://",
            "https://",
            "https://app.example/path",
            "https://app.example?x",
            "https://user@app.example",
            "https://app.example:",
            "https://app.example:+443",
            "https://app.example:0",
            "https://app.example:65536",
            "https://[::1",
            "https://[nope]:1",
            "https://app example",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn the_origin_of_a_url_drops_path_query_and_fragment() {
        for url in [
            "https://app.example/iam/accept?token=x",
            "https://app.example?x",
            "https://app.example#top",
            "https://app.example",
        ] {
            assert_eq!(
                Origin::of_url(url),
                Ok(origin("https://app.example")),
                "{url}"
            );
        }
        assert!(Origin::of_url("/relative/path").is_err());
        assert!(Origin::of_url("mailto:ada@acme.example").is_err());
    }

    #[test]
    fn loopback_origins_include_every_spelling_and_others_only_themselves() {
        let aliases = origin("http://127.0.0.1:3000").with_loopback_aliases();
        for alias in [
            "http://localhost:3000",
            "http://127.0.0.1:3000",
            "http://[::1]:3000",
        ] {
            assert!(aliases.contains(&origin(alias)), "{alias}");
        }
        assert!(!aliases.contains(&origin("http://localhost:3001")));
        assert_eq!(
            origin("https://app.example").with_loopback_aliases(),
            vec![origin("https://app.example")]
        );
    }

    #[test]
    fn state_changing_requests_from_other_origins_are_refused() {
        let allowed = [origin("https://app.example")];
        let post = Method::POST;
        let check =
            |pairs: &[(&'static str, &'static str)]| is_allowed(&post, &headers(pairs), &allowed);
        // Allowed: the page's own origin, a typed URL, no browser at all.
        assert!(check(&[("sec-fetch-site", "same-origin")]));
        assert!(check(&[("sec-fetch-site", "none")]));
        assert!(check(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://app.example")
        ]));
        assert!(check(&[("origin", "https://app.example")]));
        assert!(check(&[]));
        // Refused: another site, a sibling subdomain, a foreign origin
        // with or without fetch metadata, an opaque origin.
        assert!(!check(&[("sec-fetch-site", "cross-site")]));
        assert!(!check(&[("sec-fetch-site", "same-site")]));
        assert!(!check(&[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://evil.app.example")
        ]));
        assert!(!check(&[("origin", "https://evil.example")]));
        assert!(!check(&[("origin", "http://app.example")]));
        assert!(!check(&[("origin", "null")]));
        assert!(!check(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://evil.example")
        ]));
        // Refused: what the spec does not define, or said twice.
        assert!(!check(&[("sec-fetch-site", "same-planet")]));
        assert!(!check(&[
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-site", "cross-site")
        ]));
        assert!(!check(&[
            ("origin", "https://app.example"),
            ("origin", "https://evil.example")
        ]));
    }

    #[test]
    fn an_allowed_origin_may_call_across_sites_and_reads_always_pass() {
        let allowed = [
            origin("https://app.example"),
            origin("https://console.partner.example"),
        ];
        let from_partner = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://console.partner.example"),
        ]);
        assert!(is_allowed(&Method::DELETE, &from_partner, &allowed));
        let from_stranger = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ]);
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(!is_allowed(&method, &from_stranger, &allowed), "{method}");
        }
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(is_allowed(&method, &from_stranger, &allowed), "{method}");
        }
    }

    #[tokio::test]
    async fn the_layer_answers_403_before_the_inner_service_runs() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tower::ServiceExt as _;

        let reached = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&reached);
        let inner = tower::service_fn(move |_: axum::http::Request<axum::body::Body>| {
            counter.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok::<_, std::convert::Infallible>(Response::new(
                axum::body::Body::empty(),
            )))
        });
        let service = CrossOriginLayer::new([origin("https://app.example")]).layer(inner);
        let request = |method: Method, origin: &'static str| {
            axum::http::Request::builder()
                .method(method)
                .uri("/anything")
                .header("origin", origin)
                .header("sec-fetch-site", "cross-site")
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let refused = service
            .clone()
            .oneshot(request(Method::DELETE, "https://evil.example"))
            .await
            .unwrap();
        assert_eq!(refused.status(), axum::http::StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(refused.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "cross_origin");
        assert_eq!(reached.load(Ordering::SeqCst), 0, "no handler ran");
        let read = service
            .clone()
            .oneshot(request(Method::GET, "https://evil.example"))
            .await
            .unwrap();
        assert_eq!(read.status(), axum::http::StatusCode::OK);
        let own = service
            .oneshot(request(Method::POST, "https://app.example"))
            .await
            .unwrap();
        assert_eq!(own.status(), axum::http::StatusCode::OK);
        assert_eq!(reached.load(Ordering::SeqCst), 2);
    }
}
