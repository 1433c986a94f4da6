//! Request authentication: a session cookie or an API key becomes an
//! [`Actor`], once per request.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use iamkit::credentials::ClientMetadata;
use iamkit::{Actor, Store};

use super::AppState;
use super::errors::ApiError;

/// The session cookie's name. The `__Host-` prefix makes browsers accept it
/// only with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain
/// cannot plant or shadow it.
pub const SESSION_COOKIE: &str = "__Host-iamkit_session";

/// Longest user agent recorded with a session (it is shown in session
/// lists, not trusted).
const MAX_USER_AGENT: usize = 256;

/// The authenticated actor of a request: from `Authorization: Bearer
/// iamk_key_…` (an API key) when the header is present, else from the
/// session cookie. Missing, malformed, unknown, expired, revoked, a
/// sign-in still waiting for its second factor, a deactivated user: all
/// are the same 401 (SECURITY.md 29).
///
/// This runs once per request; every iamkit workflow the handler calls
/// re-checks the session or key and the user in its own transaction, so a
/// deactivation is seen by the very next call (SECURITY.md 20).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl<S: Store> FromRequestParts<AppState<S>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let actor = match parts.headers.get(header::AUTHORIZATION) {
            Some(value) => {
                let key = value
                    .to_str()
                    .ok()
                    .and_then(bearer)
                    .ok_or_else(ApiError::unauthenticated)?;
                state.iam.authenticate_api_key(key).await
            }
            None => {
                let token = session_cookie(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
                state.iam.authenticate_session(&token).await
            }
        };
        Ok(Self(actor?))
    }
}

/// The credentials of `Authorization: Bearer <credentials>` (the scheme is
/// case-insensitive, RFC 9110 11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty()).then_some(credentials)
}

/// The session token in the request's `Cookie` headers, if any.
pub(super) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// `Set-Cookie` for a new session: readable by no script, sent only over
/// https and on same-site navigations, for the whole site; no `Max-Age`, so
/// the browser drops it on exit (iamkit's idle and absolute timeouts end
/// the session on the server either way).
pub(super) fn session_set_cookie(token: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; Secure; SameSite=Lax; Path=/"
    ))
    .map_err(|_| ApiError::internal())
}

/// `Set-Cookie` that removes the session cookie.
pub(super) fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-iamkit_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0",
    )
}

/// What a sign-in records about the client: its address as this server saw
/// it and its user agent (truncated). Neither is trusted.
pub(super) fn client_metadata(
    parts_headers: &HeaderMap,
    addr: Option<SocketAddr>,
) -> ClientMetadata {
    ClientMetadata {
        ip: addr.map(|a| a.ip().to_string()),
        user_agent: parts_headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
    }
}

/// The client's socket address, when the server was started with
/// `into_make_service_with_connect_info`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| *addr),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_credentials() {
        assert_eq!(bearer("Bearer iamk_key_x"), Some("iamk_key_x"));
        assert_eq!(bearer("bearer  iamk_key_x "), Some("iamk_key_x"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; __Host-iamkit_session=iamk_ses_abc"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("iamk_ses_abc"));
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn the_cookie_is_http_only_secure_and_lax() {
        let value = session_set_cookie("iamk_ses_abc").map(|v| v.to_str().map(str::to_owned));
        let Ok(Ok(value)) = value else {
            unreachable!("a token of URL-safe characters is a valid header")
        };
        for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(value.contains(attribute), "{value}");
        }
    }
}
