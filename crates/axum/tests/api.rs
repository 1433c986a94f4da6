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

/// The document against the official OpenAPI 3.1 schema, through PyPI's
/// `openapi-spec-validator` (`IAMKIT_OPENAPI_VALIDATOR`: a Python that has
/// it; `.ci/run` installs one in a virtual environment). Required under CI;
/// elsewhere, without the variable, the test says so and passes.
#[test]
fn the_document_passes_the_official_openapi_3_1_schema() {
    let Some(python) = std::env::var_os("IAMKIT_OPENAPI_VALIDATOR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set IAMKIT_OPENAPI_VALIDATOR (see .ci/run)"
        );
        eprintln!("IAMKIT_OPENAPI_VALIDATOR unset: the official schema check is skipped");
        return;
    };
    let text = IamRouter::new(iam()).openapi().to_pretty_json().unwrap();
    let file = std::env::temp_dir().join(format!("iamkit-openapi-{}.json", std::process::id()));
    std::fs::write(&file, text).unwrap();
    let output = std::process::Command::new(python)
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(&file)
        .output()
        .expect("the validator runs");
    if output.status.success() {
        std::fs::remove_file(&file).unwrap();
    }
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
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
        ("GET", "/orgs/{org}/departments"),
        ("POST", "/orgs/{org}/departments"),
        ("PATCH", "/orgs/{org}/departments/{department}"),
        ("DELETE", "/orgs/{org}/departments/{department}"),
        ("GET", "/orgs/{org}/audit"),
        ("GET", "/orgs/{org}/audit/export"),
        ("GET", "/orgs/{org}/audit/verify"),
        ("POST", "/orgs/{org}/users/{user}/invitation/resend"),
        ("DELETE", "/orgs/{org}/users/{user}/invitation"),
        ("POST", "/orgs/{org}/users/{user}/password-reset"),
        ("PUT", "/orgs/{org}/workspaces/{ws}/users/{user}/role"),
        ("GET", "/orgs/{org}/users/{user}/explain"),
        ("PUT", "/orgs/{org}/settings/two-factor-required"),
        ("PUT", "/orgs/{org}/settings/default-time-zone"),
        ("PUT", "/orgs/{org}/settings/auto-join"),
        ("POST", "/orgs/{org}/join"),
        ("PATCH", "/orgs/{org}/users/{user}/profile"),
        ("POST", "/me/password"),
        ("DELETE", "/me/totp"),
        ("POST", "/me/recovery-codes"),
        ("DELETE", "/me/sessions"),
        ("GET", "/orgs/{org}/service-accounts"),
        ("POST", "/orgs/{org}/service-accounts"),
        ("POST", "/orgs/{org}/service-accounts/{account}/keys"),
        ("GET", "/orgs/{org}/roles"),
        ("POST", "/orgs/{org}/roles"),
        ("PATCH", "/orgs/{org}/roles/{role}"),
        ("DELETE", "/orgs/{org}/roles/{role}"),
        ("GET", "/orgs/{org}/roles/{role}/members"),
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

#[tokio::test]
async fn a_single_route_left_out_is_neither_mounted_nor_documented() {
    let api = IamRouter::new(iam())
        .without_route(Method::DELETE, "/orgs/{org}/users/{user}")
        .unwrap();
    let doc = serde_json::to_value(api.openapi()).unwrap();
    let user = &doc["paths"]["/orgs/{org}/users/{user}"];
    assert!(user.get("delete").is_none(), "not documented");
    assert!(user.get("get").is_some(), "the user detail stays");
    let routes = api.routes();
    assert!(!routes.contains(&(Method::DELETE, "/orgs/{org}/users/{user}".to_owned())));
    assert!(routes.contains(&(Method::GET, "/orgs/{org}/users/{user}".to_owned())));
    // The documented routes are still exactly the mounted ones.
    let mounted: BTreeSet<(String, String)> = routes
        .iter()
        .filter(|(_, path)| path != "/openapi.json")
        .map(|(m, p)| (m.as_str().to_owned(), p.clone()))
        .collect();
    assert_eq!(operations(&doc), mounted);
    let router = api.build();
    let (_, path, _) = probe("DELETE", "/orgs/{org}/users/{user}");
    let answer = call(&router, Method::DELETE, &path, None, None).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    let answer = call(&router, Method::GET, &path, None, None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "GET still served");

    // Every route of a rate-limited group out: the group mounts nothing.
    let api = IamRouter::new(iam())
        .without_route(Method::POST, "/sessions")
        .and_then(|api| api.without_route(Method::POST, "/sessions/totp"))
        .unwrap();
    let router = api.build();
    let answer = call(&router, Method::POST, "/sessions", None, Some(json!({}))).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = call(&router, Method::DELETE, "/sessions/current", None, None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "sign-out stays");
    // A typo is refused rather than leaving the route it meant open.
    let typo = IamRouter::new(iam()).without_route(Method::DELETE, "/orgs/{org}/user/{user}");
    assert_eq!(
        typo.unwrap_err(),
        iamkit_axum::UnknownRoute {
            method: Method::DELETE,
            path: "/orgs/{org}/user/{user}".to_owned()
        }
    );
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
    let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
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
    let department = iam
        .create_department(&ada_actor, acme, "Engineering")
        .await
        .unwrap()
        .id;
    let role = iam
        .create_custom_role(
            &ada_actor,
            acme,
            &iamkit::RoleSpec {
                name: "Support".to_owned(),
                permissions: vec!["users.read".to_owned()],
                assignable_at: iamkit::rbac::AssignableAt::ANY,
            },
        )
        .await
        .unwrap();
    let ci = iam
        .create_service_account(&ada_actor, acme, "deployer", "CI", &Placement::default())
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
        (Method::GET, format!("/orgs/{acme}/departments"), None),
        (
            Method::POST,
            format!("/orgs/{acme}/departments"),
            Some(json!({ "name": "Spies" })),
        ),
        (
            Method::PATCH,
            format!("/orgs/{acme}/departments/{department}"),
            Some(json!({ "name": "Spies" })),
        ),
        (
            Method::DELETE,
            format!("/orgs/{acme}/departments/{department}"),
            None,
        ),
        (Method::GET, format!("/orgs/{acme}/audit"), None),
        (Method::GET, format!("/orgs/{acme}/audit/export"), None),
        (Method::GET, format!("/orgs/{acme}/audit/verify"), None),
        (
            Method::POST,
            format!("/orgs/{acme}/users/{bob}/invitation/resend"),
            None,
        ),
        (
            Method::DELETE,
            format!("/orgs/{acme}/users/{bob}/invitation"),
            None,
        ),
        (
            Method::POST,
            format!("/orgs/{acme}/users/{bob}/password-reset"),
            None,
        ),
        (
            Method::PUT,
            format!("/orgs/{acme}/workspaces/{ws}/users/{bob}/role"),
            Some(json!({ "role": "owner" })),
        ),
        (
            Method::GET,
            format!("/orgs/{acme}/users/{bob}/explain?permission=users.read"),
            None,
        ),
        (
            Method::PUT,
            format!("/orgs/{acme}/settings/two-factor-required"),
            Some(json!({ "required": true })),
        ),
        (
            Method::PUT,
            format!("/orgs/{acme}/settings/default-time-zone"),
            Some(json!({ "time_zone": "Europe/Lisbon" })),
        ),
        (
            Method::PUT,
            format!("/orgs/{acme}/settings/auto-join"),
            Some(json!({ "rules": [{ "domain": "globex.example", "role": "owner" }] })),
        ),
        (Method::POST, format!("/orgs/{acme}/join"), None),
        (
            Method::PATCH,
            format!("/orgs/{acme}/users/{bob}/profile"),
            Some(json!({ "first_name": "Spy", "department": null })),
        ),
        (Method::GET, format!("/orgs/{acme}/service-accounts"), None),
        (
            Method::POST,
            format!("/orgs/{acme}/service-accounts"),
            Some(json!({ "name": "spy", "display_name": "Spy" })),
        ),
        (
            Method::POST,
            format!("/orgs/{acme}/service-accounts/{ci}/keys"),
            Some(json!({ "name": "exfil", "workspace": ws })),
        ),
        (Method::GET, format!("/orgs/{acme}/roles"), None),
        (
            Method::POST,
            format!("/orgs/{acme}/roles"),
            Some(json!({ "name": "Spies", "permissions": ["users.read"] })),
        ),
        (
            Method::PATCH,
            format!("/orgs/{acme}/roles/{role}"),
            Some(json!({ "name": "Spies", "permissions": ["users.read"] })),
        ),
        (Method::DELETE, format!("/orgs/{acme}/roles/{role}"), None),
        (
            Method::GET,
            format!("/orgs/{acme}/roles/{role}/members"),
            None,
        ),
        // Acme's ids under Hank's own organization.
        (
            Method::GET,
            format!("/orgs/{globex}/users?department={department}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/orgs/{globex}/departments/{department}"),
            Some(json!({ "name": "Spies" })),
        ),
        (
            Method::DELETE,
            format!("/orgs/{globex}/departments/{department}"),
            None,
        ),
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
        (
            Method::PUT,
            format!("/orgs/{globex}/workspaces/{ws}/users/{bob}/role"),
            Some(json!({ "role": "owner" })),
        ),
        (
            Method::GET,
            format!("/orgs/{globex}/users/{bob}/explain?permission=users.read&workspace={ws}"),
            None,
        ),
        (
            Method::POST,
            format!("/orgs/{globex}/users/{bob}/password-reset"),
            None,
        ),
        (
            Method::PATCH,
            format!("/orgs/{globex}/users/{bob}/profile"),
            Some(json!({ "first_name": "Spy" })),
        ),
        (
            Method::POST,
            format!("/orgs/{globex}/service-accounts/{ci}/keys"),
            Some(json!({ "name": "exfil", "workspace": ws })),
        ),
        (
            Method::PATCH,
            format!("/orgs/{globex}/roles/{role}"),
            Some(json!({ "name": "Spies", "permissions": ["users.read"] })),
        ),
        (Method::DELETE, format!("/orgs/{globex}/roles/{role}"), None),
        (
            Method::GET,
            format!("/orgs/{globex}/roles/{role}/members"),
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
    assert_eq!(detail.roles.len(), 1, "Bob holds no workspace role");
    assert_eq!(detail.user.profile.first_name.as_str(), "Test");
    assert!(iam.authenticate_api_key(key.secret.expose()).await.is_ok());
    let departments = iam.list_departments(&ada_actor, acme).await.unwrap();
    assert_eq!(departments.len(), 1);
    assert_eq!(departments[0].name.as_str(), "Engineering");
    let accounts = iam.list_service_accounts(&ada_actor, acme).await.unwrap();
    assert_eq!(accounts.len(), 1, "only CI");
    let keys = iam.list_api_keys(&ada_actor, acme, ws).await.unwrap();
    assert_eq!(keys.len(), 1, "only Ada's key: CI got none");
    let roles = iam.list_custom_roles(&ada_actor, acme).await.unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].name.as_str(), "Support");
    assert_eq!(roles[0].permissions.len(), 1);
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
        3,
        "Ada, Bob and the service account only"
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

// ---------------------------------------------------------------------
// Departments
// ---------------------------------------------------------------------

use iamkit::ProfileUpdate;

/// Acme with Ada (Owner) and Bob (Read-only), Globex with Hank (Owner),
/// signed in over `router`: the `Iam`, the router, Acme, Globex, Bob's id
/// and the session tokens of Ada, Bob and Hank.
struct Tenants {
    iam: Iam<MemoryStore>,
    router: Router,
    acme: iamkit::identity::OrgId,
    globex: iamkit::identity::OrgId,
    bob: UserId,
    ada: String,
    bob_token: String,
    hank: String,
}

async fn tenants() -> Tenants {
    let iam = iam();
    let (acme, _) = organization(&iam, "acme", "ada").await;
    let (globex, _) = organization(&iam, "globex", "hank").await;
    let router = IamRouter::new(iam.clone()).build();
    let ada = sign_in(&router, "ada").await;
    let ada_actor = iam.authenticate_session(&ada).await.unwrap();
    let bob = iam
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
    let bob_token = sign_in(&router, "bob").await;
    let hank = sign_in(&router, "hank").await;
    Tenants {
        iam,
        router,
        acme,
        globex,
        bob,
        ada,
        bob_token,
        hank,
    }
}

/// Asserts a 422 naming `field`.
fn assert_invalid(answer: &Answer, field: &str, what: &str) {
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{what}: {}",
        answer.body
    );
    let text = |key: &str| answer.body.get(key).and_then(Value::as_str);
    assert_eq!(text("error"), Some("invalid_input"), "{what}");
    assert_eq!(text("field"), Some(field), "{what}");
}

#[tokio::test]
async fn departments_are_created_renamed_listed_filtered_and_deleted() {
    let t = tenants().await;
    let (router, acme) = (&t.router, t.acme);
    let departments = format!("/orgs/{acme}/departments");

    // Create; a taken name (any case) is 409, a bad name 422 naming it.
    let created = call(
        router,
        Method::POST,
        &departments,
        Some(&t.ada),
        Some(json!({ "name": "Engineering" })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["name"], "Engineering");
    let id = created.body["id"].as_str().unwrap().to_owned();
    let one = format!("{departments}/{id}");
    let taken = call(
        router,
        Method::POST,
        &departments,
        Some(&t.ada),
        Some(json!({ "name": "engineering" })),
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert_eq!(taken.body["conflict"], "name_taken");
    assert_eq!(taken.body["field"], "name");
    for (body, what) in [
        (json!({ "name": "" }), "empty"),
        (json!({ "name": "   " }), "blank"),
        (json!({ "name": "x".repeat(1000) }), "too long"),
        (json!({ "name": "a\u{7}b" }), "control character"),
        (json!({}), "missing"),
    ] {
        let answer = call(router, Method::POST, &departments, Some(&t.ada), Some(body)).await;
        assert_invalid(&answer, "name", what);
    }
    let wrong_type = call(
        router,
        Method::POST,
        &departments,
        Some(&t.ada),
        Some(json!({ "name": 7 })),
    )
    .await;
    assert_invalid(&wrong_type, "name", "a number");

    // Rename; a bad name names the field.
    let renamed = call(
        router,
        Method::PATCH,
        &one,
        Some(&t.ada),
        Some(json!({ "name": "Research" })),
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body, json!({ "id": id, "name": "Research" }));
    let bad = call(
        router,
        Method::PATCH,
        &one,
        Some(&t.ada),
        Some(json!({ "name": "" })),
    )
    .await;
    assert_invalid(&bad, "name", "rename to empty");

    // List: Read-only may (users.read), as the directory.
    for token in [&t.ada, &t.bob_token] {
        let listed = call(router, Method::GET, &departments, Some(token), None).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        assert_eq!(
            listed.body["departments"],
            json!([{ "id": id, "name": "Research" }])
        );
    }

    // Read-only may not manage: 403 naming the permission, nothing changes.
    for (method, path, body) in [
        (
            Method::POST,
            departments.clone(),
            Some(json!({ "name": "Ops" })),
        ),
        (Method::PATCH, one.clone(), Some(json!({ "name": "Ops" }))),
        (Method::DELETE, one.clone(), None),
    ] {
        let answer = call(router, method.clone(), &path, Some(&t.bob_token), body).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(answer.body["permission"], "departments.manage");
    }

    // Another organization's admin: 404, in Acme's path or under Globex.
    let globex_one = format!("/orgs/{}/departments/{id}", t.globex);
    for (method, path, body) in [
        (Method::GET, departments.clone(), None),
        (Method::PATCH, one.clone(), Some(json!({ "name": "Spy" }))),
        (Method::DELETE, one.clone(), None),
        (
            Method::PATCH,
            globex_one.clone(),
            Some(json!({ "name": "Spy" })),
        ),
        (Method::DELETE, globex_one.clone(), None),
    ] {
        let answer = call(router, method.clone(), &path, Some(&t.hank), body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(answer.body["error"], "not_found");
    }
    // ...and an id that is none, or Globex's department under Acme.
    let hank_dept = call(
        router,
        Method::POST,
        &format!("/orgs/{}/departments", t.globex),
        Some(&t.hank),
        Some(json!({ "name": "Sales" })),
    )
    .await;
    assert_eq!(hank_dept.status, StatusCode::CREATED);
    let globex_dept = hank_dept.body["id"].as_str().unwrap();
    for path in [
        format!("{departments}/{globex_dept}"),
        format!("{departments}/not-an-id"),
    ] {
        let answer = call(
            router,
            Method::PATCH,
            &path,
            Some(&t.ada),
            Some(json!({ "name": "Mine" })),
        )
        .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }

    // The directory filters by department; a malformed one is 422, another
    // organization's 404.
    let ada_actor = t.iam.authenticate_session(&t.ada).await.unwrap();
    let file = |department| ProfileUpdate {
        department: Some(department),
        ..ProfileUpdate::default()
    };
    t.iam
        .update_profile(&ada_actor, acme, t.bob, &file(Some(id.parse().unwrap())))
        .await
        .unwrap();
    let filtered = call(
        router,
        Method::GET,
        &format!("/orgs/{acme}/users?department={id}"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(filtered.status, StatusCode::OK, "{}", filtered.body);
    let users = filtered.body["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "Bob only");
    assert_eq!(users[0]["id"], t.bob.to_string());
    let malformed = call(
        router,
        Method::GET,
        &format!("/orgs/{acme}/users?department=nope"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_invalid(&malformed, "department", "a malformed department");
    let foreign = call(
        router,
        Method::GET,
        &format!("/orgs/{acme}/users?department={globex_dept}"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    // Deleting it while Bob is filed under it: 409 counting him.
    let in_use = call(router, Method::DELETE, &one, Some(&t.ada), None).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "{}", in_use.body);
    assert_eq!(in_use.body["error"], "department_in_use");
    assert_eq!(in_use.body["records"], 1);
    assert_eq!(
        in_use.body["members"],
        serde_json::json!([t.bob.to_string()])
    );

    // Once he moved out it goes, and then it is gone.
    t.iam
        .update_profile(&ada_actor, acme, t.bob, &file(None))
        .await
        .unwrap();
    let deleted = call(router, Method::DELETE, &one, Some(&t.ada), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let again = call(router, Method::DELETE, &one, Some(&t.ada), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let listed = call(router, Method::GET, &departments, Some(&t.ada), None).await;
    assert_eq!(listed.body["departments"], json!([]));
}

// ---------------------------------------------------------------------
// Audit trail
// ---------------------------------------------------------------------

/// Sends a GET through `router` with `cookie` as the session cookie:
/// status, content type and the raw body.
async fn get_raw(router: &Router, path: &str, cookie: &str) -> (StatusCode, String, String) {
    let request = Request::builder()
        .uri(path)
        .header(
            header::COOKIE,
            format!("{}={cookie}", iamkit_axum::SESSION_COOKIE),
        )
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn the_audit_trail_is_read_filtered_paged_exported_and_verified() {
    let t = tenants().await;
    let (router, acme) = (&t.router, t.acme);
    let created = call(
        router,
        Method::POST,
        &format!("/orgs/{acme}/departments"),
        Some(&t.ada),
        Some(json!({ "name": "Engineering" })),
    )
    .await;
    let department = created.body["id"].as_str().unwrap().to_owned();
    let ada_id = t
        .iam
        .authenticate_session(&t.ada)
        .await
        .unwrap()
        .user()
        .unwrap();
    let audit = format!("/orgs/{acme}/audit");
    let get = |query: String| {
        let path = format!("{audit}{query}");
        let token = t.ada.clone();
        async move { call(router, Method::GET, &path, Some(&token), None).await }
    };

    // Everything, newest first, names resolved.
    let all = get(String::new()).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let events = all.body["events"].as_array().unwrap();
    assert!(events.len() >= 3, "{}", all.body);
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    let newest = &events[0];
    assert_eq!(newest["action"], "department_created");
    assert_eq!(newest["outcome"], "success");
    assert_eq!(newest["actor_ref"], json!({ "type": "user", "id": ada_id }));
    assert_eq!(
        newest["target_ref"],
        json!({ "type": "department", "id": department })
    );
    assert_eq!(newest["target"], "Engineering");
    assert!(newest["actor"].is_string());

    // Filters: action kinds, actor, target, involved user, time.
    let by_kind = get("?action=department_created,invited".to_owned()).await;
    assert_eq!(by_kind.status, StatusCode::OK, "{}", by_kind.body);
    let kinds = by_kind.body["events"].as_array().unwrap();
    assert_eq!(kinds.len(), 1, "{}", by_kind.body);
    for query in [
        format!("?actor={ada_id}"),
        format!("?actor=user:{ada_id}"),
        format!("?target=department:{department}"),
        format!("?user={ada_id}&action=department_created"),
    ] {
        let answer = get(query.clone()).await;
        assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.body);
        let found = answer.body["events"].as_array().unwrap();
        assert!(
            found.iter().any(|e| e["action"] == "department_created"),
            "{query}: {}",
            answer.body
        );
    }
    let on_bob = get(format!("?target={}", t.bob)).await;
    assert!(
        on_bob.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["target_ref"]["id"] == t.bob.to_string()),
        "{}",
        on_bob.body
    );
    let system = get("?actor=system&action=department_created".to_owned()).await;
    assert_eq!(system.body["events"], json!([]));
    let future = get("?from=2999-01-01T00:00:00Z".to_owned()).await;
    assert_eq!(future.status, StatusCode::OK);
    assert_eq!(future.body["events"], json!([]));
    // An offset's `+` sent unencoded reads as a space: it is taken back.
    let past =
        get("?from=2000-01-01T00:00:00+00:00&until=2999-01-01T00:00:00%2B01:00".to_owned()).await;
    assert_eq!(past.status, StatusCode::OK, "{}", past.body);
    assert_eq!(past.body["events"].as_array().unwrap().len(), events.len());

    // Pages: `next` continues where the previous page ended.
    let first = get("?limit=1".to_owned()).await;
    let page = first.body["events"].as_array().unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["seq"], seqs[0]);
    let next = first.body["next"].as_str().unwrap();
    let second = get(format!("?limit=1&cursor={next}")).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(second.body["events"][0]["seq"], seqs[1]);

    // A bad parameter is 422 naming it.
    for (query, field) in [
        ("?limit=abc", "limit"),
        ("?limit=0", "limit"),
        ("?limit=100000", "limit"),
        ("?from=yesterday", "from"),
        ("?until=2026-13-01T00:00:00Z", "until"),
        (
            "?from=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
            "until",
        ),
        ("?action=nope", "action"),
        ("?actor=robot:1", "actor"),
        ("?actor=nope", "actor"),
        ("?target=planet:1", "target"),
        ("?target=user:nope", "target"),
        ("?user=nope", "user"),
        ("?cursor=garbage", "cursor"),
    ] {
        let answer = get(query.to_owned()).await;
        assert_invalid(&answer, field, query);
    }

    // Export: JSON Lines, oldest first, the export itself on record.
    let export = format!("{audit}/export");
    let (status, content_type, text) = get_raw(router, &export, &t.ada).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(content_type, "application/x-ndjson");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), events.len() + 1, "every event and the export");
    let exported: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert!(exported.windows(2).all(|w| w[0] < w[1]), "{exported:?}");
    assert!(lines.iter().all(|l| l["hash"].is_string()));
    let (status, _, text) = get_raw(
        router,
        &format!("{export}?from=2999-01-01T00:00:00Z"),
        &t.ada,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.is_empty(), "{text}");
    for (query, field) in [
        ("?from=soon", "from"),
        ("?until=later", "until"),
        (
            "?from=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
            "until",
        ),
    ] {
        let answer = call(
            router,
            Method::GET,
            &format!("{export}{query}"),
            Some(&t.ada),
            None,
        )
        .await;
        assert_invalid(&answer, field, query);
    }

    // Verify: the chain holds, and the head is the newest event (the
    // second export's: the refused ones changed nothing).
    let verify = format!("{audit}/verify");
    let verified = call(router, Method::GET, &verify, Some(&t.ada), None).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.body["ok"], true);
    assert!(verified.body["broken"].is_null());
    let head = &verified.body["head"];
    assert_eq!(head["seq"].as_u64().unwrap(), exported.last().unwrap() + 1);
    let hash = head["hash"].as_str().unwrap();
    assert_eq!(hash.len(), 64);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(&verified.body["verified"], head);

    // Read-only lacks the audit permissions: 403 naming them.
    for (path, permission) in [
        (audit.clone(), "audit.read"),
        (export.clone(), "audit.export"),
        (verify.clone(), "audit.read"),
    ] {
        let answer = call(router, Method::GET, &path, Some(&t.bob_token), None).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(answer.body["permission"], permission, "{path}");
    }
    // Another organization's admin: 404.
    for path in [&audit, &export, &verify] {
        let answer = call(router, Method::GET, path, Some(&t.hank), None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
}

// ---------------------------------------------------------------------
// Custom roles
// ---------------------------------------------------------------------

#[tokio::test]
async fn custom_roles_are_created_replaced_listed_held_and_deleted() {
    let t = tenants().await;
    let (router, acme) = (&t.router, t.acme);
    let roles = format!("/orgs/{acme}/roles");

    // Create: the definition comes back, permissions sorted, both scopes
    // by default.
    let created = call(
        router,
        Method::POST,
        &roles,
        Some(&t.ada),
        Some(json!({ "name": " Support ", "permissions": ["users.update", "users.read"] })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.body,
        json!({
            "id": id,
            "name": "Support",
            "permissions": ["users.read", "users.update"],
            "assignable_at": { "organization": true, "workspace": true },
        })
    );
    let one = format!("{roles}/{id}");
    let taken = call(
        router,
        Method::POST,
        &roles,
        Some(&t.ada),
        Some(json!({ "name": "support", "permissions": ["users.read"] })),
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert_eq!(taken.body["conflict"], "name_taken");

    // Bad input names the field of the body.
    for (body, field, what) in [
        (json!({ "permissions": ["users.read"] }), "name", "no name"),
        (
            json!({ "name": "x".repeat(65), "permissions": ["users.read"] }),
            "name",
            "too long",
        ),
        (
            json!({ "name": "Admin", "permissions": ["users.read"] }),
            "name",
            "a built-in name",
        ),
        (
            json!({ "name": "Ops", "permissions": ["no.such"] }),
            "permissions",
            "an unknown permission",
        ),
        (
            json!({ "name": "Ops", "permissions": ["Users..read"] }),
            "permissions",
            "a malformed permission",
        ),
        (
            json!({ "name": "Ops", "permissions": ["users.read"],
                    "assignable_at": { "organization": false, "workspace": false } }),
            "assignable_at",
            "assignable nowhere",
        ),
        (
            json!({ "name": "Ops", "permissions": "users.read" }),
            "permissions",
            "not a list",
        ),
    ] {
        let answer = call(router, Method::POST, &roles, Some(&t.ada), Some(body)).await;
        assert_invalid(&answer, field, what);
    }

    // Replace: the whole definition.
    let replaced = call(
        router,
        Method::PATCH,
        &one,
        Some(&t.ada),
        Some(json!({ "name": "Helpdesk", "permissions": ["users.read"],
                     "assignable_at": { "organization": true, "workspace": false } })),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    let helpdesk = json!({
        "id": id,
        "name": "Helpdesk",
        "permissions": ["users.read"],
        "assignable_at": { "organization": true, "workspace": false },
    });
    assert_eq!(replaced.body, helpdesk);
    let bad = call(
        router,
        Method::PATCH,
        &one,
        Some(&t.ada),
        Some(json!({ "name": "", "permissions": ["users.read"] })),
    )
    .await;
    assert_invalid(&bad, "name", "replace with an empty name");

    // List: Read-only may (roles.read).
    for token in [&t.ada, &t.bob_token] {
        let listed = call(router, Method::GET, &roles, Some(token), None).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        assert_eq!(listed.body["roles"], json!([helpdesk]));
    }

    // Held by Bob: the members list names him, and it cannot go.
    let granted = call(
        router,
        Method::PUT,
        &format!("/orgs/{acme}/users/{}/role", t.bob),
        Some(&t.ada),
        Some(json!({ "role": id })),
    )
    .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    let members = call(
        router,
        Method::GET,
        &format!("{one}/members"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(members.status, StatusCode::OK, "{}", members.body);
    assert_eq!(members.body["users"], json!([t.bob.to_string()]));
    let owner = BuiltinRole::Owner.id();
    let owners = call(
        router,
        Method::GET,
        &format!("{roles}/{owner}/members"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(owners.status, StatusCode::OK, "{}", owners.body);
    assert_eq!(owners.body["users"].as_array().unwrap().len(), 1, "Ada");
    let in_use = call(router, Method::DELETE, &one, Some(&t.ada), None).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT, "{}", in_use.body);
    assert_eq!(in_use.body["conflict"], "role_in_use");

    // Bob (now Helpdesk: users.read only) may not manage roles.
    for (method, path, body) in [
        (
            Method::POST,
            roles.clone(),
            Some(json!({ "name": "Mine", "permissions": ["users.read"] })),
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({ "name": "Mine", "permissions": ["users.read"] })),
        ),
        (Method::DELETE, one.clone(), None),
    ] {
        let answer = call(router, method.clone(), &path, Some(&t.bob_token), body).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(answer.body["permission"], "roles.manage");
    }
    // ...nor read them any more (roles.read).
    for path in [roles.clone(), format!("{one}/members")] {
        let answer = call(router, Method::GET, &path, Some(&t.bob_token), None).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            answer.body
        );
        assert_eq!(answer.body["permission"], "roles.read", "{path}");
    }

    // Another organization's admin: 404, in Acme's path or under Globex;
    // Acme's role under Globex, or an id that is none, is 404 to its own
    // admin too.
    let globex_one = format!("/orgs/{}/roles/{id}", t.globex);
    let role_body = || Some(json!({ "name": "Spy", "permissions": ["users.read"] }));
    for (method, path, body) in [
        (Method::GET, roles.clone(), None),
        (Method::POST, roles.clone(), role_body()),
        (Method::PATCH, one.clone(), role_body()),
        (Method::DELETE, one.clone(), None),
        (Method::GET, format!("{one}/members"), None),
        (Method::PATCH, globex_one.clone(), role_body()),
        (Method::DELETE, globex_one.clone(), None),
        (Method::GET, format!("{globex_one}/members"), None),
        (
            Method::GET,
            format!("/orgs/{}/roles/not-an-id/members", t.globex),
            None,
        ),
    ] {
        let answer = call(router, method.clone(), &path, Some(&t.hank), body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(answer.body["error"], "not_found");
    }

    // Once Bob is moved off it, it goes, and then it is gone.
    let moved = call(
        router,
        Method::PUT,
        &format!("/orgs/{acme}/users/{}/role", t.bob),
        Some(&t.ada),
        Some(json!({ "role": "read_only" })),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let deleted = call(router, Method::DELETE, &one, Some(&t.ada), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let again = call(router, Method::DELETE, &one, Some(&t.ada), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let members = call(
        router,
        Method::GET,
        &format!("{one}/members"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(members.status, StatusCode::NOT_FOUND, "a deleted role");
    let listed = call(router, Method::GET, &roles, Some(&t.ada), None).await;
    assert_eq!(listed.body["roles"], json!([]));
}

// ---------------------------------------------------------------------
// Invitations and member administration
// ---------------------------------------------------------------------

/// A member of Acme with `role`, created by Ada, signed in: their id and
/// session token.
async fn member(t: &Tenants, username: &str, role: BuiltinRole) -> (UserId, String) {
    let ada_actor = t.iam.authenticate_session(&t.ada).await.unwrap();
    let id = t
        .iam
        .create_user(
            &ada_actor,
            t.acme,
            &person(username, "acme.example"),
            Password::new(PASSWORD),
            &Placement {
                org_role: Some(role.id()),
                ..Placement::default()
            },
        )
        .await
        .unwrap();
    (id, sign_in(&t.router, username).await)
}

#[tokio::test]
async fn invitations_are_resent_and_withdrawn_and_resets_sent() {
    let t = tenants().await;
    let (router, acme) = (&t.router, t.acme);
    let invited = call(
        router,
        Method::POST,
        &format!("/orgs/{acme}/invitations"),
        Some(&t.ada),
        Some(json!({ "username": "carol", "email": "carol@acme.example",
                     "first_name": "Carol", "last_name": "Doe" })),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let carol = invited.body["user"].as_str().unwrap().to_owned();
    let user = |id: &str, tail: &str| format!("/orgs/{acme}/users/{id}/{tail}");
    let bob = t.bob.to_string();

    // Read-only may do none of it: 403 naming the permission.
    for (method, path, permission) in [
        (
            Method::POST,
            user(&carol, "invitation/resend"),
            "users.invite",
        ),
        (Method::DELETE, user(&carol, "invitation"), "users.invite"),
        (Method::POST, user(&bob, "password-reset"), "users.update"),
    ] {
        let answer = call(router, method.clone(), &path, Some(&t.bob_token), None).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(answer.body["permission"], permission, "{method} {path}");
    }

    // Resend: 204; an active member has no invitation pending (409).
    let resent = call(
        router,
        Method::POST,
        &user(&carol, "invitation/resend"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(resent.status, StatusCode::NO_CONTENT, "{}", resent.body);
    let active = call(
        router,
        Method::POST,
        &user(&bob, "invitation/resend"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(active.status, StatusCode::CONFLICT, "{}", active.body);
    assert_eq!(active.body["error"], "illegal_transition");
    assert_eq!(active.body["status"], "ACTIVE");

    // A reset link goes to an active member only.
    let reset = call(
        router,
        Method::POST,
        &user(&bob, "password-reset"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.body);
    let not_yet = call(
        router,
        Method::POST,
        &user(&carol, "password-reset"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(not_yet.status, StatusCode::NOT_FOUND, "{}", not_yet.body);

    // Withdraw: 204, then Carol is gone.
    let withdrawn = call(
        router,
        Method::DELETE,
        &user(&carol, "invitation"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(
        withdrawn.status,
        StatusCode::NO_CONTENT,
        "{}",
        withdrawn.body
    );
    let gone = call(
        router,
        Method::GET,
        &format!("/orgs/{acme}/users/{carol}"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = call(
        router,
        Method::DELETE,
        &user(&carol, "invitation"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // Another organization's admin: 404.
    for (method, path) in [
        (Method::POST, user(&bob, "invitation/resend")),
        (Method::DELETE, user(&bob, "invitation")),
        (Method::POST, user(&bob, "password-reset")),
    ] {
        let answer = call(router, method.clone(), &path, Some(&t.hank), None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
}

#[tokio::test]
async fn workspace_roles_are_set_and_permissions_explained() {
    let t = tenants().await;
    let (router, acme) = (&t.router, t.acme);
    let created = call(
        router,
        Method::POST,
        &format!("/orgs/{acme}/workspaces"),
        Some(&t.ada),
        Some(json!({ "name": "Ops" })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let ws = created.body["id"].as_str().unwrap().to_owned();
    let role_of_bob = format!("/orgs/{acme}/workspaces/{ws}/users/{}/role", t.bob);

    // Bob joins the workspace as Auditor, then as Admin, then leaves it.
    let joined = call(
        router,
        Method::PUT,
        &role_of_bob,
        Some(&t.ada),
        Some(json!({ "role": "auditor" })),
    )
    .await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    assert_eq!(joined.body["previous"], Value::Null);
    assert_eq!(joined.body["role"]["name"], "Auditor");
    let promoted = call(
        router,
        Method::PUT,
        &role_of_bob,
        Some(&t.ada),
        Some(json!({ "role": "admin" })),
    )
    .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    assert_eq!(promoted.body["previous"]["name"], "Auditor");

    // Explain: why Bob holds api_keys.manage in the workspace, and that he
    // does not at the organization.
    let explain = format!("/orgs/{acme}/users/{}/explain", t.bob);
    let in_ws = call(
        router,
        Method::GET,
        &format!("{explain}?permission=api_keys.manage&workspace={ws}"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(in_ws.status, StatusCode::OK, "{}", in_ws.body);
    assert_eq!(in_ws.body["allowed"], true);
    assert_eq!(
        in_ws.body["reasons"],
        json!([{
            "role": { "id": BuiltinRole::Admin.id().to_string(), "name": "Admin" },
            "scope": { "kind": "workspace", "workspace": ws },
            "source": { "kind": "direct", "id": null },
        }])
    );
    let in_org = call(
        router,
        Method::GET,
        &format!("{explain}?permission=api_keys.manage"),
        Some(&t.bob_token),
        None,
    )
    .await;
    assert_eq!(in_org.status, StatusCode::OK, "{}", in_org.body);
    assert_eq!(in_org.body["allowed"], false);
    assert_eq!(in_org.body["reasons"], json!([]));

    let left = call(
        router,
        Method::PUT,
        &role_of_bob,
        Some(&t.ada),
        Some(json!({ "role": null })),
    )
    .await;
    assert_eq!(left.status, StatusCode::OK, "{}", left.body);
    assert_eq!(left.body["previous"]["name"], "Admin");
    assert_eq!(left.body["role"], Value::Null);

    // Bad input names the field.
    let bad_role = call(
        router,
        Method::PUT,
        &role_of_bob,
        Some(&t.ada),
        Some(json!({ "role": "superuser" })),
    )
    .await;
    assert_invalid(&bad_role, "role", "not a role");
    for (query, field) in [
        ("?permission=no.such", "permission"),
        ("?permission=Users..read", "permission"),
        ("", "permission"),
        ("?permission=users.read&workspace=nope", "workspace"),
    ] {
        let answer = call(
            router,
            Method::GET,
            &format!("{explain}{query}"),
            Some(&t.ada),
            None,
        )
        .await;
        assert_invalid(&answer, field, query);
    }

    // A Requester lacks roles.assign and roles.read: 403 naming them.
    let (_, rita) = member(&t, "rita", BuiltinRole::Requester).await;
    let refused = call(
        router,
        Method::PUT,
        &role_of_bob,
        Some(&rita),
        Some(json!({ "role": "read_only" })),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["permission"], "roles.assign");
    let refused = call(
        router,
        Method::GET,
        &format!("{explain}?permission=users.read"),
        Some(&rita),
        None,
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["permission"], "roles.read");

    // Another organization's admin: 404.
    for (method, path, body) in [
        (
            Method::PUT,
            role_of_bob.clone(),
            Some(json!({ "role": "read_only" })),
        ),
        (
            Method::GET,
            format!("{explain}?permission=users.read"),
            None,
        ),
    ] {
        let answer = call(router, method.clone(), &path, Some(&t.hank), body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
}

// ---------------------------------------------------------------------
// Organization settings
// ---------------------------------------------------------------------

/// Ivy, invited to Acme by Ada and signed up through her link (so her
/// address is verified), signed in: her session token.
async fn verified_member(t: &Tenants, username: &str) -> String {
    let ada_actor = t.iam.authenticate_session(&t.ada).await.unwrap();
    let user = t
        .iam
        .invite(
            &ada_actor,
            t.acme,
            &person(username, "acme.example"),
            &Placement::default(),
        )
        .await
        .unwrap()
        .user;
    let messages = t.iam.drain_outbox(1000).await.unwrap();
    let link = messages
        .iter()
        .rev()
        .find(|m| m.recipient == user && m.kind == iamkit::MessageKind::Invitation)
        .and_then(|m| m.link_secret.as_ref())
        .unwrap()
        .expose()
        .to_owned();
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    t.iam.acknowledge(&ids).await.unwrap();
    t.iam
        .accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
    sign_in(&t.router, username).await
}

#[tokio::test]
async fn organization_settings_are_set_and_users_join_by_domain() {
    let t = tenants().await;
    let (router, acme, globex) = (&t.router, t.acme, t.globex);
    let settings = |tail: &str| format!("/orgs/{acme}/settings/{tail}");
    let put = |path: String, token: String, body: Value| async move {
        call(router, Method::PUT, &path, Some(&token), Some(body)).await
    };

    // Time zone: an IANA name or null; anything else names the field.
    for zone in [json!("Europe/Lisbon"), Value::Null] {
        let set = put(
            settings("default-time-zone"),
            t.ada.clone(),
            json!({ "time_zone": zone }),
        )
        .await;
        assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    }
    let bad = put(
        settings("default-time-zone"),
        t.ada.clone(),
        json!({ "time_zone": "Mars/Olympus" }),
    )
    .await;
    assert_invalid(&bad, "time_zone", "no time zone");
    let wrong_type = put(
        settings("two-factor-required"),
        t.ada.clone(),
        json!({ "required": "yes" }),
    )
    .await;
    assert_invalid(&wrong_type, "required", "not a boolean");

    // Auto-join: Globex lets acme.example in as Requester; a verified Acme
    // member joins, once; an unverified one, or anyone at Acme, cannot.
    let rules = put(
        format!("/orgs/{globex}/settings/auto-join"),
        t.hank.clone(),
        json!({ "rules": [{ "domain": "acme.example", "role": "requester" }] }),
    )
    .await;
    assert_eq!(rules.status, StatusCode::NO_CONTENT, "{}", rules.body);
    let ivy = verified_member(&t, "ivy").await;
    let join = format!("/orgs/{globex}/join");
    let joined = call(router, Method::POST, &join, Some(&ivy), None).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.body);
    assert_eq!(joined.body["role"]["name"], "Requester");
    let again = call(router, Method::POST, &join, Some(&ivy), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.body["conflict"], "already_member");
    let unverified = call(router, Method::POST, &join, Some(&t.bob_token), None).await;
    assert_eq!(
        unverified.status,
        StatusCode::NOT_FOUND,
        "{}",
        unverified.body
    );
    let unlisted = call(
        router,
        Method::POST,
        &format!("/orgs/{acme}/join"),
        Some(&t.hank),
        None,
    )
    .await;
    assert_eq!(unlisted.status, StatusCode::NOT_FOUND, "{}", unlisted.body);
    for (body, field, what) in [
        (
            json!({ "rules": [{ "domain": "not a domain", "role": "requester" }] }),
            "domain",
            "no domain",
        ),
        (
            json!({ "rules": [{ "domain": "acme.example", "role": "superuser" }] }),
            "role",
            "no role",
        ),
        (json!({ "rules": "acme.example" }), "rules", "not a list"),
    ] {
        let answer = put(settings("auto-join"), t.ada.clone(), body).await;
        assert_invalid(&answer, field, what);
    }

    // Read-only may change none of it: 403 naming org.settings.
    for (tail, body) in [
        ("two-factor-required", json!({ "required": true })),
        ("default-time-zone", json!({ "time_zone": "UTC" })),
        ("auto-join", json!({ "rules": [] })),
    ] {
        let answer = put(settings(tail), t.bob_token.clone(), body).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{tail}");
        assert_eq!(answer.body["permission"], "org.settings", "{tail}");
    }
    // Another organization's admin: 404.
    for (tail, body) in [
        ("two-factor-required", json!({ "required": true })),
        ("default-time-zone", json!({ "time_zone": "UTC" })),
        ("auto-join", json!({ "rules": [] })),
    ] {
        let answer = put(settings(tail), t.hank.clone(), body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{tail}");
    }

    // Two-factor enforcement: once on, Bob (no second factor) can read
    // nothing any more.
    let users = format!("/orgs/{acme}/users");
    let before = call(router, Method::GET, &users, Some(&t.bob_token), None).await;
    assert_eq!(before.status, StatusCode::OK);
    let on = put(
        settings("two-factor-required"),
        t.ada.clone(),
        json!({ "required": true }),
    )
    .await;
    assert_eq!(on.status, StatusCode::NO_CONTENT, "{}", on.body);
    let after = call(router, Method::GET, &users, Some(&t.bob_token), None).await;
    assert_eq!(after.status, StatusCode::FORBIDDEN, "{}", after.body);
}

// ---------------------------------------------------------------------
// Self-service and profiles
// ---------------------------------------------------------------------

#[tokio::test]
async fn profiles_are_updated_by_their_owner_or_an_admin() {
    let t = tenants().await;
    let (router, acme) = (&t.router, t.acme);
    let ada_id = t
        .iam
        .authenticate_session(&t.ada)
        .await
        .unwrap()
        .user()
        .unwrap();
    let bob_profile = format!("/orgs/{acme}/users/{}/profile", t.bob);
    let patch = |path: String, token: String, body: Value| async move {
        call(router, Method::PATCH, &path, Some(&token), Some(body)).await
    };

    // Bob updates his own (users.read is enough); Ada files him under a
    // department.
    let own = patch(
        bob_profile.clone(),
        t.bob_token.clone(),
        json!({ "first_name": "Robert", "language": "es", "theme": "dark" }),
    )
    .await;
    assert_eq!(own.status, StatusCode::NO_CONTENT, "{}", own.body);
    let department = call(
        router,
        Method::POST,
        &format!("/orgs/{acme}/departments"),
        Some(&t.ada),
        Some(json!({ "name": "Engineering" })),
    )
    .await;
    let department = department.body["id"].as_str().unwrap().to_owned();
    let filed = patch(
        bob_profile.clone(),
        t.ada.clone(),
        json!({ "department": department }),
    )
    .await;
    assert_eq!(filed.status, StatusCode::NO_CONTENT, "{}", filed.body);
    let detail = call(
        router,
        Method::GET,
        &format!("/orgs/{acme}/users/{}", t.bob),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(detail.body["user"]["first_name"], "Robert");
    assert_eq!(detail.body["user"]["last_name"], "Person", "left as it was");
    assert_eq!(detail.body["user"]["language"], "es");
    let in_department = call(
        router,
        Method::GET,
        &format!("/orgs/{acme}/users?department={department}"),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(in_department.body["users"].as_array().unwrap().len(), 1);
    let unfiled = patch(
        bob_profile.clone(),
        t.ada.clone(),
        json!({ "department": null }),
    )
    .await;
    assert_eq!(unfiled.status, StatusCode::NO_CONTENT, "{}", unfiled.body);

    // Bad input names the field.
    for (body, field) in [
        (json!({ "first_name": "" }), "first_name"),
        (json!({ "language": "xx" }), "language"),
        (json!({ "time_zone": "Mars/Olympus" }), "time_zone"),
        (json!({ "department": "nope" }), "department"),
        (json!({ "first_name": 7 }), "first_name"),
    ] {
        let answer = patch(bob_profile.clone(), t.ada.clone(), body.clone()).await;
        assert_invalid(&answer, field, &body.to_string());
    }
    // Bob may not change Ada's: 403 naming users.update.
    let refused = patch(
        format!("/orgs/{acme}/users/{ada_id}/profile"),
        t.bob_token.clone(),
        json!({ "first_name": "Mallory" }),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["permission"], "users.update");
    // Another organization's admin: 404, and nothing changed.
    let foreign = patch(
        bob_profile.clone(),
        t.hank.clone(),
        json!({ "first_name": "Spy" }),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    let detail = call(
        router,
        Method::GET,
        &format!("/orgs/{acme}/users/{}", t.bob),
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(detail.body["user"]["first_name"], "Robert");
}

#[tokio::test]
async fn i_change_my_password_and_sign_out_elsewhere() {
    let t = tenants().await;
    let router = &t.router;
    let me =
        |token: String| async move { call(router, Method::GET, "/me", Some(&token), None).await };
    let elsewhere = sign_in(router, "bob").await;
    let third = sign_in(router, "bob").await;

    // Sign out elsewhere: this session stays, the others end.
    let bad = call(
        router,
        Method::DELETE,
        "/me/sessions?keep_current=maybe",
        Some(&t.bob_token),
        None,
    )
    .await;
    assert_invalid(&bad, "keep_current", "not a boolean");
    let out = call(
        router,
        Method::DELETE,
        "/me/sessions",
        Some(&t.bob_token),
        None,
    )
    .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert_eq!(out.body["revoked"], 2);
    assert_eq!(me(t.bob_token.clone()).await.status, StatusCode::OK);
    for token in [&elsewhere, &third] {
        assert_eq!(me(token.clone()).await.status, StatusCode::UNAUTHORIZED);
    }

    // The password: the new one must pass the policy, the current one be
    // right.
    let password = |current: &str, new: &str| {
        let body = json!({ "current_password": current, "new_password": new });
        let token = t.bob_token.clone();
        async move {
            call(
                router,
                Method::POST,
                "/me/password",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let weak = password(PASSWORD, "x").await;
    assert_invalid(&weak, "new_password", "too short");
    let wrong = password("not my password", "a much longer new passphrase").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    let other = sign_in(router, "bob").await;
    let changed = password(PASSWORD, "a much longer new passphrase").await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    assert_eq!(me(t.bob_token.clone()).await.status, StatusCode::OK);
    assert_eq!(
        me(other).await.status,
        StatusCode::UNAUTHORIZED,
        "other sessions end"
    );
    let old = call(
        router,
        Method::POST,
        "/sessions",
        None,
        Some(json!({ "identifier": "bob", "password": PASSWORD })),
    )
    .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = call(
        router,
        Method::POST,
        "/sessions",
        None,
        Some(json!({ "identifier": "bob", "password": "a much longer new passphrase" })),
    )
    .await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.body);

    // Everywhere: this session too.
    let all = call(
        router,
        Method::DELETE,
        "/me/sessions?keep_current=false",
        Some(&t.bob_token),
        None,
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["revoked"], 2);
    assert_eq!(
        me(t.bob_token.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn i_regenerate_my_recovery_codes_and_turn_two_factor_off() {
    use iamkit::credentials::{TotpAlgorithm, totp_code};

    let t = tenants().await;
    let router = &t.router;
    // Without 2FA there is nothing to regenerate or turn off.
    let none = call(
        router,
        Method::POST,
        "/me/recovery-codes",
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.body);
    let body = |password: &str| Some(json!({ "password": password }));
    let off = call(
        router,
        Method::DELETE,
        "/me/totp",
        Some(&t.ada),
        body(PASSWORD),
    )
    .await;
    assert_eq!(off.status, StatusCode::NOT_FOUND, "{}", off.body);

    // Enrol Ada.
    let ada_actor = t.iam.authenticate_session(&t.ada).await.unwrap();
    let setup = t.iam.begin_totp_enrolment(&ada_actor).await.unwrap();
    let unix = u64::try_from(iamkit::Clock::now(&iamkit::SystemClock).timestamp()).unwrap();
    let code = totp_code(&setup.secret, TotpAlgorithm::Sha1, 6, 30, unix).unwrap();
    let first = t
        .iam
        .confirm_totp_enrolment(&ada_actor, code.expose())
        .await
        .unwrap();

    // Fresh codes, once, never cached; the old ones are gone.
    let fresh = call(
        router,
        Method::POST,
        "/me/recovery-codes",
        Some(&t.ada),
        None,
    )
    .await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
    let codes = fresh.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), first.len());
    assert!(
        codes
            .iter()
            .all(|c| first.iter().all(|old| old.expose() != c.as_str().unwrap()))
    );

    // Turning 2FA off takes the password; a wrong one is 401.
    let wrong = call(
        router,
        Method::DELETE,
        "/me/totp",
        Some(&t.ada),
        body("not my password"),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    let missing = call(router, Method::DELETE, "/me/totp", Some(&t.ada), None).await;
    assert_eq!(missing.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let off = call(
        router,
        Method::DELETE,
        "/me/totp",
        Some(&t.ada),
        body(PASSWORD),
    )
    .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.body);
    let detail = t
        .iam
        .user_detail(&ada_actor, t.acme, ada_actor.user().unwrap())
        .await
        .unwrap();
    assert!(!detail.two_factor_enabled);
}

// ---------------------------------------------------------------------
// Service accounts
// ---------------------------------------------------------------------

#[tokio::test]
async fn service_accounts_are_created_listed_and_given_keys() {
    let t = tenants().await;
    let (router, acme) = (&t.router, t.acme);
    let accounts = format!("/orgs/{acme}/service-accounts");
    let created = call(
        router,
        Method::POST,
        &accounts,
        Some(&t.ada),
        Some(json!({ "name": "deployer", "display_name": "CI", "role": "read_only" })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let ci = created.body["user"].as_str().unwrap().to_owned();
    let taken = call(
        router,
        Method::POST,
        &accounts,
        Some(&t.ada),
        Some(json!({ "name": "deployer", "display_name": "CI again" })),
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert_eq!(taken.body["conflict"], "username_taken");
    for (body, field) in [
        (json!({ "display_name": "CI" }), "name"),
        (json!({ "name": "ops", "display_name": "" }), "display_name"),
        (
            json!({ "name": "ops", "display_name": "Ops", "role": "superuser" }),
            "role",
        ),
    ] {
        let answer = call(
            router,
            Method::POST,
            &accounts,
            Some(&t.ada),
            Some(body.clone()),
        )
        .await;
        assert_invalid(&answer, field, &body.to_string());
    }

    // Listed for Read-only (users.read); created only with users.invite.
    let listed = call(router, Method::GET, &accounts, Some(&t.bob_token), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let listed = listed.body["service_accounts"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["user"], ci);
    let refused = call(
        router,
        Method::POST,
        &accounts,
        Some(&t.bob_token),
        Some(json!({ "name": "mine", "display_name": "Mine" })),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["permission"], "users.invite");

    // A key acting as the account in a workspace; the secret, once.
    let ws = call(
        router,
        Method::POST,
        &format!("/orgs/{acme}/workspaces"),
        Some(&t.ada),
        Some(json!({ "name": "Ops" })),
    )
    .await;
    let ws = ws.body["id"].as_str().unwrap().to_owned();
    let keys = format!("{accounts}/{ci}/keys");
    let key = call(
        router,
        Method::POST,
        &keys,
        Some(&t.ada),
        Some(json!({ "name": "deploy", "workspace": ws })),
    )
    .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let secret = key.body["secret"].as_str().unwrap();
    assert!(secret.starts_with("iamk_key_"));
    let acting = t.iam.authenticate_api_key(secret).await.unwrap();
    assert_eq!(acting.user().map(|u| u.to_string()), Some(ci.clone()));
    let bad = call(
        router,
        Method::POST,
        &keys,
        Some(&t.ada),
        Some(json!({ "name": "deploy", "workspace": "nope" })),
    )
    .await;
    assert_invalid(&bad, "workspace", "no workspace id");
    let person_key = call(
        router,
        Method::POST,
        &format!("{accounts}/{}/keys", t.bob),
        Some(&t.ada),
        Some(json!({ "name": "deploy", "workspace": ws })),
    )
    .await;
    assert_eq!(person_key.status, StatusCode::NOT_FOUND, "a person");
    let refused = call(
        router,
        Method::POST,
        &keys,
        Some(&t.bob_token),
        Some(json!({ "name": "mine", "workspace": ws })),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["permission"], "api_keys.manage");

    // Another organization's admin: 404, in Acme's paths or under Globex.
    let globex = t.globex;
    for (method, path, body) in [
        (Method::GET, accounts.clone(), None),
        (
            Method::POST,
            accounts.clone(),
            Some(json!({ "name": "spy", "display_name": "Spy" })),
        ),
        (
            Method::POST,
            keys.clone(),
            Some(json!({ "name": "exfil", "workspace": ws })),
        ),
        (
            Method::POST,
            format!("/orgs/{globex}/service-accounts/{ci}/keys"),
            Some(json!({ "name": "exfil", "workspace": ws })),
        ),
    ] {
        let answer = call(router, method.clone(), &path, Some(&t.hank), body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
}
