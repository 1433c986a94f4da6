//! Departments through the `Iam` facade (issue 21, item 2), on the memory
//! store, SQLite and PostgreSQL (when `IAMKIT_POSTGRES_URL` is set): each
//! workflow's success and its audit event, refusals (a member without
//! `departments.manage`, another organization's Owner, another
//! organization's department) and bad input that change nothing, and a
//! deletion refused while members are filed under the department.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use iamkit::audit::{Action, AuditEvent, AuditRepository, EventQuery, Outcome, Target};
use iamkit::credentials::{ClientMetadata, Password, SecretBytes, XChaChaSealer};
use iamkit::identity::{
    Department, DepartmentId, DirectoryQuery, Membership, OrgId, OrganizationRepository, Rule,
    UserId,
};
use iamkit::rbac::BuiltinRole;
use iamkit::{
    Actor, Conflict, DEPARTMENT_MEMBERS_SHOWN, Error, FirstOwner, Iam, ManualClock, MessageKind,
    Placement, ProfileUpdate, Store, Transaction,
};
use iamkit_store_memory::MemoryStore;

mod common;
use common::{PASSWORD, account, cheap_config};

// Harness ------------------------------------------------------------------

struct World<S: Store> {
    iam: Iam<S>,
    store: S,
    acme: OrgId,
    owner: Actor,
    globex: OrgId,
    globex_owner: Actor,
}

fn iam_over<S: Store>(store: &S) -> Iam<S> {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap());
    let sealer = XChaChaSealer::new(&SecretBytes::new(vec![7; 32])).unwrap();
    Iam::builder(store.clone(), sealer)
        .clock(Arc::new(clock))
        .config(cheap_config())
        .build()
        .unwrap()
}

async fn bootstrap<S: Store>(iam: &Iam<S>, slug: &str, owner: &str) -> OrgId {
    iam.bootstrap(
        &Actor::system(),
        slug,
        slug,
        FirstOwner::NewUser {
            account: account(owner),
            password: Password::new(PASSWORD),
        },
    )
    .await
    .unwrap()
    .org
}

async fn sign_in<S: Store>(iam: &Iam<S>, who: &str) -> Actor {
    let signed = iam
        .log_in(who, &Password::new(PASSWORD), ClientMetadata::default())
        .await
        .unwrap();
    iam.authenticate_session(signed.token.expose())
        .await
        .unwrap()
}

async fn world<S: Store>(store: S) -> World<S> {
    let iam = iam_over(&store);
    let acme = bootstrap(&iam, "acme", "owner").await;
    let owner = sign_in(&iam, "owner").await;
    let globex = bootstrap(&iam, "globex", "globex-owner").await;
    let globex_owner = sign_in(&iam, "globex-owner").await;
    World {
        iam,
        store,
        acme,
        owner,
        globex,
        globex_owner,
    }
}

impl<S: Store> World<S> {
    /// Invites `name` to Acme with `role` (not accepted).
    async fn invited(&self, name: &str, role: BuiltinRole) -> UserId {
        let placement = Placement {
            org_role: Some(role.id()),
            ..Placement::default()
        };
        self.iam
            .invite(&self.owner, self.acme, &account(name), &placement)
            .await
            .unwrap()
            .user
    }

    /// A signed-in member of Acme with `role`.
    async fn member(&self, name: &str, role: BuiltinRole) -> (UserId, Actor) {
        let user = self.invited(name, role).await;
        let messages = self.iam.drain_outbox(1000).await.unwrap();
        let link = messages
            .iter()
            .rev()
            .find(|m| m.recipient == user && m.kind == MessageKind::Invitation)
            .and_then(|m| m.link_secret.as_ref())
            .unwrap()
            .expose()
            .to_owned();
        let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
        self.iam.acknowledge(&ids).await.unwrap();
        self.iam
            .accept_invitation(&link, Password::new(PASSWORD))
            .await
            .unwrap();
        (user, sign_in(&self.iam, name).await)
    }

    /// Files `user` of Acme under `department` (or none), as its Owner.
    async fn file(&self, user: UserId, department: Option<DepartmentId>) {
        let update = ProfileUpdate {
            department: Some(department),
            ..ProfileUpdate::default()
        };
        self.iam
            .update_profile(&self.owner, self.acme, user, &update)
            .await
            .unwrap();
    }

    /// What a refusal must leave alone: both organizations' departments,
    /// Acme's memberships, and both audit chains.
    async fn state(&self) -> State {
        // Read before the store's own transaction: a writer at a time.
        let users: Vec<UserId> = self
            .iam
            .directory(&self.owner, self.acme, &DirectoryQuery::new())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|e| e.user.id)
            .collect();
        let mut tx = self.store.begin().await.unwrap();
        let mut state = State::default();
        for org in [self.acme, self.globex] {
            state
                .departments
                .push(tx.list_departments(org).await.unwrap());
            let head = tx.audit_head(org).await.unwrap();
            state.audit.push(head.seq);
        }
        for user in users {
            state
                .memberships
                .push(tx.get_membership(self.acme, user).await.unwrap().unwrap());
        }
        tx.rollback().await.unwrap();
        state
    }

    /// The newest event of `org`'s chain.
    async fn last_event(&self, org: OrgId) -> AuditEvent {
        let mut tx = self.store.begin().await.unwrap();
        let page = tx.query_events(org, &EventQuery::default()).await.unwrap();
        tx.rollback().await.unwrap();
        page.items.into_iter().next().unwrap()
    }

    async fn audit_len(&self, org: OrgId) -> u64 {
        let mut tx = self.store.begin().await.unwrap();
        let head = tx.audit_head(org).await.unwrap();
        tx.rollback().await.unwrap();
        head.seq
    }

    /// Acme's members filed under `department`, through the directory.
    async fn filed_under(&self, department: DepartmentId) -> Vec<UserId> {
        let query = DirectoryQuery::new().with_department(department);
        let mut users: Vec<UserId> = self
            .iam
            .directory(&self.owner, self.acme, &query)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|e| e.user.id)
            .collect();
        users.sort();
        users
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct State {
    departments: Vec<Vec<Department>>,
    memberships: Vec<Membership>,
    audit: Vec<u64>,
}

fn names(departments: &[Department]) -> Vec<&str> {
    departments.iter().map(|d| d.name.as_str()).collect()
}

on_every_store!(
    departments_are_created_renamed_listed_and_audited,
    deleting_a_department_is_refused_while_members_are_filed_under_it,
    refused_calls_change_nothing,
    bad_names_change_nothing,
    the_trail_names_departments_as_they_are_called_now,
);

// Scenarios ------------------------------------------------------------------

async fn departments_are_created_renamed_listed_and_audited<S: Store>(store: S) {
    let w = world(store).await;
    let (_, reader) = w.member("rita", BuiltinRole::ReadOnly).await;

    let sales = w
        .iam
        .create_department(&w.owner, w.acme, "  Sales ")
        .await
        .unwrap();
    assert_eq!(sales.org, w.acme);
    assert_eq!(sales.name.as_str(), "Sales", "the name is trimmed");
    let event = w.last_event(w.acme).await;
    assert_eq!(event.action, Action::DepartmentCreated);
    assert_eq!(event.target, Target::Department(sales.id));
    assert_eq!(event.outcome, Outcome::Success);
    let audit = w
        .iam
        .create_department(&w.owner, w.acme, "audit")
        .await
        .unwrap();
    // Another organization may use the same name.
    w.iam
        .create_department(&w.globex_owner, w.globex, "SALES")
        .await
        .unwrap();

    // users.read lists them (every built-in role holds it), by name.
    let listed = w.iam.list_departments(&reader, w.acme).await.unwrap();
    assert_eq!(names(&listed), ["audit", "Sales"]);
    assert_eq!(listed.get(1), Some(&sales));

    let renamed = w
        .iam
        .rename_department(&w.owner, w.acme, audit.id, "Internal Audit")
        .await
        .unwrap();
    assert_eq!(renamed.id, audit.id);
    assert_eq!(renamed.name.as_str(), "Internal Audit");
    let event = w.last_event(w.acme).await;
    assert_eq!(event.action, Action::DepartmentRenamed);
    assert_eq!(event.target, Target::Department(audit.id));
    // Only the case changes: still a rename.
    w.iam
        .rename_department(&w.owner, w.acme, audit.id, "internal audit")
        .await
        .unwrap();
    // The name it has already: nothing changes, nothing is audited.
    let before = w.audit_len(w.acme).await;
    let same = w
        .iam
        .rename_department(&w.owner, w.acme, audit.id, "internal audit")
        .await
        .unwrap();
    assert_eq!(same.name.as_str(), "internal audit");
    assert_eq!(w.audit_len(w.acme).await, before);
    let listed = w.iam.list_departments(&w.owner, w.acme).await.unwrap();
    assert_eq!(names(&listed), ["internal audit", "Sales"]);

    // An Admin holds departments.manage too.
    let (_, admin) = w.member("adam", BuiltinRole::Admin).await;
    let ops = w
        .iam
        .create_department(&admin, w.acme, "Ops")
        .await
        .unwrap();
    w.iam
        .delete_department(&admin, w.acme, ops.id)
        .await
        .unwrap();
    let event = w.last_event(w.acme).await;
    assert_eq!(event.action, Action::DepartmentDeleted);
    assert_eq!(event.target, Target::Department(ops.id));
    let listed = w.iam.list_departments(&w.owner, w.acme).await.unwrap();
    assert_eq!(names(&listed), ["internal audit", "Sales"]);
}

async fn deleting_a_department_is_refused_while_members_are_filed_under_it<S: Store>(store: S) {
    let w = world(store).await;
    let (ana, _) = w.member("ana", BuiltinRole::ReadOnly).await;
    let bo = w.invited("boris", BuiltinRole::Requester).await;
    let (cy, _) = w.member("cyril", BuiltinRole::Admin).await;
    let sales = w
        .iam
        .create_department(&w.owner, w.acme, "Sales")
        .await
        .unwrap();
    let support = w
        .iam
        .create_department(&w.owner, w.acme, "Support")
        .await
        .unwrap();
    w.file(ana, Some(sales.id)).await;
    w.file(bo, Some(sales.id)).await;
    w.file(cy, Some(support.id)).await;

    // The directory filters by department.
    let mut expected = vec![ana, bo];
    expected.sort();
    assert_eq!(w.filed_under(sales.id).await, expected);
    assert_eq!(w.filed_under(support.id).await, [cy]);

    let before = w.state().await;
    let err = w
        .iam
        .delete_department(&w.owner, w.acme, sales.id)
        .await
        .unwrap_err();
    match &err {
        Error::DepartmentInUse { members, count } => {
            assert_eq!(members, &expected, "the members, by user id");
            assert_eq!(*count, 2);
        }
        other => panic!("expected DepartmentInUse, got {other:?}"),
    }
    assert!(err.to_string().contains("2 member(s)"), "{err}");
    assert_eq!(
        w.state().await,
        before,
        "a refused deletion changes nothing"
    );

    // Once they are moved, it goes.
    w.file(ana, Some(support.id)).await;
    w.file(bo, None).await;
    assert!(w.filed_under(sales.id).await.is_empty());
    w.iam
        .delete_department(&w.owner, w.acme, sales.id)
        .await
        .unwrap();
    let listed = w.iam.list_departments(&w.owner, w.acme).await.unwrap();
    assert_eq!(names(&listed), ["Support"]);
    let mut expected = vec![ana, cy];
    expected.sort();
    assert_eq!(w.filed_under(support.id).await, expected);
    // A deleted department is no filter any more.
    let gone = w
        .iam
        .directory(
            &w.owner,
            w.acme,
            &DirectoryQuery::new().with_department(sales.id),
        )
        .await
        .unwrap_err();
    assert!(matches!(gone, Error::NotFound), "{gone:?}");
}

async fn refused_calls_change_nothing<S: Store>(store: S) {
    let w = world(store).await;
    let (rita, reader) = w.member("rita", BuiltinRole::ReadOnly).await;
    let sales = w
        .iam
        .create_department(&w.owner, w.acme, "Sales")
        .await
        .unwrap();
    let theirs = w
        .iam
        .create_department(&w.globex_owner, w.globex, "Field")
        .await
        .unwrap();
    w.file(rita, Some(sales.id)).await;

    // A member without departments.manage: Forbidden, naming it; the
    // refusal is on Acme's record, and nothing else changes.
    let before = w.state().await;
    let refusals = [
        w.iam
            .create_department(&reader, w.acme, "Mine")
            .await
            .map(drop),
        w.iam
            .rename_department(&reader, w.acme, sales.id, "Mine")
            .await
            .map(drop),
        w.iam.delete_department(&reader, w.acme, sales.id).await,
    ];
    for refusal in refusals {
        let err = refusal.unwrap_err();
        assert!(
            matches!(&err, Error::Forbidden { permission } if permission == "departments.manage"),
            "{err:?}"
        );
        let event = w.last_event(w.acme).await;
        assert!(
            matches!(event.action, Action::AuthorizationDenied { .. }),
            "{event:?}"
        );
        assert!(matches!(event.outcome, Outcome::Denied { .. }));
    }
    let after = w.state().await;
    assert_eq!(after.departments, before.departments);
    assert_eq!(after.memberships, before.memberships);
    assert_eq!(
        after.audit.first().copied(),
        before.audit.first().map(|n| n + 3)
    );
    assert_eq!(after.audit.get(1), before.audit.get(1));

    // Another organization's Owner, naming Acme: Acme sees nothing of it.
    let before = w.state().await;
    let refusals = [
        w.iam
            .create_department(&w.globex_owner, w.acme, "Mine")
            .await
            .map(drop),
        w.iam
            .rename_department(&w.globex_owner, w.acme, sales.id, "Mine")
            .await
            .map(drop),
        w.iam
            .delete_department(&w.globex_owner, w.acme, sales.id)
            .await,
        w.iam
            .list_departments(&w.globex_owner, w.acme)
            .await
            .map(drop),
    ];
    for refusal in refusals {
        assert!(matches!(refusal, Err(Error::NotFound)), "{refusal:?}");
    }
    let after = w.state().await;
    assert_eq!(after.departments, before.departments);
    assert_eq!(after.memberships, before.memberships);
    assert_eq!(
        after.audit.first(),
        before.audit.first(),
        "nothing in Acme's chain (SECURITY.md 35)"
    );

    // Another organization's department, named in one's own: absent.
    let before = w.state().await;
    let refusals = [
        w.iam
            .rename_department(&w.globex_owner, w.globex, sales.id, "Mine")
            .await
            .map(drop),
        w.iam
            .delete_department(&w.globex_owner, w.globex, sales.id)
            .await,
        w.iam
            .rename_department(&w.owner, w.acme, theirs.id, "Mine")
            .await
            .map(drop),
        w.iam.delete_department(&w.owner, w.acme, theirs.id).await,
        w.iam
            .directory(
                &w.owner,
                w.acme,
                &DirectoryQuery::new().with_department(theirs.id),
            )
            .await
            .map(drop),
    ];
    for refusal in refusals {
        assert!(matches!(refusal, Err(Error::NotFound)), "{refusal:?}");
    }
    // Filing a member under another organization's department.
    let update = ProfileUpdate {
        department: Some(Some(theirs.id)),
        ..ProfileUpdate::default()
    };
    let err = w
        .iam
        .update_profile(&w.owner, w.acme, rita, &update)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(i) if i.field == "department"
            && i.rule == Rule::NotInOrganization),
        "{err:?}"
    );
    assert_eq!(w.state().await, before);
}

async fn bad_names_change_nothing<S: Store>(store: S) {
    let w = world(store).await;
    let sales = w
        .iam
        .create_department(&w.owner, w.acme, "Sales")
        .await
        .unwrap();
    let support = w
        .iam
        .create_department(&w.owner, w.acme, "Support")
        .await
        .unwrap();
    let before = w.state().await;
    let too_long = "x".repeat(101);
    for (name, rule) in [
        ("", Rule::Required),
        ("   ", Rule::Required),
        (too_long.as_str(), Rule::TooLong { max: 100 }),
        ("Sa\u{7}les", Rule::ControlCharacter),
    ] {
        for attempt in [
            w.iam.create_department(&w.owner, w.acme, name).await,
            w.iam
                .rename_department(&w.owner, w.acme, support.id, name)
                .await,
        ] {
            let err = attempt.unwrap_err();
            assert!(
                matches!(&err, Error::InvalidInput(i) if i.field == "name" && i.rule == rule),
                "{name:?}: {err:?}"
            );
        }
    }
    // A name taken in the organization, in any case: the name conflict.
    for attempt in [
        w.iam.create_department(&w.owner, w.acme, "SALES").await,
        w.iam
            .rename_department(&w.owner, w.acme, support.id, "sales")
            .await,
    ] {
        let err = attempt.unwrap_err();
        assert!(
            matches!(err, Error::Conflict(Conflict::NameTaken)),
            "{err:?}"
        );
    }
    assert_eq!(w.state().await, before, "bad input changes nothing");
    assert_eq!(
        names(&w.iam.list_departments(&w.owner, w.acme).await.unwrap()),
        [sales.name.as_str(), support.name.as_str()]
    );
}

/// A department with more members than an error names: it names the first
/// [`DEPARTMENT_MEMBERS_SHOWN`] by user id and counts them all.
#[tokio::test]
async fn the_refusal_names_a_bounded_number_of_members() {
    let w = world(MemoryStore::new()).await;
    let big = w
        .iam
        .create_department(&w.owner, w.acme, "Everyone")
        .await
        .unwrap();
    let mut filed = Vec::new();
    for n in 0..DEPARTMENT_MEMBERS_SHOWN + 2 {
        let user = w
            .invited(&format!("member{n}"), BuiltinRole::ReadOnly)
            .await;
        w.file(user, Some(big.id)).await;
        filed.push(user);
    }
    filed.sort();
    let err = w
        .iam
        .delete_department(&w.owner, w.acme, big.id)
        .await
        .unwrap_err();
    let Error::DepartmentInUse { members, count } = err else {
        panic!("expected DepartmentInUse, got {err:?}");
    };
    assert_eq!(count, DEPARTMENT_MEMBERS_SHOWN + 2);
    assert_eq!(members, filed[..DEPARTMENT_MEMBERS_SHOWN]);
}

/// Events name no department; the trail shows the name it has now, and
/// "Deleted department" once it is gone. On every store: the trail's
/// read-only transaction authorizes without the version lock (on
/// PostgreSQL that lock may write, which a read-only transaction refuses).
async fn the_trail_names_departments_as_they_are_called_now<S: Store>(store: S) {
    let w = world(store).await;
    let kept = w
        .iam
        .create_department(&w.owner, w.acme, "Audit")
        .await
        .unwrap();
    w.iam
        .rename_department(&w.owner, w.acme, kept.id, "Internal Audit")
        .await
        .unwrap();
    let gone = w
        .iam
        .create_department(&w.owner, w.acme, "Ops")
        .await
        .unwrap();
    w.iam
        .delete_department(&w.owner, w.acme, gone.id)
        .await
        .unwrap();
    let page = w
        .iam
        .audit_log(&w.owner, w.acme, &Default::default(), None, 50)
        .await
        .unwrap();
    let shown: Vec<(Action, &str)> = page
        .items
        .iter()
        .filter(|l| matches!(l.event.target, Target::Department(_)))
        .map(|l| (l.event.action.clone(), l.target.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            (Action::DepartmentDeleted, "Deleted department"),
            (Action::DepartmentCreated, "Deleted department"),
            (Action::DepartmentRenamed, "Internal Audit"),
            (Action::DepartmentCreated, "Internal Audit"),
        ]
    );
    // The export and the verification read through the same kind of
    // transaction.
    let mut out = Vec::new();
    let written = w
        .iam
        .export_audit(&w.owner, w.acme, None, None, &mut out)
        .await
        .unwrap();
    assert!(written >= 5, "the four department events and the export");
    let verification = w.iam.verify_audit(&w.owner, w.acme).await.unwrap();
    assert!(verification.result.is_ok(), "{verification:?}");
    assert_eq!(
        verification.head.seq, written,
        "the export reached the head"
    );
}
