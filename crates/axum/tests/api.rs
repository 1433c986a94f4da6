//! The router of `IamRouter` over an `Iam` on the memory store, requests
//! sent without a network: the OpenAPI document is valid OpenAPI 3.1 and
//! names exactly the routes mounted, every documented route answers, and
//! another organization's admin reaches nothing of the first's.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use iamkit::credentials::{Argon2Params, Password, SecretBytes, XChaChaSealer};
use iamkit::rbac::BuiltinRole;
use iamkit::{Actor, Config, FirstOwner, Iam, NewAccount};
use iamkit_store_memory::MemoryStore;
use serde_json::Value;
use tower::ServiceExt as _;

/// An `Iam` over a fresh memory store.
fn iam() -> Iam<MemoryStore> {
    iam_on(MemoryStore::new())
}

/// An `Iam` over `store`, argon2 at a test cost, with the app permission
/// `projects.read`.
fn iam_on(store: MemoryStore) -> Iam<MemoryStore> {
    let config = Config {
        argon2: Argon2Params {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        ..Config::default()
    };
    let key = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
    Iam::builder(store, key)
        .config(config)
        .permission("projects.read", &[BuiltinRole::Owner, BuiltinRole::Admin])
        .build()
        .unwrap()
}

/// An account at `domain`.
fn person(username: &str, domain: &str) -> NewAccount {
    NewAccount {
        username: username.to_owned(),
        email: format!("{username}@{domain}"),
        first_name: "Test".to_owned(),
        last_name: "Person".to_owned(),
        language: None,
    }
}

/// Every test account's password.
const PASSWORD: &str = "correct horse battery staple";

/// Bootstraps an organization with `owner` as its Owner (password
/// [`PASSWORD`]): the organization's id and the owner's.
async fn organization(
    iam: &Iam<MemoryStore>,
    slug: &str,
    owner: &str,
) -> (iamkit::identity::OrgId, UserId) {
    let done = iam
        .bootstrap(
            &Actor::system(),
            slug,
            slug,
            FirstOwner::NewUser {
                account: person(owner, &format!("{slug}.example")),
                password: Password::new(PASSWORD),
            },
        )
        .await
        .unwrap();
    (done.org, done.owner)
}

/// An answer: status, `Set-Cookie`, JSON body (or `Null`).
struct Answer {
    status: StatusCode,
    set_cookie: Option<String>,
    body: Value,
}

/// Sends one request through `router`: `cookie` as the session cookie,
/// `body` as JSON.
async fn call(
    router: &Router,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = cookie {
        request = request.header(
            header::COOKIE,
            format!("{}={token}", iamkit_axum::SESSION_COOKIE),
        );
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Answer {
        status,
        set_cookie,
        body,
    }
}

/// Signs in over `router`: the session token of the cookie set.
async fn sign_in(router: &Router, identifier: &str) -> String {
    let answer = call(
        router,
        Method::POST,
        "/sessions",
        None,
        Some(serde_json::json!({ "identifier": identifier, "password": PASSWORD })),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let cookie = answer.set_cookie.unwrap();
    let pair = cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

// ---------------------------------------------------------------------
// OpenAPI
// ---------------------------------------------------------------------

use std::collections::BTreeSet;

use iamkit_axum::{ApiConfig, IamRouter, RouteGroup};
use serde_json::json;

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => refs(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

/// The `{name}`s of a path template.
fn template_params(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// (method, path) of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn the_document_is_openapi_3_1_and_hangs_together() {
    let doc = IamRouter::new(iam()).openapi();
    let text = doc.to_json().unwrap();
    // A typed OpenAPI 3.1 parser accepts it.
    let spec = oas3::from_json(&text).expect("oas3 parses the document as OpenAPI 3.1");
    assert!(spec.openapi.starts_with("3.1."), "{}", spec.openapi);
    assert!(!spec.paths.as_ref().unwrap().is_empty());
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["info"]["title"], "iamkit");
    assert!(doc["components"]["securitySchemes"]["session"].is_object());

    // Every reference resolves inside the document.
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(doc.pointer(pointer).is_some(), "{target} resolves");
    }

    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with('/'), "{path}");
        let in_template = template_params(path);
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let id = operation["operationId"].as_str().unwrap();
            assert!(operation_ids.insert(id.to_owned()), "{id} is unique");
            assert!(
                operation["summary"].is_string(),
                "{method} {path} is described"
            );
            // Path parameters: exactly the template's, each required.
            let declared: BTreeSet<String> = operation["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .inspect(|p| assert_eq!(p["required"], true, "{method} {path}"))
                        .map(|p| p["name"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, in_template, "{method} {path}");
            // Responses: at least one; every error has the one shape.
            let responses = operation["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path}");
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_document_names_exactly_the_mounted_routes() {
    let served = IamRouter::new(iam());
    let documented = operations(&serde_json::to_value(served.openapi()).unwrap());
    let mounted: BTreeSet<(String, String)> = served
        .routes()
        .into_iter()
        .map(|(method, path)| (method.to_string(), path))
        .filter(|(_, path)| path != "/openapi.json")
        .collect();
    assert_eq!(mounted, documented);
    // The list: every group is there.
    for (method, path) in [
        ("POST", "/sessions"),
        ("POST", "/sessions/totp"),
        ("DELETE", "/sessions/current"),
        ("GET", "/me/sessions"),
        ("POST", "/me/totp"),
        ("POST", "/invitations/accept"),
        ("POST", "/orgs/{org}/invitations"),
        ("GET", "/orgs/{org}/users"),
        ("GET", "/orgs/{org}/users/{user}"),
        ("PUT", "/orgs/{org}/users/{user}/role"),
        ("POST", "/orgs/{org}/groups"),
        ("PUT", "/orgs/{org}/teams/{team}/members/{user}"),
        ("POST", "/orgs/{org}/workspaces/{ws}/api-keys"),
        ("POST", "/orgs/{org}/users/{user}/deactivate"),
        ("POST", "/orgs/{org}/users/{user}/reactivate"),
        ("DELETE", "/orgs/{org}/users/{user}"),
        ("POST", "/orgs/{org}/access-requests/{request}/approve"),
        ("GET", "/orgs/{org}/users/{user}/activity"),
    ] {
        assert!(
            documented.contains(&(method.to_owned(), path.to_owned())),
            "{method} {path}"
        );
    }
    // A group left out is neither mounted nor documented.
    let without = IamRouter::new(iam()).without(RouteGroup::AccessRequests);
    let doc = serde_json::to_value(without.openapi()).unwrap();
    assert!(doc["paths"].get("/orgs/{org}/access-requests").is_none());
    assert!(
        without
            .routes()
            .iter()
            .all(|(_, path)| !path.contains("access-requests"))
    );
    assert!(doc["paths"].get("/orgs/{org}/users").is_some());
}

/// A request for `(method, template)` with every `{param}` an id of
/// nothing, and a JSON body for the methods that take one.
fn probe(method: &str, template: &str) -> (Method, String, Option<Value>) {
    let path = template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "0190f0f0-0000-7000-8000-000000000000"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let method: Method = method.parse().unwrap();
    let body = matches!(method, Method::POST | Method::PUT).then(|| json!({}));
    (method, path, body)
}

#[tokio::test]
async fn every_documented_route_answers_and_nothing_else_does() {
    let api = IamRouter::new(iam());
    let doc = serde_json::to_value(api.openapi()).unwrap();
    let router = api.build();
    for (method, template) in operations(&doc) {
        let (method, path, body) = probe(&method, &template);
        let answer = call(&router, method.clone(), &path, None, body).await;
        assert!(
            answer.status != StatusCode::NOT_FOUND
                && answer.status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {template}: {} {}",
            answer.status,
            answer.body
        );
        // Anonymous: the public routes answer, the rest ask for credentials.
        if answer.status.is_client_error() {
            assert!(
                answer.body["error"].is_string(),
                "{method} {template}: {}",
                answer.body
            );
        }
    }
    // A method a path does not document is 405; a path nobody documents,
    // 404 in the one error shape.
    let patch = call(&router, Method::PATCH, "/me", None, None).await;
    assert_eq!(patch.status, StatusCode::METHOD_NOT_ALLOWED);
    let nowhere = call(&router, Method::GET, "/no/such/route", None, None).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.body["error"], "not_found");
}

#[tokio::test]
async fn the_document_is_served_where_configured_and_under_a_prefix() {
    let api = IamRouter::new(iam());
    let expected = serde_json::to_value(api.openapi()).unwrap();
    let router = api.build();
    let served = call(&router, Method::GET, "/openapi.json", None, None).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, expected);

    let config = ApiConfig {
        openapi_path: Some("/docs/api.json".to_owned()),
        servers: vec!["/iam".to_owned()],
        ..ApiConfig::default()
    };
    let app = Router::new().nest("/iam", IamRouter::new(iam()).config(config).build());
    let served = call(&app, Method::GET, "/iam/docs/api.json", None, None).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body["servers"][0]["url"], "/iam");
    assert_eq!(
        call(&app, Method::GET, "/iam/health", None, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Method::GET, "/iam/openapi.json", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let hidden = ApiConfig {
        openapi_path: None,
        ..ApiConfig::default()
    };
    let router = IamRouter::new(iam()).config(hidden).build();
    assert_eq!(
        call(&router, Method::GET, "/openapi.json", None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bodies_over_the_limit_answer_413_in_the_error_shape() {
    let config = ApiConfig {
        body_limit: 1024,
        ..ApiConfig::default()
    };
    let router = IamRouter::new(iam()).config(config).build();
    let big = json!({ "identifier": "x".repeat(4096), "password": "y" });
    let answer = call(&router, Method::POST, "/sessions", None, Some(big)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.body["error"], "body_too_large");
}

// ---------------------------------------------------------------------
// Tenancy
// ---------------------------------------------------------------------

use iamkit::Store as _;
use iamkit::audit::verify_org;
use iamkit::credentials::NewApiKey;
use iamkit::identity::UserId;
use iamkit::{Placement, RequestedChange};

#[tokio::test]
async fn another_organizations_admin_reaches_nothing_of_the_first() {
    let store = MemoryStore::new();
    let iam = iam_on(store.clone());
    let (acme, _ada) = organization(&iam, "acme", "ada").await;
    let (globex, _hank) = organization(&iam, "globex", "hank").await;
    let router = IamRouter::new(iam.clone()).build();
    let ada_token = sign_in(&router, "ada").await;
    let ada_actor = iam.authenticate_session(&ada_token).await.unwrap();
    let hank = sign_in(&router, "hank").await;

    // Acme's objects: a member, a workspace, a group, a team, a key, a
    // pending access request.
    let bob: UserId = iam
        .create_user(
            &ada_actor,
            acme,
            &person("bob", "acme.example"),
            Password::new(PASSWORD),
            &Placement {
                org_role: Some(BuiltinRole::ReadOnly.id()),
                ..Placement::default()
            },
        )
        .await
        .unwrap();
    let ws = iam.create_workspace(&ada_actor, acme, "Ops").await.unwrap();
    let group = iam
        .create_group(&ada_actor, acme, "Platform")
        .await
        .unwrap();
    let team = iam.create_team(&ada_actor, acme, "Blue").await.unwrap();
    let key = iam
        .create_api_key(
            &ada_actor,
            acme,
            NewApiKey {
                name: "ci".to_owned(),
                workspace: ws,
                restriction: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let request = iam
        .request_access(&ada_actor, acme, RequestedChange::Offboarding { user: bob })
        .await
        .unwrap();
    let head_before = acme_head(&store, acme).await;

    let key_id = key.key.id;
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/orgs/{acme}/users"), None),
        (
            Method::POST,
            format!("/orgs/{acme}/invitations"),
            Some(json!({ "username": "eve", "email": "eve@globex.example",
                         "first_name": "Eve", "last_name": "Spy" })),
        ),
        (Method::GET, format!("/orgs/{acme}/users/{bob}"), None),
        (
            Method::GET,
            format!("/orgs/{acme}/users/{bob}/activity"),
            None,
        ),
        (
            Method::PUT,
            format!("/orgs/{acme}/users/{bob}/role"),
            Some(json!({ "role": "owner" })),
        ),
        (
            Method::POST,
            format!("/orgs/{acme}/users/{bob}/deactivate"),
            None,
        ),
        (
            Method::POST,
            format!("/orgs/{acme}/users/{bob}/reactivate"),
            None,
        ),
        (
            Method::POST,
            format!("/orgs/{acme}/users/{bob}/sessions/revoke"),
            None,
        ),
        (Method::DELETE, format!("/orgs/{acme}/users/{bob}"), None),
        (
            Method::POST,
            format!("/orgs/{acme}/groups"),
            Some(json!({ "name": "Spies" })),
        ),
        (
            Method::POST,
            format!("/orgs/{acme}/teams"),
            Some(json!({ "name": "Spies" })),
        ),
        (Method::DELETE, format!("/orgs/{acme}/groups/{group}"), None),
        (Method::DELETE, format!("/orgs/{acme}/teams/{team}"), None),
        (
            Method::PUT,
            format!("/orgs/{acme}/groups/{group}/members/{bob}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/orgs/{acme}/groups/{group}/members/{bob}"),
            None,
        ),
        (
            Method::PUT,
            format!("/orgs/{acme}/teams/{team}/members/{bob}"),
            Some(json!({ "team_role": "lead" })),
        ),
        (
            Method::PUT,
            format!("/orgs/{acme}/groups/{group}/role"),
            Some(json!({ "role": "owner" })),
        ),
        (
            Method::PUT,
            format!("/orgs/{acme}/teams/{team}/role"),
            Some(json!({ "role": "admin" })),
        ),
        (
            Method::POST,
            format!("/orgs/{acme}/workspaces"),
            Some(json!({ "name": "Spy" })),
        ),
        (
            Method::POST,
            format!("/orgs/{acme}/workspaces/{ws}/api-keys"),
            Some(json!({ "name": "exfil" })),
        ),
        (
            Method::GET,
            format!("/orgs/{acme}/workspaces/{ws}/api-keys"),
            None,
        ),
        (
            Method::DELETE,
            format!("/orgs/{acme}/api-keys/{key_id}"),
            None,
        ),
        (
            Method::POST,
            format!("/orgs/{acme}/access-requests"),
            Some(json!({ "kind": "offboarding", "user": bob })),
        ),
        (Method::GET, format!("/orgs/{acme}/access-requests"), None),
        (
            Method::POST,
            format!("/orgs/{acme}/access-requests/{request}/approve"),
            None,
        ),
        (
            Method::POST,
            format!("/orgs/{acme}/access-requests/{request}/reject"),
            None,
        ),
        // Acme's ids under Hank's own organization.
        (Method::GET, format!("/orgs/{globex}/users/{bob}"), None),
        (
            Method::POST,
            format!("/orgs/{globex}/users/{bob}/deactivate"),
            None,
        ),
        (
            Method::DELETE,
            format!("/orgs/{globex}/groups/{group}"),
            None,
        ),
        (
            Method::PUT,
            format!("/orgs/{globex}/groups/{group}/members/{bob}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/orgs/{globex}/api-keys/{key_id}"),
            None,
        ),
        (
            Method::GET,
            format!("/orgs/{globex}/workspaces/{ws}/api-keys"),
            None,
        ),
        (
            Method::POST,
            format!("/orgs/{globex}/access-requests/{request}/approve"),
            None,
        ),
    ];
    for (method, path, body) in attempts {
        let answer = call(&router, method.clone(), &path, Some(&hank), body).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            answer.body
        );
        assert_eq!(answer.body["error"], "not_found", "{method} {path}");
    }

    // Nothing changed in Acme: its audit chain, Bob, the group, the key,
    // the request.
    assert_eq!(acme_head(&store, acme).await, head_before, "Acme's chain");
    let detail = iam.user_detail(&ada_actor, acme, bob).await.unwrap();
    assert_eq!(detail.membership.status.label(), "ACTIVE");
    assert_eq!(detail.org_role, Some(BuiltinRole::ReadOnly.id()));
    assert!(detail.groups.is_empty(), "Bob joined no group");
    assert!(iam.authenticate_api_key(key.secret.expose()).await.is_ok());
    let requests = iam.list_access_requests(&ada_actor, acme).await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, iamkit::RequestStatus::Pending);
    let directory = call(
        &router,
        Method::GET,
        &format!("/orgs/{acme}/users"),
        Some(&ada_token),
        None,
    )
    .await;
    assert_eq!(directory.status, StatusCode::OK);
    assert_eq!(
        directory.body["users"].as_array().unwrap().len(),
        2,
        "Ada and Bob only"
    );
}

async fn acme_head(store: &MemoryStore, org: iamkit::identity::OrgId) -> u64 {
    let mut tx = store.begin().await.unwrap();
    let verified = verify_org(&mut tx, org).await.unwrap().unwrap();
    verified.head.seq
}

// ---------------------------------------------------------------------
// RequirePermission and require
// ---------------------------------------------------------------------

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::get;
use iamkit_axum::{Authenticated, Permission, RequirePermission, ScopeFromPath, require};

/// `projects.read` in the workspace of the path.
struct ReadProjects;

impl Permission for ReadProjects {
    const NAME: &'static str = "projects.read";
    const SCOPE: ScopeFromPath = ScopeFromPath::WORKSPACE;
}

#[tokio::test]
async fn a_required_permission_is_checked_before_the_handler_runs() {
    let iam = iam();
    let (acme, _) = organization(&iam, "acme", "ada").await;
    organization(&iam, "globex", "hank").await;
    let api = IamRouter::new(iam.clone()).build();
    let ada = sign_in(&api, "ada").await;
    let ada_actor = iam.authenticate_session(&ada).await.unwrap();
    let ws = iam.create_workspace(&ada_actor, acme, "Ops").await.unwrap();
    iam.create_user(
        &ada_actor,
        acme,
        &person("bob", "acme.example"),
        Password::new(PASSWORD),
        &Placement {
            org_role: Some(BuiltinRole::ReadOnly.id()),
            ..Placement::default()
        },
    )
    .await
    .unwrap();
    let bob = sign_in(&api, "bob").await;
    let hank = sign_in(&api, "hank").await;

    let ran = Arc::new(AtomicUsize::new(0));
    let (by_extractor, by_layer) = (Arc::clone(&ran), Arc::clone(&ran));
    let app = Router::new()
        .route(
            "/orgs/{org}/workspaces/{ws}/projects",
            get(move |access: RequirePermission<ReadProjects>| async move {
                by_extractor.fetch_add(1, Ordering::SeqCst);
                access
                    .actor
                    .user()
                    .map(|u| u.to_string())
                    .unwrap_or_default()
            }),
        )
        .route(
            "/orgs/{org}/workspaces/{ws}/reports",
            get(move |Authenticated(actor): Authenticated| async move {
                by_layer.fetch_add(1, Ordering::SeqCst);
                actor.user().map(|u| u.to_string()).unwrap_or_default()
            })
            .route_layer(require("projects.read", ScopeFromPath::WORKSPACE)),
        )
        .layer(iamkit_axum::layer(iam.clone()));
    for resource in ["projects", "reports"] {
        let path = format!("/orgs/{acme}/workspaces/{ws}/{resource}");
        let before = ran.load(Ordering::SeqCst);
        // The Owner may: the handler runs.
        assert_eq!(
            call(&app, Method::GET, &path, Some(&ada), None)
                .await
                .status,
            StatusCode::OK,
            "{resource}"
        );
        assert_eq!(ran.load(Ordering::SeqCst), before + 1);
        // Read-only lacks it: 403 naming it; another tenant: 404; nobody:
        // 401; an id that is none: 404. The handler never runs.
        let bob = call(&app, Method::GET, &path, Some(&bob), None).await;
        assert_eq!(bob.status, StatusCode::FORBIDDEN, "{resource}");
        assert_eq!(bob.body["permission"], "projects.read");
        let hank = call(&app, Method::GET, &path, Some(&hank), None).await;
        assert_eq!(hank.status, StatusCode::NOT_FOUND, "{resource}");
        assert_eq!(
            call(&app, Method::GET, &path, None, None).await.status,
            StatusCode::UNAUTHORIZED
        );
        let not_an_id = format!("/orgs/{acme}/workspaces/nope/{resource}");
        assert_eq!(
            call(&app, Method::GET, &not_an_id, Some(&ada), None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(ran.load(Ordering::SeqCst), before + 1, "{resource}");
    }
}
