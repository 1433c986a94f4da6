//! Request authentication and permission checks: a session cookie or an
//! API key becomes an [`Actor`] once per request, and a route can require
//! a permission before its handler runs.

use std::collections::HashSet;
use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Extension;
use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use iamkit::credentials::ClientMetadata;
use iamkit::identity::{OrgId, WorkspaceId};
use iamkit::rbac::Scope;
use iamkit::{Actor, Iam, Store};
use tower::{Layer, Service};

use crate::error::ApiError;
use crate::session_cookie::session_token;

/// Longest user agent recorded with a session (it is shown in session
/// lists, not trusted).
const MAX_USER_AGENT: usize = 256;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the extractors ask of an [`Iam`], whatever its store.
trait Gate: Send + Sync {
    fn authenticate_session<'a>(&'a self, token: &'a str) -> BoxFuture<'a, iamkit::Result<Actor>>;
    fn authenticate_api_key<'a>(&'a self, key: &'a str) -> BoxFuture<'a, iamkit::Result<Actor>>;
    fn is_allowed<'a>(
        &'a self,
        actor: &'a Actor,
        permission: &'a str,
        scope: Scope,
    ) -> BoxFuture<'a, bool>;
    fn organizations_of<'a>(
        &'a self,
        actor: &'a Actor,
    ) -> BoxFuture<'a, iamkit::Result<Vec<OrgId>>>;
}

impl<S: Store> Gate for Iam<S> {
    fn authenticate_session<'a>(&'a self, token: &'a str) -> BoxFuture<'a, iamkit::Result<Actor>> {
        Box::pin(Iam::authenticate_session(self, token))
    }

    fn authenticate_api_key<'a>(&'a self, key: &'a str) -> BoxFuture<'a, iamkit::Result<Actor>> {
        Box::pin(Iam::authenticate_api_key(self, key))
    }

    fn is_allowed<'a>(
        &'a self,
        actor: &'a Actor,
        permission: &'a str,
        scope: Scope,
    ) -> BoxFuture<'a, bool> {
        Box::pin(Iam::is_allowed(self, actor, permission, scope))
    }

    fn organizations_of<'a>(
        &'a self,
        actor: &'a Actor,
    ) -> BoxFuture<'a, iamkit::Result<Vec<OrgId>>> {
        Box::pin(async move {
            Ok(Iam::organizations_of(self, actor)
                .await?
                .into_iter()
                .map(|o| o.id)
                .collect())
        })
    }
}

/// An [`Iam`] as the extractors reach it: a request extension that
/// [`layer`] adds, so that [`Authenticated`] and [`RequirePermission`] work
/// in any router, whatever its state. Cloning is cheap.
#[derive(Clone)]
pub struct IamHandle(Arc<dyn Gate>);

impl std::fmt::Debug for IamHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamHandle").finish_non_exhaustive()
    }
}

impl IamHandle {
    /// The handle of `iam`.
    pub fn new<S: Store>(iam: Iam<S>) -> Self {
        Self(Arc::new(iam))
    }

    fn of(parts: &Parts) -> Result<Self, ApiError> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            tracing::error!(
                "no iamkit_axum::layer on this route: add `.layer(iamkit_axum::layer(iam))`"
            );
            ApiError::internal()
        })
    }
}

/// The layer that lets [`Authenticated`] and [`RequirePermission`] reach
/// `iam`: put it over the app's routes (the router of
/// [`IamRouter`](crate::IamRouter) carries its own).
pub fn layer<S: Store>(iam: Iam<S>) -> Extension<IamHandle> {
    Extension(IamHandle::new(iam))
}

/// The authenticated actor of a request: from `Authorization: Bearer
/// iamk_key_…` (an API key) when the header is present, else from the
/// session cookie. Missing, malformed, unknown, expired, revoked, a
/// sign-in still waiting for its second factor, a deactivated user: all
/// are the same 401 (SECURITY.md 29).
///
/// It authenticates once per request (a second extraction, or one after
/// [`RequirePermission`] or [`require`], reuses the first); every iamkit
/// workflow the handler calls re-checks the session or key and the user in
/// its own transaction, so a deactivation is seen by the very next call
/// (SECURITY.md 20). Needs [`layer`] on the route.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl<St: Send + Sync> FromRequestParts<St> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        if let Some(done) = parts.extensions.get::<Self>() {
            return Ok(done.clone());
        }
        let gate = IamHandle::of(parts)?;
        let actor = match parts.headers.get(header::AUTHORIZATION) {
            Some(value) => {
                let key = value
                    .to_str()
                    .ok()
                    .and_then(bearer)
                    .ok_or_else(ApiError::unauthenticated)?;
                gate.0.authenticate_api_key(key).await
            }
            None => {
                let token = session_token(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
                gate.0.authenticate_session(&token).await
            }
        };
        let done = Self(actor?);
        parts.extensions.insert(done.clone());
        Ok(done)
    }
}

/// The credentials of `Authorization: Bearer <credentials>` (the scheme is
/// case-insensitive, RFC 9110 11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty()).then_some(credentials)
}

/// Where a permission is checked: the organization, or a workspace of it,
/// named by path parameters of the route (`/orgs/{org}/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeFromPath {
    /// The organization whose id is the path parameter `org`.
    Organization {
        /// The parameter's name.
        org: &'static str,
    },
    /// The workspace whose id is the path parameter `workspace`, in the
    /// organization of the parameter `org`.
    Workspace {
        /// The organization parameter's name.
        org: &'static str,
        /// The workspace parameter's name.
        workspace: &'static str,
    },
}

impl ScopeFromPath {
    /// `/orgs/{org}/...`.
    pub const ORG: Self = Self::Organization { org: "org" };
    /// `/orgs/{org}/workspaces/{ws}/...`.
    pub const WORKSPACE: Self = Self::Workspace {
        org: "org",
        workspace: "ws",
    };

    /// The scope the path names; 404 when a parameter is missing or is no
    /// id (it names nothing that exists, like another tenant's id).
    fn scope(self, params: &RawPathParams) -> Result<Scope, ApiError> {
        let param = |name: &str| {
            params
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value)
                .ok_or_else(ApiError::not_found)
        };
        match self {
            Self::Organization { org } => {
                let org: OrgId = param(org)?.parse().map_err(|_| ApiError::not_found())?;
                Ok(Scope::Organization(org))
            }
            Self::Workspace { org, workspace } => {
                let org: OrgId = param(org)?.parse().map_err(|_| ApiError::not_found())?;
                let workspace: WorkspaceId = param(workspace)?
                    .parse()
                    .map_err(|_| ApiError::not_found())?;
                Ok(Scope::Workspace(org, workspace))
            }
        }
    }
}

/// A permission a route requires, for [`RequirePermission`].
///
/// ```
/// use iamkit_axum::{Permission, ScopeFromPath};
///
/// /// `projects.read` in the workspace of `/orgs/{org}/workspaces/{ws}/…`.
/// struct ReadProjects;
///
/// impl Permission for ReadProjects {
///     const NAME: &'static str = "projects.read";
///     const SCOPE: ScopeFromPath = ScopeFromPath::WORKSPACE;
/// }
/// ```
pub trait Permission: Send + Sync + 'static {
    /// The permission's name (iamkit's, or one the app registered).
    const NAME: &'static str;
    /// Where it is checked.
    const SCOPE: ScopeFromPath;
}

/// Checks that the request's actor holds `permission` at the scope `from`
/// names, with [`Iam::is_allowed`]: 401 without a valid credential, 404
/// when the scope is outside the actor's organizations (another tenant's
/// organization looks absent, SECURITY.md 25), 403 `forbidden` naming the
/// permission otherwise. The actor, once authenticated, is kept for
/// [`Authenticated`].
async fn check(
    parts: &mut Parts,
    permission: &str,
    from: ScopeFromPath,
) -> Result<(Actor, Scope), ApiError> {
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| ApiError::not_found())?;
    let scope = from.scope(&params)?;
    let Authenticated(actor) = Authenticated::from_request_parts(parts, &()).await?;
    let gate = IamHandle::of(parts)?;
    if gate.0.is_allowed(&actor, permission, scope).await {
        return Ok((actor, scope));
    }
    let orgs: HashSet<OrgId> = gate
        .0
        .organizations_of(&actor)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .collect();
    if orgs.contains(&scope.org()) {
        Err(ApiError::forbidden(permission))
    } else {
        Err(ApiError::not_found())
    }
}

/// An extractor that lets the handler run only when the actor holds
/// `P::NAME` at `P::SCOPE` (see [`Permission`]); otherwise it answers 401,
/// 403 `forbidden` or 404 (another tenant) and the handler never runs.
/// Needs [`layer`] on the route.
pub struct RequirePermission<P> {
    /// The authenticated actor.
    pub actor: Actor,
    /// Where the permission was granted.
    pub scope: Scope,
    permission: PhantomData<fn() -> P>,
}

impl<P> std::fmt::Debug for RequirePermission<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequirePermission")
            .field("actor", &self.actor)
            .field("scope", &self.scope)
            .finish()
    }
}

impl<P: Permission, St: Send + Sync> FromRequestParts<St> for RequirePermission<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let (actor, scope) = check(parts, P::NAME, P::SCOPE).await?;
        Ok(Self {
            actor,
            scope,
            permission: PhantomData,
        })
    }
}

/// The layer form of [`RequirePermission`], for a route or a method
/// router: `get(list).route_layer(require("projects.read",
/// ScopeFromPath::WORKSPACE))`. The handler can take [`Authenticated`]
/// without authenticating again.
pub fn require(permission: &'static str, scope: ScopeFromPath) -> RequireLayer {
    RequireLayer { permission, scope }
}

/// See [`require`].
#[derive(Debug, Clone, Copy)]
pub struct RequireLayer {
    permission: &'static str,
    scope: ScopeFromPath,
}

impl<S> Layer<S> for RequireLayer {
    type Service = Require<S>;

    fn layer(&self, inner: S) -> Require<S> {
        Require {
            inner,
            permission: self.permission,
            scope: self.scope,
        }
    }
}

/// The service of [`RequireLayer`].
#[derive(Debug, Clone)]
pub struct Require<S> {
    inner: S,
    permission: &'static str,
    scope: ScopeFromPath,
}

impl<S, B> Service<axum::http::Request<B>> for Require<S>
where
    S: Service<axum::http::Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        // The clone that was made ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (permission, scope) = (self.permission, self.scope);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match check(&mut parts, permission, scope).await {
                Ok(_) => {
                    inner
                        .call(axum::http::Request::from_parts(parts, body))
                        .await
                }
                Err(refusal) => Ok(refusal.into_response()),
            }
        })
    }
}

/// What a sign-in records about the client: its address as this server saw
/// it and its user agent (truncated). Neither is trusted.
pub(crate) fn client_metadata(headers: &HeaderMap, addr: Option<SocketAddr>) -> ClientMetadata {
    ClientMetadata {
        ip: addr.map(|a| a.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
    }
}

/// The client's socket address, when the server was started with
/// `into_make_service_with_connect_info`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub Option<SocketAddr>);

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
}
