//! Conformance cases of the access-model read
//! ([`AccessModelRepository`]): what every full build of an
//! organization's index is compiled from.

use std::collections::BTreeSet;

use iamkit::{AccessModel, AccessModelRepository, AuthzVersionRepository, Store, Transaction};
use iamkit_identity::{
    Group, GroupRepository, Membership, OrgId, Organization, OrganizationRepository, RoleId, Team,
    TeamMember, TeamRole, User, UserId, UserRepository, UserStatus, Workspace,
};
use iamkit_rbac::{
    AssignableAt, BuiltinRole, Catalogue, Collective, CollectiveMember, CustomRole, Grant,
    GrantRepository, Grantee, Permission, RoleName, RoleRepository, Scope,
};

use crate::fixtures::Fixture;

/// A model's lists as sets, so models compare whatever order the adapter
/// returns them in; each list's length is kept to catch duplicates.
#[derive(Debug, PartialEq, Eq)]
struct Sorted {
    custom_roles: BTreeSet<RoleId>,
    grants: BTreeSet<Grant>,
    collective_members: BTreeSet<CollectiveMember>,
    active_members: BTreeSet<UserId>,
    lengths: [usize; 4],
}

fn sorted(model: &AccessModel) -> Sorted {
    Sorted {
        custom_roles: model.custom_roles.iter().map(|r| r.id).collect(),
        grants: model.grants.iter().copied().collect(),
        collective_members: model.collective_members.iter().copied().collect(),
        active_members: model.active_members.iter().copied().collect(),
        lengths: [
            model.custom_roles.len(),
            model.grants.len(),
            model.collective_members.len(),
            model.active_members.len(),
        ],
    }
}

fn custom_role(f: &mut Fixture, org: OrgId, name: &str) -> CustomRole {
    let now = f.now();
    CustomRole::new(
        RoleId::generate(now, f.rng()),
        org,
        RoleName::parse(name).expect("valid role name"),
        [Permission::parse("audit.read").expect("valid permission")].into(),
        AssignableAt::ANY,
        &Catalogue::new(),
    )
    .expect("valid custom role")
}

fn grant(grantee: Grantee, scope: Scope, role: RoleId) -> Grant {
    Grant {
        grantee,
        scope,
        role,
    }
}

/// One organization's side of the shared data: its roles, grants, groups
/// and teams, over members some of whom are not active.
struct Tenant {
    org: Organization,
    workspace: Workspace,
    group: Group,
    team: Team,
    role: CustomRole,
}

impl Tenant {
    fn new(f: &mut Fixture, slug: &str) -> Self {
        let org = f.org(slug);
        Self {
            workspace: f.workspace(org.id, "Ops"),
            group: f.group(org.id, "Platform"),
            team: f.team(org.id, "Oncall"),
            role: custom_role(f, org.id, "Auditor plus"),
            org,
        }
    }

    async fn insert<T: Transaction>(&self, tx: &mut T) {
        tx.insert_organization(&self.org).await.expect("org");
        tx.insert_workspace(&self.workspace)
            .await
            .expect("workspace");
        tx.insert_group(&self.group).await.expect("group");
        tx.insert_team(&self.team).await.expect("team");
        tx.insert_custom_role(&self.role).await.expect("role");
    }

    fn org_scope(&self) -> Scope {
        Scope::Organization(self.org.id)
    }

    fn workspace_scope(&self) -> Scope {
        Scope::Workspace(self.org.id, self.workspace.id)
    }

    fn in_group(&self, user: UserId) -> CollectiveMember {
        CollectiveMember {
            collective: Collective::Group(self.group.id),
            org: self.org.id,
            user,
        }
    }

    fn in_team(&self, user: UserId) -> CollectiveMember {
        CollectiveMember {
            collective: Collective::Team(self.team.id),
            org: self.org.id,
            user,
        }
    }
}

async fn join<T: Transaction>(
    tx: &mut T,
    f: &Fixture,
    tenant: &Tenant,
    user: &User,
    status: UserStatus,
) {
    tx.insert_membership(&Membership {
        status,
        ..f.membership(tenant.org.id, user.id)
    })
    .await
    .expect("membership");
}

async fn team_member<T: Transaction>(tx: &mut T, tenant: &Tenant, user: UserId) {
    tx.insert_team_member(&TeamMember {
        team: tenant.team.id,
        user,
        role: TeamRole::Member,
    })
    .await
    .expect("team member");
}

/// The model holds exactly the organization's custom roles, grants (of
/// users, groups and teams, at the organization and its workspaces), group
/// and team members, and its members whose membership and account are
/// both ACTIVE (not the invited, the suspended, nor a deactivated
/// account); it agrees with the listing methods; an unknown organization's
/// model is empty; and a transaction sees its own writes.
pub async fn access_model_holds_what_the_index_is_compiled_from<S: Store>(store: S) {
    let mut f = Fixture::new(61);
    let acme = Tenant::new(&mut f, "acme");
    let alice = f.user("alice");
    let bob = f.user("bob");
    let carol = f.user("carol");
    let mut dave = f.user("dave");
    dave.status = UserStatus::Deactivated;
    let erin = f.user("erin");
    let mut tx = store.begin().await.expect("begin");
    acme.insert(&mut tx).await;
    for user in [&alice, &bob, &carol, &dave, &erin] {
        tx.insert_user(user).await.expect("user");
    }
    join(&mut tx, &f, &acme, &alice, UserStatus::Active).await;
    join(&mut tx, &f, &acme, &bob, UserStatus::Invited).await;
    join(&mut tx, &f, &acme, &carol, UserStatus::Deactivated).await;
    join(&mut tx, &f, &acme, &dave, UserStatus::Active).await;
    join(&mut tx, &f, &acme, &erin, UserStatus::Active).await;
    for user in [alice.id, bob.id, dave.id] {
        tx.insert_group_member(acme.group.id, user)
            .await
            .expect("group member");
    }
    for user in [alice.id, carol.id] {
        team_member(&mut tx, &acme, user).await;
    }
    let grants = [
        grant(
            Grantee::User(alice.id),
            acme.org_scope(),
            BuiltinRole::Admin.id(),
        ),
        grant(
            Grantee::User(alice.id),
            acme.workspace_scope(),
            acme.role.id,
        ),
        grant(
            Grantee::User(bob.id),
            acme.org_scope(),
            BuiltinRole::Requester.id(),
        ),
        grant(
            Grantee::User(dave.id),
            acme.org_scope(),
            BuiltinRole::ReadOnly.id(),
        ),
        grant(
            Grantee::Group(acme.group.id),
            acme.workspace_scope(),
            BuiltinRole::Approver.id(),
        ),
        grant(
            Grantee::Team(acme.team.id),
            acme.org_scope(),
            BuiltinRole::Auditor.id(),
        ),
    ];
    for g in &grants {
        tx.assign_grant(g).await.expect("grant");
    }
    tx.commit().await.expect("commit");

    let expected = AccessModel {
        custom_roles: vec![acme.role.clone()],
        grants: grants.to_vec(),
        collective_members: vec![
            acme.in_group(alice.id),
            acme.in_group(bob.id),
            acme.in_group(dave.id),
            acme.in_team(alice.id),
            acme.in_team(carol.id),
        ],
        // Not bob (invited), carol (suspended membership), dave
        // (deactivated account).
        active_members: vec![alice.id, erin.id],
    };
    let mut tx = store.begin_read().await.expect("begin_read");
    let model = tx.load_access_model(acme.org.id).await.expect("load");
    assert_eq!(sorted(&model), sorted(&expected));
    assert_eq!(
        model.custom_roles,
        vec![acme.role.clone()],
        "custom roles read back whole"
    );
    // It agrees with the listing methods.
    let listed = AccessModel {
        custom_roles: tx.list_custom_roles(acme.org.id).await.expect("roles"),
        grants: tx.list_grants_in_org(acme.org.id).await.expect("grants"),
        collective_members: model.collective_members.clone(),
        active_members: tx.list_active_members(acme.org.id).await.expect("active"),
    };
    assert_eq!(sorted(&model), sorted(&listed));
    let unknown = f.org("unknown").id;
    assert_eq!(
        tx.load_access_model(unknown).await.expect("load"),
        AccessModel::default()
    );
    tx.rollback().await.expect("rollback");

    // A writer's uncommitted changes are in its own model: a new grant, a
    // group member gone, an activated membership, a deactivated account.
    let mut tx = store.begin().await.expect("begin");
    let erin_grant = grant(
        Grantee::User(erin.id),
        acme.workspace_scope(),
        BuiltinRole::Requester.id(),
    );
    tx.assign_grant(&erin_grant).await.expect("grant");
    tx.delete_group_member(acme.group.id, dave.id)
        .await
        .expect("remove from group");
    tx.update_membership(&f.membership(acme.org.id, bob.id))
        .await
        .expect("activate bob");
    let mut alice_off = alice.clone();
    alice_off.status = UserStatus::Deactivated;
    tx.update_user(&alice_off).await.expect("deactivate alice");
    let model = tx.load_access_model(acme.org.id).await.expect("load");
    let mut grants_now = grants.to_vec();
    grants_now.push(erin_grant);
    assert_eq!(
        sorted(&model),
        sorted(&AccessModel {
            custom_roles: vec![acme.role.clone()],
            grants: grants_now,
            collective_members: vec![
                acme.in_group(alice.id),
                acme.in_group(bob.id),
                acme.in_team(alice.id),
                acme.in_team(carol.id),
            ],
            active_members: vec![bob.id, erin.id],
        })
    );
    tx.rollback().await.expect("rollback");
}

/// Another organization's rows never appear: an account that belongs to
/// both organizations, in a group and a team of each, with grants in each,
/// appears in each model with that organization's rows only, and its
/// standing in one organization does not leak into the other.
pub async fn access_model_is_tenant_isolated<S: Store>(store: S) {
    let mut f = Fixture::new(62);
    let acme = Tenant::new(&mut f, "acme");
    let globex = Tenant::new(&mut f, "globex");
    let alice = f.user("alice");
    let bob = f.user("bob");
    let mut tx = store.begin().await.expect("begin");
    acme.insert(&mut tx).await;
    globex.insert(&mut tx).await;
    tx.insert_user(&alice).await.expect("user");
    tx.insert_user(&bob).await.expect("user");
    // Alice is active in acme, suspended in globex; bob only in globex.
    join(&mut tx, &f, &acme, &alice, UserStatus::Active).await;
    join(&mut tx, &f, &globex, &alice, UserStatus::Deactivated).await;
    join(&mut tx, &f, &globex, &bob, UserStatus::Active).await;
    let mut expected = Vec::new();
    for tenant in [&acme, &globex] {
        tx.insert_group_member(tenant.group.id, alice.id)
            .await
            .expect("group member");
        team_member(&mut tx, tenant, alice.id).await;
        let grants = [
            grant(
                Grantee::User(alice.id),
                tenant.org_scope(),
                BuiltinRole::Admin.id(),
            ),
            grant(
                Grantee::User(alice.id),
                tenant.workspace_scope(),
                tenant.role.id,
            ),
            grant(
                Grantee::Group(tenant.group.id),
                tenant.org_scope(),
                BuiltinRole::ReadOnly.id(),
            ),
            grant(
                Grantee::Team(tenant.team.id),
                tenant.workspace_scope(),
                BuiltinRole::Approver.id(),
            ),
        ];
        for g in &grants {
            tx.assign_grant(g).await.expect("grant");
        }
        expected.push((tenant, grants));
    }
    tx.commit().await.expect("commit");

    let mut tx = store.begin_read().await.expect("begin_read");
    for (tenant, grants) in &expected {
        let org = tenant.org.id;
        let model = tx.load_access_model(org).await.expect("load");
        let active = if org == acme.org.id {
            vec![alice.id]
        } else {
            vec![bob.id]
        };
        assert_eq!(
            sorted(&model),
            sorted(&AccessModel {
                custom_roles: vec![tenant.role.clone()],
                grants: grants.to_vec(),
                collective_members: vec![tenant.in_group(alice.id), tenant.in_team(alice.id)],
                active_members: active,
            }),
            "the model of {} holds its own rows only",
            tenant.org.slug
        );
        assert!(model.custom_roles.iter().all(|r| r.org == org));
        assert!(model.grants.iter().all(|g| g.scope.org() == org));
        assert!(model.collective_members.iter().all(|m| m.org == org));
    }
    tx.rollback().await.expect("rollback");
}
