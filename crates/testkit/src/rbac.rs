//! Conformance cases of the RBAC repositories (custom roles, grants).

use std::collections::BTreeSet;

use iamkit::{Store, Transaction};
use iamkit_identity::{GroupId, OrgId, RoleId, TeamId, UserId, WorkspaceId};
use iamkit_rbac::{
    AssignableAt, BuiltinRole, Catalogue, CustomRole, Grant, GrantRepository, Grantee, Permission,
    RoleName, RoleRepository, Scope,
};
use iamkit_store_api::ErrorKind;

use crate::fixtures::Fixture;

/// Ids for one case.
struct Ids {
    f: Fixture,
}

impl Ids {
    fn new() -> Self {
        Self { f: Fixture::new(6) }
    }
    fn org(&mut self) -> OrgId {
        let now = self.f.now();
        OrgId::generate(now, self.f.rng())
    }
    fn workspace(&mut self) -> WorkspaceId {
        let now = self.f.now();
        WorkspaceId::generate(now, self.f.rng())
    }
    fn user(&mut self) -> UserId {
        let now = self.f.now();
        UserId::generate(now, self.f.rng())
    }
    fn group(&mut self) -> GroupId {
        let now = self.f.now();
        GroupId::generate(now, self.f.rng())
    }
    fn team(&mut self) -> TeamId {
        let now = self.f.now();
        TeamId::generate(now, self.f.rng())
    }
    fn role(&mut self, org: OrgId, name: &str) -> CustomRole {
        let now = self.f.now();
        let id = RoleId::generate(now, self.f.rng());
        let permissions: BTreeSet<Permission> =
            [Permission::parse("audit.read").expect("valid permission")].into();
        CustomRole::new(
            id,
            org,
            RoleName::parse(name).expect("valid role name"),
            permissions,
            AssignableAt::ANY,
            &Catalogue::new(),
        )
        .expect("valid custom role")
    }
}

fn assert_kind<T: std::fmt::Debug>(
    result: Result<T, iamkit_store_api::StoreError>,
    kind: ErrorKind,
) {
    match result {
        Err(e) => assert_eq!(e.kind(), &kind),
        Ok(v) => panic!("expected {kind}, got Ok({v:?})"),
    }
}

fn unique(constraint: &str) -> ErrorKind {
    ErrorKind::UniqueViolation {
        constraint: constraint.into(),
    }
}

/// A custom role reads back equal; listings are per organization and sorted
/// by lowercase name; an unknown id reads as `None`.
pub async fn custom_role_round_trip_and_listing<S: Store>(store: S) {
    let mut ids = Ids::new();
    let (a, b) = (ids.org(), ids.org());
    let zeta = ids.role(a, "zeta");
    let alpha = ids.role(a, "Alpha");
    let other = ids.role(b, "Beta");
    let mut tx = store.begin().await.expect("begin");
    for role in [&zeta, &alpha, &other] {
        tx.insert_custom_role(role).await.expect("insert role");
    }
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.get_custom_role(zeta.id).await.expect("get"),
        Some(zeta.clone())
    );
    assert_eq!(
        tx.list_custom_roles(a).await.expect("list"),
        vec![alpha, zeta]
    );
    assert_eq!(tx.list_custom_roles(b).await.expect("list"), vec![other]);
    let unknown = ids.role(a, "nobody");
    assert_eq!(tx.get_custom_role(unknown.id).await.expect("get"), None);
}

/// Names are unique per organization ignoring case; ids are unique; a
/// failed insert stores nothing.
pub async fn custom_role_names_are_unique_per_org<S: Store>(store: S) {
    let mut ids = Ids::new();
    let (a, b) = (ids.org(), ids.org());
    let ops = ids.role(a, "Ops");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_custom_role(&ops).await.expect("insert");
    let shout = ids.role(a, "OPS");
    assert_kind(
        tx.insert_custom_role(&shout).await,
        unique("custom_roles_org_name"),
    );
    assert_eq!(tx.get_custom_role(shout.id).await.expect("get"), None);
    let mut same_id = ids.role(a, "Other");
    same_id.id = ops.id;
    assert_kind(
        tx.insert_custom_role(&same_id).await,
        unique("custom_roles_id"),
    );
    assert_eq!(
        tx.get_custom_role(ops.id).await.expect("get"),
        Some(ops.clone())
    );
    tx.insert_custom_role(&ids.role(b, "ops"))
        .await
        .expect("same name in another org");
    assert_eq!(tx.list_custom_roles(a).await.expect("list").len(), 1);
}

/// Update needs an existing role of the same organization and keeps names
/// unique; a rename frees the old name.
pub async fn update_custom_role_contract<S: Store>(store: S) {
    let mut ids = Ids::new();
    let a = ids.org();
    let ops = ids.role(a, "Ops");
    let dev = ids.role(a, "Dev");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_custom_role(&ops).await.expect("insert");
    tx.insert_custom_role(&dev).await.expect("insert");
    assert_kind(
        tx.update_custom_role(&ids.role(a, "Ghost")).await,
        ErrorKind::NotFound,
    );
    let mut moved = ops.clone();
    moved.org = ids.org();
    assert_kind(tx.update_custom_role(&moved).await, ErrorKind::Conflict);
    let mut clash = ops.clone();
    clash.name = RoleName::parse("DEV").expect("valid");
    assert_kind(
        tx.update_custom_role(&clash).await,
        unique("custom_roles_org_name"),
    );
    assert_eq!(
        tx.get_custom_role(ops.id).await.expect("get"),
        Some(ops.clone())
    );
    let mut renamed = ops.clone();
    renamed.name = RoleName::parse("Operations").expect("valid");
    renamed.assignable_at = AssignableAt {
        organization: false,
        workspace: true,
    };
    tx.update_custom_role(&renamed).await.expect("update");
    assert_eq!(
        tx.get_custom_role(ops.id).await.expect("get"),
        Some(renamed)
    );
    tx.insert_custom_role(&ids.role(a, "ops"))
        .await
        .expect("the old name is free again");
}

/// Delete needs an existing role and no grant using it.
pub async fn delete_custom_role_contract<S: Store>(store: S) {
    let mut ids = Ids::new();
    let a = ids.org();
    let ops = ids.role(a, "Ops");
    let user = ids.user();
    let mut tx = store.begin().await.expect("begin");
    assert_kind(tx.delete_custom_role(ops.id).await, ErrorKind::NotFound);
    tx.insert_custom_role(&ops).await.expect("insert");
    let grant = Grant {
        grantee: Grantee::User(user),
        scope: Scope::Organization(a),
        role: ops.id,
    };
    tx.assign_grant(&grant).await.expect("assign");
    assert_kind(tx.delete_custom_role(ops.id).await, ErrorKind::Conflict);
    assert!(tx.get_custom_role(ops.id).await.expect("get").is_some());
    tx.revoke_grant(grant.grantee, grant.scope)
        .await
        .expect("revoke");
    tx.delete_custom_role(ops.id).await.expect("delete");
    assert_eq!(tx.get_custom_role(ops.id).await.expect("get"), None);
    tx.insert_custom_role(&ids.role(a, "Ops"))
        .await
        .expect("name freed");
}

/// A grantee holds one role per scope: assigning replaces and returns the
/// replaced role; revoking returns the removed role, then `None`.
pub async fn assign_grant_replaces_one_role_per_scope<S: Store>(store: S) {
    let mut ids = Ids::new();
    let (org, ws, user) = (ids.org(), ids.workspace(), ids.user());
    let scope = Scope::Workspace(org, ws);
    let grant = |role: BuiltinRole| Grant {
        grantee: Grantee::User(user),
        scope,
        role: role.id(),
    };
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.assign_grant(&grant(BuiltinRole::Admin))
            .await
            .expect("assign"),
        None
    );
    assert_eq!(
        tx.assign_grant(&grant(BuiltinRole::Auditor))
            .await
            .expect("assign"),
        Some(BuiltinRole::Admin.id())
    );
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.list_grants_of(Grantee::User(user)).await.expect("list"),
        vec![grant(BuiltinRole::Auditor)]
    );
    assert_eq!(
        tx.revoke_grant(Grantee::User(user), scope)
            .await
            .expect("revoke"),
        Some(BuiltinRole::Auditor.id())
    );
    assert_eq!(
        tx.revoke_grant(Grantee::User(user), scope)
            .await
            .expect("revoke"),
        None
    );
    assert!(
        tx.list_grants_of(Grantee::User(user))
            .await
            .expect("list")
            .is_empty()
    );
}

/// Listings: by organization (every grantee, no other org, sorted), by
/// grantee (every org, sorted), and usage counts of a role.
pub async fn grant_listings_contract<S: Store>(store: S) {
    let mut ids = Ids::new();
    let (a, b) = (ids.org(), ids.org());
    let (ws, user, group, team) = (ids.workspace(), ids.user(), ids.group(), ids.team());
    let mut grants = vec![
        Grant {
            grantee: Grantee::User(user),
            scope: Scope::Organization(a),
            role: BuiltinRole::Admin.id(),
        },
        Grant {
            grantee: Grantee::User(user),
            scope: Scope::Workspace(a, ws),
            role: BuiltinRole::Requester.id(),
        },
        Grant {
            grantee: Grantee::Group(group),
            scope: Scope::Workspace(a, ws),
            role: BuiltinRole::Requester.id(),
        },
        Grant {
            grantee: Grantee::Team(team),
            scope: Scope::Organization(a),
            role: BuiltinRole::Auditor.id(),
        },
    ];
    let elsewhere = Grant {
        grantee: Grantee::User(user),
        scope: Scope::Organization(b),
        role: BuiltinRole::Owner.id(),
    };
    let mut tx = store.begin().await.expect("begin");
    for grant in grants.iter().rev().chain([&elsewhere]) {
        tx.assign_grant(grant).await.expect("assign");
    }
    grants.sort();
    assert_eq!(tx.list_grants_in_org(a).await.expect("list"), grants);
    assert_eq!(
        tx.list_grants_in_org(b).await.expect("list"),
        vec![elsewhere]
    );
    let mut of_user: Vec<Grant> = grants
        .iter()
        .filter(|g| g.grantee == Grantee::User(user))
        .copied()
        .chain([elsewhere])
        .collect();
    of_user.sort();
    assert_eq!(
        tx.list_grants_of(Grantee::User(user)).await.expect("list"),
        of_user
    );
    assert_eq!(
        tx.list_grants_of(Grantee::Group(group))
            .await
            .expect("list"),
        vec![
            grants
                .iter()
                .find(|g| g.grantee == Grantee::Group(group))
                .copied()
                .expect("group grant")
        ]
    );
    assert_eq!(
        tx.count_grants_of_role(BuiltinRole::Requester.id())
            .await
            .expect("count"),
        2
    );
    assert_eq!(
        tx.count_grants_of_role(BuiltinRole::ReadOnly.id())
            .await
            .expect("count"),
        0
    );
}

/// Grants and roles written in a rolled-back transaction leave no trace.
pub async fn rbac_changes_roll_back<S: Store>(store: S) {
    let mut ids = Ids::new();
    let (org, user) = (ids.org(), ids.user());
    let role = ids.role(org, "Ops");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_custom_role(&role).await.expect("insert");
    tx.assign_grant(&Grant {
        grantee: Grantee::User(user),
        scope: Scope::Organization(org),
        role: role.id,
    })
    .await
    .expect("assign");
    tx.rollback().await.expect("rollback");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.get_custom_role(role.id).await.expect("get"), None);
    assert!(tx.list_grants_in_org(org).await.expect("list").is_empty());
}
