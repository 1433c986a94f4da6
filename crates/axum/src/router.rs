//! [`IamRouter`]: the admin and self-service JSON API, by route group, with
//! its OpenAPI document and the layers around it.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::handler::Handler;
use axum::http::Method;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get};
use iamkit::{Iam, Store};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{HttpMethod, OpenApi as Document, Server};
use utoipa::{Modify, OpenApi};

use crate::auth::layer;
use crate::cross_origin::{CrossOriginLayer, InvalidOrigin, Origin};
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::{self, ClientRateLimiter, RateLimit};
use crate::routes::{
    access_requests, api_keys, audit, custom_roles, departments, directory, groups, me,
    service_accounts, settings, sign_in,
};
use crate::session_cookie::SESSION_COOKIE;

/// A set of routes that is mounted, and documented, together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RouteGroup {
    /// `POST /sessions`, `POST /sessions/totp` (rate limited per client),
    /// `DELETE /sessions/current`.
    SignIn,
    /// The links that set a password: `POST /invitations/accept`,
    /// `POST /password-resets`, `POST /password-resets/complete` (rate
    /// limited per client).
    Links,
    /// The signed-in user's own: `GET /me`, `GET /me/sessions`,
    /// `DELETE /me/sessions` (sign out elsewhere, or everywhere),
    /// `DELETE /me/sessions/{session}`, `POST /me/totp`,
    /// `POST /me/totp/confirm`, `DELETE /me/totp`,
    /// `POST /me/recovery-codes`, `POST /me/password`,
    /// `POST /me/reauthenticate`.
    SelfService,
    /// Members of an organization: directory (filtered by status, text or
    /// department), invitations (send, resend, withdraw), user detail,
    /// profile (a member's own too), organization and workspace roles, why a member holds a permission
    /// (`explain`), password reset links, deactivate, reactivate, delete,
    /// sign out everywhere, activity (one user's audit trail).
    Directory,
    /// Groups and teams, their members and roles.
    Groups,
    /// Workspaces and API keys.
    ApiKeys,
    /// Access requests and their approval.
    AccessRequests,
    /// Departments: `GET`/`POST /orgs/{org}/departments`,
    /// `PATCH`/`DELETE /orgs/{org}/departments/{department}`.
    Departments,
    /// The organization's audit trail: `GET /orgs/{org}/audit` (filtered,
    /// paged), `GET /orgs/{org}/audit/export` (JSON Lines),
    /// `GET /orgs/{org}/audit/verify` (the chain and its head).
    AuditTrail,
    /// The organization's custom roles: `GET`/`POST /orgs/{org}/roles`,
    /// `PATCH`/`DELETE /orgs/{org}/roles/{role}`,
    /// `GET /orgs/{org}/roles/{role}/members` (who holds a role).
    CustomRoles,
    /// The organization's settings: `PUT /orgs/{org}/settings/two-factor-required`,
    /// `PUT /orgs/{org}/settings/default-time-zone`,
    /// `PUT /orgs/{org}/settings/auto-join`; and `POST /orgs/{org}/join`
    /// (the signed-in user joins by their verified email domain).
    Settings,
    /// Service accounts: `GET`/`POST /orgs/{org}/service-accounts`,
    /// `POST /orgs/{org}/service-accounts/{account}/keys` (a key acting as
    /// the account in a workspace).
    ServiceAccounts,
}

impl RouteGroup {
    /// Every group.
    pub const ALL: [Self; 12] = [
        Self::SignIn,
        Self::Links,
        Self::SelfService,
        Self::Directory,
        Self::Groups,
        Self::ApiKeys,
        Self::AccessRequests,
        Self::Departments,
        Self::AuditTrail,
        Self::CustomRoles,
        Self::Settings,
        Self::ServiceAccounts,
    ];
}

/// The settings of the HTTP layer around the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The origins whose pages may send state-changing requests (anything
    /// but GET, HEAD, OPTIONS): the origin users reach the service at,
    /// plus a front end served from another origin if there is one. A
    /// browser request from any other origin is refused with 403
    /// `cross_origin` (SECURITY.md 41). [`ApiConfig::for_public_url`]
    /// fills it in.
    pub allowed_origins: Vec<Origin>,
    /// The per-client limit on the credential endpoints.
    pub credential_rate_limit: RateLimit,
    /// The largest request body accepted (413 `body_too_large` beyond).
    pub body_limit: usize,
    /// Where the OpenAPI document is served (relative to where the router
    /// is mounted); `None`: not served.
    pub openapi_path: Option<String>,
    /// The document's `servers`: where the router is mounted (`/iam` for a
    /// router nested under `/iam`); empty: at the root.
    pub servers: Vec<String>,
}

impl ApiConfig {
    /// The defaults for a service reached at `public_url`: the allowed
    /// origin is the URL's origin — on a loopback host also its
    /// `localhost`, `127.0.0.1` and `[::1]` spellings, which a browser on
    /// the development machine may use.
    ///
    /// # Errors
    /// `public_url` does not start with an http(s) origin.
    pub fn for_public_url(public_url: &str) -> Result<Self, InvalidOrigin> {
        Ok(Self {
            allowed_origins: Origin::of_url(public_url)?.with_loopback_aliases(),
            ..Self::default()
        })
    }
}

impl Default for ApiConfig {
    /// A development service on `http://127.0.0.1:3000`; bodies up to
    /// 64 KiB (the largest this API takes is a few hundred bytes); the
    /// document at `/openapi.json`.
    fn default() -> Self {
        Self {
            allowed_origins: Origin::http("127.0.0.1", 3000).with_loopback_aliases(),
            credential_rate_limit: RateLimit::default(),
            body_limit: 64 * 1024,
            openapi_path: Some("/openapi.json".to_owned()),
            servers: Vec::new(),
        }
    }
}

/// The admin and self-service JSON API over an [`Iam`], as an axum
/// [`Router`]: every [`RouteGroup`] unless left out, the OpenAPI 3.1
/// document of exactly the mounted routes, and around them the
/// cross-origin refusal ([`CrossOriginLayer`]), the per-client limiter on
/// the credential endpoints, a body limit, request ids and a trace span
/// per request (tower-http). Mount it anywhere: `app.nest("/iam", router)`.
///
/// ```
/// # fn demo<S: iamkit::Store>(iam: iamkit::Iam<S>) -> axum::Router {
/// use iamkit_axum::{ApiConfig, IamRouter, RouteGroup};
///
/// let config = ApiConfig {
///     servers: vec!["/iam".to_owned()],
///     ..ApiConfig::for_public_url("https://app.example").unwrap()
/// };
/// let api = IamRouter::new(iam)
///     .config(config)
///     .without(RouteGroup::AccessRequests)
///     .build();
/// axum::Router::new().nest("/iam", api)
/// # }
/// ```
pub struct IamRouter<S: Store> {
    iam: Iam<S>,
    config: ApiConfig,
    groups: BTreeSet<RouteGroup>,
    /// Single routes left out of the groups mounted.
    disabled: Arc<Vec<(Method, String)>>,
}

/// [`IamRouter::without_route`] was given a method and path that no
/// group mounts (a typo would otherwise leave the route it meant open).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no route {method} {path} to leave out")]
pub struct UnknownRoute {
    /// The method given.
    pub method: Method,
    /// The path given.
    pub path: String,
}

impl<S: Store> std::fmt::Debug for IamRouter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamRouter")
            .field("config", &self.config)
            .field("groups", &self.groups)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// The whole API over `iam`, with the default [`ApiConfig`]:
/// `IamRouter::new(iam).build()`.
pub fn router<S: Store>(iam: Iam<S>) -> Router {
    IamRouter::new(iam).build()
}

impl<S: Store> IamRouter<S> {
    /// Every group, the default [`ApiConfig`].
    pub fn new(iam: Iam<S>) -> Self {
        Self {
            iam,
            config: ApiConfig::default(),
            groups: RouteGroup::ALL.into_iter().collect(),
            disabled: Arc::default(),
        }
    }

    /// The HTTP settings.
    #[must_use]
    pub fn config(mut self, config: ApiConfig) -> Self {
        self.config = config;
        self
    }

    /// Leaves `group` out: not mounted, not documented.
    #[must_use]
    pub fn without(mut self, group: RouteGroup) -> Self {
        self.groups.remove(&group);
        self
    }

    /// Leaves one route out (not mounted, not documented), by its method
    /// and its path as documented (`"/orgs/{org}/users/{user}"`), e.g. to
    /// keep deletion out of an API whose directory is otherwise served.
    /// Fails on a method and path no group has.
    pub fn without_route(mut self, method: Method, path: &str) -> Result<Self, UnknownRoute> {
        let known = RouteGroup::ALL.into_iter().any(|group| {
            group_routes::<S>(group, &self.limiter(), &Arc::default())
                .routes
                .iter()
                .any(|(m, p)| *m == method && p == path)
        });
        if !known {
            return Err(UnknownRoute {
                method,
                path: path.to_owned(),
            });
        }
        Arc::make_mut(&mut self.disabled).push((method, path.to_owned()));
        Ok(self)
    }

    fn limiter(&self) -> Arc<ClientRateLimiter> {
        Arc::new(ClientRateLimiter::new(self.config.credential_rate_limit))
    }

    /// Mounts exactly `groups`.
    #[must_use]
    pub fn only(mut self, groups: impl IntoIterator<Item = RouteGroup>) -> Self {
        self.groups = groups.into_iter().collect();
        self
    }

    /// The OpenAPI 3.1 document of the routes [`build`](Self::build)
    /// mounts.
    pub fn openapi(&self) -> Document {
        let mut doc = BaseApi::openapi();
        for group in &self.groups {
            doc.merge(group_doc(*group));
        }
        for (method, path) in self.disabled.iter() {
            remove_operation(&mut doc, method, path);
        }
        if !self.config.servers.is_empty() {
            doc.servers = Some(self.config.servers.iter().map(Server::new).collect());
        }
        doc
    }

    /// The method and path of every route [`build`](Self::build) mounts
    /// (relative to where the router is mounted; the fallback aside).
    pub fn routes(&self) -> Vec<(Method, String)> {
        let limiter = Arc::new(ClientRateLimiter::new(self.config.credential_rate_limit));
        let mut routes = self.mount(&limiter).routes;
        if let Some(at) = &self.config.openapi_path {
            routes.push((Method::GET, at.clone()));
        }
        routes
    }

    /// The health check and every group's routes.
    fn mount(&self, limiter: &Arc<ClientRateLimiter>) -> Mount<S> {
        let health = Mount::new(&self.disabled).at::<me::__path_health, _, _>(me::health);
        self.groups.iter().fold(health, |mount, group| {
            mount.merge(group_routes(*group, limiter, &self.disabled))
        })
    }

    /// The router, with its layers.
    pub fn build(self) -> Router {
        let limiter = Arc::new(ClientRateLimiter::new(self.config.credential_rate_limit));
        let mut router = self.mount(&limiter).router;
        if let Some(at) = &self.config.openapi_path {
            let doc: Arc<str> = self.openapi().to_json().unwrap_or_default().into();
            router = router.route(
                at,
                get(move || async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }),
            );
        }
        router
            .fallback(|| async { ApiError::not_found() })
            .with_state(self.iam.clone())
            .layer(layer(self.iam))
            .layer(axum::middleware::map_response(json_payload_too_large))
            .layer(DefaultBodyLimit::disable())
            .layer(RequestBodyLimitLayer::new(self.config.body_limit))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(TraceLayer::new_for_http().make_span_with(request_span))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(CrossOriginLayer::new(self.config.allowed_origins))
    }
}

/// The span of one request: method, route template and request id — never
/// the URI itself, whose query may carry an email address (`?q=`).
fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "http.request",
        http.method = %request.method(),
        http.route = route,
        request_id,
    )
}

/// tower-http's body limit answers 413 in plain text: give it the one
/// error shape.
async fn json_payload_too_large(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        ApiError::body_too_large().into_response()
    } else {
        response
    }
}

/// Routes being mounted, and the method and path of each.
struct Mount<S: Store> {
    router: Router<Iam<S>>,
    routes: Vec<(Method, String)>,
    /// Routes not to mount.
    disabled: Arc<Vec<(Method, String)>>,
}

impl<S: Store> Mount<S> {
    fn new(disabled: &Arc<Vec<(Method, String)>>) -> Self {
        Self {
            router: Router::new(),
            routes: Vec::new(),
            disabled: Arc::clone(disabled),
        }
    }

    /// Mounts `handler` at the path and for the methods its documentation
    /// `P` names: a route is where and how it is documented.
    fn at<P: utoipa::Path, H: Handler<T, Iam<S>>, T: 'static>(mut self, handler: H) -> Self {
        let path = P::path();
        let mut method_router = MethodRouter::new();
        let mut mounted = false;
        for method in P::methods() {
            let (filter, method) = match method {
                HttpMethod::Get => (MethodFilter::GET, Method::GET),
                HttpMethod::Post => (MethodFilter::POST, Method::POST),
                HttpMethod::Put => (MethodFilter::PUT, Method::PUT),
                HttpMethod::Delete => (MethodFilter::DELETE, Method::DELETE),
                HttpMethod::Patch => (MethodFilter::PATCH, Method::PATCH),
                HttpMethod::Head => (MethodFilter::HEAD, Method::HEAD),
                HttpMethod::Options => (MethodFilter::OPTIONS, Method::OPTIONS),
                HttpMethod::Trace => (MethodFilter::TRACE, Method::TRACE),
            };
            if self
                .disabled
                .iter()
                .any(|(m, p)| *m == method && *p == path)
            {
                continue;
            }
            method_router = method_router.on(filter, handler.clone());
            self.routes.push((method, path.clone()));
            mounted = true;
        }
        if mounted {
            self.router = self.router.route(&path, method_router);
        }
        self
    }

    /// The routes mounted so far behind the per-client limiter.
    fn limited(mut self, limiter: &Arc<ClientRateLimiter>) -> Self {
        if self.routes.is_empty() {
            // Every route of the group was left out: nothing to limit
            // (axum refuses a route layer on no routes).
            return self;
        }
        self.router = self
            .router
            .route_layer(axum::middleware::from_fn_with_state(
                Arc::clone(limiter),
                rate_limit::limit,
            ));
        self
    }

    fn merge(mut self, other: Self) -> Self {
        self.router = self.router.merge(other.router);
        self.routes.extend(other.routes);
        self
    }
}

/// One group's routes; the credential endpoints behind `limiter`.
fn group_routes<S: Store>(
    group: RouteGroup,
    limiter: &Arc<ClientRateLimiter>,
    disabled: &Arc<Vec<(Method, String)>>,
) -> Mount<S> {
    use crate::routes::access_requests as ar;
    use crate::routes::api_keys as keys;
    use crate::routes::audit as trail;
    use crate::routes::custom_roles as roles;
    use crate::routes::departments as dept;
    use crate::routes::directory as dir;
    use crate::routes::groups as grp;
    use crate::routes::me as my;
    use crate::routes::service_accounts as sa;
    use crate::routes::settings as set;
    use crate::routes::sign_in as si;

    let m = Mount::<S>::new(disabled);
    match group {
        RouteGroup::SignIn => m
            .at::<si::__path_sign_in, _, _>(si::sign_in::<S>)
            .at::<si::__path_complete_second_factor, _, _>(si::complete_second_factor::<S>)
            .limited(limiter)
            .at::<si::__path_sign_out, _, _>(si::sign_out::<S>),
        RouteGroup::Links => m
            .at::<si::__path_accept_invitation, _, _>(si::accept_invitation::<S>)
            .at::<si::__path_request_password_reset, _, _>(si::request_password_reset::<S>)
            .at::<si::__path_complete_password_reset, _, _>(si::complete_password_reset::<S>)
            .limited(limiter),
        RouteGroup::SelfService => m
            .at::<my::__path_me, _, _>(my::me::<S>)
            .at::<my::__path_sessions, _, _>(my::sessions::<S>)
            .at::<my::__path_revoke_session, _, _>(my::revoke_session::<S>)
            .at::<my::__path_begin_totp, _, _>(my::begin_totp::<S>)
            .at::<my::__path_confirm_totp, _, _>(my::confirm_totp::<S>)
            .at::<my::__path_reauthenticate, _, _>(my::reauthenticate::<S>)
            .at::<my::__path_change_password, _, _>(my::change_password::<S>)
            .at::<my::__path_disable_totp, _, _>(my::disable_totp::<S>)
            .at::<my::__path_regenerate_recovery_codes, _, _>(my::regenerate_recovery_codes::<S>)
            .at::<my::__path_revoke_sessions, _, _>(my::revoke_sessions::<S>),
        RouteGroup::Directory => m
            .at::<dir::__path_list, _, _>(dir::list::<S>)
            .at::<dir::__path_invite, _, _>(dir::invite::<S>)
            .at::<dir::__path_detail, _, _>(dir::detail::<S>)
            .at::<dir::__path_delete, _, _>(dir::delete::<S>)
            .at::<dir::__path_change_role, _, _>(dir::change_role::<S>)
            .at::<dir::__path_deactivate, _, _>(dir::deactivate::<S>)
            .at::<dir::__path_reactivate, _, _>(dir::reactivate::<S>)
            .at::<dir::__path_revoke_sessions, _, _>(dir::revoke_sessions::<S>)
            .at::<dir::__path_activity, _, _>(dir::activity::<S>)
            .at::<dir::__path_resend_invitation, _, _>(dir::resend_invitation::<S>)
            .at::<dir::__path_revoke_invitation, _, _>(dir::revoke_invitation::<S>)
            .at::<dir::__path_send_password_reset, _, _>(dir::send_password_reset::<S>)
            .at::<dir::__path_set_workspace_role, _, _>(dir::set_workspace_role::<S>)
            .at::<dir::__path_explain, _, _>(dir::explain::<S>)
            .at::<dir::__path_update_profile, _, _>(dir::update_profile::<S>),
        RouteGroup::Groups => m
            .at::<grp::__path_create_group, _, _>(grp::create_group::<S>)
            .at::<grp::__path_create_team, _, _>(grp::create_team::<S>)
            .at::<grp::__path_delete_group, _, _>(grp::delete_group::<S>)
            .at::<grp::__path_delete_team, _, _>(grp::delete_team::<S>)
            .at::<grp::__path_add_group_member, _, _>(grp::add_group_member::<S>)
            .at::<grp::__path_remove_group_member, _, _>(grp::remove_group_member::<S>)
            .at::<grp::__path_put_team_member, _, _>(grp::put_team_member::<S>)
            .at::<grp::__path_remove_team_member, _, _>(grp::remove_team_member::<S>)
            .at::<grp::__path_set_group_role, _, _>(grp::set_group_role::<S>)
            .at::<grp::__path_set_team_role, _, _>(grp::set_team_role::<S>),
        RouteGroup::ApiKeys => m
            .at::<keys::__path_create_workspace, _, _>(keys::create_workspace::<S>)
            .at::<keys::__path_create, _, _>(keys::create::<S>)
            .at::<keys::__path_list, _, _>(keys::list::<S>)
            .at::<keys::__path_revoke, _, _>(keys::revoke::<S>),
        RouteGroup::AccessRequests => m
            .at::<ar::__path_create, _, _>(ar::create::<S>)
            .at::<ar::__path_list, _, _>(ar::list::<S>)
            .at::<ar::__path_approve, _, _>(ar::approve::<S>)
            .at::<ar::__path_reject, _, _>(ar::reject::<S>),
        RouteGroup::Departments => m
            .at::<dept::__path_list, _, _>(dept::list::<S>)
            .at::<dept::__path_create, _, _>(dept::create::<S>)
            .at::<dept::__path_rename, _, _>(dept::rename::<S>)
            .at::<dept::__path_delete, _, _>(dept::delete::<S>),
        RouteGroup::AuditTrail => m
            .at::<trail::__path_log, _, _>(trail::log::<S>)
            .at::<trail::__path_export, _, _>(trail::export::<S>)
            .at::<trail::__path_verify, _, _>(trail::verify::<S>),
        RouteGroup::CustomRoles => m
            .at::<roles::__path_list, _, _>(roles::list::<S>)
            .at::<roles::__path_create, _, _>(roles::create::<S>)
            .at::<roles::__path_update, _, _>(roles::update::<S>)
            .at::<roles::__path_delete, _, _>(roles::delete::<S>)
            .at::<roles::__path_members, _, _>(roles::members::<S>),
        RouteGroup::Settings => m
            .at::<set::__path_two_factor_required, _, _>(set::two_factor_required::<S>)
            .at::<set::__path_default_time_zone, _, _>(set::default_time_zone::<S>)
            .at::<set::__path_auto_join, _, _>(set::auto_join::<S>)
            .at::<set::__path_join, _, _>(set::join::<S>),
        RouteGroup::ServiceAccounts => m
            .at::<sa::__path_list, _, _>(sa::list::<S>)
            .at::<sa::__path_create, _, _>(sa::create::<S>)
            .at::<sa::__path_create_key, _, _>(sa::create_key::<S>),
    }
}

/// One group's document.
/// Takes the operation `method` on `path` out of `doc`, and the path when
/// it has none left.
fn remove_operation(doc: &mut Document, method: &Method, path: &str) {
    let Some(item) = doc.paths.paths.get_mut(path) else {
        return;
    };
    let slot = match *method {
        Method::GET => &mut item.get,
        Method::POST => &mut item.post,
        Method::PUT => &mut item.put,
        Method::DELETE => &mut item.delete,
        Method::PATCH => &mut item.patch,
        Method::HEAD => &mut item.head,
        Method::OPTIONS => &mut item.options,
        Method::TRACE => &mut item.trace,
        _ => return,
    };
    *slot = None;
    let empty = [
        &item.get,
        &item.post,
        &item.put,
        &item.delete,
        &item.patch,
        &item.head,
        &item.options,
        &item.trace,
    ]
    .iter()
    .all(|op| op.is_none());
    if empty {
        doc.paths.paths.remove(path);
    }
}

fn group_doc(group: RouteGroup) -> Document {
    match group {
        RouteGroup::SignIn => SignInApi::openapi(),
        RouteGroup::Links => LinksApi::openapi(),
        RouteGroup::SelfService => SelfServiceApi::openapi(),
        RouteGroup::Directory => DirectoryApi::openapi(),
        RouteGroup::Groups => GroupsApi::openapi(),
        RouteGroup::ApiKeys => ApiKeysApi::openapi(),
        RouteGroup::AccessRequests => AccessRequestsApi::openapi(),
        RouteGroup::Departments => DepartmentsApi::openapi(),
        RouteGroup::AuditTrail => AuditTrailApi::openapi(),
        RouteGroup::CustomRoles => CustomRolesApi::openapi(),
        RouteGroup::Settings => SettingsApi::openapi(),
        RouteGroup::ServiceAccounts => ServiceAccountsApi::openapi(),
    }
}

/// The document's frame: what every route shares.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "iamkit",
        description = "User management: sign-in, self-service and administration of a multi-tenant service. \
            Authenticate with the session cookie `__Host-iamkit_session` that sign-in sets, or with \
            `Authorization: Bearer iamk_key_…` (an API key). Every error answers with `ErrorBody`.",
    ),
    paths(me::health),
    components(schemas(ErrorBody)),
    modifiers(&Security),
)]
struct BaseApi;

/// The two ways to authenticate.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("iamk_key_…")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(paths(sign_in::sign_in, sign_in::complete_second_factor, sign_in::sign_out))]
struct SignInApi;

#[derive(OpenApi)]
#[openapi(paths(
    sign_in::accept_invitation,
    sign_in::request_password_reset,
    sign_in::complete_password_reset
))]
struct LinksApi;

#[derive(OpenApi)]
#[openapi(paths(
    me::me,
    me::sessions,
    me::revoke_session,
    me::begin_totp,
    me::confirm_totp,
    me::reauthenticate,
    me::change_password,
    me::disable_totp,
    me::regenerate_recovery_codes,
    me::revoke_sessions
))]
struct SelfServiceApi;

#[derive(OpenApi)]
#[openapi(paths(
    directory::list,
    directory::invite,
    directory::detail,
    directory::delete,
    directory::change_role,
    directory::deactivate,
    directory::reactivate,
    directory::revoke_sessions,
    directory::activity,
    directory::resend_invitation,
    directory::revoke_invitation,
    directory::send_password_reset,
    directory::set_workspace_role,
    directory::explain,
    directory::update_profile
))]
struct DirectoryApi;

#[derive(OpenApi)]
#[openapi(paths(
    groups::create_group,
    groups::create_team,
    groups::delete_group,
    groups::delete_team,
    groups::add_group_member,
    groups::remove_group_member,
    groups::put_team_member,
    groups::remove_team_member,
    groups::set_group_role,
    groups::set_team_role
))]
struct GroupsApi;

#[derive(OpenApi)]
#[openapi(paths(
    api_keys::create_workspace,
    api_keys::create,
    api_keys::list,
    api_keys::revoke
))]
struct ApiKeysApi;

#[derive(OpenApi)]
#[openapi(paths(
    access_requests::create,
    access_requests::list,
    access_requests::approve,
    access_requests::reject
))]
struct AccessRequestsApi;

#[derive(OpenApi)]
#[openapi(paths(
    departments::list,
    departments::create,
    departments::rename,
    departments::delete
))]
struct DepartmentsApi;

#[derive(OpenApi)]
#[openapi(paths(audit::log, audit::export, audit::verify))]
struct AuditTrailApi;

#[derive(OpenApi)]
#[openapi(paths(
    custom_roles::list,
    custom_roles::create,
    custom_roles::update,
    custom_roles::delete,
    custom_roles::members
))]
struct CustomRolesApi;

#[derive(OpenApi)]
#[openapi(paths(
    settings::two_factor_required,
    settings::default_time_zone,
    settings::auto_join,
    settings::join
))]
struct SettingsApi;

#[derive(OpenApi)]
#[openapi(paths(
    service_accounts::list,
    service_accounts::create,
    service_accounts::create_key
))]
struct ServiceAccountsApi;
