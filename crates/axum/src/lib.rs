#![doc = include_str!("../README.md")]

mod auth;
mod cross_origin;
mod error;
mod json;
mod rate_limit;
mod router;
mod routes;
mod session_cookie;

pub use auth::{
    Authenticated, IamHandle, Permission, Require, RequireLayer, RequirePermission, ScopeFromPath,
    layer, require,
};
pub use cross_origin::{CrossOrigin, CrossOriginLayer, InvalidOrigin, Origin};
pub use error::{ApiError, ErrorBody, INVALID_CREDENTIALS};
pub use json::{ApiJson, ApiPath};
pub use rate_limit::{ClientRateLimiter, RateLimit};
pub use router::{ApiConfig, IamRouter, RouteGroup, UnknownRoute, router};
pub use session_cookie::{SESSION_COOKIE, clear_session_cookie, session_token, set_session_cookie};
/// The OpenAPI types [`IamRouter::openapi`] answers with (utoipa's).
pub use utoipa::openapi;
