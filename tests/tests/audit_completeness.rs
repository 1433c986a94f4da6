//! Audit completeness (issue 16, item 8): every public workflow of the
//! `Iam` facade is run on SQLite, and every one that changes the stored
//! state must add an audit event. The state is a fingerprint of every
//! table of the database file, read through a connection of its own, so a
//! table added by a later migration is covered without touching this test.
//!
//! The workflows are enumerated from the facade's source: a `pub async fn`
//! of `impl Iam` (or a `pub fn` taking `&self`) without a case here fails
//! the test, naming the method.
//!
//! All cases run, and every finding is reported at the end in one message.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{Duration, TimeZone, Utc};
use iamkit::credentials::{
    ClientMetadata, NewApiKey, Password, SealingKeyId, SecretBytes, TotpAlgorithm, TotpSetup,
    XChaChaSealer, totp_code,
};
use iamkit::identity::{DirectoryQuery, OrgId, TeamRole, UserId, WorkspaceId};
use iamkit::rbac::{AssignableAt, BuiltinRole, Collective, Scope};
use iamkit::{
    Actor, Clock, Config, FirstOwner, Iam, ManualClock, MessageKind, Placement, ProfileUpdate,
    RequestedChange, RoleSpec,
};
use iamkit_store_sqlite::SqliteStore;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

mod common;
use common::{PASSWORD, account, cheap_config};

/// Whether a workflow, when it succeeds, changes what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Change,
    ReadOnly,
}

/// Every public workflow of `impl Iam` in `crates/iamkit/src`, classified.
/// A *change* needs a case that makes it succeed and change state; a
/// *read-only* one a case that calls it. The completeness check compares
/// this list with the source.
const WORKFLOWS: &[(&str, Kind)] = &[
    // access_requests.rs
    ("request_access", Kind::Change),
    ("list_access_requests", Kind::ReadOnly),
    ("approve_access_request", Kind::Change),
    ("reject_access_request", Kind::Change),
    // api_keys.rs
    ("create_api_key", Kind::Change),
    ("list_api_keys", Kind::ReadOnly),
    ("revoke_api_key", Kind::Change),
    // attempts.rs: marks the session freshly authenticated.
    ("reauthenticate", Kind::Change),
    // auto_join.rs
    ("set_auto_join", Kind::Change),
    ("set_two_factor_required", Kind::Change),
    ("set_default_time_zone", Kind::Change),
    ("join_by_domain", Kind::Change),
    // bootstrap.rs, setup_link.rs
    ("bootstrap", Kind::Change),
    ("bootstrap_with_setup_link", Kind::Change),
    // custom_roles.rs
    ("create_custom_role", Kind::Change),
    ("update_custom_role", Kind::Change),
    ("delete_custom_role", Kind::Change),
    ("list_custom_roles", Kind::ReadOnly),
    // deactivation.rs, deletion.rs
    ("deactivate", Kind::Change),
    ("reactivate", Kind::Change),
    ("delete_user", Kind::Change),
    // departments.rs
    ("create_department", Kind::Change),
    ("rename_department", Kind::Change),
    ("delete_department", Kind::Change),
    ("list_departments", Kind::ReadOnly),
    // audit_trail.rs (an export records itself, but changes nothing else)
    ("audit_log", Kind::ReadOnly),
    ("export_audit", Kind::ReadOnly),
    ("verify_audit", Kind::ReadOnly),
    // directory.rs
    ("directory", Kind::ReadOnly),
    ("members_with_role", Kind::ReadOnly),
    ("user_detail", Kind::ReadOnly),
    ("explain", Kind::ReadOnly),
    // email_verification.rs
    ("request_email_change", Kind::Change),
    ("resend_verification", Kind::Change),
    ("verify_email", Kind::Change),
    // groups.rs
    ("create_group", Kind::Change),
    ("create_team", Kind::Change),
    ("rename_collective", Kind::Change),
    ("delete_collective", Kind::Change),
    ("add_member", Kind::Change),
    ("remove_member", Kind::Change),
    ("set_team_role", Kind::Change),
    ("set_collective_role", Kind::Change),
    // iam.rs (sync, `&self`)
    ("catalogue", Kind::ReadOnly),
    // change_log.rs (sync, `&self`)
    ("index_stats", Kind::ReadOnly),
    // invitations.rs
    ("invite", Kind::Change),
    ("resend_invitation", Kind::Change),
    ("revoke_invitation", Kind::Change),
    ("accept_invitation", Kind::Change),
    ("accept_invitation_with_profile", Kind::Change),
    ("accept_invitation_signed_in", Kind::Change),
    ("create_user", Kind::Change),
    // import.rs
    ("import_users", Kind::Change),
    // organizations.rs
    ("organizations_of", Kind::ReadOnly),
    // outbox.rs: delivery bookkeeping only (see EXCLUDED_COLUMNS).
    ("drain_outbox", Kind::ReadOnly),
    ("acknowledge", Kind::ReadOnly),
    // password_reset.rs
    ("change_password", Kind::Change),
    ("send_password_reset", Kind::Change),
    // Queues in memory; its link is issued by the next drain_outbox, which
    // its case runs.
    ("request_password_reset", Kind::Change),
    ("reset_password", Kind::Change),
    // profiles.rs, roles.rs
    ("update_profile", Kind::Change),
    ("change_org_role", Kind::Change),
    ("set_workspace_role", Kind::Change),
    // sealing.rs: rewrites sealed secrets under the current key.
    ("reseal", Kind::Change),
    // self_service.rs
    ("is_allowed", Kind::ReadOnly),
    ("list_my_sessions", Kind::ReadOnly),
    ("revoke_my_session", Kind::Change),
    ("revoke_my_sessions", Kind::Change),
    ("revoke_sessions_of_user", Kind::Change),
    // service_accounts.rs
    ("create_service_account", Kind::Change),
    ("create_service_account_key", Kind::Change),
    ("list_service_accounts", Kind::ReadOnly),
    // sessions.rs
    ("log_in", Kind::Change),
    ("authenticate_session", Kind::ReadOnly),
    ("authenticate_api_key", Kind::ReadOnly),
    // two_factor.rs
    ("begin_totp_enrolment", Kind::Change),
    ("confirm_totp_enrolment", Kind::Change),
    ("regenerate_recovery_codes", Kind::Change),
    ("disable_two_factor", Kind::Change),
    ("complete_sign_in_with_totp", Kind::Change),
    ("complete_sign_in_with_recovery_code", Kind::Change),
    // workspaces.rs
    ("create_workspace", Kind::Change),
];

/// Tables left out of the fingerprint.
const EXCLUDED_TABLES: &[(&str, &str)] = &[
    (
        "audit_events",
        "the audit trail itself: what the rule counts",
    ),
    (
        "audit_heads",
        "the audit chain's heads: move with every event",
    ),
    (
        "authz_versions",
        "bumped by every audited change, a cache stamp, not state of its own",
    ),
    ("iamkit_migrations", "migration bookkeeping"),
];

/// Columns left out of the fingerprint: they record reads or deliveries,
/// not changes.
const EXCLUDED_COLUMNS: &[(&str, &str, &str)] = &[
    (
        "sessions",
        "last_seen_at",
        "activity, touched by authenticate_session on a read",
    ),
    (
        "api_keys",
        "last_used_at",
        "activity, touched by authenticate_api_key on a read",
    ),
    (
        "outbox",
        "delivered_at",
        "delivery bookkeeping of the app's mail loop (drain_outbox, acknowledge), not IAM state",
    ),
];

/// Issue 16 item 8 names the events some changes need, beyond "an event":
/// a revoked session or key (also by a cascade), a re-hashed password, a
/// started or replaced TOTP enrolment. So a change to one of these tables
/// must come with an event of a kind that accounts for it. A new action
/// that accounts for one (say, a cascade's count of revoked sessions) is
/// added to its table's list here.
const ACCOUNTED_FOR_BY: &[(&str, &[&str])] = &[
    (
        "sessions",
        &[
            "signed_in",
            "password_verified",
            "reauthenticated",
            "session_revoked",
            "credentials_revoked",
        ],
    ),
    (
        "api_keys",
        &["api_key_created", "api_key_revoked", "credentials_revoked"],
    ),
    (
        "password_hashes",
        &[
            "user_created",
            "user_imported",
            "invite_accepted",
            "account_reclaimed",
            "password_changed",
            "password_reset_completed",
            "password_rehashed",
            "deleted",
        ],
    ),
    (
        "totp_enrollments",
        &[
            "two_factor_enrolment_started",
            "two_factor_enrolled",
            "two_factor_disabled",
            "secrets_resealed",
            "signed_in",
            "account_reclaimed",
            "deleted",
        ],
    ),
    (
        "recovery_codes",
        &[
            "two_factor_enrolled",
            "recovery_codes_regenerated",
            "two_factor_disabled",
            "signed_in",
        ],
    ),
];

/// What a case runs, and so what it must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A successful change: state changes, with an event.
    Change,
    /// A read: state unchanged (or, if it changed, with an event).
    ReadOnly,
    /// A refused attempt: if it changed state (a throttle count, say), an
    /// event says so.
    Attempt,
    /// A failed sign-in: an event whether or not anything else changed.
    MustAudit,
}

/// The stored state: every row of every fingerprinted table (columns
/// quoted by SQLite, sorted), and the audit events of every chain.
struct Snapshot {
    tables: BTreeMap<String, Vec<String>>,
    /// (chain, seq, action kind) of every audit event, whatever its chain.
    events: BTreeSet<(String, i64, String)>,
}

struct Bench {
    reader: SqlitePool,
    findings: Mutex<Vec<String>>,
    /// Which cases ran, by method and expectation.
    ran: Mutex<Vec<(&'static str, Expect)>>,
}

impl Bench {
    async fn snapshot(&self) -> Snapshot {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await
        .unwrap();
        let mut tables = BTreeMap::new();
        for table in names {
            if EXCLUDED_TABLES.iter().any(|(t, _)| *t == table) {
                continue;
            }
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
                    .bind(&table)
                    .fetch_all(&self.reader)
                    .await
                    .unwrap();
            let kept: Vec<String> = columns
                .into_iter()
                .filter(|c| {
                    !EXCLUDED_COLUMNS
                        .iter()
                        .any(|(t, col, _)| *t == table && col == c)
                })
                .map(|c| format!("quote(\"{c}\")"))
                .collect();
            assert!(!kept.is_empty(), "{table}: every column excluded");
            let sql = format!("SELECT {} FROM \"{table}\"", kept.join(" || '|' || "));
            // Names from the schema of the test's own database, quoted.
            let mut rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&self.reader)
                .await
                .unwrap();
            rows.sort();
            tables.insert(table, rows);
        }
        let events: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT org_id, seq, json_extract(data, '$.action.kind') FROM audit_events",
        )
        .fetch_all(&self.reader)
        .await
        .unwrap();
        let events = events
            .into_iter()
            .map(|(org, seq, kind)| (org, seq, kind.unwrap_or_default()))
            .collect();
        Snapshot { tables, events }
    }

    /// Runs `run` between two snapshots and judges the difference.
    async fn case<T>(&self, name: &'static str, expect: Expect, run: impl Future<Output = T>) -> T {
        let before = self.snapshot().await;
        let out = run.await;
        let after = self.snapshot().await;
        self.judge(name, expect, &before, &after);
        let method = name.split(':').next().unwrap_or(name).trim();
        let method = WORKFLOWS
            .iter()
            .map(|(m, _)| *m)
            .find(|m| *m == method)
            .unwrap_or_else(|| panic!("case {name:?}: {method} is not in WORKFLOWS"));
        self.ran.lock().unwrap().push((method, expect));
        out
    }

    fn judge(&self, name: &str, expect: Expect, before: &Snapshot, after: &Snapshot) {
        let changed = changed_tables(before, after);
        let added: Vec<&str> = after
            .events
            .difference(&before.events)
            .map(|(_, _, kind)| kind.as_str())
            .collect();
        let tables = changed
            .iter()
            .map(|(t, plus, minus)| format!("{t} (+{plus} -{minus})"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut findings = Vec::new();
        if expect == Expect::Change && changed.is_empty() {
            findings.push(format!(
                "{name}: the scenario changed nothing (a change case must change state: fix the \
                 scenario)"
            ));
        }
        if expect == Expect::MustAudit && added.is_empty() {
            findings.push(format!(
                "{name}: no audit event (a failed sign-in must be audited; without an \
                 organization, in the system chain){}",
                if changed.is_empty() {
                    String::new()
                } else {
                    format!("; changed {tables}")
                }
            ));
        } else if !changed.is_empty() && added.is_empty() {
            findings.push(format!("{name}: changed {tables} without an audit event"));
        }
        if !added.is_empty() {
            for (table, plus, minus) in &changed {
                let Some((_, kinds)) = ACCOUNTED_FOR_BY.iter().find(|(t, _)| t == table) else {
                    continue;
                };
                if !added.iter().any(|k| kinds.contains(k)) {
                    findings.push(format!(
                        "{name}: changed {table} (+{plus} -{minus}), but no event added ({}) \
                         accounts for it (accounted for by: {}; list a new action that does in \
                         ACCOUNTED_FOR_BY)",
                        added.join(", "),
                        kinds.join(", ")
                    ));
                }
            }
        }
        if expect == Expect::ReadOnly && !changed.is_empty() && !added.is_empty() {
            eprintln!(
                "note: {name} is listed read-only but changed {tables} (audited: {}); list it as \
                 a change",
                added.join(", ")
            );
        }
        self.findings.lock().unwrap().extend(findings);
    }

    fn finding(&self, text: String) {
        self.findings.lock().unwrap().push(text);
    }
}

/// (table, rows only after, rows only before) of each table that differs.
fn changed_tables(before: &Snapshot, after: &Snapshot) -> Vec<(String, usize, usize)> {
    let names: BTreeSet<&String> = before.tables.keys().chain(after.tables.keys()).collect();
    let empty = Vec::new();
    let mut changed = Vec::new();
    for name in names {
        let old = before.tables.get(name).unwrap_or(&empty);
        let new = after.tables.get(name).unwrap_or(&empty);
        if old != new {
            changed.push((
                name.clone(),
                count_missing(new, old),
                count_missing(old, new),
            ));
        }
    }
    changed
}

/// How many rows of `rows` (a sorted multiset) are not in `other`.
fn count_missing(rows: &[String], other: &[String]) -> usize {
    let mut counts: BTreeMap<&String, isize> = BTreeMap::new();
    for row in rows {
        *counts.entry(row).or_default() += 1;
    }
    for row in other {
        *counts.entry(row).or_default() -= 1;
    }
    counts
        .values()
        .filter(|n| **n > 0)
        .map(|n| *n as usize)
        .sum()
}

/// The workflows of the facade's source, with the file of each.
fn facade_workflows() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/iamkit/src");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut found = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
        for name in workflows_in(&text) {
            found.insert(name, file_name.clone());
        }
    }
    found
}

/// The `pub async fn`s, and the `pub fn`s taking `&self`, of the inherent
/// `impl ... Iam<..>` blocks of `source`. rustfmt puts an impl block's
/// first and last line at column 0, which is what this relies on.
fn workflows_in(source: &str) -> Vec<String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut in_iam = false;
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(header) = line.strip_prefix("impl") {
            in_iam = implements_iam(header);
            continue;
        }
        if *line == "}" {
            in_iam = false;
            continue;
        }
        if !in_iam {
            continue;
        }
        let trimmed = line.trim_start();
        let (rest, is_async) = if let Some(rest) = trimmed.strip_prefix("pub async fn ") {
            (rest, true)
        } else if let Some(rest) = trimmed.strip_prefix("pub fn ") {
            (rest, false)
        } else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // The signature runs to the body's opening brace.
        let mut signature = String::new();
        for next in lines.iter().skip(i) {
            signature.push_str(next);
            if next.trim_end().ends_with('{') {
                break;
            }
        }
        if is_async || signature.contains("&self") {
            found.push(name);
        }
    }
    found
}

/// Whether an impl header (after `impl`) is an inherent impl of `Iam`.
fn implements_iam(header: &str) -> bool {
    if header.contains(" for ") {
        return false;
    }
    // Skip the impl's own generic parameters.
    let mut rest = header;
    if rest.starts_with('<') {
        let mut depth = 0;
        for (at, c) in rest.char_indices() {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                rest = &rest[at + 1..];
                break;
            }
        }
    }
    let self_type = rest.trim().split('<').next().unwrap_or_default();
    self_type.rsplit("::").next() == Some("Iam")
}

#[test]
fn the_source_scan_finds_every_kind_of_workflow() {
    let source = r#"
impl<S: Store> Iam<S> {
    pub async fn invite(&self) -> Result<()> {
        self.helper().await
    }

    pub(crate) async fn helper(&self) -> Result<()> {
        Ok(())
    }

    pub fn catalogue(
        &self,
    ) -> &Catalogue {
        &self.catalogue
    }

    pub fn builder(store: S) -> IamBuilder<S> {
        todo!()
    }
}

impl<S: crate::Store> crate::Iam<S> {
    pub async fn drain_outbox(&self) -> Result<()> {
        Ok(())
    }
}

impl<S: Store> Clone for Iam<S> {
    pub fn clone(&self) -> Self {
        todo!()
    }
}

impl<S: Store> IamBuilder<S> {
    pub fn build(&self) -> Iam<S> {
        todo!()
    }
}

pub async fn outside(iam: &Iam<S>) {}
"#;
    assert_eq!(
        workflows_in(source),
        ["invite", "catalogue", "drain_outbox"]
    );
}

fn sealer(keys: &[(u32, u8)]) -> XChaChaSealer {
    let ((current, byte), old) = keys.split_first().unwrap();
    let mut ring = XChaChaSealer::ring(
        SealingKeyId::new(*current),
        &SecretBytes::new(vec![*byte; 32]),
    )
    .unwrap();
    for (id, byte) in old {
        ring = ring
            .with_old_key(SealingKeyId::new(*id), &SecretBytes::new(vec![*byte; 32]))
            .unwrap();
    }
    ring
}

fn iam_over(
    store: &SqliteStore,
    clock: &ManualClock,
    config: Config,
    sealer: XChaChaSealer,
) -> Iam<SqliteStore> {
    Iam::builder(store.clone(), sealer)
        .clock(Arc::new(clock.clone()))
        .config(config)
        .permission("workflows.run", &[BuiltinRole::Owner, BuiltinRole::Admin])
        .build()
        .unwrap()
}

async fn sign_in(iam: &Iam<SqliteStore>, who: &str) -> Actor {
    let signed = iam
        .log_in(who, &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap();
    iam.authenticate_session(signed.token.expose())
        .await
        .unwrap()
}

/// The link of the one waiting message of `kind` for `user`, delivered (drained and
/// acknowledged with everything else waiting).
async fn link_for(iam: &Iam<SqliteStore>, user: UserId, kind: MessageKind) -> String {
    let messages = iam.drain_outbox(1000).await.unwrap();
    // Messages of one instant of the manual clock come in no set order:
    // exactly one may match.
    let matching: Vec<_> = messages
        .iter()
        .filter(|m| m.recipient == user && m.kind == kind)
        .collect();
    assert_eq!(matching.len(), 1, "one {kind:?} message for {user:?}");
    let link = matching
        .first()
        .and_then(|m| m.link_secret.as_ref())
        .unwrap()
        .expose()
        .to_owned();
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    iam.acknowledge(&ids).await.unwrap();
    link
}

/// `link` with its secret's last hex digit changed: the right record, a
/// wrong secret.
fn tampered(link: &str) -> String {
    let mut text = link.to_owned();
    let last = text.pop().unwrap();
    text.push(if last == '0' { '1' } else { '0' });
    text
}

fn role(role: BuiltinRole) -> Placement {
    Placement {
        org_role: Some(role.id()),
        ..Placement::default()
    }
}

fn key_in(workspace: WorkspaceId, name: &str) -> NewApiKey {
    NewApiKey {
        name: name.to_owned(),
        workspace,
        restriction: None,
        expires_at: None,
    }
}

fn code_now(clock: &ManualClock, setup: &TotpSetup) -> String {
    let unix = u64::try_from(clock.now().timestamp()).unwrap();
    totp_code(&setup.secret, TotpAlgorithm::Sha1, 6, 30, unix)
        .unwrap()
        .expose()
        .to_owned()
}

/// A six-digit code that is not the current one.
fn wrong_code(clock: &ManualClock, setup: &TotpSetup) -> String {
    let right = code_now(clock, setup);
    let n: u32 = right.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// Removes the database file (and its WAL and shared memory) on drop.
struct DatabaseFile(PathBuf);

impl Drop for DatabaseFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

#[test]
fn every_facade_workflow_has_a_case() {
    let source = facade_workflows();
    let listed: BTreeSet<&str> = WORKFLOWS.iter().map(|(m, _)| *m).collect();
    let mut problems = Vec::new();
    for (method, file) in &source {
        if !listed.contains(method.as_str()) {
            problems.push(format!(
                "Iam::{method} ({file}) is a public workflow with no case: add it to WORKFLOWS \
                 (change or read-only) and give it a scenario in every_state_change_is_audited"
            ));
        }
    }
    for method in &listed {
        if !source.contains_key(*method) {
            problems.push(format!(
                "WORKFLOWS lists Iam::{method}, which crates/iamkit/src no longer has"
            ));
        }
    }
    assert!(
        source.len() > 60,
        "the source scan found only {} workflows: is the parser still right?",
        source.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_change_is_audited() {
    let path = std::env::temp_dir().join(format!(
        "iamkit-audit-completeness-{}.sqlite3",
        std::process::id()
    ));
    let _file = DatabaseFile(path.clone());
    drop(DatabaseFile(path.clone()));
    let store = SqliteStore::open(&path).await.unwrap();
    store.migrate().await.unwrap();
    let reader = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(&path).read_only(true))
        .await
        .unwrap();
    let b = Bench {
        reader,
        findings: Mutex::new(Vec::new()),
        ran: Mutex::new(Vec::new()),
    };
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    let iam = iam_over(&store, &clock, cheap_config(), sealer(&[(0, 7)]));
    let system = Actor::system();
    let pw = || Password::new(PASSWORD);

    // The first organization, as every installation starts.
    let acme = iam
        .bootstrap(
            &system,
            "Acme",
            "acme",
            FirstOwner::NewUser {
                account: account("owner"),
                password: pw(),
            },
        )
        .await
        .unwrap()
        .org;
    let owner = sign_in(&iam, "owner").await;

    // Organizations --------------------------------------------------------
    let beta = b
        .case(
            "bootstrap",
            Expect::Change,
            iam.bootstrap(
                &system,
                "Beta",
                "beta",
                FirstOwner::NewUser {
                    account: account("bowner"),
                    password: pw(),
                },
            ),
        )
        .await
        .unwrap()
        .org;
    let bowner = sign_in(&iam, "bowner").await;
    let gamma = b
        .case(
            "bootstrap_with_setup_link",
            Expect::Change,
            iam.bootstrap_with_setup_link(&system, "Gamma", "gamma", &account("gowner")),
        )
        .await
        .unwrap();
    b.case(
        "reset_password: the setup link",
        Expect::Change,
        iam.reset_password(gamma.setup_link.expose(), pw()),
    )
    .await
    .unwrap();
    let gamma = gamma.bootstrapped.org;
    let gowner = sign_in(&iam, "gowner").await;
    let ws = b
        .case(
            "create_workspace",
            Expect::Change,
            iam.create_workspace(&owner, acme, "Ops"),
        )
        .await
        .unwrap();

    // Invitations ----------------------------------------------------------
    let ivy_id = b
        .case(
            "invite",
            Expect::Change,
            iam.invite(&owner, acme, &account("ivy"), &role(BuiltinRole::Admin)),
        )
        .await
        .unwrap()
        .user;
    // Delivered, so that only the re-sent link waits.
    link_for(&iam, ivy_id, MessageKind::Invitation).await;
    b.case(
        "resend_invitation",
        Expect::Change,
        iam.resend_invitation(&owner, acme, ivy_id),
    )
    .await
    .unwrap();
    let link = link_for(&iam, ivy_id, MessageKind::Invitation).await;
    b.case(
        "accept_invitation: a wrong link secret",
        Expect::Attempt,
        iam.accept_invitation(&tampered(&link), pw()),
    )
    .await
    .unwrap_err();
    b.case(
        "accept_invitation",
        Expect::Change,
        iam.accept_invitation(&link, pw()),
    )
    .await
    .unwrap();
    let ivy = sign_in(&iam, "ivy").await;

    let jo_id = iam
        .invite(&owner, acme, &account("joy"), &role(BuiltinRole::ReadOnly))
        .await
        .unwrap()
        .user;
    let link = link_for(&iam, jo_id, MessageKind::Invitation).await;
    b.case(
        "accept_invitation_with_profile",
        Expect::Change,
        iam.accept_invitation_with_profile(
            &link,
            pw(),
            &ProfileUpdate {
                first_name: Some("Jo".to_owned()),
                ..ProfileUpdate::default()
            },
        ),
    )
    .await
    .unwrap();
    let jo = sign_in(&iam, "joy").await;

    let kim_id = b
        .case(
            "create_user",
            Expect::Change,
            iam.create_user(
                &owner,
                acme,
                &account("kim"),
                pw(),
                &role(BuiltinRole::Admin),
            ),
        )
        .await
        .unwrap();
    let kim = sign_in(&iam, "kim").await;
    let imported = [iamkit::ImportRecord {
        email: "ivy-import@acme.example".to_owned(),
        username: "ivy-import".to_owned(),
        first_name: "Ivy".to_owned(),
        last_name: "Imported".to_owned(),
        password_hash: Some(
            "$2b$04$0OF4cToNk6iJ5nQEhu2wDO174HczlonJSZec3m1fA7/fIY0//o6A6".to_owned(),
        ),
        ..iamkit::ImportRecord::default()
    }];
    let report = b
        .case(
            "import_users",
            Expect::Change,
            iam.import_users(&owner, acme, &imported),
        )
        .await
        .unwrap();
    assert_eq!(report.imported.len(), 1, "{report:?}");
    b.case(
        "resend_verification",
        Expect::Change,
        iam.resend_verification(&kim),
    )
    .await
    .unwrap();

    let lee_id = iam
        .invite(&owner, acme, &account("lee"), &Placement::default())
        .await
        .unwrap()
        .user;
    b.case(
        "revoke_invitation",
        Expect::Change,
        iam.revoke_invitation(&owner, acme, lee_id),
    )
    .await
    .unwrap();

    // Ivy (verified) joins Beta with her session as consent.
    iam.invite(&bowner, beta, &account("ivy"), &Placement::default())
        .await
        .unwrap();
    let link = link_for(&iam, ivy_id, MessageKind::Invitation).await;
    b.case(
        "accept_invitation_signed_in",
        Expect::Change,
        iam.accept_invitation_signed_in(&ivy, &link),
    )
    .await
    .unwrap();

    // Jo (verified) joins Gamma with her password as consent.
    iam.invite(&gowner, gamma, &account("joy"), &Placement::default())
        .await
        .unwrap();
    let link = link_for(&iam, jo_id, MessageKind::Invitation).await;
    b.case(
        "accept_invitation: consent with a wrong password",
        Expect::Attempt,
        iam.accept_invitation(&link, Password::new("not the password of jo at all")),
    )
    .await
    .unwrap_err();
    b.case(
        "accept_invitation: consent with the account's password",
        Expect::Change,
        iam.accept_invitation(&link, pw()),
    )
    .await
    .unwrap();

    // Kim's address was never proved: whoever accepts through it reclaims
    // the account, ending her session and key.
    iam.create_api_key(&kim, acme, key_in(ws, "kim-ci"))
        .await
        .unwrap();
    iam.invite(&bowner, beta, &account("kim"), &Placement::default())
        .await
        .unwrap();
    let link = link_for(&iam, kim_id, MessageKind::Invitation).await;
    b.case(
        "accept_invitation: reclaiming an unverified account",
        Expect::Change,
        iam.accept_invitation(&link, Password::new("a brand new passphrase of her own")),
    )
    .await
    .unwrap();

    // Roles, groups, teams, custom roles -------------------------------------
    b.case(
        "change_org_role",
        Expect::Change,
        iam.change_org_role(&owner, acme, jo_id, Some(BuiltinRole::Requester.id())),
    )
    .await
    .unwrap();
    b.case(
        "set_workspace_role",
        Expect::Change,
        iam.set_workspace_role(&owner, acme, ws, jo_id, Some(BuiltinRole::ReadOnly.id())),
    )
    .await
    .unwrap();
    let group = Collective::Group(
        b.case(
            "create_group",
            Expect::Change,
            iam.create_group(&owner, acme, "Platform"),
        )
        .await
        .unwrap(),
    );
    let team_id = b
        .case(
            "create_team",
            Expect::Change,
            iam.create_team(&owner, acme, "Red"),
        )
        .await
        .unwrap();
    let team = Collective::Team(team_id);
    b.case(
        "rename_collective",
        Expect::Change,
        iam.rename_collective(&owner, acme, group, "Platform team"),
    )
    .await
    .unwrap();
    b.case(
        "add_member: a group",
        Expect::Change,
        iam.add_member(&owner, acme, group, jo_id, TeamRole::Member),
    )
    .await
    .unwrap();
    b.case(
        "add_member: a team",
        Expect::Change,
        iam.add_member(&owner, acme, team, jo_id, TeamRole::Member),
    )
    .await
    .unwrap();
    b.case(
        "set_team_role",
        Expect::Change,
        iam.set_team_role(&owner, acme, team_id, jo_id, TeamRole::Lead),
    )
    .await
    .unwrap();
    b.case(
        "set_collective_role",
        Expect::Change,
        iam.set_collective_role(
            &owner,
            group,
            Scope::Organization(acme),
            Some(BuiltinRole::ReadOnly.id()),
        ),
    )
    .await
    .unwrap();
    b.case(
        "remove_member",
        Expect::Change,
        iam.remove_member(&owner, acme, group, jo_id),
    )
    .await
    .unwrap();
    b.case(
        "delete_collective",
        Expect::Change,
        iam.delete_collective(&owner, acme, team),
    )
    .await
    .unwrap();

    // Departments: deleting one is refused while a member is filed under
    // it, and changes nothing then.
    let sales = b
        .case(
            "create_department",
            Expect::Change,
            iam.create_department(&owner, acme, "Sales"),
        )
        .await
        .unwrap()
        .id;
    b.case(
        "rename_department",
        Expect::Change,
        iam.rename_department(&owner, acme, sales, "Sales and Marketing"),
    )
    .await
    .unwrap();
    b.case(
        "list_departments",
        Expect::ReadOnly,
        iam.list_departments(&owner, acme),
    )
    .await
    .unwrap();
    let filed_under = |department| ProfileUpdate {
        department: Some(department),
        ..ProfileUpdate::default()
    };
    b.case(
        "update_profile: a department",
        Expect::Change,
        iam.update_profile(&owner, acme, jo_id, &filed_under(Some(sales))),
    )
    .await
    .unwrap();
    b.case(
        "directory: by department",
        Expect::ReadOnly,
        iam.directory(&owner, acme, &DirectoryQuery::new().with_department(sales)),
    )
    .await
    .unwrap();
    b.case(
        "delete_department: a member is filed under it",
        Expect::Attempt,
        iam.delete_department(&owner, acme, sales),
    )
    .await
    .unwrap_err();
    iam.update_profile(&owner, acme, jo_id, &filed_under(None))
        .await
        .unwrap();
    b.case(
        "delete_department",
        Expect::Change,
        iam.delete_department(&owner, acme, sales),
    )
    .await
    .unwrap();

    let spec = |permissions: &[&str]| RoleSpec {
        name: "Helpdesk".to_owned(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        assignable_at: AssignableAt::ANY,
    };
    let helpdesk = b
        .case(
            "create_custom_role",
            Expect::Change,
            iam.create_custom_role(&owner, acme, &spec(&["users.read"])),
        )
        .await
        .unwrap();
    b.case(
        "update_custom_role",
        Expect::Change,
        iam.update_custom_role(&owner, acme, helpdesk, &spec(&["users.read", "roles.read"])),
    )
    .await
    .unwrap();
    b.case(
        "list_custom_roles",
        Expect::ReadOnly,
        iam.list_custom_roles(&owner, acme),
    )
    .await
    .unwrap();
    b.case(
        "delete_custom_role",
        Expect::Change,
        iam.delete_custom_role(&owner, acme, helpdesk),
    )
    .await
    .unwrap();

    // API keys, service accounts --------------------------------------------
    let ivy_key = b
        .case(
            "create_api_key",
            Expect::Change,
            iam.create_api_key(&ivy, acme, key_in(ws, "ivy-ci")),
        )
        .await
        .unwrap();
    b.case(
        "list_api_keys",
        Expect::ReadOnly,
        iam.list_api_keys(&owner, acme, ws),
    )
    .await
    .unwrap();
    b.case(
        "authenticate_api_key",
        Expect::ReadOnly,
        iam.authenticate_api_key(ivy_key.secret.expose()),
    )
    .await
    .unwrap();
    let spare = iam
        .create_api_key(&ivy, acme, key_in(ws, "ivy-spare"))
        .await
        .unwrap();
    b.case(
        "revoke_api_key",
        Expect::Change,
        iam.revoke_api_key(&owner, acme, spare.key.id),
    )
    .await
    .unwrap();
    let ci = b
        .case(
            "create_service_account",
            Expect::Change,
            iam.create_service_account(&owner, acme, "robot", "Robot", &Placement::default()),
        )
        .await
        .unwrap();
    b.case(
        "create_service_account_key",
        Expect::Change,
        iam.create_service_account_key(&owner, acme, ci, key_in(ws, "ci")),
    )
    .await
    .unwrap();
    b.case(
        "list_service_accounts",
        Expect::ReadOnly,
        iam.list_service_accounts(&owner, acme),
    )
    .await
    .unwrap();

    // Signing in, sessions, reads -------------------------------------------
    let mo_id = iam
        .invite(&owner, acme, &account("moe"), &role(BuiltinRole::ReadOnly))
        .await
        .unwrap()
        .user;
    let link = link_for(&iam, mo_id, MessageKind::Invitation).await;
    iam.accept_invitation(&link, pw()).await.unwrap();
    let signed = b
        .case(
            "log_in",
            Expect::Change,
            iam.log_in("moe", &pw(), ClientMetadata::default()),
        )
        .await
        .unwrap();
    b.case(
        "log_in: a wrong password",
        Expect::MustAudit,
        iam.log_in(
            "moe",
            &Password::new("not the password of mo at all"),
            ClientMetadata::default(),
        ),
    )
    .await
    .unwrap_err();
    b.case(
        "log_in: an unknown username",
        Expect::MustAudit,
        iam.log_in("nobody", &pw(), ClientMetadata::default()),
    )
    .await
    .unwrap_err();
    // Another Iam with dearer argon2 parameters finds mo's hash outdated.
    let dearer = Config {
        argon2: iamkit::credentials::Argon2Params {
            m_cost_kib: 128,
            ..cheap_config().argon2
        },
        ..cheap_config()
    };
    let rehashing = iam_over(&store, &clock, dearer, sealer(&[(0, 7)]));
    b.case(
        "log_in: an outdated password hash is re-hashed",
        Expect::Change,
        rehashing.log_in("moe", &pw(), ClientMetadata::default()),
    )
    .await
    .unwrap();
    // Late enough that the request records activity, which is a read.
    clock.advance(iamkit::TOUCH_GRANULARITY + Duration::seconds(1));
    let mo = b
        .case(
            "authenticate_session",
            Expect::ReadOnly,
            iam.authenticate_session(signed.token.expose()),
        )
        .await
        .unwrap();
    b.case(
        "is_allowed",
        Expect::ReadOnly,
        iam.is_allowed(&owner, "users.read", Scope::Organization(acme)),
    )
    .await;
    b.case(
        "organizations_of",
        Expect::ReadOnly,
        iam.organizations_of(&mo),
    )
    .await
    .unwrap();
    b.case(
        "list_my_sessions",
        Expect::ReadOnly,
        iam.list_my_sessions(&mo),
    )
    .await
    .unwrap();
    b.case("catalogue", Expect::ReadOnly, async {
        iam.catalogue().id("users.read")
    })
    .await
    .unwrap();
    b.case("index_stats", Expect::ReadOnly, async {
        Some(iam.index_stats())
    })
    .await
    .unwrap();
    b.case(
        "directory",
        Expect::ReadOnly,
        iam.directory(&owner, acme, &DirectoryQuery::new()),
    )
    .await
    .unwrap();
    b.case(
        "audit_log",
        Expect::ReadOnly,
        iam.audit_log(&owner, acme, &Default::default(), None, 50),
    )
    .await
    .unwrap();
    b.case(
        "export_audit",
        Expect::ReadOnly,
        iam.export_audit(&owner, acme, None, None, Vec::new()),
    )
    .await
    .unwrap();
    b.case(
        "verify_audit",
        Expect::ReadOnly,
        iam.verify_audit(&owner, acme),
    )
    .await
    .unwrap();
    b.case(
        "members_with_role",
        Expect::ReadOnly,
        iam.members_with_role(&owner, acme, BuiltinRole::Admin.id()),
    )
    .await
    .unwrap();
    b.case(
        "user_detail",
        Expect::ReadOnly,
        iam.user_detail(&owner, acme, mo_id),
    )
    .await
    .unwrap();
    b.case(
        "explain",
        Expect::ReadOnly,
        iam.explain(&owner, mo_id, "users.read", Scope::Organization(acme)),
    )
    .await
    .unwrap();
    // A proof later than the sign-in's.
    clock.advance(Duration::minutes(2));
    b.case(
        "reauthenticate",
        Expect::Change,
        iam.reauthenticate(&mo, &pw()),
    )
    .await
    .unwrap();
    b.case(
        "reauthenticate: a wrong password",
        Expect::Attempt,
        iam.reauthenticate(&mo, &Password::new("not the password of mo at all")),
    )
    .await
    .unwrap_err();
    b.case(
        "request_email_change",
        Expect::Change,
        iam.request_email_change(&mo, "moe.new@acme.example"),
    )
    .await
    .unwrap();
    let link = link_for(&iam, mo_id, MessageKind::EmailVerification).await;
    b.case("verify_email", Expect::Change, iam.verify_email(&link))
        .await
        .unwrap();
    b.case(
        "change_password: a wrong current password",
        Expect::Attempt,
        iam.change_password(
            &mo,
            &Password::new("not the password of mo at all"),
            Password::new("another fine passphrase entirely"),
        ),
    )
    .await
    .unwrap_err();
    // Mo is signed in elsewhere too: changing the password ends that.
    sign_in(&iam, "moe").await;
    b.case(
        "change_password",
        Expect::Change,
        iam.change_password(
            &mo,
            &pw(),
            Password::new("another fine passphrase entirely"),
        ),
    )
    .await
    .unwrap();
    iam.change_password(
        &mo,
        &Password::new("another fine passphrase entirely"),
        pw(),
    )
    .await
    .unwrap();
    let other = sign_in(&iam, "moe").await;
    b.case(
        "revoke_my_session",
        Expect::Change,
        iam.revoke_my_session(&mo, other.session().unwrap()),
    )
    .await
    .unwrap();
    sign_in(&iam, "moe").await;
    b.case(
        "revoke_my_sessions",
        Expect::Change,
        iam.revoke_my_sessions(&mo, true),
    )
    .await
    .unwrap();
    b.case(
        "revoke_sessions_of_user",
        Expect::Change,
        iam.revoke_sessions_of_user(&owner, acme, mo_id),
    )
    .await
    .unwrap();
    b.case(
        "send_password_reset",
        Expect::Change,
        iam.send_password_reset(&owner, acme, mo_id),
    )
    .await
    .unwrap();
    let link = link_for(&iam, mo_id, MessageKind::PasswordReset).await;
    b.case(
        "reset_password: a wrong link secret",
        Expect::Attempt,
        iam.reset_password(&tampered(&link), pw()),
    )
    .await
    .unwrap_err();
    // Mo is signed in: the reset ends the session.
    sign_in(&iam, "moe").await;
    b.case(
        "reset_password: an admin's link, the member signed in",
        Expect::Change,
        iam.reset_password(&link, pw()),
    )
    .await
    .unwrap();
    b.case("request_password_reset", Expect::Change, async {
        iam.request_password_reset("moe.new@acme.example")
            .await
            .unwrap();
        // The lookup and the link happen at the next drain (SECURITY.md 28).
        iam.drain_outbox(1000).await.unwrap();
    })
    .await;

    // Second factor ----------------------------------------------------------
    let tia_id = iam
        .invite(&owner, acme, &account("tia"), &role(BuiltinRole::ReadOnly))
        .await
        .unwrap()
        .user;
    let link = link_for(&iam, tia_id, MessageKind::Invitation).await;
    iam.accept_invitation(&link, pw()).await.unwrap();
    let tia = sign_in(&iam, "tia").await;
    b.case(
        "begin_totp_enrolment",
        Expect::Change,
        iam.begin_totp_enrolment(&tia),
    )
    .await
    .unwrap();
    let setup = b
        .case(
            "begin_totp_enrolment: replacing a pending enrolment",
            Expect::Change,
            iam.begin_totp_enrolment(&tia),
        )
        .await
        .unwrap();
    b.case(
        "confirm_totp_enrolment: a wrong code",
        Expect::Attempt,
        iam.confirm_totp_enrolment(&tia, &wrong_code(&clock, &setup)),
    )
    .await
    .unwrap_err();
    b.case(
        "confirm_totp_enrolment",
        Expect::Change,
        iam.confirm_totp_enrolment(&tia, &code_now(&clock, &setup)),
    )
    .await
    .unwrap();
    // The enrolment code's time step is used up.
    clock.advance(Duration::seconds(30));
    let codes = b
        .case(
            "regenerate_recovery_codes",
            Expect::Change,
            iam.regenerate_recovery_codes(&tia),
        )
        .await
        .unwrap();
    let pending = b
        .case(
            "log_in: the password right, the second factor pending",
            Expect::Change,
            iam.log_in("tia", &pw(), ClientMetadata::default()),
        )
        .await
        .unwrap();
    b.case(
        "complete_sign_in_with_totp: a wrong code",
        Expect::MustAudit,
        iam.complete_sign_in_with_totp(pending.token.expose(), &wrong_code(&clock, &setup)),
    )
    .await
    .unwrap_err();
    b.case(
        "complete_sign_in_with_totp",
        Expect::Change,
        iam.complete_sign_in_with_totp(pending.token.expose(), &code_now(&clock, &setup)),
    )
    .await
    .unwrap();
    clock.advance(Duration::seconds(30));
    let pending = iam
        .log_in("tia", &pw(), ClientMetadata::default())
        .await
        .unwrap();
    b.case(
        "complete_sign_in_with_recovery_code: a wrong code",
        Expect::Attempt,
        iam.complete_sign_in_with_recovery_code(pending.token.expose(), "not-a-recovery-code"),
    )
    .await
    .unwrap_err();
    let completed = b
        .case(
            "complete_sign_in_with_recovery_code",
            Expect::Change,
            iam.complete_sign_in_with_recovery_code(
                pending.token.expose(),
                codes.first().unwrap().expose(),
            ),
        )
        .await
        .unwrap();
    let tia = completed.actor;
    b.case(
        "disable_two_factor: a wrong password",
        Expect::Attempt,
        iam.disable_two_factor(&tia, &Password::new("not the password of tia at all")),
    )
    .await
    .unwrap_err();
    b.case(
        "disable_two_factor",
        Expect::Change,
        iam.disable_two_factor(&tia, &pw()),
    )
    .await
    .unwrap();

    // Organization settings, joining, access requests -----------------------
    b.case(
        "set_auto_join",
        Expect::Change,
        iam.set_auto_join(
            &bowner,
            beta,
            &[("acme.example", BuiltinRole::ReadOnly.id())],
        ),
    )
    .await
    .unwrap();
    let mo = sign_in(&iam, "moe").await;
    b.case(
        "join_by_domain",
        Expect::Change,
        iam.join_by_domain(&mo, beta),
    )
    .await
    .unwrap();
    b.case(
        "set_two_factor_required",
        Expect::Change,
        iam.set_two_factor_required(&gowner, gamma, true),
    )
    .await
    .unwrap();
    b.case(
        "set_default_time_zone",
        Expect::Change,
        iam.set_default_time_zone(&owner, acme, Some("Europe/Lisbon")),
    )
    .await
    .unwrap();
    let request = b
        .case(
            "request_access",
            Expect::Change,
            iam.request_access(
                &jo,
                acme,
                RequestedChange::Role {
                    user: jo_id,
                    scope: Scope::Workspace(acme, ws),
                    role: Some(BuiltinRole::Admin.id()),
                },
            ),
        )
        .await
        .unwrap();
    b.case(
        "approve_access_request",
        Expect::Change,
        iam.approve_access_request(&owner, acme, request),
    )
    .await
    .unwrap();
    let request = iam
        .request_access(
            &jo,
            acme,
            RequestedChange::Role {
                user: jo_id,
                scope: Scope::Organization(acme),
                role: Some(BuiltinRole::Admin.id()),
            },
        )
        .await
        .unwrap();
    b.case(
        "reject_access_request",
        Expect::Change,
        iam.reject_access_request(&owner, acme, request),
    )
    .await
    .unwrap();
    b.case(
        "list_access_requests",
        Expect::ReadOnly,
        iam.list_access_requests(&owner, acme),
    )
    .await
    .unwrap();
    // An offboarding is a deactivation: Uma's session and key end with it.
    let (uma_id, _) = admin_with_key(&iam, &owner, acme, ws, "uma").await;
    let request = iam
        .request_access(&owner, acme, RequestedChange::Offboarding { user: uma_id })
        .await
        .unwrap();
    b.case(
        "approve_access_request: an offboarding",
        Expect::Change,
        iam.approve_access_request(&ivy, acme, request),
    )
    .await
    .unwrap();

    // Lifecycle ----------------------------------------------------------------
    b.case(
        "update_profile",
        Expect::Change,
        iam.update_profile(
            &owner,
            acme,
            owner.user().unwrap(),
            &ProfileUpdate {
                first_name: Some("Adele".to_owned()),
                ..ProfileUpdate::default()
            },
        ),
    )
    .await
    .unwrap();
    let (vic_id, _) = admin_with_key(&iam, &owner, acme, ws, "vic").await;
    b.case(
        "deactivate",
        Expect::Change,
        iam.deactivate(&owner, acme, vic_id),
    )
    .await
    .unwrap();
    b.case(
        "reactivate",
        Expect::Change,
        iam.reactivate(&owner, acme, vic_id),
    )
    .await
    .unwrap();
    // Ivy manages herself (she joined Beta): Acme only suspends her
    // membership, and her key in Acme's workspace ends.
    b.case(
        "deactivate: suspending a member Acme does not manage",
        Expect::Change,
        iam.deactivate(&owner, acme, ivy_id),
    )
    .await
    .unwrap();
    let (wes_id, _) = admin_with_key(&iam, &owner, acme, ws, "wes").await;
    b.case(
        "delete_user",
        Expect::Change,
        iam.delete_user(&owner, acme, wes_id),
    )
    .await
    .unwrap();

    // An account in no organization: Ned leaves both of his, and his
    // account (managed by neither once he joined the second) stays.
    let ned_id = iam
        .invite(&owner, acme, &account("ned"), &role(BuiltinRole::ReadOnly))
        .await
        .unwrap()
        .user;
    let link = link_for(&iam, ned_id, MessageKind::Invitation).await;
    iam.accept_invitation(&link, pw()).await.unwrap();
    iam.invite(&bowner, beta, &account("ned"), &Placement::default())
        .await
        .unwrap();
    let link = link_for(&iam, ned_id, MessageKind::Invitation).await;
    iam.accept_invitation(&link, pw()).await.unwrap();
    iam.delete_user(&bowner, beta, ned_id).await.unwrap();
    iam.delete_user(&owner, acme, ned_id).await.unwrap();
    let ned = b
        .case(
            "log_in: an account in no organization",
            Expect::Change,
            iam.log_in("ned", &pw(), ClientMetadata::default()),
        )
        .await
        .unwrap();
    let ned = iam.authenticate_session(ned.token.expose()).await.unwrap();
    b.case(
        "log_in: a wrong password, an account in no organization",
        Expect::MustAudit,
        iam.log_in(
            "ned",
            &Password::new("not the password of ned at all"),
            ClientMetadata::default(),
        ),
    )
    .await
    .unwrap_err();
    b.case(
        "change_password: an account in no organization",
        Expect::Change,
        iam.change_password(
            &ned,
            &pw(),
            Password::new("another fine passphrase entirely"),
        ),
    )
    .await
    .unwrap();

    // Outbox -------------------------------------------------------------------
    iam.send_password_reset(&owner, acme, vic_id).await.unwrap();
    let drained = b
        .case("drain_outbox", Expect::ReadOnly, iam.drain_outbox(1000))
        .await
        .unwrap();
    let ids: Vec<_> = drained.iter().map(|m| m.id).collect();
    assert!(!ids.is_empty(), "messages wait in the outbox");
    b.case("acknowledge", Expect::ReadOnly, iam.acknowledge(&ids))
        .await
        .unwrap();

    // Sealing keys (last: the first Iam cannot open what is resealed) ----------
    iam.begin_totp_enrolment(&tia).await.unwrap();
    let rotated = iam_over(&store, &clock, cheap_config(), sealer(&[(1, 8), (0, 7)]));
    let progress = b
        .case("reseal", Expect::Change, rotated.reseal(100))
        .await
        .unwrap();
    assert!(progress.resealed > 0 && progress.done, "{progress:?}");

    // Every listed workflow ran in a case of its kind.
    let ran = b.ran.lock().unwrap().clone();
    for (method, kind) in WORKFLOWS {
        let wanted = match kind {
            Kind::Change => Expect::Change,
            Kind::ReadOnly => Expect::ReadOnly,
        };
        if !ran.iter().any(|(m, e)| m == method && *e == wanted) {
            b.finding(format!(
                "{method}: listed as {kind:?} in WORKFLOWS but no {wanted:?} case runs it"
            ));
        }
    }
    let findings = b.findings.lock().unwrap().clone();
    assert!(
        findings.is_empty(),
        "{} finding(s) of {} cases:\n{}",
        findings.len(),
        ran.len(),
        findings.join("\n")
    );
}

/// A new Admin of `org` named `name`, signed in, with a live key in `ws`.
async fn admin_with_key(
    iam: &Iam<SqliteStore>,
    owner: &Actor,
    org: OrgId,
    ws: WorkspaceId,
    name: &str,
) -> (UserId, Actor) {
    let id = iam
        .invite(owner, org, &account(name), &role(BuiltinRole::Admin))
        .await
        .unwrap()
        .user;
    let link = link_for(iam, id, MessageKind::Invitation).await;
    iam.accept_invitation(&link, Password::new(PASSWORD))
        .await
        .unwrap();
    let actor = sign_in(iam, name).await;
    iam.create_api_key(&actor, org, key_in(ws, name))
        .await
        .unwrap();
    (id, actor)
}
