//! The session cookie, through the [`cookie`] crate: its name, the
//! attributes it is set with, reading it back, and clearing it.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};

use crate::error::ApiError;

/// The session cookie's name. The `__Host-` prefix makes browsers accept it
/// only with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain
/// cannot plant or shadow it.
pub const SESSION_COOKIE: &str = "__Host-iamkit_session";

/// The session cookie as it is set: readable by no script (`HttpOnly`),
/// sent only over https (`Secure`) and on same-site requests and top-level
/// navigations (`SameSite=Lax`), for the whole site (`Path=/`, required by
/// `__Host-`); no `Max-Age`, so the browser drops it on exit (iamkit's idle
/// and absolute timeouts end the session on the server either way).
fn session_cookie(token: &str) -> Cookie<'_> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .build()
}

/// `Set-Cookie` for a new session. Every sign-in and every completed
/// second factor sets a fresh token (iamkit issues a new session each
/// time), so a token planted before sign-in never becomes a signed-in one
/// (session fixation; SECURITY.md 40).
///
/// # Errors
/// 500 when the token holds a character no header may carry (iamkit's
/// tokens never do).
pub fn set_session_cookie(token: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&session_cookie(token).to_string()).map_err(|_| ApiError::internal())
}

/// `Set-Cookie` that removes the session cookie (same attributes, empty
/// value, `Max-Age=0`).
pub fn clear_session_cookie() -> HeaderValue {
    let mut cookie = session_cookie("");
    cookie.make_removal();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "__Host-iamkit_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0",
        )
    })
}

/// The session token in the request's `Cookie` headers, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; __Host-iamkit_session=iamk_ses_abc"),
        );
        assert_eq!(session_token(&headers).as_deref(), Some("iamk_ses_abc"));
        assert_eq!(session_token(&HeaderMap::new()), None);
        let mut lookalike = HeaderMap::new();
        lookalike.append(
            header::COOKIE,
            HeaderValue::from_static("iamkit_session=x; __Host-iamkit_sessionx=y"),
        );
        assert_eq!(session_token(&lookalike), None);
    }

    #[test]
    fn the_cookie_is_host_prefixed_http_only_secure_and_lax() {
        let value = set_session_cookie("iamk_ses_abc").unwrap();
        let value = value.to_str().unwrap();
        assert!(
            value.starts_with("__Host-iamkit_session=iamk_ses_abc"),
            "{value}"
        );
        for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(value.contains(attribute), "{attribute} in {value}");
        }
        assert!(!value.contains("Domain"), "{value}");
        assert!(
            !value.contains("Max-Age"),
            "a browser-session cookie: {value}"
        );
    }

    #[test]
    fn clearing_keeps_the_attributes_and_expires_at_once() {
        let cleared = clear_session_cookie();
        let cleared = cleared.to_str().unwrap();
        assert!(cleared.starts_with("__Host-iamkit_session=;"), "{cleared}");
        for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=0"] {
            assert!(cleared.contains(attribute), "{attribute} in {cleared}");
        }
    }
}
