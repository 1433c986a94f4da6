//! A small JSON HTTP service embedding iamkit with [axum]: how an app puts
//! [`Iam`] behind HTTP.
//!
//! Run it with `cargo run --example axum_service` (SQLite file
//! `iamkit-axum.sqlite3` in the current directory; `-- --memory` for an
//! in-memory database). `examples/tests/axum_service.rs` starts the same
//! [`router`] on a free port and walks the whole story over HTTP.
//!
//! # What it shows
//!
//! - **Authentication** ([`Authenticated`], an axum `FromRequestParts`
//!   extractor): the session cookie `__Host-iamkit_session` (`HttpOnly;
//!   Secure; SameSite=Lax; Path=/`) or `Authorization: Bearer iamk_key_…`
//!   becomes an [`iamkit::Actor`] once per request; a missing or invalid
//!   credential is 401 with one generic body.
//! - **Cross-origin refusal** (one layer over the whole [`router`]): a
//!   request that may change state (any method but GET, HEAD, OPTIONS)
//!   sent by a browser from a page of another origin is refused with 403
//!   before any handler runs — with or without a body (SECURITY.md 41).
//!   See *Deploying something like it* below.
//! - **Errors** ([`ApiError`]): every [`iamkit::Error`] variant maps to a
//!   status on purpose — see the table below.
//! - **Rate limiting** ([`IpRateLimiter`]): iamkit locks an *account* after
//!   repeated failures; this fixed-window limiter caps what one *client*
//!   may try on the credential endpoints, which spraying one password over
//!   many accounts would otherwise not hit. A client is an IPv4 address or
//!   an IPv6 /64 (one host holds a whole /64); the limiter tracks at most
//!   [`RateLimit::max_clients`] of them and, when all are in a running
//!   window, refuses new ones rather than forget a spent budget.
//! - **Outbox delivery** ([`DevMailer`]): a background task drains
//!   [`Iam::drain_outbox`], "sends" each message by printing recipient,
//!   kind and link to stdout, and acknowledges it only once printed
//!   (at-least-once). Replace it with real email delivery.
//! - **Bootstrap** ([`bootstrap_first_owner`]): `--bootstrap-owner EMAIL`
//!   creates the organization and its first Owner and prints a one-time
//!   link to set the Owner's password — no password on a command line.
//! - **App permissions**: `projects.read` / `projects.write` are registered
//!   with the builder and checked with [`Iam::is_allowed`] in the app's own
//!   handlers (a tiny in-memory "projects" resource per workspace).
//!
//! # Endpoints
//!
//! Public (credential endpoints, rate limited per client address):
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `POST /sessions` | `{"identifier", "password"}` | 200 `{user, second_factor_required, enrolment_required}` + `Set-Cookie` |
//! | `POST /sessions/totp` | `{"code"}` or `{"recovery_code"}` (cookie of the pending sign-in) | 200 `{user}` |
//! | `POST /invitations/accept` | `{"token", "password"}` | 200 `{user}` |
//! | `POST /password-resets` | `{"email"}` | 202, whether or not the address exists |
//! | `POST /password-resets/complete` | `{"token", "password"}` | 200 `{user}` (also the bootstrap link) |
//! | `GET /health` | | 200 |
//!
//! Authenticated (cookie or API key):
//!
//! | method and path | what |
//! |---|---|
//! | `GET /me` | the actor and its organizations |
//! | `DELETE /sessions/current` | sign out (204, cookie cleared) |
//! | `POST /me/totp` | start TOTP enrolment: base32 secret, `otpauth://` URI, SVG QR code |
//! | `POST /me/totp/confirm` `{"code"}` | turn 2FA on; the recovery codes, once |
//! | `GET /orgs/{org}/users?q=&status=&limit=&after=` | directory page (search, filter, cursor) |
//! | `POST /orgs/{org}/invitations` `{"username", "email", "first_name", "last_name", "language"?, "role"?}` | invite (201) |
//! | `GET /orgs/{org}/users/{user}` | user detail: roles and where from, 2FA, sessions, keys |
//! | `PUT /orgs/{org}/users/{user}/role` `{"role": "admin" \| null}` | change the organization role |
//! | `POST /orgs/{org}/users/{user}/deactivate` | deactivate (204) |
//! | `GET /orgs/{org}/users/{user}/activity` | the user's recent audit events (needs `audit.read`) |
//! | `POST /orgs/{org}/workspaces` `{"name"}` | create a workspace (201) |
//! | `POST /orgs/{org}/workspaces/{ws}/api-keys` `{"name", "permissions"?, "expires_at"?}` | create a key; its secret, once (201) |
//! | `GET /orgs/{org}/workspaces/{ws}/api-keys` | list keys (no secrets) |
//! | `DELETE /orgs/{org}/api-keys/{key}` | revoke a key (204) |
//! | `GET`/`POST /orgs/{org}/workspaces/{ws}/projects` | the app's own resource: `projects.read` / `projects.write` |
//!
//! Roles are named by their built-in name (`owner`, `admin`, `approver`,
//! `requester`, `auditor`, `read_only`) or by a role id. An API key acts
//! only in its workspace, so the organization-wide admin endpoints need a
//! session; a key can use the workspace endpoints its restriction and its
//! creator's current roles allow.
//!
//! # Errors
//!
//! Bodies are `{"error": code, "message": text, ...}`.
//!
//! | iamkit error | status | body |
//! |---|---|---|
//! | `InvalidCredentials` | 401 | always the same body (unknown user = wrong password = locked account) |
//! | `Forbidden { permission }` | 403 | `forbidden`, `permission` |
//! | `Escalation { missing }` | 403 | `escalation`, `missing` |
//! | `NotManaged` (an account another organization or its holder manages) | 403 | `not_managed` |
//! | `ReauthenticationRequired` (a sensitive change on an older session) | 403 | `reauthentication_required` |
//! | `NotFound` (also another tenant's object) | 404 | `not_found` |
//! | `Conflict(_)` | 409 | `conflict`, `conflict` kind (`email_taken`, ...) |
//! | `LastOwner` | 409 | `last_owner` |
//! | `IllegalTransition { from, change }` | 409 | `illegal_transition` |
//! | `LinkedData { records }` | 409 | `linked_data` |
//! | `InvalidInput`, `InvalidPassword`, `InvalidField`, `InvalidRole`, `RoleNotAssignable`, `InvalidPermission` | 422 | `invalid_input`, `field`, `rule` |
//! | `Busy` (the password-hashing pool is full), `Store` (unavailable or a concurrent conflict) | 503 | `unavailable`, `Retry-After: 1` |
//! | `Store` (other), `Crypto`, `Internal`, later variants | 500 | `internal` (details logged) |
//!
//! The service adds its own answers:
//!
//! | cause | status | body |
//! |---|---|---|
//! | a state-changing request from another origin (`Sec-Fetch-Site: cross-site` or `same-site`, or an `Origin` not allowed), whatever the route, with or without a body | 403 | `cross_origin` |
//! | on the credential endpoints: the client's budget is spent, or the limiter is full and the client new | 429 | `rate_limited`, `Retry-After` |
//! | a body that is not `application/json` | 415 | `unsupported_media_type` |
//! | malformed JSON | 400 | `malformed_json` |
//! | a body over 2 MB | 413 | `body_too_large` |
//! | a JSON value of the wrong type | 422 | `invalid_input`, `field` (its path) |
//! | an id in a path that does not parse, an unknown route | 404 | `not_found` |
//!
//! iamkit answers a locked account with `InvalidCredentials` on purpose
//! (a distinct answer would tell that the account exists, SECURITY.md 29),
//! so the library's throttling shows as 401 and only this service's
//! per-client limiter answers 429.
//!
//! # Try it with curl
//!
//! ```sh
//! cargo run --example axum_service -- --memory --bootstrap-owner ada@acme.example \
//!     --owner-name "Ada Lovelace" --org-name "Acme Corp" --org-slug acme
//! # It prints the organization id and a one-time link token:
//! curl -s localhost:3000/password-resets/complete -H 'content-type: application/json' \
//!     -d '{"token": "iamk_rst_…", "password": "analytical engine punched cards"}'
//! # Sign in; curl keeps the Secure cookie for localhost in its jar.
//! curl -s -c jar -b jar localhost:3000/sessions -H 'content-type: application/json' \
//!     -d '{"identifier": "ada@acme.example", "password": "analytical engine punched cards"}'
//! curl -s -b jar localhost:3000/me
//! curl -s -b jar localhost:3000/orgs/$ORG/invitations -H 'content-type: application/json' \
//!     -d '{"username": "bob", "email": "bob@acme.example", "first_name": "Bob",
//!          "last_name": "Marley", "role": "admin"}'
//! # The dev mailer prints Bob's invitation link (token iamk_inv_…) on stdout.
//! curl -s localhost:3000/invitations/accept -H 'content-type: application/json' \
//!     -d '{"token": "iamk_inv_…", "password": "one love one heart reggae"}'
//! curl -s -b jar "localhost:3000/orgs/$ORG/users?q=bob"
//! curl -s -b jar -X POST localhost:3000/orgs/$ORG/workspaces -H 'content-type: application/json' \
//!     -d '{"name": "Operations"}'
//! curl -s -b jar localhost:3000/orgs/$ORG/workspaces/$WS/api-keys \
//!     -H 'content-type: application/json' -d '{"name": "ci", "permissions": ["projects.read"]}'
//! curl -s -H "authorization: Bearer iamk_key_…" localhost:3000/orgs/$ORG/workspaces/$WS/projects
//! ```
//!
//! # Deploying something like it
//!
//! Serve it behind TLS (the cookie is `Secure`; browsers and curl send it
//! over plain http only to `localhost`). Behind a reverse proxy the client
//! address the limiter sees is the proxy's: take it from the proxy's
//! header only when the proxy is trusted to set it. The limiter counts in
//! memory, per process; its bound (100 000 clients by default, a few
//! megabytes) caps what a flood of addresses can make it hold.
//!
//! Cross-site request forgery (SECURITY.md 41, ASVS 5.0 V3.5): every
//! request whose method is not GET, HEAD or OPTIONS goes through one
//! check, whatever its route and whether or not it has a body:
//!
//! - `Sec-Fetch-Site`, when present, must be `same-origin` or `none`;
//!   `same-site` and `cross-site` pass only from an allowed origin;
//! - `Origin`, when present, must be one of
//!   [`ServiceConfig::allowed_origins`]: the origin of the public URL
//!   (`--public-url https://app.example` allows `https://app.example`; the
//!   default `http://127.0.0.1:3000` also allows `localhost` and `[::1]`
//!   on that port), plus each `--allowed-origin` (a front end served from
//!   another origin);
//! - a request with neither header is not from a browser (browsers send
//!   one of them on every cross-origin request that can change state) and
//!   passes: curl and API-key callers carry no victim's cookie.
//!
//! Anything else is 403 `cross_origin` and reaches no handler. This is what
//! stops a page on a sibling subdomain (same site, so the `SameSite=Lax`
//! cookie rides along) from signing the user out, deactivating a colleague
//! or revoking a key with a body-less POST or DELETE. The cookie's
//! `SameSite=Lax` and the JSON-only bodies (a cross-site form cannot send
//! `application/json` without a CORS preflight, which this service never
//! allows) remain as further layers. Set `--public-url` to the URL users
//! type: a state-changing browser request from a page on any other
//! spelling of the host is refused (the service prints the origins it
//! accepts when it starts).

mod api_keys;
mod auth;
mod bootstrap;
mod cross_origin;
mod directory;
mod errors;
mod json;
mod mailer;
mod projects;
mod rate_limit;
mod run;
mod sessions;
mod two_factor;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post, put};
use iamkit::credentials::XChaChaSealer;
use iamkit::rbac::BuiltinRole;
use iamkit::{Config, Iam, Store};
use tokio::net::TcpListener;

pub use auth::{Authenticated, SESSION_COOKIE};
pub use bootstrap::{FirstOwnerSpec, bootstrap_first_owner};
pub use cross_origin::{InvalidOrigin, Origin};
pub use errors::ApiError;
pub use json::{ApiJson, ApiPath};
pub use mailer::{DevMailer, SentMail};
pub use rate_limit::{IpRateLimiter, RateLimit};
pub use run::{Options, StoreChoice, run};

/// The app's own permissions, registered with the [`Iam`] builder: who may
/// read and who may change the "projects" of a workspace.
pub const APP_PERMISSIONS: [(&str, &[BuiltinRole]); 2] = [
    (
        "projects.read",
        &[
            BuiltinRole::Owner,
            BuiltinRole::Admin,
            BuiltinRole::Approver,
            BuiltinRole::Requester,
            BuiltinRole::Auditor,
            BuiltinRole::ReadOnly,
        ],
    ),
    ("projects.write", &[BuiltinRole::Owner, BuiltinRole::Admin]),
];

/// Builds the [`Iam`] this service runs on: `store`, the app key that seals
/// link secrets in the outbox, `config` (the default in production; tests
/// lower the argon2 cost) and the app's [`APP_PERMISSIONS`].
///
/// # Errors
/// What [`iamkit::IamBuilder::build`] refuses (invalid argon2 parameters
/// or token lifetimes).
pub fn build_iam<S: Store>(
    store: S,
    app_key: XChaChaSealer,
    config: Config,
) -> iamkit::Result<Iam<S>> {
    APP_PERMISSIONS
        .iter()
        .fold(Iam::builder(store, app_key).config(config), |b, (p, r)| {
            b.permission(p, r)
        })
        .build()
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Where users reach the service; the dev mailer builds links on it.
    pub public_url: String,
    /// The origins whose pages may send this service state-changing
    /// requests (anything but GET, HEAD, OPTIONS): the origin of
    /// `public_url` (for example `https://app.example`), plus a front end
    /// served from another origin if there is one. A browser request from
    /// any other origin is refused with 403 `cross_origin` (SECURITY.md
    /// 41). [`ServiceConfig::for_public_url`] fills it in.
    pub allowed_origins: Vec<Origin>,
    /// The per-client limit on the credential endpoints (a client is an
    /// IPv4 address or an IPv6 /64), and how many clients it tracks.
    pub credential_rate_limit: RateLimit,
}

impl ServiceConfig {
    /// The defaults for a service reached at `public_url`: the allowed
    /// origin is the URL's origin — on a loopback host also its
    /// `localhost`, `127.0.0.1` and `[::1]` spellings, which a browser on
    /// the development machine may use.
    ///
    /// # Errors
    /// `public_url` does not start with an http(s) origin.
    pub fn for_public_url(public_url: &str) -> Result<Self, InvalidOrigin> {
        Ok(Self {
            public_url: public_url.to_owned(),
            allowed_origins: Origin::of_url(public_url)?.with_loopback_aliases(),
            ..Self::default()
        })
    }
}

impl Default for ServiceConfig {
    /// A development service on `http://127.0.0.1:3000`.
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:3000".to_owned(),
            allowed_origins: Origin::http("127.0.0.1", 3000).with_loopback_aliases(),
            // A person signs in a few times an hour; 20 tries a minute from
            // one client (address, or IPv6 /64) leaves room for a shared
            // office NAT and none for guessing.
            credential_rate_limit: RateLimit {
                max_requests: 20,
                window: Duration::from_secs(60),
                max_clients: RateLimit::DEFAULT_MAX_CLIENTS,
            },
        }
    }
}

/// What every handler shares. Cloning is cheap.
#[derive(Clone)]
pub struct AppState<S: Store> {
    /// The user-management service.
    pub iam: Iam<S>,
    /// The development mailer delivering the outbox.
    pub mailer: DevMailer<S>,
    limiter: Arc<IpRateLimiter>,
    allowed_origins: Arc<[Origin]>,
    projects: projects::Projects,
}

impl<S: Store> std::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl<S: Store> AppState<S> {
    /// The state of a service over `iam` with `config`; its mailer builds
    /// links on `config.public_url`.
    pub fn new(iam: Iam<S>, config: &ServiceConfig) -> Self {
        Self {
            mailer: DevMailer::new(iam.clone(), &config.public_url),
            iam,
            limiter: Arc::new(IpRateLimiter::new(config.credential_rate_limit)),
            allowed_origins: config.allowed_origins.iter().cloned().collect(),
            projects: projects::Projects::default(),
        }
    }
}

/// The service's routes over `state`, every one of them (the fallback
/// included) behind the cross-origin refusal. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` (as [`serve`]
/// does) so the rate limiter sees client addresses; without them every
/// client shares one budget.
pub fn router<S: Store>(state: AppState<S>) -> Router {
    let allowed_origins = Arc::clone(&state.allowed_origins);
    // One layer over the finished router rather than a check per handler:
    // a route added to `routes` later is covered without anyone
    // remembering to (SECURITY.md 41).
    routes(state).layer(axum::middleware::from_fn_with_state(
        allowed_origins,
        cross_origin::refuse_cross_origin,
    ))
}

/// Every route and the fallback; [`router`] puts the layers around them.
fn routes<S: Store>(state: AppState<S>) -> Router {
    let limited = Router::new()
        .route("/sessions", post(sessions::sign_in::<S>))
        .route(
            "/sessions/totp",
            post(sessions::complete_second_factor::<S>),
        )
        .route(
            "/invitations/accept",
            post(sessions::accept_invitation::<S>),
        )
        .route(
            "/password-resets",
            post(sessions::request_password_reset::<S>),
        )
        .route(
            "/password-resets/complete",
            post(sessions::complete_password_reset::<S>),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.limiter),
            rate_limit::limit,
        ));
    Router::new()
        .merge(limited)
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/me", get(sessions::me::<S>))
        .route("/sessions/current", delete(sessions::sign_out::<S>))
        .route("/me/totp", post(two_factor::begin::<S>))
        .route("/me/totp/confirm", post(two_factor::confirm::<S>))
        .route("/orgs/{org}/users", get(directory::list::<S>))
        .route("/orgs/{org}/invitations", post(directory::invite::<S>))
        .route("/orgs/{org}/users/{user}", get(directory::detail::<S>))
        .route(
            "/orgs/{org}/users/{user}/role",
            put(directory::change_role::<S>),
        )
        .route(
            "/orgs/{org}/users/{user}/deactivate",
            post(directory::deactivate::<S>),
        )
        .route(
            "/orgs/{org}/users/{user}/activity",
            get(directory::activity::<S>),
        )
        .route(
            "/orgs/{org}/workspaces",
            post(api_keys::create_workspace::<S>),
        )
        .route(
            "/orgs/{org}/workspaces/{ws}/api-keys",
            post(api_keys::create::<S>).get(api_keys::list::<S>),
        )
        .route("/orgs/{org}/api-keys/{key}", delete(api_keys::revoke::<S>))
        .route(
            "/orgs/{org}/workspaces/{ws}/projects",
            get(projects::list::<S>).post(projects::create::<S>),
        )
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
}

/// Serves [`router`]`(state)` on `listener` until `shutdown` completes,
/// with client addresses for the rate limiter.
///
/// # Errors
/// An I/O error of the listener.
pub async fn serve<S: Store>(
    listener: TcpListener,
    state: AppState<S>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
