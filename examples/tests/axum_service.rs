//! The axum_service example over real HTTP: the service starts on
//! 127.0.0.1 on a free port (a temporary SQLite database, cheap argon2)
//! and reqwest walks the administrator's story through it, from the first
//! Owner's bootstrap link to a deactivated colleague whose cookie and API
//! key stop working. No timing assertions: every step waits for its answer.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first surprise"
)]

use std::time::Duration;

use iamkit::Clock as _;
use iamkit::credentials::{
    Argon2Params, SecretBytes, TotpAlgorithm, TotpSecret, XChaChaSealer, totp_code,
};
use iamkit::{Config, MessageKind, SystemClock};
use iamkit_axum::{Origin, RateLimit, SESSION_COOKIE};
use iamkit_examples::axum_service::{
    AppState, FirstOwnerSpec, ServiceConfig, bootstrap_first_owner, build_iam, serve,
};
use iamkit_store_sqlite::SqliteStore;
use reqwest::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, RETRY_AFTER, SET_COOKIE,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const ADA_PASSWORD: &str = "analytical engine punched cards";
const BOB_PASSWORD: &str = "one love one heart reggae";

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    Anonymous,
    /// The session cookie's value, sent as a browser would.
    Cookie(&'a str),
    /// An API key as a bearer token.
    Key(&'a str),
}

/// An answer: status, the headers the test looks at, the JSON body.
struct Answer {
    status: StatusCode,
    set_cookie: Option<String>,
    cache_control: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    /// The session token of the `Set-Cookie` header.
    fn session_token(&self) -> String {
        let cookie = self.set_cookie.as_deref().expect("a Set-Cookie header");
        let (name, value) = cookie
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .expect("name=value");
        assert_eq!(name, SESSION_COOKIE);
        value.to_owned()
    }

    fn str(&self, key: &str) -> String {
        self.body
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("`{key}` in {}", self.body))
            .to_owned()
    }
}

struct Service {
    base: String,
    client: reqwest::Client,
    state: AppState<SqliteStore>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Service {
    /// Starts the example's router on a free port of 127.0.0.1 over a
    /// fresh temporary database.
    async fn start(limit: RateLimit) -> Self {
        Self::start_allowing(limit, &[]).await
    }

    /// [`Service::start`], with pages of `extra_origins` allowed to change
    /// state besides the service's own origin.
    async fn start_allowing(limit: RateLimit, extra_origins: &[&str]) -> Self {
        let store = SqliteStore::temporary().await.unwrap();
        store.migrate().await.unwrap();
        let config = Config {
            // Cheap hashing keeps the test fast; the service's `main` keeps
            // the OWASP default.
            argon2: Argon2Params {
                m_cost_kib: 64,
                t_cost: 1,
                p_cost: 1,
            },
            ..Config::default()
        };
        let key = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
        let iam = build_iam(store, key, config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = ServiceConfig::for_public_url(&base).unwrap();
        config.api.credential_rate_limit = limit;
        config
            .api
            .allowed_origins
            .extend(extra_origins.iter().map(|o| Origin::parse(o).unwrap()));
        let state = AppState::new(iam, &config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            state,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap().unwrap();
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> Answer {
        self.call_from(method, path, auth, body, &[]).await
    }

    /// [`Service::call`] with the extra `headers` a browser would add (the
    /// test client itself sends neither `Origin` nor `Sec-Fetch-Site`).
    async fn call_from(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request = match auth {
            Auth::Anonymous => request,
            Auth::Cookie(token) => request.header(COOKIE, format!("{SESSION_COOKIE}={token}")),
            Auth::Key(key) => request.header(AUTHORIZATION, format!("Bearer {key}")),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let set_cookie = header(SET_COOKIE);
        let cache_control = header(CACHE_CONTROL);
        let retry_after = header(RETRY_AFTER);
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text}"))
        };
        Answer {
            status,
            set_cookie,
            cache_control,
            retry_after,
            body,
        }
    }

    async fn get(&self, path: &str, auth: Auth<'_>) -> Answer {
        self.call(Method::GET, path, auth, None).await
    }

    async fn post(&self, path: &str, auth: Auth<'_>, body: Value) -> Answer {
        self.call(Method::POST, path, auth, Some(body)).await
    }

    async fn sign_in(&self, identifier: &str, password: &str) -> Answer {
        self.post(
            "/sessions",
            Auth::Anonymous,
            json!({ "identifier": identifier, "password": password }),
        )
        .await
    }

    /// The actions of the newest audit events involving `user` (as actor
    /// or target), as an Owner with session `cookie` sees them.
    async fn actions_involving(&self, org: &str, user: &str, cookie: &str) -> Vec<String> {
        let activity = self
            .get(
                &format!("/orgs/{org}/users/{user}/activity"),
                Auth::Cookie(cookie),
            )
            .await;
        assert_eq!(activity.status, StatusCode::OK, "{}", activity.body);
        activity
            .body
            .get("activity")
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .filter_map(|e| e.get("action").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// The newest link the dev mailer delivered to `to` for `kind`, after a
    /// delivery round (the same round the service's background task runs).
    async fn mailed_link(&self, to: &str, kind: MessageKind) -> String {
        self.state.mailer.deliver_pending().await.unwrap();
        let sent = self.state.mailer.sent();
        let mail = sent
            .iter()
            .rev()
            .find(|m| m.to == to && m.kind == kind)
            .unwrap_or_else(|| panic!("a {kind:?} mail to {to} in {sent:?}"));
        mail.link_secret.as_ref().unwrap().expose().to_owned()
    }
}

/// What an authenticator app shows `offset_secs` from now for the base32
/// `secret` (RFC 6238, the service's default SHA1 / 6 digits / 30 s).
fn authenticator_code(secret: &str, offset_secs: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret)
        .unwrap()
        .as_bytes()
        .to_vec();
    let unix = u64::try_from(SystemClock.now().timestamp() + offset_secs).unwrap();
    totp_code(
        &TotpSecret::from_bytes(bytes),
        TotpAlgorithm::Sha1,
        6,
        30,
        unix,
    )
    .unwrap()
    .expose()
    .to_owned()
}

fn generous() -> RateLimit {
    RateLimit {
        max_requests: 1_000,
        window: Duration::from_secs(60),
        max_clients: RateLimit::DEFAULT_MAX_CLIENTS,
    }
}

#[tokio::test]
async fn the_admin_story_over_http() {
    let svc = Service::start(generous()).await;
    let ok = StatusCode::OK;

    // 1. Bootstrap: the first Owner gets a one-time link, once.
    let spec = FirstOwnerSpec::for_email(
        "ada@acme.example",
        Some("Ada Lovelace"),
        "Acme Corp",
        "acme",
    );
    let done = bootstrap_first_owner(&svc.state.iam, &spec)
        .await
        .unwrap()
        .expect("a fresh store bootstraps");
    let org = done.bootstrapped.org.to_string();
    let ada_id = done.bootstrapped.owner.to_string();
    assert!(
        bootstrap_first_owner(&svc.state.iam, &spec)
            .await
            .unwrap()
            .is_none(),
        "a restart with the flag still set changes nothing"
    );
    assert_eq!(
        svc.sign_in("ada@acme.example", ADA_PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "no password before the link is used"
    );
    let set = svc
        .post(
            "/password-resets/complete",
            Auth::Anonymous,
            json!({ "token": done.setup_link.expose(), "password": ADA_PASSWORD }),
        )
        .await;
    assert_eq!(set.status, ok, "{}", set.body);
    assert_eq!(set.str("user"), ada_id);

    // 2. Ada signs in: the session lives in a HttpOnly, Secure, Lax cookie.
    let signed = svc.sign_in("ada@acme.example", ADA_PASSWORD).await;
    assert_eq!(signed.status, ok, "{}", signed.body);
    assert_eq!(signed.body["second_factor_required"], json!(false));
    let cookie = signed.set_cookie.clone().unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(
        !signed.body.to_string().contains("iamk_ses_"),
        "the token is in the cookie only"
    );
    let ada = signed.session_token();
    let me = svc.get("/me", Auth::Cookie(&ada)).await;
    assert_eq!(me.status, ok);
    assert_eq!(me.body["organizations"][0]["id"], json!(org));

    // Unknown user and wrong password: the same 401, the same body.
    let unknown = svc.sign_in("nobody@acme.example", ADA_PASSWORD).await;
    let wrong = svc
        .sign_in("ada@acme.example", "not the right password at all")
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.body, wrong.body);
    let unauthenticated = unknown.body.clone();
    // No credential at all, or garbage: the same body again.
    assert_eq!(svc.get("/me", Auth::Anonymous).await.body, unauthenticated);
    assert_eq!(
        svc.get("/me", Auth::Cookie("iamk_ses_garbage")).await.body,
        unauthenticated
    );

    // 3. A workspace, and a project of the app in it.
    let ws = svc
        .post(
            &format!("/orgs/{org}/workspaces"),
            Auth::Cookie(&ada),
            json!({ "name": "Operations" }),
        )
        .await;
    assert_eq!(ws.status, StatusCode::CREATED, "{}", ws.body);
    let ws = ws.str("id");
    let projects = format!("/orgs/{org}/workspaces/{ws}/projects");
    let created = svc
        .post(&projects, Auth::Cookie(&ada), json!({ "name": "Apollo" }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    // 4. Bad input names the field and the rule.
    let invitations = format!("/orgs/{org}/invitations");
    let bad = svc
        .post(
            &invitations,
            Auth::Cookie(&ada),
            json!({ "username": "bob", "email": "bob at acme", "first_name": "Bob", "last_name": "Marley" }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["field"], json!("email"));
    assert!(bad.body["rule"].is_string());
    let missing = svc
        .post(
            &invitations,
            Auth::Cookie(&ada),
            json!({ "username": "bob", "email": "bob@acme.example" }),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.body["field"], json!("first_name"));
    let wrong_type = svc
        .post(&invitations, Auth::Cookie(&ada), json!({ "username": 42 }))
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_type.body["field"], json!("username"));

    // 5. Ada invites Bob (Read-only); the dev mailer delivers the link.
    let invited = svc
        .post(
            &invitations,
            Auth::Cookie(&ada),
            json!({
                "username": "bob", "email": "bob@acme.example",
                "first_name": "Bob", "last_name": "Marley", "role": "read_only",
            }),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let bob_id = invited.str("user");
    let link = svc
        .mailed_link("bob@acme.example", MessageKind::Invitation)
        .await;
    assert!(link.starts_with("iamk_inv_"));

    // 6. Bob accepts; a password the policy refuses leaves the link usable.
    let weak = svc
        .post(
            "/invitations/accept",
            Auth::Anonymous,
            json!({ "token": link, "password": "short" }),
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(weak.body["field"], json!("password"));
    let accepted = svc
        .post(
            "/invitations/accept",
            Auth::Anonymous,
            json!({ "token": link, "password": BOB_PASSWORD }),
        )
        .await;
    assert_eq!(accepted.status, ok, "{}", accepted.body);
    assert_eq!(accepted.str("user"), bob_id);
    let reused = svc
        .post(
            "/invitations/accept",
            Auth::Anonymous,
            json!({ "token": link, "password": BOB_PASSWORD }),
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED, "a link works once");

    // 7. Ada turns on TOTP, signs out, and signs in with password + code.
    let setup = svc
        .call(Method::POST, "/me/totp", Auth::Cookie(&ada), None)
        .await;
    assert_eq!(setup.status, StatusCode::CREATED, "{}", setup.body);
    assert_eq!(setup.cache_control.as_deref(), Some("no-store"));
    assert!(setup.str("otpauth_uri").starts_with("otpauth://totp/"));
    let secret = setup.str("secret");
    let confirmed = svc
        .post(
            "/me/totp/confirm",
            Auth::Cookie(&ada),
            json!({ "code": authenticator_code(&secret, 0) }),
        )
        .await;
    assert_eq!(confirmed.status, ok, "{}", confirmed.body);
    assert!(
        !confirmed.body["recovery_codes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let out = svc
        .call(
            Method::DELETE,
            "/sessions/current",
            Auth::Cookie(&ada),
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(
        svc.get("/me", Auth::Cookie(&ada)).await.status,
        StatusCode::UNAUTHORIZED
    );

    let pending = svc.sign_in("ada", ADA_PASSWORD).await;
    assert_eq!(pending.status, ok);
    assert_eq!(pending.body["second_factor_required"], json!(true));
    let ada = pending.session_token();
    assert_eq!(
        svc.get("/me", Auth::Cookie(&ada)).await.status,
        StatusCode::UNAUTHORIZED,
        "a pending sign-in authorizes nothing"
    );
    let bad_code = svc
        .post(
            "/sessions/totp",
            Auth::Cookie(&ada),
            json!({ "code": "abcdef" }),
        )
        .await;
    assert_eq!(bad_code.body, unauthenticated);
    // The next time step: the enrolment's step was used up (SECURITY.md 14).
    let second = svc
        .post(
            "/sessions/totp",
            Auth::Cookie(&ada),
            json!({ "code": authenticator_code(&secret, 30) }),
        )
        .await;
    assert_eq!(second.status, ok, "{}", second.body);
    // SECURITY.md 40: the pending cookie is replaced by a new session's.
    assert_eq!(
        svc.get("/me", Auth::Cookie(&ada)).await.status,
        StatusCode::UNAUTHORIZED,
        "the pending token no longer works"
    );
    let ada = second.session_token();
    assert_eq!(svc.get("/me", Auth::Cookie(&ada)).await.status, ok);

    // 8. Ada makes Bob Admin; Bob signs in.
    let bob_role = format!("/orgs/{org}/users/{bob_id}/role");
    let promoted = svc
        .call(
            Method::PUT,
            &bob_role,
            Auth::Cookie(&ada),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(promoted.status, ok, "{}", promoted.body);
    assert_eq!(promoted.body["previous"]["name"], json!("Read-only"));
    let bob = svc.sign_in("bob@acme.example", BOB_PASSWORD).await;
    assert_eq!(bob.status, ok);
    let bob = bob.session_token();

    // 9. Bob creates a key limited to reading projects. More than he holds
    // is refused; the secret is shown once and never cached.
    let keys = format!("/orgs/{org}/workspaces/{ws}/api-keys");
    let escalating = svc
        .post(
            &keys,
            Auth::Cookie(&bob),
            json!({ "name": "billing", "permissions": ["org.billing"] }),
        )
        .await;
    assert_eq!(escalating.status, StatusCode::FORBIDDEN);
    assert_eq!(escalating.body["error"], json!("escalation"));
    let created = svc
        .post(
            &keys,
            Auth::Cookie(&bob),
            json!({ "name": "ci", "permissions": ["projects.read"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.cache_control.as_deref(), Some("no-store"));
    let key = created.str("secret");
    assert!(key.starts_with("iamk_key_"));

    // 10. The key reads projects; writing, or listing keys, is outside its
    // restriction although Bob himself may.
    let listed = svc.get(&projects, Auth::Key(&key)).await;
    assert_eq!(listed.status, ok, "{}", listed.body);
    assert_eq!(listed.body["projects"][0]["name"], json!("Apollo"));
    let write = svc
        .post(&projects, Auth::Key(&key), json!({ "name": "Gemini" }))
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.body["permission"], json!("projects.write"));
    assert_eq!(
        svc.get(&keys, Auth::Key(&key)).await.status,
        StatusCode::FORBIDDEN
    );
    let bob_writes = svc
        .post(&projects, Auth::Cookie(&bob), json!({ "name": "Gemini" }))
        .await;
    assert_eq!(bob_writes.status, StatusCode::CREATED);

    // 11. Ada reduces Bob to Read-only: the key shrinks at once.
    let demoted = svc
        .call(
            Method::PUT,
            &bob_role,
            Auth::Cookie(&ada),
            Some(json!({ "role": "read_only" })),
        )
        .await;
    assert_eq!(demoted.status, ok, "{}", demoted.body);
    assert_eq!(
        svc.get(&projects, Auth::Key(&key)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        svc.post(
            &invitations,
            Auth::Cookie(&bob),
            json!({
                "username": "carol", "email": "carol@acme.example",
                "first_name": "Carol", "last_name": "Shaw",
            }),
        )
        .await
        .status,
        StatusCode::FORBIDDEN,
        "Bob's own session shrank too"
    );
    assert_eq!(
        svc.get(&format!("/orgs/{org}/users"), Auth::Cookie(&bob))
            .await
            .status,
        ok
    );

    // 12. Another tenant's user is not found, whichever way it is asked.
    let globex = bootstrap_first_owner(
        &svc.state.iam,
        &FirstOwnerSpec::for_email("hank@globex.example", None, "Globex", "globex"),
    )
    .await
    .unwrap()
    .unwrap()
    .bootstrapped;
    let (other_org, other_user) = (globex.org, globex.owner);
    for path in [
        format!("/orgs/{org}/users/{other_user}"),
        format!("/orgs/{other_org}/users/{other_user}"),
        format!("/orgs/{other_org}/users"),
    ] {
        let answer = svc.get(&path, Auth::Cookie(&ada)).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            answer.body
        );
    }
    assert_eq!(
        svc.get(&format!("/orgs/{org}/users/not-an-id"), Auth::Cookie(&ada))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // 13. The directory finds Bob; his detail and activity tell the story.
    let found = svc
        .get(&format!("/orgs/{org}/users?q=MARLEY"), Auth::Cookie(&ada))
        .await;
    assert_eq!(found.status, ok);
    assert_eq!(found.body["users"].as_array().unwrap().len(), 1);
    assert_eq!(found.body["users"][0]["id"], json!(bob_id));
    let bad_status = svc
        .get(
            &format!("/orgs/{org}/users?status=GONE"),
            Auth::Cookie(&ada),
        )
        .await;
    assert_eq!(bad_status.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_status.body["field"], json!("status"));
    let detail = svc
        .get(&format!("/orgs/{org}/users/{bob_id}"), Auth::Cookie(&ada))
        .await;
    assert_eq!(detail.status, ok, "{}", detail.body);
    assert_eq!(detail.body["org_role"]["name"], json!("Read-only"));
    assert_eq!(detail.body["api_keys"].as_array().unwrap().len(), 1);
    let activity = svc
        .get(
            &format!("/orgs/{org}/users/{bob_id}/activity"),
            Auth::Cookie(&ada),
        )
        .await;
    assert_eq!(activity.status, ok, "{}", activity.body);
    let actions: Vec<_> = activity.body["activity"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in [
        "invited",
        "invite_accepted",
        "org_role_changed",
        "signed_in",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert_eq!(
        svc.get(
            &format!("/orgs/{org}/users/{ada_id}/activity"),
            Auth::Cookie(&bob)
        )
        .await
        .status,
        StatusCode::FORBIDDEN,
        "Read-only has no audit.read"
    );

    // 14. The last Owner stays: Ada cannot demote herself.
    let last = svc
        .call(
            Method::PUT,
            &format!("/orgs/{org}/users/{ada_id}/role"),
            Auth::Cookie(&ada),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(last.status, StatusCode::CONFLICT);
    assert_eq!(last.body["error"], json!("last_owner"));

    // 15. Ada deactivates Bob: his cookie and his key are rejected at once,
    // with the one generic 401.
    let deactivated = svc
        .call(
            Method::POST,
            &format!("/orgs/{org}/users/{bob_id}/deactivate"),
            Auth::Cookie(&ada),
            None,
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::NO_CONTENT);
    let cookie_after = svc.get("/me", Auth::Cookie(&bob)).await;
    assert_eq!(cookie_after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(cookie_after.body, unauthenticated);
    let key_after = svc.get(&projects, Auth::Key(&key)).await;
    assert_eq!(key_after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(key_after.body, unauthenticated);
    assert_eq!(
        svc.sign_in("bob", BOB_PASSWORD).await.body,
        unauthenticated,
        "a deactivated account signs in like an unknown one"
    );
    // Deactivating him again is a no-op that succeeds (iamkit's rule for
    // no-ops): nothing changes, he stays out.
    let again = svc
        .call(
            Method::POST,
            &format!("/orgs/{org}/users/{bob_id}/deactivate"),
            Auth::Cookie(&ada),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    assert_eq!(
        svc.get("/me", Auth::Cookie(&bob)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // 16. Ada's own key: listed without its secret, revoked, dead.
    let mine = svc
        .post(&keys, Auth::Cookie(&ada), json!({ "name": "deploy" }))
        .await;
    assert_eq!(mine.status, StatusCode::CREATED);
    let mine_secret = mine.str("secret");
    let mine_id = mine.body["key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(svc.get(&projects, Auth::Key(&mine_secret)).await.status, ok);
    let all = svc.get(&keys, Auth::Cookie(&ada)).await;
    assert_eq!(all.body["api_keys"].as_array().unwrap().len(), 2);
    assert!(!all.body.to_string().contains(&mine_secret));
    let revoked = svc
        .call(
            Method::DELETE,
            &format!("/orgs/{org}/api-keys/{mine_id}"),
            Auth::Cookie(&ada),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(
        svc.get(&projects, Auth::Key(&mine_secret)).await.status,
        StatusCode::UNAUTHORIZED
    );

    svc.stop().await;
}

#[tokio::test]
async fn json_bodies_only_and_forgotten_passwords_answer_alike() {
    let svc = Service::start(generous()).await;
    // A form post (what a cross-site page can send) is refused.
    let form = svc
        .client
        .post(format!("{}/sessions", svc.base))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("identifier=ada&password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let malformed = svc
        .client
        .post(format!("{}/sessions", svc.base))
        .header(CONTENT_TYPE, "application/json")
        .body("{\"identifier\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    // "Forgot password" says the same for any address (SECURITY.md 28).
    let known = bootstrap_first_owner(
        &svc.state.iam,
        &FirstOwnerSpec::for_email("ada@acme.example", None, "Acme", "acme"),
    )
    .await
    .unwrap();
    assert!(known.is_some());
    for email in ["ada@acme.example", "nobody@acme.example", "not an email"] {
        let answer = svc
            .post(
                "/password-resets",
                Auth::Anonymous,
                json!({ "email": email }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{email}");
        assert_eq!(answer.body, Value::Null);
    }
    assert_eq!(
        svc.get("/no/such/route", Auth::Anonymous).await.status,
        StatusCode::NOT_FOUND
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_client_address_is_limited_on_the_credential_endpoints() {
    let svc = Service::start(RateLimit {
        max_requests: 3,
        window: Duration::from_secs(60),
        max_clients: RateLimit::DEFAULT_MAX_CLIENTS,
    })
    .await;
    for _ in 0..3 {
        let answer = svc
            .sign_in("nobody@acme.example", "whatever it may be")
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let limited = svc
        .sign_in("someone.else@acme.example", "whatever it may be")
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["error"], json!("rate_limited"));
    let retry: u64 = limited.retry_after.unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The other credential endpoints share the budget...
    let accept = svc
        .post(
            "/invitations/accept",
            Auth::Anonymous,
            json!({ "token": "x", "password": "y" }),
        )
        .await;
    assert_eq!(accept.status, StatusCode::TOO_MANY_REQUESTS);
    // ...the rest of the service does not count against it.
    assert_eq!(
        svc.get("/health", Auth::Anonymous).await.status,
        StatusCode::OK
    );
    assert_eq!(
        svc.get("/me", Auth::Anonymous).await.status,
        StatusCode::UNAUTHORIZED
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_full_limiter_refuses_new_clients_and_keeps_counting_known_ones() {
    let svc = Service::start(RateLimit {
        max_requests: 2,
        window: Duration::from_secs(60),
        max_clients: 1,
    })
    .await;
    // Linux routes all of 127.0.0.0/8 to the loopback interface: a second
    // client address without a second machine. Elsewhere it may not exist.
    let second_address = std::net::IpAddr::from([127, 0, 0, 2]);
    if std::net::UdpSocket::bind((second_address, 0)).is_err() {
        eprintln!("notice: 127.0.0.2 is not a local address here; test skipped");
        svc.stop().await;
        return;
    }
    let other_client = reqwest::Client::builder()
        .local_address(second_address)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let sign_in_from = |client: &reqwest::Client| {
        client
            .post(format!("{}/sessions", svc.base))
            .json(&json!({ "identifier": "nobody", "password": "whatever it may be" }))
            .send()
    };
    // 127.0.0.1 takes the only place.
    assert_eq!(
        svc.sign_in("nobody", "whatever it may be").await.status,
        StatusCode::UNAUTHORIZED
    );
    // 127.0.0.2 is new and the limiter is full: refused rather than
    // tracked, with a Retry-After within the first client's window.
    let refused = sign_in_from(&other_client).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], json!("rate_limited"));
    // 127.0.0.1 keeps its own budget: one more try, then limited.
    assert_eq!(
        svc.sign_in("nobody", "whatever it may be").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        svc.sign_in("nobody", "whatever it may be").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Only the credential endpoints are limited.
    let health = other_client
        .get(format!("{}/health", svc.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    svc.stop().await;
}

/// Bootstraps Acme with Ada as its Owner, sets her password and signs her
/// in: the organization id, Ada's id and her session token.
async fn ada_signed_in(svc: &Service) -> (String, String, String) {
    let done = bootstrap_first_owner(
        &svc.state.iam,
        &FirstOwnerSpec::for_email("ada@acme.example", Some("Ada Lovelace"), "Acme", "acme"),
    )
    .await
    .unwrap()
    .unwrap();
    let set = svc
        .post(
            "/password-resets/complete",
            Auth::Anonymous,
            json!({ "token": done.setup_link.expose(), "password": ADA_PASSWORD }),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let signed = svc.sign_in("ada@acme.example", ADA_PASSWORD).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    (
        done.bootstrapped.org.to_string(),
        done.bootstrapped.owner.to_string(),
        signed.session_token(),
    )
}

/// What browsers send with a request a page of another origin made: a
/// page on another site, one on a sibling subdomain (same site, so a
/// `SameSite=Lax` cookie rides along), an older browser without fetch
/// metadata, a sandboxed page (opaque origin), and fetch metadata alone.
const FOREIGN_PAGES: [&[(&str, &str)]; 5] = [
    &[
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ],
    &[
        ("sec-fetch-site", "same-site"),
        ("origin", "http://evil.127.0.0.1.nip.io"),
    ],
    &[("origin", "https://evil.example")],
    &[("sec-fetch-site", "cross-site"), ("origin", "null")],
    &[("sec-fetch-site", "same-site")],
];

#[tokio::test]
async fn cross_origin_state_changes_are_refused_on_every_route() {
    let svc = Service::start(generous()).await;
    let (org, ada_id, ada) = ada_signed_in(&svc).await;
    let invited = svc
        .post(
            &format!("/orgs/{org}/invitations"),
            Auth::Cookie(&ada),
            json!({
                "username": "bob", "email": "bob@acme.example",
                "first_name": "Bob", "last_name": "Marley", "role": "read_only",
            }),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let bob_id = invited.str("user");
    let link = svc
        .mailed_link("bob@acme.example", MessageKind::Invitation)
        .await;
    let accepted = svc
        .post(
            "/invitations/accept",
            Auth::Anonymous,
            json!({ "token": link, "password": BOB_PASSWORD }),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let bob = svc.sign_in("bob", BOB_PASSWORD).await.session_token();
    let ws = svc
        .post(
            &format!("/orgs/{org}/workspaces"),
            Auth::Cookie(&ada),
            json!({ "name": "Operations" }),
        )
        .await
        .str("id");
    let key = svc
        .post(
            &format!("/orgs/{org}/workspaces/{ws}/api-keys"),
            Auth::Cookie(&ada),
            json!({ "name": "deploy" }),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.body);
    let (key_id, key) = (
        key.body["key"]["id"].as_str().unwrap().to_owned(),
        key.str("secret"),
    );
    let projects = format!("/orgs/{org}/workspaces/{ws}/projects");
    let deactivate = format!("/orgs/{org}/users/{bob_id}/deactivate");
    let revoke = format!("/orgs/{org}/api-keys/{key_id}");
    let bob_detail = format!("/orgs/{org}/users/{bob_id}");

    // Every state-changing route, body-less ones first, from every kind of
    // foreign page: 403 `cross_origin` before any handler runs.
    let attempts: [(Method, &str, Auth<'_>, Option<Value>); 9] = [
        (Method::POST, &deactivate, Auth::Cookie(&ada), None),
        (Method::DELETE, &revoke, Auth::Cookie(&ada), None),
        (
            Method::DELETE,
            "/sessions/current",
            Auth::Cookie(&ada),
            None,
        ),
        (
            Method::DELETE,
            "/sessions/current",
            Auth::Cookie(&bob),
            None,
        ),
        (Method::POST, "/me/totp", Auth::Cookie(&bob), None),
        (
            Method::PUT,
            &format!("/orgs/{org}/users/{bob_id}/role"),
            Auth::Cookie(&ada),
            Some(json!({ "role": "admin" })),
        ),
        (
            Method::POST,
            &projects,
            Auth::Cookie(&ada),
            Some(json!({ "name": "Apollo" })),
        ),
        // Login CSRF: signing the victim's browser into the attacker's
        // account.
        (
            Method::POST,
            "/sessions",
            Auth::Anonymous,
            Some(json!({ "identifier": "bob", "password": BOB_PASSWORD })),
        ),
        // No route at all: refused before the fallback, too.
        (Method::POST, "/no/such/route", Auth::Cookie(&ada), None),
    ];
    for page in FOREIGN_PAGES {
        for (method, path, auth, body) in &attempts {
            let answer = svc
                .call_from(method.clone(), path, *auth, body.clone(), page)
                .await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{method} {path} from {page:?}: {}",
                answer.body
            );
            assert_eq!(answer.body["error"], json!("cross_origin"));
            assert!(answer.body["message"].is_string());
            assert_eq!(answer.set_cookie, None, "{method} {path}");
        }
    }

    // Nothing changed: both sessions work, Bob is active and Read-only,
    // the key works, no project exists, no TOTP enrolment began.
    assert_eq!(
        svc.get("/me", Auth::Cookie(&ada)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        svc.get("/me", Auth::Cookie(&bob)).await.status,
        StatusCode::OK
    );
    let detail = svc.get(&bob_detail, Auth::Cookie(&ada)).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_eq!(
        detail.body["user"]["status"],
        json!("ACTIVE"),
        "{}",
        detail.body
    );
    assert_eq!(detail.body["org_role"]["name"], json!("Read-only"));
    let listed = svc.get(&projects, Auth::Key(&key)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["projects"], json!([]));
    let audited = svc.actions_involving(&org, &ada_id, &ada).await;
    for action in ["deactivated", "api_key_revoked"] {
        assert!(
            !audited.iter().any(|a| a == action),
            "{action} in {audited:?}"
        );
    }

    // A foreign page may still read (GET changes nothing; CORS keeps the
    // answer from the page).
    let read = svc
        .call_from(
            Method::GET,
            "/me",
            Auth::Cookie(&ada),
            None,
            FOREIGN_PAGES[0],
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);

    // The service's own pages, a typed URL and clients that are no browser
    // change state as before.
    let own_origin = svc.base.clone();
    let same_origin = [
        ("sec-fetch-site", "same-origin"),
        ("origin", own_origin.as_str()),
    ];
    let created = svc
        .call_from(
            Method::POST,
            &projects,
            Auth::Cookie(&ada),
            Some(json!({ "name": "Apollo" })),
            &same_origin,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // The loopback spelling a browser on this machine may use is allowed
    // by default too.
    let localhost = own_origin.replace("127.0.0.1", "localhost");
    let out = svc
        .call_from(
            Method::DELETE,
            "/sessions/current",
            Auth::Cookie(&bob),
            None,
            &[("sec-fetch-site", "same-origin"), ("origin", &localhost)],
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert_eq!(
        svc.get("/me", Auth::Cookie(&bob)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let deactivated = svc
        .call_from(
            Method::POST,
            &deactivate,
            Auth::Cookie(&ada),
            None,
            &[("sec-fetch-site", "none")],
        )
        .await;
    assert_eq!(
        deactivated.status,
        StatusCode::NO_CONTENT,
        "{}",
        deactivated.body
    );
    let detail = svc.get(&bob_detail, Auth::Cookie(&ada)).await;
    assert_eq!(
        detail.body["user"]["status"],
        json!("DEACTIVATED"),
        "{}",
        detail.body
    );
    // curl or a script: neither header.
    let revoked = svc
        .call(Method::DELETE, &revoke, Auth::Cookie(&ada), None)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
    assert_eq!(
        svc.get(&projects, Auth::Key(&key)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The audit query that showed neither before shows both now.
    let audited = svc.actions_involving(&org, &ada_id, &ada).await;
    for action in ["deactivated", "api_key_revoked"] {
        assert!(
            audited.iter().any(|a| a == action),
            "{action} in {audited:?}"
        );
    }
    svc.stop().await;
}

#[tokio::test]
async fn a_configured_front_end_origin_may_change_state_and_no_other() {
    let console = "https://console.acme.example";
    let svc = Service::start_allowing(generous(), &[console]).await;
    let (_, _, ada) = ada_signed_in(&svc).await;
    let from_console = [("sec-fetch-site", "cross-site"), ("origin", console)];
    let signed = svc
        .call_from(
            Method::POST,
            "/sessions",
            Auth::Anonymous,
            Some(json!({ "identifier": "ada", "password": ADA_PASSWORD })),
            &from_console,
        )
        .await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    let second = signed.session_token();
    // A sibling of the configured origin is another origin.
    let sibling = svc
        .call_from(
            Method::DELETE,
            "/sessions/current",
            Auth::Cookie(&ada),
            None,
            &[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://evil.acme.example"),
            ],
        )
        .await;
    assert_eq!(sibling.status, StatusCode::FORBIDDEN);
    assert_eq!(sibling.body["error"], json!("cross_origin"));
    assert_eq!(
        svc.get("/me", Auth::Cookie(&ada)).await.status,
        StatusCode::OK
    );
    let out = svc
        .call_from(
            Method::DELETE,
            "/sessions/current",
            Auth::Cookie(&second),
            None,
            &from_console,
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert_eq!(
        svc.get("/me", Auth::Cookie(&second)).await.status,
        StatusCode::UNAUTHORIZED
    );
    svc.stop().await;
}
