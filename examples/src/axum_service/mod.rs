//! A small JSON HTTP service embedding iamkit with [axum], over
//! [`iamkit_axum`]: how an app puts [`Iam`] behind HTTP.
//!
//! Run it with `cargo run --example axum_service` (SQLite file
//! `iamkit-axum.sqlite3` in the current directory; `-- --memory` for an
//! in-memory database). `examples/tests/axum_service.rs` starts the same
//! [`router`] on a free port and walks the whole story over HTTP.
//!
//! # What the app adds to the crate
//!
//! Everything user management needs on the web — the `Authenticated`
//! extractor, the error shape, the session cookie, the cross-origin
//! refusal, the per-client limiter on the credential endpoints, the admin
//! and self-service JSON API and its OpenAPI document at `/openapi.json` —
//! is [`iamkit_axum`] (its README lists the endpoints and the error codes).
//! This service adds what is the app's own:
//!
//! - **An app resource guarded by app permissions**: `projects.read` /
//!   `projects.write` are registered with the builder ([`APP_PERMISSIONS`])
//!   and required by the handlers of a tiny in-memory "projects" resource
//!   per workspace with [`iamkit_axum::RequirePermission`]:
//!   `GET`/`POST /orgs/{org}/workspaces/{ws}/projects`.
//! - **Outbox delivery** ([`DevMailer`]): a background task drains
//!   [`Iam::drain_outbox`], "sends" each message by printing recipient,
//!   kind and link to stdout, and acknowledges it only once printed
//!   (at-least-once). Replace it with real email delivery.
//! - **Bootstrap** ([`bootstrap_first_owner`]): `--bootstrap-owner EMAIL`
//!   creates the organization and its first Owner and prints a one-time
//!   link to set the Owner's password — no password on a command line.
//! - **One cross-origin layer over everything** ([`router`]): the
//!   app's routes are refused from foreign pages like the crate's.
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
//! curl -s localhost:3000/openapi.json
//! ```
//!
//! # Deploying something like it
//!
//! Serve it behind TLS (the cookie is `Secure`; browsers and curl send it
//! over plain http only to `localhost`). Set `--public-url` to the URL
//! users type: a state-changing browser request from a page on any other
//! origin is refused (the service prints the origins it accepts when it
//! starts); `--allowed-origin` adds a front end served from another
//! origin. The crate's README says more (proxies, the limiter's bound).

mod bootstrap;
mod mailer;
mod projects;
mod run;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use iamkit::credentials::XChaChaSealer;
use iamkit::rbac::BuiltinRole;
use iamkit::{Config, Iam, Store};
use iamkit_axum::{ApiConfig, CrossOriginLayer, IamRouter, InvalidOrigin};
use tokio::net::TcpListener;

pub use bootstrap::{FirstOwnerSpec, bootstrap_first_owner};
pub use mailer::{DevMailer, SentMail};
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

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Where users reach the service; the dev mailer builds links on it.
    pub public_url: String,
    /// The HTTP layer: allowed origins (SECURITY.md 41), the per-client
    /// limit on the credential endpoints, the body limit, where the
    /// OpenAPI document is served.
    pub api: ApiConfig,
}

impl ServiceConfig {
    /// The defaults for a service reached at `public_url` (see
    /// [`ApiConfig::for_public_url`]).
    ///
    /// # Errors
    /// `public_url` does not start with an http(s) origin.
    pub fn for_public_url(public_url: &str) -> Result<Self, InvalidOrigin> {
        Ok(Self {
            public_url: public_url.to_owned(),
            api: ApiConfig::for_public_url(public_url)?,
        })
    }
}

impl Default for ServiceConfig {
    /// A development service on `http://127.0.0.1:3000`.
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:3000".to_owned(),
            api: ApiConfig::default(),
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
    api: ApiConfig,
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
            api: config.api.clone(),
            projects: projects::Projects::default(),
        }
    }
}

/// The service's routes over `state`: iamkit's API ([`IamRouter`]) and the
/// app's projects, every one of them (the fallback included) behind one
/// cross-origin refusal — a route the app adds later is covered without
/// anyone remembering to (SECURITY.md 41). Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` (as [`serve`]
/// does) so the rate limiter sees client addresses; without them every
/// client shares one budget.
pub fn router<S: Store>(state: AppState<S>) -> Router {
    let iam_api = IamRouter::new(state.iam.clone())
        .config(state.api.clone())
        .build();
    let app = Router::new()
        .route(
            "/orgs/{org}/workspaces/{ws}/projects",
            get(projects::list::<S>).post(projects::create::<S>),
        )
        .with_state(state.clone())
        // Lets the app's extractors reach `Iam`.
        .layer(iamkit_axum::layer(state.iam.clone()));
    iam_api
        .merge(app)
        .layer(CrossOriginLayer::new(state.api.allowed_origins))
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
